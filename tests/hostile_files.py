"""Small files that describe huge images (issue 15): a PDF page holding one W x H 1-bit image, a 1-bit PNG.

Both are written as streams of compressed zero rows, so making them takes little memory and they stay
small on disk (a 30000 x 30000 page is about 110 KB), while decoding them would take width x height bytes
or more.
"""

from __future__ import annotations

import struct
import zlib
from collections.abc import Iterator
from pathlib import Path


def _zero_rows(width_bytes: int, height: int, prefix: bytes = b"") -> Iterator[bytes]:
    compressor = zlib.compressobj(9)
    row = prefix + bytes(width_bytes)
    batch = row * max(1, (1 << 20) // len(row))
    rows_per_batch = len(batch) // len(row)
    for start in range(0, height, rows_per_batch):
        yield compressor.compress(batch[: len(row) * min(rows_per_batch, height - start)])
    yield compressor.flush()


def huge_image_pdf(path: Path, width: int, height: int) -> Path:
    """A one-page PDF (A4 MediaBox) whose page is one width x height 1-bit image, Flate-compressed."""
    data = b"".join(_zero_rows((width + 7) // 8, height))
    objects = [
        b"<< /Type /Catalog /Pages 2 0 R >>",
        b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
        b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 595 842] /Contents 4 0 R "
        b"/Resources << /XObject << /Im0 5 0 R >> >> >>",
        b"<< /Length 30 >>\nstream\nq 595 0 0 842 0 0 cm /Im0 Do Q\nendstream",
        b"<< /Type /XObject /Subtype /Image /Width %d /Height %d /ColorSpace /DeviceGray /BitsPerComponent 1 "
        b"/Decode [1 0] /Filter /FlateDecode /Length %d >>\nstream\n" % (width, height, len(data))
        + data
        + b"\nendstream",
    ]  # fmt: skip
    out = bytearray(b"%PDF-1.4\n")
    offsets = []
    for number, body in enumerate(objects, start=1):
        offsets.append(len(out))
        out += b"%d 0 obj\n" % number + body + b"\nendobj\n"
    xref = len(out)
    out += b"xref\n0 %d\n0000000000 65535 f \n" % (len(objects) + 1)
    out += b"".join(b"%010d 00000 n \n" % offset for offset in offsets)
    out += b"trailer\n<< /Size %d /Root 1 0 R >>\nstartxref\n%d\n%%%%EOF\n" % (len(objects) + 1, xref)
    path.write_bytes(bytes(out))
    return path


def huge_png(path: Path, width: int, height: int) -> Path:
    """A width x height 1-bit grayscale PNG of one colour (rows of zeros, filter type 0)."""

    def chunk(kind: bytes, body: bytes) -> bytes:
        return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body) & 0xFFFFFFFF)

    header = struct.pack(">IIBBBBB", width, height, 1, 0, 0, 0, 0)
    data = b"".join(_zero_rows((width + 7) // 8, height, prefix=b"\x00"))
    path.write_bytes(b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", data) + chunk(b"IEND", b""))
    return path


_PROCESS_ONE = """
import json, resource, sys, tempfile
from pathlib import Path
from pipeline.config import Settings
from pipeline.discover import describe_file
from pipeline.process import process_document
record = process_document(describe_file(Path(sys.argv[1])), Settings(), Path(tempfile.mkdtemp()))
print(json.dumps({
    "status": record.status.value,
    "error": record.error,
    "peak_rss_mb": max(resource.getrusage(who).ru_maxrss for who in (resource.RUSAGE_SELF,
                                                                     resource.RUSAGE_CHILDREN)) / 1024,
}))
"""


def process_in_worker(path: Path, root: Path, memory_cap_bytes: int, timeout_s: float) -> dict[str, object]:
    """Process one document in a fresh Python process run under `memory_cap_bytes` of address space (so a
    pipeline that decodes first cannot take the machine down) and return its status, error and peak RSS
    (largest of the process and the tools it ran). A worker that dies reports status "crashed"."""
    import json
    import os
    import subprocess
    import sys

    command = ["prlimit", f"--as={memory_cap_bytes}", "--", sys.executable, "-c", _PROCESS_ONE, str(path)]
    env = {**os.environ, "PYTHONPATH": str(root)}
    try:
        result = subprocess.run(command, capture_output=True, text=True, timeout=timeout_s, env=env, check=False)
    except subprocess.TimeoutExpired:
        return {"status": "timeout", "error": f"no answer within {timeout_s:.0f} s", "peak_rss_mb": None}
    if result.returncode != 0:
        return {"status": "crashed", "error": result.stderr[-500:], "peak_rss_mb": None}
    figures: dict[str, object] = json.loads(result.stdout.strip().splitlines()[-1])
    return figures
