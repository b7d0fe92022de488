"""entries_under: what rglob("*") lists, at any depth of folders (rglob recursed)."""

from __future__ import annotations

import os
from pathlib import Path

from mlperf_ops.core.walk import entries_under
from mlperf_ops.ship.pack import pack


def _odd_tree(root: Path) -> None:
    for folder in ("a/b/c", "a/empty", ".hidden/x", "b b"):
        (root / folder).mkdir(parents=True)
    (root / "a/b/c/f.txt").write_text("x")
    (root / ".hidden/x/.dot").write_text("x")
    (root / "a/link_to_dir").symlink_to("b")  # listed, never followed
    (root / "a/broken").symlink_to("nowhere")
    os.mkfifo(root / "a/fifo")


def test_the_entries_rglob_lists(tmp_path: Path) -> None:
    _odd_tree(tmp_path)
    assert sorted(entries_under(tmp_path)) == sorted(tmp_path.rglob("*"))
    assert tmp_path / "a/link_to_dir" in entries_under(tmp_path)
    assert not [p for p in entries_under(tmp_path) if "link_to_dir/" in p.as_posix()]


def test_a_tree_deeper_than_the_recursion_limit_is_packed(tmp_path: Path) -> None:
    # rglob raised RecursionError out of `pack --force` at 1500 levels
    tree = tmp_path / "tree"
    chain = [tree / "open" / "Org" / "src" / ("d/" * i) for i in range(1500)]
    (tree / "open" / "Org").mkdir(parents=True)
    try:
        for folder in chain:
            os.mkdir(folder)
        (chain[-1] / "notes.txt").write_text("deep\n")
        assert len(entries_under(tree)) == 2 + 1500 + 1
        result = pack(tree, tmp_path / "out", force=True)
        assert result.file_count == 1
    finally:  # pytest's own cleanup (shutil.rmtree) recurses too
        (chain[-1] / "notes.txt").unlink(missing_ok=True)
        for folder in reversed(chain):
            if folder.is_dir():
                os.rmdir(folder)
