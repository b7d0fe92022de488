"""Big and special files in a submission tree: every verb that reads a tree reads at most the
portal's 50 MB of a file, never waits on a FIFO, and never unpacks a gzip bomb.

The trees are real (GATEOverflow's yolo-95 of the v6.0 round, tests/data/real_trees); one file
of each is replaced by a sparse file of gigabytes (made in a blink, read as zeros for as long
as memory lasts) or by a FIFO (which blocks a reader until something writes). Before these
tests a 3 GB detail log took `check` 9 GB of memory and 22 s. Memory is measured as the peak
resident size of the command's process (tests/support/measured.py), not timed.
"""

from __future__ import annotations

import json
import os
import shutil
import tarfile
from pathlib import Path

import pytest

from mlperf_ops.core.tree_files import FILE_SIZE_LIMIT_BYTES, FileTooLarge, NotAFile, read_to_end, read_tree_file
from tests.support.measured import run_measured

REAL = Path(__file__).parent / "data" / "real_trees" / "gateoverflow_v6.0"
SUB = Path("closed/GATEOverflow")
SYSTEM = "intel_spr_i9-reference-cpu-pytorch_v2.3.1-default_config"
OFFLINE = SUB / "results" / SYSTEM / "yolo-95" / "offline"
SYSTEM_JSON = SUB / "systems" / f"{SYSTEM}.json"
BIG = 3 * 1024 ** 3  # sparse: no disk, no time to make
# far above what any of these commands needs on the excerpt (~25 MB), far below the file
RSS_BOUND_MB = 400


def _tree(tmp_path: Path) -> Path:
    tree = tmp_path / "tree"
    shutil.copytree(REAL / "tree", tree)
    return tree


def _sparse(path: Path, size: int = BIG) -> None:
    path.unlink()
    with path.open("wb") as handle:
        handle.truncate(size)


def _fifo(path: Path) -> None:
    path.unlink()
    os.mkfifo(path)


def _run(*args: str, cwd: Path) -> tuple[int, str, str, float]:
    """(exit code, stdout, stderr, peak memory in MB) of `mlperf-ops ARGS` in its own process."""
    result, usage = run_measured(args, cwd / "usage.json", cwd=cwd, env={**os.environ, "MLPERF_OPS_STATE": str(cwd / "state")})
    assert usage, f"mlperf-ops {' '.join(args)} did not finish normally: {result.stderr[-2000:]}"
    return result.returncode, result.stdout, result.stderr, usage["maxrss_mb"]


class _ShortReads:
    """A file that gives at most `step` bytes a call (as a network file system may)."""

    def __init__(self, data: bytes, step: int) -> None:
        self.data, self.step, self.calls = data, step, 0

    def read(self, n: int) -> bytes:
        self.calls += 1
        part, self.data = self.data[:min(n, self.step)], self.data[min(n, self.step):]
        return part


def test_a_file_read_in_short_pieces_is_read_whole() -> None:
    # the one read loop of read_tree_file and the secret scan (secretscan.scan_file)
    handle = _ShortReads(b"0123456789" * 10, step=7)
    assert read_to_end(handle.read, 100, 10**6) == b"0123456789" * 10
    handle = _ShortReads(b"abc", step=100)
    assert read_to_end(handle.read, 3, 10**6) == b"abc" and handle.calls == 1  # its size: no call for the end
    assert read_to_end(_ShortReads(b"x" * 50, step=8).read, 50, 20) == b"x" * 21  # never beyond `limit` and one


def test_read_tree_file_refuses_what_it_must_not_read(tmp_path: Path) -> None:
    small = tmp_path / "small.txt"
    small.write_bytes(b"x" * 1000)
    assert read_tree_file(small, limit=1000) == b"x" * 1000
    with pytest.raises(FileTooLarge, match="over the 50 MB limit"):
        read_tree_file(small, limit=999)
    fifo = tmp_path / "fifo"
    os.mkfifo(fifo)
    with pytest.raises(NotAFile):
        read_tree_file(fifo)  # returns at once: nothing writes to it
    with pytest.raises(NotAFile):
        read_tree_file(tmp_path)
    with pytest.raises(FileNotFoundError):
        read_tree_file(tmp_path / "absent")
    big = tmp_path / "big"
    big.write_bytes(b"")
    _sparse(big, FILE_SIZE_LIMIT_BYTES + 1)
    with pytest.raises(FileTooLarge):
        read_tree_file(big)


@pytest.mark.parametrize("where", [OFFLINE / "performance" / "run_1" / "mlperf_log_detail.txt",
                                   OFFLINE / "accuracy" / "accuracy.txt", SYSTEM_JSON])
def test_check_reads_none_of_a_huge_file_and_refuses_it(where: Path, tmp_path: Path) -> None:
    tree = _tree(tmp_path)
    _sparse(tree / where)
    code, stdout, stderr, rss_mb = _run("check", str(tree), "--round", "v6.0", "--json", cwd=tmp_path)
    assert code == 3, stderr
    assert rss_mb < RSS_BOUND_MB
    doc = json.loads(stdout)
    large = [f for f in doc["findings"] if f["rule_id"] == "tree.large-file"]
    assert large and all(f["path"] == where.as_posix() for f in large)
    assert "3072.0 MB is over the 50 MB limit" in large[0]["message"]
    refused = {r["path"] for r in doc["results"] if not r["valid"]}
    if where != SYSTEM_JSON:
        assert refused == {OFFLINE.as_posix()}  # that result alone, for that file


