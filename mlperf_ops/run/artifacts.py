"""Model and data-set digests: what `model:`/`dataset:` declare is checked, not trusted.

A file's digest is its sha256. A directory's digest is the sha256 of the text made of one
line `<sha256 of the file>  <path relative to the directory>\\n` per regular file, sorted
by path (byte order) — what `sha256sum` prints for the sorted file list, so a user can
reproduce it with coreutils alone (README, "Models and data sets").

Hashing a 6 GB data set takes minutes, so every file's digest is cached in the state
directory by its path, size, mtime and inode: an unchanged file is hashed once, and a file
replaced by another (a new inode), rewritten (a new mtime) or resized is hashed again.
"""

from __future__ import annotations

import hashlib
import json
import os
import stat
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from mlperf_ops.core.errors import UsageError
from mlperf_ops.core.hashing import file_sha256
from mlperf_ops.manifest.model import Artifact, Manifest
from mlperf_ops.state.digests import DigestCache

def _regular(path: Path, shown: str) -> os.stat_result:
    info = path.lstat()
    if stat.S_ISLNK(info.st_mode):
        # The container sees the link, not its target (an absolute target does not exist
        # there): hashing the target would vouch for a file the harness cannot read.
        raise UsageError(f"{shown} is a symbolic link inside a data set",
                         hint="copy the file into the directory (or mount the directory it points into)")
    if not stat.S_ISREG(info.st_mode):
        raise UsageError(f"{shown} is neither a regular file nor a directory")
    return info


def digest_lines(root: Path, cache: DigestCache) -> list[str]:
    """`<sha256>  <relative path>` for every regular file under `root`, sorted by path."""
    rels: list[str] = []
    for directory, dirnames, filenames in os.walk(root, onerror=_raise):
        base = Path(directory)
        for name in dirnames:
            if (base / name).is_symlink():
                _regular(base / name, str(base / name))  # raises: a linked directory
        for name in filenames:
            rels.append((base / name).relative_to(root).as_posix())
    # Sorted as bytes (LC_ALL=C sort); for UTF-8 names code-point order is the same order.
    rels.sort(key=lambda rel: rel.encode("utf-8", "surrogateescape"))
    lines = []
    for rel in rels:
        if "\n" in rel or "\\" in rel:
            raise UsageError(f"{root / rel}: a file name with a newline or backslash cannot be listed",
                             hint="rename the file")
        path = root / rel
        lines.append(f"{cache.file_digest(path, _regular(path, str(path)))}  {rel}")
    return lines


def _raise(error: OSError) -> None:
    raise UsageError(f"cannot read {error.filename}: {error.strerror}")


def digest(path: Path, cache: DigestCache | None = None) -> str:
    """The digest of a file or a directory (see the module docstring)."""
    cache = cache or DigestCache(None)
    path = path.absolute()
    try:
        info = path.stat()  # the path itself may be a link: Docker mounts what it points to
    except FileNotFoundError:
        raise UsageError(f"{path} does not exist") from None
    except OSError as error:
        raise UsageError(f"cannot read {path}: {error.strerror}") from None
    if stat.S_ISDIR(info.st_mode):
        text = "".join(f"{line}\n" for line in digest_lines(path, cache))
        return hashlib.sha256(text.encode("utf-8", "surrogateescape")).hexdigest()
    if not stat.S_ISREG(info.st_mode):
        raise UsageError(f"{path} is neither a regular file nor a directory")
    return cache.file_digest(path, info)


def artifact_path(artifact: Artifact) -> Path:
    """Where the artifact is on this machine: the same expression the runner mounts."""
    return Path(artifact.path).absolute()


def verify_artifacts(manifest: Manifest, uses: Iterable[tuple[str, str]], state_dir: Path) -> int:
    """Check every `model:`/`dataset:` of the (system, benchmark) pairs in `uses` against its sha256.

    Raises one `UsageError` naming every missing or mismatched artifact, before anything
    runs; returns how many artifacts were checked.
    """
    wanted: dict[tuple[str, str], list[str]] = {}  # (kind, path) -> who uses it
    declared: dict[tuple[str, str], str] = {}
    problems: list[str] = []
    for system_id, bench_name in sorted(set(uses)):
        bench = next(b for b in manifest.system(system_id).benchmarks if b.name == bench_name)
        for kind, artifact in (("model", bench.model), ("dataset", bench.dataset)):
            if artifact is None:
                continue
            where = (kind, str(artifact_path(artifact)))
            wanted.setdefault(where, []).append(f"{system_id}/{bench_name}")
            if declared.setdefault(where, artifact.sha256) != artifact.sha256:
                problems.append(f"{kind} {where[1]} is declared with two different sha256 values "
                                f"({', '.join(wanted[where])})")
    cache = DigestCache.in_state_dir(state_dir)
    try:
        for (kind, shown), users in sorted(wanted.items()):
            who = ", ".join(users)
            path = Path(shown)
            if not path.exists():
                problems.append(f"{kind} of {who}: {shown} does not exist on this machine")
                continue
            actual = digest(path, cache)
            if actual != declared[(kind, shown)]:
                problems.append(f"{kind} of {who}: {shown} has sha256 {actual}, "
                                f"the manifest declares {declared[(kind, shown)]}")
    finally:
        cache.save()  # what was hashed stays hashed, even when a later artifact fails
    if problems:
        raise UsageError(
            "nothing ran: " + "; ".join(problems),
            hint="point model:/dataset: at the right files, or, if a file was replaced on purpose, "
                 "declare its new digest (`mlperf-ops digest PATH`): what used it then runs again")
    return len(wanted)
