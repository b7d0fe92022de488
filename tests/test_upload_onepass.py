"""inspect_and_hash: the member names and the sha256 of the whole file from one read."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest

from mlperf_ops.ship.upload import inspect_and_hash, inspect_tarball
from tests.support.upload_support import write_tar


def _tarball(path: Path, mode: str) -> Path:
    write_tar(path, {"closed/Org/results/sut/x.txt": b"x" * 300_000, "closed/Org/systems/sut.json": b"{}"}, mode)
    with open(path, "ab") as handle:  # trailing bytes tarfile never reads must be hashed too
        handle.write(b"\0" * 10240 if mode == "w" else b"")
    return path


@pytest.mark.parametrize("mode", ["w", "w:gz"])
def test_one_pass_gives_the_file_sha256_and_the_same_info(tmp_path: Path, mode: str) -> None:
    path = _tarball(tmp_path / ("t.tar" if mode == "w" else "t.tar.gz"), mode)
    info, digest = inspect_and_hash(path)
    assert digest == hashlib.sha256(path.read_bytes()).hexdigest()
    assert info == inspect_tarball(path) and info.submitter == "Org"
