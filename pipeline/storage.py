"""Storage seam: a location is a local path or `s3://bucket/prefix`; one S3 configuration for boto3 and pyarrow.

Credentials come from the standard AWS chain (environment, shared config, instance role); the endpoint
honours `LEDGERLENS_S3_ENDPOINT_URL`, then `AWS_ENDPOINT_URL` (S3-compatible stores, moto in tests).
Throttling (503 SlowDown, 429) and connection errors are retried by botocore's retry modes and pyarrow's
AWS retry strategy. Listings are lazy: keys are yielded page by page, never gathered into one list.
"""

from __future__ import annotations

import glob
import hashlib
import os
import re
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import lru_cache
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

import pyarrow.fs as pafs
from pydantic import BaseModel, ConfigDict

from pipeline.config import Settings
from pipeline.discover import SUPPORTED_SUFFIXES, unreadable_reason, walk_folder
from pipeline.errors import ConfigError, DocumentError, TransientError

S3_SCHEME = "s3://"


def is_s3(location: str) -> bool:
    return location.startswith(S3_SCHEME)


@dataclass(frozen=True)
class S3Location:
    bucket: str
    key: str  # an object key or a prefix, without a leading slash

    @property
    def uri(self) -> str:
        return f"{S3_SCHEME}{self.bucket}/{self.key}" if self.key else f"{S3_SCHEME}{self.bucket}"

    def join(self, *parts: str) -> S3Location:
        key = "/".join(p.strip("/") for p in (self.key, *parts) if p.strip("/"))
        return S3Location(self.bucket, key)


def parse_s3(uri: str) -> S3Location:
    if not is_s3(uri):
        raise ConfigError(f"{uri!r} is not an s3:// URL")
    bucket, _, key = uri[len(S3_SCHEME) :].partition("/")
    if len(bucket) < 3:
        raise ConfigError(f"{uri!r} has no valid bucket name: write s3://BUCKET/PREFIX")
    return S3Location(bucket, key.strip("/"))


def join_location(base: str, *parts: str) -> str:
    """base/parts for a local path or an s3:// URL."""
    if is_s3(base):
        return parse_s3(base).join(*parts).uri
    return str(Path(base).joinpath(*parts))


@dataclass(frozen=True)
class S3Config:
    endpoint_url: str | None
    region: str | None
    max_attempts: int
    retry_mode: str

    @classmethod
    def from_settings(cls, settings: Settings) -> S3Config:
        environ = os.environ
        endpoint = settings.s3_endpoint_url or environ.get("AWS_ENDPOINT_URL_S3") or environ.get("AWS_ENDPOINT_URL")
        region = settings.s3_region or os.environ.get("AWS_REGION") or os.environ.get("AWS_DEFAULT_REGION")
        return cls(endpoint or None, region or None, settings.s3_max_attempts, settings.s3_retry_mode)


@lru_cache(maxsize=8)
def _client(config: S3Config) -> Any:
    import boto3
    from botocore.config import Config

    session = boto3.session.Session()
    return session.client(
        "s3",
        endpoint_url=config.endpoint_url,
        region_name=config.region or "us-east-1",
        config=Config(retries={"mode": config.retry_mode, "max_attempts": config.max_attempts}),
    )


def s3_client(settings: Settings) -> Any:
    """A boto3 S3 client (cached per configuration; boto3 clients are thread-safe)."""
    return _client(S3Config.from_settings(settings))


def s3_filesystem(settings: Settings) -> pafs.S3FileSystem:
    """pyarrow's S3 filesystem with the same endpoint, region and retry budget as boto3."""
    config = S3Config.from_settings(settings)
    options: dict[str, Any] = {
        "region": config.region or "us-east-1",
        "retry_strategy": pafs.AwsStandardS3RetryStrategy(max_attempts=config.max_attempts),
    }
    if config.endpoint_url:
        parsed = urlparse(config.endpoint_url)
        options["endpoint_override"] = parsed.netloc or parsed.path
        options["scheme"] = parsed.scheme or "https"
    return pafs.S3FileSystem(**options)


