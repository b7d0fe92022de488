"""Shared helpers for the portal/upload tests (tiny tarballs, a dev portal, fast retries).

Imported by tests/test_portal_*.py and tests/test_upload_*.py; holds one self-test.
"""

from __future__ import annotations

import hashlib
import io
import os
import secrets
import tarfile
from collections.abc import Iterator, Mapping
from pathlib import Path

import pytest

from mlperf_ops.ship.devportal import DevPortal, FaultPlan
from mlperf_ops.core.events import Event
from mlperf_ops.ship.portal import ClassicPortal, RetryPolicy, Timeouts
from mlperf_ops.ship.upload import CheckOutcome

SUBMITTER_ID = "sid-" + secrets.token_hex(12)
SUBMITTER = "acme"
FAST_RETRY = RetryPolicy(attempts=4, initial_wait=0.01, max_wait=0.05, jitter=0.01)
FAST_TIMEOUTS = Timeouts(connect=2.0, read=10.0)


def write_tar(path: Path, files: Mapping[str, bytes], mode: str = "w") -> Path:
    """A tar archive (`mode` as tarfile.open takes it) of these members and their bytes."""
    with tarfile.open(path, mode) as archive:
        for member_name, data in files.items():
            info = tarfile.TarInfo(member_name)
            info.size = len(data)
            archive.addfile(info, io.BytesIO(data))
    return path


def make_tarball(
    directory: Path,
    name: str = "acme-v6.1-submission.tar.gz",
    *,
    submitter: str = SUBMITTER,
    division: str = "open",
    smoke: bool = False,
    payload: bytes = b"",
    mtime: float | None = None,
    sidecar: bool = True,
) -> Path:
    """A minimal `<division>/<submitter>/...` tarball (plus a `.sha256` file)."""
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / name
    files = {
        f"{division}/{submitter}/systems/sut1.json": b'{"submitter": "%s"}' % submitter.encode(),
        f"{division}/{submitter}/results/sut1/resnet/Offline/README.md": b"readme\n",
        f"{division}/{submitter}/results/sut1/resnet/Offline/payload.bin": payload or os.urandom(2048),
    }
    if smoke:
        files["SMOKE_TREE.txt"] = b"smoke profile: never submittable\n"
    write_tar(path, files, "w:gz")
    if mtime is not None:
        os.utime(path, (mtime, mtime))
    if sidecar:
        digest = hashlib.sha256(path.read_bytes()).hexdigest()
        (directory / f"{name}.sha256").write_text(f"{digest}  {name}\n")
    return path


def sha256_of(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def client(url: str, events: list[Event] | None = None, submitter_id: str = SUBMITTER_ID,
           retry: RetryPolicy = FAST_RETRY, timeouts: Timeouts = FAST_TIMEOUTS) -> ClassicPortal:
    return ClassicPortal(url, submitter_id, "Inference", timeouts=timeouts, retry=retry,
                         on_event=events.append if events is not None else None)


def passing_check(_: Path) -> CheckOutcome:
    return CheckOutcome(ok=True, checker="stub 1.0")


def start_portal(tmp_path: Path, faults: FaultPlan | None = None) -> DevPortal:
    return DevPortal(storage_dir=tmp_path / "portal-storage", faults=faults,
                     submitters={SUBMITTER_ID: SUBMITTER}).start()


@pytest.fixture
def portal(tmp_path: Path) -> Iterator[DevPortal]:
    server = start_portal(tmp_path)
    try:
        yield server
    finally:
        server.stop()


def test_tarball_helper_builds_the_official_layout(tmp_path: Path) -> None:
    path = make_tarball(tmp_path, smoke=True)
    with tarfile.open(path) as archive:
        names = archive.getnames()
    assert "open/acme/systems/sut1.json" in names and "SMOKE_TREE.txt" in names
    assert (tmp_path / f"{path.name}.sha256").read_text().split()[0] == sha256_of(path)
