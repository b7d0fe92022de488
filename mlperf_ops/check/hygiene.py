"""File-system hygiene of a tree: what the portal and git refuse, whatever the layout.

The official v6.x checker dropped these checks (README, "Checker rules"); its older
version (tools/submission/submission_checker_old.py at b66003e1) had them: files over
50 MB, names starting with '.', names with spaces, symbolic links, __pycache__,
empty directories.
"""

from __future__ import annotations

import os
import stat
from pathlib import Path
from typing import Mapping

from msgspec import Struct, field

from mlperf_ops import secretscan
from mlperf_ops.check.findings import Finding, finding
from mlperf_ops.check.allocator import keep_freed_memory
from mlperf_ops.check.parallel import fork_map
from mlperf_ops.core.tree_files import FILE_SIZE_LIMIT_BYTES, size_text
from mlperf_ops.core.walk import walk_folders

# Below this many bytes to scan, forking a second process costs more than it saves.
PARALLEL_SCAN_BYTES = 16 * 1024 * 1024


def rel(root: Path, path: Path) -> str:
    """`path` relative to `root`, "/"-separated ("." for the root itself)."""
    base, full = str(root), str(path)
    if os.sep == "/" and full.startswith(base) and full[len(base):len(base) + 1] == "/" and base not in ("", "/"):
        return full[len(base) + 1:]  # the common case, without building two more Paths (thousands a tree)
    try:
        return path.relative_to(root).as_posix()
    except ValueError:
        return path.as_posix()


def _secret_findings_of(job: tuple[str, str]) -> list[Finding]:
    path, where = job
    try:
        leaks = secretscan.scan_file(path)
    except OSError:
        return []  # reported as unreadable elsewhere
    return secret_findings(where, leaks)


def secret_findings(where: str, leaks: list[secretscan.Leak]) -> list[Finding]:
    """A published tree is public: a token in a log or a note would be leaked by the upload."""
    return [finding("tree.secret", where, f"line {leak.line}: looks like {leak.what} (value not shown)")
            for leak in leaks[:5]]


class TreeWalk(Struct):
    """What the walk found, before the secret scan: its findings, and each regular file to
    scan as (where in `findings` its findings go, path, path in the tree, size)."""

    findings: list[Finding]
    scans: list[tuple[int, str, str, int]]
    # the secret findings of the files the walk scanned itself, by path in the tree
    found: dict[str, list[Finding]] = field(default_factory=dict)


def hygiene_findings(root: Path, scanned: Mapping[str, list[Finding]] | None = None,
                     walked: TreeWalk | None = None) -> list[Finding]:
    """Walk the whole tree (never following links) and report every bad entry.

    `scanned`: the secret findings of files the result checks read and scanned already,
    by their path in the tree (each file is then read once). `walked`: the walk of `root`,
    done already (check runs it beside the result checks)."""
    walked = walk_tree(root) if walked is None else walked
    scanned = {**walked.found, **(scanned or {})}
    # the secret scan reads every byte: over several processes on a large tree, and its
    # findings go back where the walk met each file
    todo = [job for job in walked.scans if job[2] not in scanned]
    size = sum(job[3] for job in todo)
    if size >= PARALLEL_SCAN_BYTES:
        keep_freed_memory()
    fresh = iter(fork_map(_secret_findings_of, [(path, where) for _, path, where, _ in todo],
                          weights=[float(job[3]) for job in todo],
                          workers=None if size >= PARALLEL_SCAN_BYTES else 1))
    parts = [scanned[where] if where in scanned else next(fresh) for _, _, where, _ in walked.scans]
    return splice(walked.findings, [job[0] for job in walked.scans], parts)


def walk_tree(root: Path, leave: frozenset[str] = frozenset(), scan_budget: int = 0) -> TreeWalk:
    """The hygiene walk: the entries' names, types and sizes. It scans files for secrets
    itself, in walk order, until `scan_budget` bytes are read, except those named in
    `leave` (what the result checks read and scan: check runs the walk beside them); the
    rest is left to hygiene_findings."""
    out: list[Finding] = []
    scans: list[tuple[int, str, str, int]] = []
    found: dict[str, list[Finding]] = {}

    # Plain strings and DirEntry, not Path objects (thousands of entries): one lstat per
    # entry. Pre-order, each folder's entries in name order before its subfolders.
    for folder in walk_folders(root):
        here = folder.where
        if folder.error is not None:
            out.append(finding("tree.unreadable", here or rel(root, Path(folder.error.filename or folder.path)),
                               f"cannot list: {folder.error.strerror}"))
            continue
        if here and not folder.entries:
            out.append(finding("tree.empty-dir", here, "empty directory"))
        subdirs: list[os.DirEntry[str]] = []
        for entry in folder.entries:
            name, path = entry.name, entry.path
            where = f"{here}/{name}" if here else name
            if name.startswith("."):
                out.append(finding("tree.hidden", where, f"hidden entry {name!r}"))
            if " " in name:
                out.append(finding("tree.space-in-name", where, f"space in the name {name!r}"))
            if name == "__pycache__":
                out.append(finding("tree.pycache", where, "__pycache__ directory"))
            try:
                info = entry.stat(follow_symlinks=False)
            except OSError as error:
                out.append(finding("tree.unreadable", where, f"cannot stat: {error.strerror}"))
                continue
            if stat.S_ISLNK(info.st_mode):
                out.append(finding("tree.symlink", where, f"symbolic link to {os.readlink(path)!r}"))
            elif stat.S_ISREG(info.st_mode):
                if info.st_size > FILE_SIZE_LIMIT_BYTES:
                    out.append(finding("tree.large-file", where, size_text(info.st_size)))
                else:
                    scans.append((len(out), path, where, info.st_size))
                    if name not in leave and info.st_size <= scan_budget:
                        scan_budget -= info.st_size
                        found[where] = _secret_findings_of((path, where))
            elif stat.S_ISDIR(info.st_mode):
                subdirs.append(entry)  # never a link to one: links are not followed
            else:
                out.append(finding("tree.stray-entry", where, "not a regular file or directory"))
        folder.subdirs[:] = subdirs  # the walk goes only where the lstat saw a folder
    return TreeWalk(out, scans, found)


def splice(base: list[Finding], positions: list[int], parts: list[list[Finding]]) -> list[Finding]:
    """`base` with each part inserted at its position (positions in order, of `base` as it was)."""
    merged: list[Finding] = []
    start = 0
    for position, part in zip(positions, parts):
        merged.extend(base[start:position])
        merged.extend(part)
        start = position
    merged.extend(base[start:])
    return merged
