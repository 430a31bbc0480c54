"""The storage seam: where inputs are listed and read, and where outputs go, behind one Protocol.

`storage_for(location, settings)` picks the implementation from the registry by the location's scheme:
`s3` for `s3://bucket/prefix`, `local` for everything else. Both are thin over pipeline/storage.py, which
keeps the S3 configuration (one for boto3 and pyarrow) and the plain functions other code may call.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import datetime
from pathlib import Path
from typing import Protocol

import pyarrow.fs as pafs

from pipeline.config import Settings
from pipeline.storage import (
    SourceObject,
    archive_destination,
    download,
    fetch_local,
    filesystem_for,
    is_s3,
    join_location,
    list_local_input,
    list_sources,
    move_object,
    upload_tree,
    vlm_cache_root,
)


class Storage(Protocol):
    name: str
    remote: bool  # outputs are staged on local scratch and uploaded; inputs are downloaded to be read

    def list_inputs(self, location: str) -> Iterator[SourceObject]:
        """What a `run` input names (files, folders, globs, prefixes); unreadable entries are listed too."""
        ...

    def list(
        self, location: str, since: datetime | None = None, until: datetime | None = None
    ) -> Iterator[SourceObject]:
        """Supported inputs under a folder or prefix, lazily, filtered on modification time."""
        ...

    def fetch(self, uri: str, target: Path) -> Path:
        """A local file with the object's bytes (target, or the file itself when it is local).
        DocumentError when it cannot be read, TransientError when it may pass."""
        ...

    def publish_tree(self, folder: Path, location: str) -> int:
        """Copy every file under a local folder to location/<relative path>; returns the number of files."""
        ...

    def archive(self, uri: str, inbox: str, archive: str) -> bool:
        """Move an input under `inbox` to the same relative place under `archive`; False if not applicable."""
        ...

    def filesystem(self, location: str) -> tuple[pafs.FileSystem, str]: ...

    def local_state(self, location: str) -> Path:
        """A local folder for what must stay on this machine's disk for `location` (the VLM answer cache)."""
        ...


class LocalStorage:
    name = "local"
    remote = False

    def __init__(self, settings: Settings) -> None:
        self.settings = settings

    def list_inputs(self, location: str) -> Iterator[SourceObject]:
        return list_local_input(location)

    def list(
        self, location: str, since: datetime | None = None, until: datetime | None = None
    ) -> Iterator[SourceObject]:
        return list_sources(location, self.settings, since, until)

    def fetch(self, uri: str, target: Path) -> Path:
        return fetch_local(uri)

    def publish_tree(self, folder: Path, location: str) -> int:
        return 0 if Path(location).resolve() == folder.resolve() else _copy_tree(folder, Path(location))

    def archive(self, uri: str, inbox: str, archive: str) -> bool:
        return False  # local inputs stay where they are

    def filesystem(self, location: str) -> tuple[pafs.FileSystem, str]:
        return filesystem_for(location, self.settings)

    def local_state(self, location: str) -> Path:
        return vlm_cache_root(location)


class S3Storage:
    name = "s3"
    remote = True

    def __init__(self, settings: Settings) -> None:
        self.settings = settings

    def list_inputs(self, location: str) -> Iterator[SourceObject]:
        return list_sources(location, self.settings)

    def list(
        self, location: str, since: datetime | None = None, until: datetime | None = None
    ) -> Iterator[SourceObject]:
        return list_sources(location, self.settings, since, until)

    def fetch(self, uri: str, target: Path) -> Path:
        return download(uri, target, self.settings)

    def publish_tree(self, folder: Path, location: str) -> int:
        return upload_tree(folder, location, self.settings)

    def archive(self, uri: str, inbox: str, archive: str) -> bool:
        if not (is_s3(inbox) and uri.startswith(inbox.rstrip("/") + "/")):
            return False
        move_object(uri, archive_destination(uri, inbox, archive), self.settings)
        return True

    def filesystem(self, location: str) -> tuple[pafs.FileSystem, str]:
        return filesystem_for(location, self.settings)

    def local_state(self, location: str) -> Path:
        return vlm_cache_root(location)


def _copy_tree(folder: Path, target: Path) -> int:
    import shutil

    count = 0
    for path in sorted(p for p in folder.rglob("*") if p.is_file()):
        destination = target / path.relative_to(folder)
        destination.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(path, destination)
        count += 1
    return count


STORAGES: dict[str, Callable[[Settings], Storage]] = {"local": LocalStorage, "s3": S3Storage}


def storage_for(location: str, settings: Settings) -> Storage:
    """The storage that serves `location`, by its scheme."""
    return STORAGES["s3" if is_s3(location) else "local"](settings)


__all__ = ["STORAGES", "LocalStorage", "S3Storage", "Storage", "join_location", "storage_for"]
