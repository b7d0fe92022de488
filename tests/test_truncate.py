"""Accuracy-log truncation: the official procedure, idempotent, originals kept."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

from mlperf_ops.core.tree_layout import MAX_ACCURACY_LOG_SIZE, SEPARATOR, VIEWABLE_SIZE, hash_lines
from mlperf_ops.submission.truncate import truncate_tree


def make_tree(root: Path, entries: int = 2000) -> tuple[Path, bytes]:
    scen = root / "open" / "Org" / "results" / "sys" / "resnet" / "Offline"
    data = ("[\n" + ",\n".join(json.dumps({"seq_id": i, "qsl_idx": i, "data": "%02X" % (i % 10)}) for i in range(entries)) + "\n]\n").encode()
    for acc in (scen / "accuracy", scen / "TEST01" / "accuracy"):
        acc.mkdir(parents=True)
        (acc / "mlperf_log_accuracy.json").write_bytes(data)
        (acc / "accuracy.txt").write_text("accuracy=80.000%, good=1600, total=2000\n")
    return scen, data


def snapshot(root: Path) -> dict[str, bytes]:
    return {p.relative_to(root).as_posix(): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


def test_truncates_hashes_and_keeps_original(tmp_path: Path) -> None:
    root = tmp_path / "tree"
    scen, data = make_tree(root)
    (scen / "accuracy" / "mlperf_log_accuracy.json").chmod(0o644)
    backup = tmp_path / "state" / "originals"
    result = truncate_tree(root, backup)
    assert len(result.truncated) == 2
    digest = hashlib.sha256(data).hexdigest()
    for acc in (scen / "accuracy", scen / "TEST01" / "accuracy"):
        log = (acc / "mlperf_log_accuracy.json").read_bytes()
        assert log == data[:VIEWABLE_SIZE] + SEPARATOR + data[-VIEWABLE_SIZE:]
        assert len(log) <= MAX_ACCURACY_LOG_SIZE
        assert hash_lines(acc / "accuracy.txt") == [digest]
        assert (acc / "accuracy.txt").read_text().startswith("accuracy=80.000%")
        kept = backup / acc.relative_to(root) / digest / "mlperf_log_accuracy.json"
        assert kept.read_bytes() == data
    assert (scen / "accuracy" / "mlperf_log_accuracy.json").stat().st_mode & 0o777 == 0o644
    assert not [p for p in root.rglob(".*")]  # no temp files left behind


def test_second_run_changes_nothing(tmp_path: Path) -> None:
    root = tmp_path / "tree"
    make_tree(root)
    truncate_tree(root, tmp_path / "b")
    before = snapshot(root)
    again = truncate_tree(root, tmp_path / "b")
    assert again.truncated == [] and len(again.already_done) == 2
    assert snapshot(root) == before


def test_resumes_after_a_crash_between_hash_and_cut(tmp_path: Path) -> None:
    root = tmp_path / "tree"
    scen, data = make_tree(root)
    acc = scen / "accuracy"
    digest = hashlib.sha256(data).hexdigest()
    # as if a previous run died after writing the hash line but before cutting
    (acc / "accuracy.txt").write_text(f"accuracy=80.000%\n\nhash={digest}\n")
    truncate_tree(root, tmp_path / "b")
    # the hash line again, as the official tool appends it after the same crash (the
    # checker reads the first): the log cut, and a third run changes nothing
    assert hash_lines(acc / "accuracy.txt") == [digest, digest]
    assert (acc / "mlperf_log_accuracy.json").stat().st_size <= MAX_ACCURACY_LOG_SIZE
    before = snapshot(root)
    truncate_tree(root, tmp_path / "b")
    assert snapshot(root) == before


def test_small_log_gets_hash_but_stays_whole(tmp_path: Path) -> None:
    root = tmp_path / "tree"
    scen, data = make_tree(root, entries=20)
    assert len(data) < MAX_ACCURACY_LOG_SIZE
    truncate_tree(root, tmp_path / "b")
    assert (scen / "accuracy" / "mlperf_log_accuracy.json").read_bytes() == data
    assert hash_lines(scen / "accuracy" / "accuracy.txt") == [hashlib.sha256(data).hexdigest()]


def test_missing_accuracy_txt_is_skipped_with_reason(tmp_path: Path) -> None:
    root = tmp_path / "tree"
    scen, _ = make_tree(root)
    (scen / "accuracy" / "accuracy.txt").unlink()
    result = truncate_tree(root, tmp_path / "b")
    assert [why for _, why in result.skipped] and "accuracy.txt" in result.skipped[0][1]
    assert len(result.truncated) == 1


def test_another_tree_at_the_same_path_keeps_both_originals(tmp_path: Path) -> None:
    """Smoke then submission assembled into folders of one name: both originals are kept."""
    backup = tmp_path / "state" / "originals"
    first_root, second_root = tmp_path / "a" / "submission", tmp_path / "b" / "submission"
    scen, first = make_tree(first_root, entries=2000)
    truncate_tree(first_root, backup)
    _, second = make_tree(second_root, entries=2500)
    assert first != second
    result = truncate_tree(second_root, backup)
    assert len(result.truncated) == 2
    rel = scen.relative_to(first_root) / "accuracy"
    for data in (first, second):
        digest = hashlib.sha256(data).hexdigest()
        assert (backup / rel / digest / "mlperf_log_accuracy.json").read_bytes() == data


def test_a_half_written_backup_is_rewritten(tmp_path: Path) -> None:
    root = tmp_path / "tree"
    scen, data = make_tree(root)
    digest = hashlib.sha256(data).hexdigest()
    kept = tmp_path / "b" / "open" / "Org" / "results" / "sys" / "resnet" / "Offline" / "accuracy" / digest
    kept.mkdir(parents=True)
    (kept / "mlperf_log_accuracy.json").write_bytes(data[:100])  # a crash mid-copy
    truncate_tree(root, tmp_path / "b")
    assert (kept / "mlperf_log_accuracy.json").read_bytes() == data
