"""Truncate accuracy logs the way the official procedure does (README, "Checker rules").

For every `accuracy/` and `<TEST>/accuracy/` under `<division>/<submitter>/results/`:
when `mlperf_log_accuracy.json` is not yet truncated, copy the original into a backup
directory, append `hash=<sha256 of the original>` to `accuracy.txt`, and replace the
log by its first 4 KiB + "\\n\\n...\\n\\n" + its last 4 KiB.

Facts from mlcommons/inference tools/submission/truncate_accuracy_log.py
(commit b66003e1): 10 KiB limit, 4 KiB views, the `^hash=(\\w+)$` line, a log counts
as done when accuracy.txt has a hash line and the log is under the limit.

Each file is written through a temp file + rename, and the hash line is written
before the log is cut, so a crash at any point leaves a state the next run finishes:
a second run changes nothing.
"""

from __future__ import annotations

import shutil
from dataclasses import dataclass, field
from pathlib import Path

from mlperf_ops.core.atomic import write_bytes
from mlperf_ops.core.hashing import file_sha256
from mlperf_ops.core.tree_layout import (
    ACCURACY_LOG,
    ACCURACY_TXT,
    DIVISIONS,
    MAX_ACCURACY_LOG_SIZE,
    SEPARATOR,
    VIEWABLE_SIZE,
    hash_lines,
)



@dataclass
class TruncateResult:
    truncated: list[Path] = field(default_factory=list)  # logs cut in this run
    already_done: list[Path] = field(default_factory=list)
    skipped: list[tuple[Path, str]] = field(default_factory=list)  # (dir, why)



def accuracy_dirs(root: Path) -> list[Path]:
    """Every `accuracy/` directory of results and compliance tests in a tree."""
    found: list[Path] = []
    for division in DIVISIONS:
        results = sorted((root / division).glob("*/results/*/*/*"))
        for scenario in results:
            if not scenario.is_dir() or scenario.is_symlink():
                continue
            if (scenario / "accuracy").is_dir():
                found.append(scenario / "accuracy")
            for test in sorted(scenario.glob("TEST*/accuracy")):
                if test.is_dir():
                    found.append(test)
    return found


def _replace_bytes(path: Path, data: bytes) -> None:
    # Keep the file's mode: the tree is packed later.
    write_bytes(path, data, mode=path.stat().st_mode & 0o7777)


def truncated_bytes(data: bytes) -> bytes:
    return data[:VIEWABLE_SIZE] + SEPARATOR + data[-VIEWABLE_SIZE:]


def truncate_dir(acc_dir: Path, backup_dir: Path) -> str:
    """Truncate one accuracy directory; returns "truncated", "done" or a reason to skip."""
    log = acc_dir / ACCURACY_LOG
    txt = acc_dir / ACCURACY_TXT
    if not log.is_file():
        return f"no {ACCURACY_LOG}"
    if not txt.is_file():
        return f"no {ACCURACY_TXT}: run the accuracy script first"
    size = log.stat().st_size
    hashes = hash_lines(txt)
    if size <= MAX_ACCURACY_LOG_SIZE and hashes:
        return "done"
    # We write the hash line before cutting, so past this point the log in the tree
    # is always the original (a crash can leave it uncut, never cut without a hash).
    original_hash = file_sha256(log)
    # Backups are keyed by the bytes they keep, not only by where the log sits in the
    # tree: assembling another tree (smoke, then submission) into a folder of the same
    # name puts a different original at the same path, and both must be kept.
    backup = backup_dir / original_hash / ACCURACY_LOG
    if not (backup.is_file() and file_sha256(backup) == original_hash):
        # Absent, or left half-written by a crash: (re)write it through a temp file.
        backup.parent.mkdir(parents=True, exist_ok=True)
        tmp = backup.with_name(backup.name + ".tmp")
        shutil.copyfile(log, tmp)
        tmp.replace(backup)
    if original_hash not in hashes:
        text = txt.read_bytes()
        _replace_bytes(txt, text + f"\nhash={original_hash}\n".encode())
    if size > MAX_ACCURACY_LOG_SIZE:
        data = log.read_bytes()
        _replace_bytes(log, truncated_bytes(data))
    return "truncated"


def truncate_tree(root: Path, backup_root: Path) -> TruncateResult:
    """Truncate every accuracy log of a tree; originals go under `backup_root`,
    at their path relative to `root` plus the sha256 of the original
    (`<rel>/<sha256>/mlperf_log_accuracy.json`), the hash that accuracy.txt names."""
    result = TruncateResult()
    for acc_dir in accuracy_dirs(root):
        rel = acc_dir.relative_to(root)
        outcome = truncate_dir(acc_dir, backup_root / rel)
        if outcome == "truncated":
            result.truncated.append(acc_dir / ACCURACY_LOG)
        elif outcome == "done":
            result.already_done.append(acc_dir / ACCURACY_LOG)
        else:
            result.skipped.append((acc_dir, outcome))
    return result