def filesystem_for(location: str, settings: Settings) -> tuple[pafs.FileSystem, str]:
    """The pyarrow filesystem and the path inside it for a local folder or an s3:// prefix."""
    if is_s3(location):
        parsed = parse_s3(location)
        return s3_filesystem(settings), f"{parsed.bucket}/{parsed.key}".rstrip("/")
    return pafs.LocalFileSystem(), str(Path(location).resolve())


class SourceObject(BaseModel):
    """One listed input: an s3:// URL or a local path, with its size and modification time."""

    model_config = ConfigDict(frozen=True)

    uri: str
    size: int
    modified: datetime


def _in_window(modified: datetime, since: datetime | None, until: datetime | None) -> bool:
    return (since is None or modified >= since) and (until is None or modified < until)


def _supported(name: str) -> bool:
    return Path(name).suffix.lower() in SUPPORTED_SUFFIXES


def list_sources(
    location: str,
    settings: Settings,
    since: datetime | None = None,
    until: datetime | None = None,
    page_size: int = 1000,
) -> Iterator[SourceObject]:
    """Supported input files under a prefix or folder, lazily (S3: one ListObjectsV2 page of page_size keys at a
    time), in key order; since/until bound the modification time."""
    if is_s3(location):
        yield from _list_s3(location, settings, since, until, page_size)
        return
    root = Path(location)
    if root.is_file():
        stat = root.stat()
        yield SourceObject(uri=str(root), size=stat.st_size, modified=datetime.fromtimestamp(stat.st_mtime, UTC))
        return
    yield from _walk_local(root, since, until)


def _walk_local(folder: Path, since: datetime | None, until: datetime | None) -> Iterator[SourceObject]:
    """Supported files under folder, and the paths that look like inputs but cannot be read (symlink loops,
    broken links, folders named like a document): those are listed too, so each gets a failed row."""
    try:
        walked = walk_folder(folder)
        for path, stat in walked:
            modified = datetime.fromtimestamp(stat.st_mtime, UTC)
            if _in_window(modified, since, until):
                yield SourceObject(uri=str(path), size=stat.st_size, modified=modified)
    except OSError as exc:
        raise ConfigError(f"Cannot list {folder}: {exc.strerror or exc}") from exc


def list_local_input(item: str) -> Iterator[SourceObject]:
    """One `run` input: a file (any suffix: an unsupported one gets a failed row), a folder, or a glob
    pattern; a path that exists only as a link (a loop, a broken link) is listed so it gets a failed row."""
    path = Path(item)
    if path.is_dir():
        yield from _walk_local(path, None, None)
        return
    if os.path.lexists(path):
        stat = path.stat() if path.exists() else path.lstat()
        yield SourceObject(uri=str(path), size=stat.st_size, modified=datetime.fromtimestamp(stat.st_mtime, UTC))
        return
    for match in sorted(glob.glob(item, recursive=True)):
        if not Path(match).is_dir():
            yield from list_local_input(match)


def fetch_local(uri: str) -> Path:
    """The listed local file itself; DocumentError saying why when it cannot be read as a document."""
    problem = unreadable_reason(Path(uri))
    if problem is not None:
        raise DocumentError(problem, source=uri)
    return Path(uri)


def _list_s3(
    location: str, settings: Settings, since: datetime | None, until: datetime | None, page_size: int
) -> Iterator[SourceObject]:
    from botocore.exceptions import BotoCoreError, ClientError

    parsed = parse_s3(location)
    prefix = f"{parsed.key}/" if parsed.key and not _supported(parsed.key) else parsed.key
    paginator = s3_client(settings).get_paginator("list_objects_v2")
    try:
        for page in paginator.paginate(Bucket=parsed.bucket, Prefix=prefix, PaginationConfig={"PageSize": page_size}):
            for item in page.get("Contents", []):
                key = item["Key"]
                if _supported(key) and _in_window(item["LastModified"], since, until):
                    uri = S3Location(parsed.bucket, key).uri
                    yield SourceObject(uri=uri, size=int(item["Size"]), modified=item["LastModified"])
    except (ClientError, BotoCoreError) as exc:
        raise ConfigError(f"Cannot list {location}: {describe_s3_error(exc)}") from exc


