"""Find input documents and give each a stable identity (sha256 of its bytes)."""

from __future__ import annotations

import glob
import hashlib
from collections.abc import Iterable
from pathlib import Path

from schemas import Document

# .xml: standalone e-invoices (CII or UBL), read by pipeline/einvoice.
SUPPORTED_SUFFIXES: frozenset[str] = frozenset({".pdf", ".png", ".jpg", ".jpeg", ".tif", ".tiff", ".xml"})

_MAGIC: tuple[tuple[bytes, str], ...] = (
    (b"%PDF-", "application/pdf"),
    (b"\x89PNG\r\n\x1a\n", "image/png"),
    (b"\xff\xd8\xff", "image/jpeg"),
    (b"II*\x00", "image/tiff"),
    (b"MM\x00*", "image/tiff"),
)
_CHUNK = 1024 * 1024


def sniff_media_type(head: bytes) -> str:
    """Media type from the first bytes; a PDF may carry a little junk before its header."""
    for magic, media_type in _MAGIC:
        if head.startswith(magic):
            return media_type
    if b"%PDF-" in head[:1024]:
        return "application/pdf"
    if _looks_like_xml(head):
        return "application/xml"
    return "application/octet-stream"


def _looks_like_xml(head: bytes) -> bool:
    """An XML declaration or a first element, after an optional byte-order mark and white space."""
    if head.startswith((b"\xff\xfe<\x00", b"\xfe\xff\x00<")):  # UTF-16
        return True
    text = head.removeprefix(b"\xef\xbb\xbf").lstrip()
    return text.startswith(b"<?xml") or (len(text) > 1 and text[:1] == b"<" and text[1:2].isalpha())


def sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        while chunk := handle.read(_CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


def describe_file(path: Path, source: str | None = None) -> Document:
    with path.open("rb") as handle:
        head = handle.read(1024)
    return Document(
        document_id=sha256_file(path),
        source=source if source is not None else str(path),
        local_path=str(path),
        size_bytes=path.stat().st_size,
        media_type=sniff_media_type(head),
    )


def expand_inputs(inputs: Iterable[str]) -> tuple[list[Path], list[str]]:
    """Turn files, folders and glob patterns into a sorted list of files.

    Files named explicitly are always taken (an unsupported one becomes a failed row, so nothing the
    user asked for is silently dropped); inside folders only supported suffixes are taken. Returns
    the files and the inputs that matched nothing.
    """
    files: list[Path] = []
    unmatched: list[str] = []
    for item in inputs:
        path = Path(item)
        if path.is_dir():
            found = sorted(p for p in path.rglob("*") if p.is_file() and p.suffix.lower() in SUPPORTED_SUFFIXES)
        elif path.is_file():
            found = [path]
        else:
            found = sorted(Path(p) for p in glob.glob(item, recursive=True) if Path(p).is_file())
        if not found:
            unmatched.append(item)
        files.extend(found)
    unique: dict[Path, None] = dict.fromkeys(files)
    return list(unique), unmatched


def discover_documents(inputs: Iterable[str]) -> tuple[list[Document], list[str]]:
    """Describe every input file; identical bytes given twice are one document that names both paths."""
    files, unmatched = expand_inputs(inputs)
    documents: dict[str, Document] = {}
    for path in files:
        document = describe_file(path)
        first = documents.setdefault(document.document_id, document)
        if first is not document:
            first.duplicate_sources.append(document.source)
    return list(documents.values()), unmatched
