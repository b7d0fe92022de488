"""Unpacking an archive (`merge` of a bundle, `check`/`upload` of a tarball) is bounded:
no more entries than MAX_MEMBERS, no more bytes than the disk can take with a reserve
left free, and each refusal comes before any byte of the refused member is written.

A bundle legitimately holds gigabytes (untruncated accuracy logs), so it has no per-file
limit; what it cannot do is fill the disk the ledger lives on.
"""

from __future__ import annotations

import gzip
import os
import subprocess
import sys
import tarfile
import tempfile
import time
from pathlib import Path
from types import SimpleNamespace

import pytest

from mlperf_ops.core.errors import UsageError
from mlperf_ops.ship import bundle as bundle_module
from mlperf_ops.ship import tarballs
from mlperf_ops.ship.bundle import INDEX, merge_bundles
from mlperf_ops.state.ledger import RECORD_FILE, Ledger
from tests.support.records import bundle_of, run_record

TERABYTE = 1024 ** 4


def _record(ledger: Ledger, key: str, payload: bytes | int) -> None:
    """A finished record whose output holds `payload` (bytes, or a sparse file of that size)."""
    attempt = ledger.begin(key, f"s/{key[:4]}")
    out = attempt.output_dir / "mlperf_log_accuracy.json"
    if isinstance(payload, int):
        with open(out, "wb") as handle:
            handle.truncate(payload)
    else:
        out.write_bytes(payload)
    ledger.commit(attempt, run_record(reason="", finished_unix=time.time()))


def _claiming(out: Path, name: str, size: int) -> Path:
    """A gzipped tar whose one header claims a member of `size` bytes and holds none of
    them: what a hostile archive costs to make."""
    info = tarfile.TarInfo(name)
    info.size = size
    out.write_bytes(gzip.compress(info.tobuf(tarfile.PAX_FORMAT)))
    return out


def _small_disk(monkeypatch: pytest.MonkeyPatch, free_bytes: int) -> None:
    """The disk that unpacking writes to has `free_bytes` free (the real call elsewhere)."""
    monkeypatch.setattr(tarballs.shutil, "disk_usage", lambda path: SimpleNamespace(free=free_bytes))


def _scratch(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Where merge and unpacked make their temporary folders, for this test alone."""
    scratch = tmp_path / "scratch"
    scratch.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(scratch))
    return scratch


def test_a_bundle_that_would_fill_the_disk_is_refused_and_nothing_is_imported(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    source, target = Ledger(tmp_path / "a"), Ledger(tmp_path / "t")
    _record(source, "a" * 64, 300 * 1024 * 1024)  # 300 MB of zeros: a few hundred KB of gzip
    bundle = bundle_of(source, ["a" * 64], tmp_path / "a.tgz", compresslevel=1)
    assert bundle.stat().st_size < 2 * 1024 * 1024
    scratch = _scratch(tmp_path, monkeypatch)
    _small_disk(monkeypatch, tarballs.DISK_RESERVE_BYTES + 200 * 1024 * 1024)
    with pytest.raises(UsageError, match=r"is not unpacked: it unpacks to more than the 200\.0 MB") as caught:
        merge_bundles(target, [bundle])
    assert "mlperf_log_accuracy.json" in str(caught.value)
    assert target.done("a" * 64) is None
    assert not any(scratch.iterdir())  # nothing left behind
    monkeypatch.undo()  # the real disk has room: the same bundle merges (a bundle has no per-file limit)
    assert merge_bundles(target, [bundle]).imported == ["a" * 64]


def test_a_bundle_of_too_many_entries_is_refused_as_it_is_read(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    source = Ledger(tmp_path / "a")
    _record(source, "b" * 64, b"x")
    bundle = bundle_of(source, ["b" * 64], tmp_path / "b.tgz", compresslevel=1)
    with tarfile.open(bundle) as tar:
        entries = len(tar.getmembers())
    monkeypatch.setattr(tarballs, "MAX_MEMBERS", entries - 1)
    with pytest.raises(UsageError, match=f"holds more than {entries - 1:,} entries"):
        merge_bundles(Ledger(tmp_path / "t"), [bundle])
    monkeypatch.setattr(tarballs, "MAX_MEMBERS", entries)
    assert merge_bundles(Ledger(tmp_path / "t"), [bundle]).imported == ["b" * 64]


@pytest.mark.parametrize("name", [INDEX, "records/" + "c" * 64 + "/record.json", "probes/s.json"])
def test_a_bundle_json_file_that_merge_reads_whole_is_at_most_50_mb(name: str, tmp_path: Path) -> None:
    bundle = _claiming(tmp_path / "big.tgz", name, 60 * 1024 * 1024)
    with pytest.raises(UsageError, match=f"{name} is 60.0 MB"):
        merge_bundles(Ledger(tmp_path / "t"), [bundle])


def test_merge_of_a_bundle_claiming_a_petabyte_exits_2_at_once(tmp_path: Path) -> None:
    """Through the CLI, on the real disk: the header alone is refused (nothing of the
    member is read, so it takes no time), exit 2, no traceback, the ledger untouched."""
    bundle = _claiming(tmp_path / "huge.tgz", "records/" + "d" * 64 + "/output/mlperf_log_accuracy.json", 1024 * TERABYTE)
    state = tmp_path / "state"
    env = {**os.environ, "OPENBLAS_NUM_THREADS": "1"}
    proc = subprocess.run([sys.executable, "-m", "mlperf_ops", "merge", str(bundle), "--state-dir", str(state)],
                          capture_output=True, text=True, cwd=tmp_path, env=env, timeout=300)
    assert proc.returncode == 2, proc.stderr
    assert "Traceback" not in proc.stdout + proc.stderr
    assert "huge.tgz is not unpacked: it unpacks to more than the" in proc.stderr
    assert not state.exists() or not list(state.rglob(RECORD_FILE))


def test_a_tarball_that_would_fill_the_disk_is_refused_before_it_unpacks(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """`check TARBALL` and `upload` unpack through the same budget: 40 members of 40 MB
    (each under the portal's 50 MB) are 1.6 GB."""
    tree = tmp_path / "closed" / "Org" / "src"
    tree.mkdir(parents=True)
    for i in range(40):
        with open(tree / f"part{i}.bin", "wb") as handle:
            handle.truncate(40 * 1024 * 1024)
    tarball = tmp_path / "t.tar.gz"
    with tarfile.open(tarball, "w:gz", compresslevel=1) as archive:
        archive.add(tmp_path / "closed", arcname="closed")
    scratch = _scratch(tmp_path, monkeypatch)
    _small_disk(monkeypatch, tarballs.DISK_RESERVE_BYTES + 1024 * 1024 * 1024)
    with pytest.raises(UsageError, match=r"t\.tar\.gz is not unpacked: it unpacks to more than the 1024\.0 MB"):
        with tarballs.unpacked(tarball):
            pass
    assert not any(scratch.iterdir())
    monkeypatch.undo()
    monkeypatch.setattr(tarballs, "MAX_MEMBERS", 10)
    with pytest.raises(UsageError, match="holds more than 10 entries"):
        with tarballs.unpacked(tarball):
            pass
    assert bundle_module.UnpackBudget is tarballs.UnpackBudget  # one budget for both
