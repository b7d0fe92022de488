"""Walk a tree without recursion: trees come from anywhere (`check`, `pack`).

pathlib's rglob and os.walk recurse once per level of folders (Python 3.11), so a tree
nested deeper than Python's recursion limit (~1000 levels) raised RecursionError out of
the command. This walks from a stack instead; links are listed, never followed.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Iterator

from msgspec import Struct


class Folder(Struct):
    """One folder of a walk, as os.walk(topdown=True) gives it, with its entries' DirEntry."""

    path: str  # as os.scandir names it
    where: str  # its path relative to the top ("" for the top itself)
    entries: list[os.DirEntry[str]]  # in name order
    # the folders the walk goes into next, in this order: a caller may replace them (in place)
    subdirs: list[os.DirEntry[str]]
    error: OSError | None = None  # the folder could not be listed (no entries then)


def _is_folder(entry: os.DirEntry[str]) -> bool:
    try:
        return entry.is_dir(follow_symlinks=False)
    except OSError:
        return False


def walk_folders(top: Path | str) -> Iterator[Folder]:
    """Every folder under `top` and `top` itself, pre-order: a folder, then each of its
    subfolders' walks in name order."""
    stack: list[tuple[str, str]] = [(os.fspath(top), "")]
    while stack:
        path, where = stack.pop()
        try:
            with os.scandir(path) as listing:
                entries = sorted(listing, key=lambda entry: entry.name)
        except OSError as error:
            yield Folder(path, where, [], [], error)
            continue
        folder = Folder(path, where, entries, [entry for entry in entries if _is_folder(entry)])
        yield folder
        stack.extend((entry.path, f"{where}/{entry.name}" if where else entry.name)
                     for entry in reversed(folder.subdirs))


def entries_under(top: Path) -> list[Path]:
    """Every file, folder and link below `top` (not `top` itself), as rglob("*") lists them;
    a folder that cannot be listed contributes nothing below it."""
    return [Path(entry.path) for folder in walk_folders(top) for entry in folder.entries]
