"""Crash-safe file and directory writes (write to a temp sibling, fsync, rename).

Used by the ledger for the state directory and by assemble, truncate, pack and report for
the files they write into trees and dist/: a neutral helper, owned by none of them.
"""

from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path
from typing import Any


def _fsync_dir(path: Path) -> None:
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def write_bytes(path: Path, data: bytes, mode: int = 0o644) -> None:
    """Replace `path` with `data` atomically; `mode` because mkstemp makes 0600 files."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        os.chmod(tmp, mode)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    _fsync_dir(path.parent)


def write_text(path: Path, text: str) -> None:
    write_bytes(path, text.encode("utf-8"))


def write_json(path: Path, data: Any) -> None:
    write_text(path, json.dumps(data, indent=2, sort_keys=True) + "\n")


def publish_dir(staging: Path, final: Path) -> None:
    """Rename a fully written staging directory into its final place.

    `final` must not exist: a finished record is never overwritten in place.
    """
    final.parent.mkdir(parents=True, exist_ok=True)
    for sub in staging.rglob("*"):
        if sub.is_file():
            with open(sub, "rb") as handle:
                os.fsync(handle.fileno())
    os.rename(staging, final)
    _fsync_dir(final.parent)