@pytest.mark.parametrize("where", [OFFLINE / "performance" / "run_1" / "mlperf_log_summary.txt",
                                   OFFLINE / "TEST01" / "verify_accuracy.txt", SYSTEM_JSON])
def test_check_never_waits_on_a_fifo(where: Path, tmp_path: Path) -> None:
    tree = _tree(tmp_path)
    _fifo(tree / where)
    code, stdout, stderr, _ = _run("check", str(tree), "--round", "v6.0", cwd=tmp_path)
    assert code == 3, stderr
    assert "Traceback" not in stdout + stderr
    assert f"{where.as_posix()}\n  ERROR" in stdout  # a finding at that file refuses what it belongs to


@pytest.mark.parametrize("make", [_sparse, _fifo], ids=["huge-file", "fifo"])
def test_preprocess_refuses_before_writing_anything(make: object, tmp_path: Path) -> None:
    tree = _tree(tmp_path)
    make(tree / OFFLINE / "accuracy" / "accuracy.txt")  # type: ignore[operator]
    out = tmp_path / "out"
    code, stdout, stderr, rss_mb = _run("preprocess", str(tree), "--out", str(out), "--round", "v6.0", cwd=tmp_path)
    assert code == 2, stderr
    assert "Traceback" not in stdout + stderr
    assert f"{(OFFLINE / 'accuracy' / 'accuracy.txt').as_posix()}:" in stderr
    assert not out.exists()
    assert rss_mb < RSS_BOUND_MB


def test_truncate_reads_the_ends_of_a_huge_accuracy_log(tmp_path: Path) -> None:
    """A text-to-image accuracy log can be gigabytes: it is hashed and backed up as a stream,
    and cut from its two ends, never read whole."""
    tree = _tree(tmp_path)
    log = tree / OFFLINE / "accuracy" / "mlperf_log_accuracy.json"
    size = 600 * 1024 * 1024  # over the bound; the backup copy writes it once
    _sparse(log, size)
    code, _, stderr, rss_mb = _run("truncate", str(tree), "--backup", str(tmp_path / "originals"), cwd=tmp_path)
    assert code == 0, stderr
    assert rss_mb < RSS_BOUND_MB
    assert log.read_bytes() == b"\0" * 4096 + b"\n\n...\n\n" + b"\0" * 4096
    backups = list((tmp_path / "originals").rglob("mlperf_log_accuracy.json"))
    assert any(b.stat().st_size == size for b in backups)


def test_a_gzip_bomb_is_refused_before_it_unpacks(tmp_path: Path) -> None:
    """A member over the portal's limit stops the unpacking before its bytes: a few MB of
    gzip would otherwise write gigabytes (or terabytes) of zeros to the disk."""
    tree = _tree(tmp_path)
    weights = tree / SUB / "src" / "weights.bin"
    weights.write_bytes(b"")
    _sparse(weights, 200 * 1024 * 1024)
    tarball = tmp_path / "bomb.tar.gz"
    with tarfile.open(tarball, "w:gz", compresslevel=1) as archive:
        archive.add(tree / "closed", arcname="closed")
    assert tarball.stat().st_size < 5 * 1024 * 1024
    code, _, stderr, _ = _run("check", str(tarball), "--round", "v6.0", cwd=tmp_path)
    assert code == 2, stderr
    assert "src/weights.bin, 200.0 MB is over the 50 MB limit: the portal refuses it" in stderr


@pytest.mark.parametrize("sidecar", ["binary", "huge", "fifo", "no-digest"])
@pytest.mark.parametrize("verb", ["check", "upload"])
def test_a_sha256_sidecar_that_is_no_sha256_file_is_refused(sidecar: str, verb: str, tmp_path: Path) -> None:
    """`<tarball>.sha256` is a line `pack` writes; `check` and `upload` read at most 4 KiB
    of it, as UTF-8 text, and refuse anything else with exit 2 (it raised a traceback
    on bytes that are not UTF-8, and a 2 GB one took 4 GB of memory)."""
    tarball = tmp_path / "t.tar.gz"
    with tarfile.open(tarball, "w:gz") as archive:
        archive.add(REAL / "tree" / "closed", arcname="closed")
    path = tmp_path / "t.tar.gz.sha256"
    if sidecar == "binary":
        path.write_bytes(b"\xff\xfe\x00\x01")
    elif sidecar == "huge":
        path.write_bytes(b"")
        _sparse(path, 2 * 1024 ** 3)
    elif sidecar == "fifo":
        os.mkfifo(path)
    else:
        path.write_text("not-a-digest  t.tar.gz\n")
    args = ["check", str(tarball), "--round", "v6.0"] if verb == "check" else ["upload", str(tarball), "--dry-run"]
    code, stdout, stderr, rss_mb = _run(*args, cwd=tmp_path)
    assert "Traceback" not in stdout + stderr
    assert rss_mb < RSS_BOUND_MB
    assert code == 2, stderr
    assert "t.tar.gz.sha256" in stderr
