"""The digest cache in the state directory: sha256 of model and data set files.

Keyed by absolute path, valid while size, mtime, inode and device stay the same, so a
6 GB data set is hashed once (`artifacts.verify_artifacts`, `mlperf-ops digest`).
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

from mlperf_ops.core.atomic import write_json
from mlperf_ops.core.errors import UsageError
from mlperf_ops.core.hashing import file_sha256
from mlperf_ops.state.layout import DIGEST_CACHE

CACHE_FILE = DIGEST_CACHE
CACHE_VERSION = 1


class DigestCache:
    """File digests keyed by absolute path, valid while size, mtime and inode stay the same."""

    def __init__(self, path: Path | None) -> None:
        self.path = path
        self.entries: dict[str, dict[str, Any]] = {}
        self.hashed = 0  # files actually read (not served from the cache): for tests and messages
        self._dirty = False
        if path is not None:
            try:
                data = json.loads(path.read_text("utf-8"))
            except (OSError, ValueError):
                data = None  # no cache yet, or a damaged one: hashing again is always correct
            if isinstance(data, dict) and data.get("version") == CACHE_VERSION \
                    and isinstance(data.get("files"), dict):
                self.entries = data["files"]

    @classmethod
    def in_state_dir(cls, state_dir: Path) -> "DigestCache":
        return cls(state_dir.absolute() / CACHE_FILE)

    def file_digest(self, path: Path, info: os.stat_result) -> str:
        key = str(path)
        identity = {"size": info.st_size, "mtime_ns": info.st_mtime_ns, "inode": info.st_ino, "dev": info.st_dev}
        cached = self.entries.get(key)
        if isinstance(cached, dict) and all(cached.get(k) == v for k, v in identity.items()) \
                and isinstance(cached.get("sha256"), str):
            return str(cached["sha256"])
        try:
            digest = file_sha256(path)
        except OSError as error:
            raise UsageError(f"cannot read {path}: {error.strerror}",
                             hint="the harness reads it too: it must be readable by the user running mlperf-ops") from None
        self.hashed += 1
        self.entries[key] = {**identity, "sha256": digest}
        self._dirty = True
        return digest

    def save(self) -> None:
        if self.path is not None and self._dirty:
            write_json(self.path, {"version": CACHE_VERSION, "files": self.entries})
            self._dirty = False


