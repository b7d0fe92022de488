"""Every entry under a folder, without recursion: trees come from anywhere (`check`, `pack`).

pathlib's rglob and os.walk recurse once per level of folders (Python 3.11), so a tree
nested deeper than Python's recursion limit (~1000 levels) raised RecursionError out of
the command. This walks from a stack instead; links are listed, never followed.
"""

from __future__ import annotations

import os
from pathlib import Path


def entries_under(top: Path) -> list[Path]:
    """Every file, folder and link below `top` (not `top` itself), as rglob("*") lists them;
    a folder that cannot be listed contributes nothing below it."""
    found: list[Path] = []
    stack = [os.fspath(top)]
    while stack:
        folder = stack.pop()
        try:
            with os.scandir(folder) as listing:
                for entry in listing:
                    found.append(Path(entry.path))
                    if entry.is_dir(follow_symlinks=False):
                        stack.append(entry.path)
        except OSError:
            continue
    return found
