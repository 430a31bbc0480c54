"""Where review reads and writes an output location (a local folder or an s3:// prefix): page previews for the
web UI, and the pyarrow filesystem the decisions and the export go through. The browser only ever gets the
bytes of a preview through the app; S3 credentials stay on the server.
"""

from __future__ import annotations

import posixpath
from pathlib import Path

import pyarrow.fs as pafs

from pipeline.config import Settings
from pipeline.engines.storage import Storage, storage_for
from pipeline.errors import ConfigError
from pipeline.previews import PREVIEWS_DIR
from pipeline.storage import is_s3, join_location

MAX_PREVIEW_BYTES = 20 * 1024 * 1024


class ReviewOutput:
    """One output location as review sees it."""

    def __init__(self, location: str | Path, settings: Settings | None = None) -> None:
        self.location = str(location) if is_s3(str(location)) else str(Path(location).resolve())
        self.settings = settings or Settings()
        self.storage: Storage = storage_for(self.location, self.settings)
        self._fs: tuple[pafs.FileSystem, str] | None = None

    @property
    def on_s3(self) -> bool:
        return is_s3(self.location)

    def filesystem(self) -> tuple[pafs.FileSystem, str]:
        """pyarrow's filesystem for the location and the base path inside it (opened once)."""
        if self._fs is None:
            self._fs = self.storage.filesystem(self.location)
        return self._fs

    def join(self, *parts: str) -> str:
        return join_location(self.location, *parts)

    def exists(self) -> bool:
        if self.on_s3:
            return True  # a prefix exists once written to; readers say what is missing
        return Path(self.location).is_dir()

    def read_preview(self, relative: str) -> bytes | None:
        """The PNG bytes of a page preview stored as `relative` (from the queue item), or None when the path is
        not a PNG under OUT/pages/, does not exist, or cannot be read (a symlink loop, a folder, a huge file)."""
        normal = posixpath.normpath(relative)
        if not normal.startswith(f"{PREVIEWS_DIR}/") or not normal.lower().endswith(".png") or ".." in normal:
            return None
        if self.on_s3:
            return self._read_s3(normal)
        return self._read_local(normal)

    def _read_local(self, relative: str) -> bytes | None:
        root = Path(self.location)
        try:
            path = (root / relative).resolve(strict=True)
            if not path.is_relative_to((root / PREVIEWS_DIR).resolve()) or not path.is_file():
                return None
            if path.stat().st_size > MAX_PREVIEW_BYTES:
                return None
            return path.read_bytes()
        except (OSError, RuntimeError):  # missing, unreadable, or a symlink loop
            return None

    def _read_s3(self, relative: str) -> bytes | None:
        try:
            fs, base = self.filesystem()
            path = f"{base}/{relative}"
            info = fs.get_file_info(path)
            if info.type != pafs.FileType.File or (info.size or 0) > MAX_PREVIEW_BYTES:
                return None
            with fs.open_input_stream(path) as stream:
                return bytes(stream.read())
        except (OSError, ConfigError):
            return None
