"""Truncate accuracy logs the way the official procedure does (README, "Checker rules").

For the `accuracy/` of every result and of its TEST01, TEST07 and TEST09 (the only tests
the official tool touches) under `<division>/<submitter>/results/`: when
`mlperf_log_accuracy.json` is not yet truncated, copy the original into a backup
directory, add `hash=<sha256 of the original>` to `accuracy.txt`, and replace the log by
its first 4 KiB + "\n\n...\n\n" + its last 4 KiB.

Facts from mlcommons/inference tools/submission/truncate_accuracy_log.py (commit
b66003e1), which the tests hold this to byte for byte (tests/test_truncate_official.py):
- a log counts as done when accuracy.txt has a `^hash=(\\w+)$` line and the log is under
  10 KiB (10 KiB itself is not); otherwise its hash line is appended ("\nhash=...\n"),
  and the log is cut if it is 4 KiB or more;
- TEST07 and TEST09 have no accuracy.txt of their own: it is written as just the hash
  line, and their logs never count as done (a second run hashes the cut log again);
- the cut is of text, not bytes: the first 4096 characters of the UTF-8 text, then 4096
  characters from 4096 bytes before the end, with CRLF and CR read as LF. A cut that
  falls inside a character, or bytes that are not UTF-8, make the official tool fail;
  here the folder is left as it is, with the reason.

The hash line is written before the log is cut, each file through a temp file + rename,
so a crash at any point leaves a state the next run finishes, as the official tool would.
"""

from __future__ import annotations

import io
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



# the compliance tests whose accuracy logs the official tool truncates; the others' it leaves
TRUNCATED_TESTS = ("TEST01", "TEST07", "TEST09")
# ...and of these, the ones that have no accuracy.txt but the hash line the tool writes
HASH_ONLY_TESTS = ("TEST07", "TEST09")


def accuracy_dirs(root: Path) -> list[Path]:
    """Every `accuracy/` directory the official tool truncates: of results, and of their
    TRUNCATED_TESTS."""
    found: list[Path] = []
    for division in DIVISIONS:
        results = sorted((root / division).glob("*/results/*/*/*"))
        for scenario in results:
            if not scenario.is_dir() or scenario.is_symlink():
                continue
            if (scenario / "accuracy").is_dir():
                found.append(scenario / "accuracy")
            for test in TRUNCATED_TESTS:
                if (scenario / test / "accuracy").is_dir():
                    found.append(scenario / test / "accuracy")
    return found


def _replace_bytes(path: Path, data: bytes) -> None:
    # Keep the file's mode: the tree is packed later.
    write_bytes(path, data, mode=path.stat().st_mode & 0o7777)


def truncated_log(log: Path, size: int) -> bytes:
    """The log as the official tool leaves it (a log under 4 KiB stays as it is), read as
    that tool reads it: its first 4096 characters, and 4096 from 4096 bytes before its end.
    Never the whole log, which can be gigabytes (a text-to-image run's). Raises
    UnicodeDecodeError where the official tool fails: see the module's docstring."""
    with open(log, "rb") as raw:
        if size < VIEWABLE_SIZE:
            return raw.read(VIEWABLE_SIZE)
        text = io.TextIOWrapper(raw, encoding="utf-8", newline=None)
        start = text.read(VIEWABLE_SIZE)
        text.seek(size - VIEWABLE_SIZE)  # a byte offset, as the official tool seeks
        end = text.read(VIEWABLE_SIZE)
    return (start + SEPARATOR.decode() + end).encode("utf-8")


def truncate_dir(acc_dir: Path, backup_dir: Path) -> str:
    """Truncate one accuracy directory; returns "truncated", "done" or a reason to skip."""
    log = acc_dir / ACCURACY_LOG
    txt = acc_dir / ACCURACY_TXT
    hash_only = acc_dir.parent.name in HASH_ONLY_TESTS
    if not log.is_file():
        return f"no {ACCURACY_LOG}"
    if not hash_only and not txt.is_file():
        return f"no {ACCURACY_TXT}: run the accuracy script first"
    size = log.stat().st_size
    if not hash_only and size < MAX_ACCURACY_LOG_SIZE and hash_lines(txt):
        return "done"
    try:
        cut = truncated_log(log, size)
    except UnicodeDecodeError as error:
        return (f"the cut at byte {max(0, size - VIEWABLE_SIZE)} falls inside a UTF-8 character, or the "
                f"log is not UTF-8 ({error.reason}): the official truncate_accuracy_log.py fails on it too")
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
    line = f"hash={original_hash}\n".encode()
    if hash_only:
        write_bytes(txt, line, mode=txt.stat().st_mode & 0o7777 if txt.exists() else 0o644)
    else:
        _replace_bytes(txt, txt.read_bytes() + b"\n" + line)
    # a log cut already is its own cut (TEST07's and TEST09's never count as done): left as it is
    if len(cut) != size or log.read_bytes() != cut:
        _replace_bytes(log, cut)
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
