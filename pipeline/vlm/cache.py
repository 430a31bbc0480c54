"""Content-addressed cache of valid model answers under OUT/vlm-cache: reruns and backfills never pay twice.

The key is sha256 over the image bytes, the prompt version, the model, the tool schema and the OCR hints:
anything that could change the answer. Writes are atomic (temp file renamed into place).
"""

from __future__ import annotations

import hashlib
import json
import os
import uuid
from pathlib import Path
from typing import Any

CACHE_DIR = "vlm-cache"


def cache_key(images: list[bytes], prompt_version: str, model: str, schema: dict[str, Any], hints: str) -> str:
    digest = hashlib.sha256()
    for part in (prompt_version, model, json.dumps(schema, sort_keys=True), hints):
        encoded = part.encode()
        digest.update(len(encoded).to_bytes(8, "big") + encoded)
    for image in images:
        digest.update(len(image).to_bytes(8, "big") + image)
    return digest.hexdigest()


class AnswerCache:
    def __init__(self, directory: Path) -> None:
        self.directory = directory

    def _path(self, key: str) -> Path:
        return self.directory / key[:2] / f"{key}.json"

    def get(self, key: str) -> dict[str, Any] | None:
        path = self._path(key)
        try:
            loaded = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return None  # absent or unreadable: ask again rather than fail
        return loaded if isinstance(loaded, dict) else None

    def put(self, key: str, entry: dict[str, Any]) -> bool:
        """Store an answer; False if it could not be written (the answer is still used, just not kept)."""
        path = self._path(key)
        temporary = path.with_name(f".{path.name}.{uuid.uuid4().hex}.tmp")
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            temporary.write_text(json.dumps(entry, ensure_ascii=False), encoding="utf-8")
            os.replace(temporary, path)
        except OSError:
            temporary.unlink(missing_ok=True)
            return False
        return True
