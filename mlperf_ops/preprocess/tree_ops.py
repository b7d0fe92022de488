"""File-tree steps of `preprocess`: the copy it works on, and empty-folder removal."""

from __future__ import annotations

import shutil
from pathlib import Path

from mlperf_ops.core.errors import UsageError
from mlperf_ops.core.tree_layout import DIVISIONS


def copy_tree(src: Path, out: Path, submitter: str | None) -> None:
    """Copy the divisions of `src` (one submitter's folders if asked) to a new `out`.

    Never in place: `out` must not exist and must not lie inside `src` (a copy into itself
    would never end)."""
    src, out = src.resolve(), out.resolve()
    if out.exists():
        raise UsageError(f"{out} already exists", hint="preprocess writes a new tree; give a path that does not exist")
    if out == src or src in out.parents:
        raise UsageError(f"{out} lies inside {src}", hint="write the preprocessed tree outside the input tree")
    out.mkdir(parents=True)
    for division in sorted(p for p in src.iterdir() if p.is_dir() and p.name in DIVISIONS):
        for sub in sorted(p for p in division.iterdir() if p.is_dir()):
            if submitter is None or sub.name == submitter:
                shutil.copytree(sub, out / division.name / sub.name, symlinks=True)


def delete_empty_dirs(root: Path) -> list[Path]:
    """Remove every directory that holds nothing (after its empty children went), deepest
    first; the root itself stays. Returns what was removed."""
    removed: list[Path] = []

    def visit(path: Path) -> bool:
        empty = True
        for child in sorted(path.iterdir()):
            if child.is_dir() and not child.is_symlink():
                empty = visit(child) and empty
            else:
                empty = False
        if empty and path != root:
            path.rmdir()
            removed.append(path)
        return empty

    visit(root)
    return removed
