"""File-tree steps of `preprocess`: the copy it works on, and empty-folder removal."""

from __future__ import annotations

import shutil
from pathlib import Path

from mlperf_ops.check.hygiene import rel, walk_tree
from mlperf_ops.core.errors import OperationalError, UsageError
from mlperf_ops.core.tree_layout import DIVISIONS

SHOWN = 10  # uncopyable entries named in the message; the rest are counted


def _submitters(src: Path, submitter: str | None) -> list[Path]:
    return [sub for division in sorted(p for p in src.iterdir() if p.is_dir() and p.name in DIVISIONS)
            for sub in sorted(p for p in division.iterdir() if p.is_dir())
            if submitter is None or sub.name == submitter]


# What the check's hygiene walk reports and a copy must not take: a file over the portal's
# 50 MB (a sparse file of terabytes copies as that many bytes of zeros), a FIFO, socket or
# device (copying one blocks or fails half-way), an entry that cannot be read
UNCOPYABLE = frozenset({"tree.large-file", "tree.stray-entry", "tree.unreadable"})


def uncopyable(src: Path, submitters: list[Path]) -> list[str]:
    """What a copy must not take, each as "path: why", from the check's own walk (one
    lstat an entry, links not followed: they are copied as links)."""
    return [f"{rel(src, sub)}/{f.path}: {f.message}" for sub in submitters
            for f in walk_tree(sub).findings if f.rule_id in UNCOPYABLE]


def copy_tree(src: Path, out: Path, submitter: str | None) -> None:
    """Copy the divisions of `src` (one submitter's folders if asked) to a new `out`.

    Never in place: `out` must not exist and must not lie inside `src` (a copy into itself
    would never end). Nothing is written when `src` holds what no submission may hold
    (`uncopyable`), and a copy that fails half-way leaves no `out` behind."""
    src, out = src.resolve(), out.resolve()
    if out.exists():
        raise UsageError(f"{out} already exists", hint="preprocess writes a new tree; give a path that does not exist")
    if out == src or src in out.parents:
        raise UsageError(f"{out} lies inside {src}", hint="write the preprocessed tree outside the input tree")
    submitters = _submitters(src, submitter)
    bad = uncopyable(src, submitters)
    if bad:
        more = f"; and {len(bad) - SHOWN} more" if len(bad) > SHOWN else ""
        raise UsageError(f"{src} holds {len(bad)} entr{'y' if len(bad) == 1 else 'ies'} no submission may hold: "
                         + "; ".join(bad[:SHOWN]) + more,
                         hint="remove them (the portal refuses files over 50 MB; `mlperf-ops check` lists them all)")
    out.mkdir(parents=True)
    try:
        for sub in submitters:
            shutil.copytree(sub, out / sub.parent.name / sub.name, symlinks=True)
    except (OSError, shutil.Error) as error:  # a file unreadable, the disk full: no half tree stays
        shutil.rmtree(out, ignore_errors=True)
        raise OperationalError(f"cannot copy {src} to {out}: {str(error)[:500]}",
                               hint="fix what the message names and run preprocess again") from None


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