def describe_s3_error(exc: BaseException) -> str:
    from botocore.exceptions import ClientError

    if isinstance(exc, ClientError):
        code = str(exc.response.get("Error", {}).get("Code", ""))
        advice = {
            "NoSuchKey": "the object does not exist (deleted or moved after it was listed)",
            "404": "the object does not exist (deleted or moved after it was listed)",
            "NoSuchBucket": "the bucket does not exist",
            "AccessDenied": "access denied: grant s3:GetObject on it to these credentials",
            "403": "access denied: grant s3:GetObject on it to these credentials",
        }
        return f"{code}: {advice.get(code, exc.response.get('Error', {}).get('Message', str(exc)))}"
    return f"{type(exc).__name__}: {exc}"


_RETRYABLE = {"SlowDown", "Throttling", "ThrottlingException", "RequestTimeout", "InternalError", "503", "500"}


def download(uri: str, target: Path, settings: Settings) -> Path:
    """Copy an s3:// object to a local file (atomically); a missing or forbidden object is a DocumentError."""
    from botocore.exceptions import BotoCoreError, ClientError

    parsed = parse_s3(uri)
    target.parent.mkdir(parents=True, exist_ok=True)
    partial = target.with_name(f".{target.name}.part")
    try:
        s3_client(settings).download_file(parsed.bucket, parsed.key, str(partial))
        os.replace(partial, target)
    except ClientError as exc:
        partial.unlink(missing_ok=True)
        code = str(exc.response.get("Error", {}).get("Code", ""))
        message = f"Cannot read {uri}: {describe_s3_error(exc)}"
        raise (TransientError(message) if code in _RETRYABLE else DocumentError(message, source=uri)) from exc
    except BotoCoreError as exc:
        partial.unlink(missing_ok=True)
        raise TransientError(f"Cannot read {uri}: {describe_s3_error(exc)}") from exc
    return target


def upload_file(path: Path, uri: str, settings: Settings) -> None:
    parsed = parse_s3(uri)
    s3_client(settings).upload_file(str(path), parsed.bucket, parsed.key)


def upload_tree(folder: Path, base_uri: str, settings: Settings) -> int:
    """Upload every file under folder to base_uri/<relative path>; returns the number of files."""
    count = 0
    for path in sorted(p for p in folder.rglob("*") if p.is_file()):
        upload_file(path, join_location(base_uri, path.relative_to(folder).as_posix()), settings)
        count += 1
    return count


def move_object(uri: str, destination: str, settings: Settings) -> None:
    """Server-side copy then delete (S3 has no rename)."""
    source, target = parse_s3(uri), parse_s3(destination)
    client = s3_client(settings)
    client.copy_object(Bucket=target.bucket, Key=target.key, CopySource={"Bucket": source.bucket, "Key": source.key})
    client.delete_object(Bucket=source.bucket, Key=source.key)


def archive_destination(uri: str, inbox: str, archive: str) -> str:
    """Where an inbox object goes in the archive: the same path relative to the inbox prefix."""
    relative = parse_s3(uri).key.removeprefix(parse_s3(inbox).key).lstrip("/")
    return parse_s3(archive).join(relative).uri


def unreadable_document_id(uri: str) -> str:
    """An id for an input whose bytes cannot be read: stable per URL so a rerun finds its failed row."""
    return hashlib.sha256(f"unreadable:{uri}".encode()).hexdigest()


def state_dir() -> Path:
    base = Path(os.environ.get("XDG_STATE_HOME", Path.home() / ".local" / "state"))
    return base / "ledgerlens"


def _local_slug(out: str) -> str:
    return re.sub(r"[^A-Za-z0-9._-]+", "_", out[len(S3_SCHEME) :]).strip("_")


def default_review_db(out: str) -> Path:
    """The review queue lives on local disk: OUT/review.sqlite, or for an S3 OUT a file named after the URL."""
    if not is_s3(out):
        return Path(out) / "review.sqlite"
    return state_dir() / "review" / f"{_local_slug(out)}.sqlite"


def vlm_cache_root(out: str) -> Path:
    """Where the VLM answer cache goes: under OUT, or for an S3 OUT a local folder named after the URL, so
    reruns and resumed backfills on this machine never pay twice."""
    if not is_s3(out):
        return Path(out)
    return state_dir() / "vlm" / _local_slug(out)
