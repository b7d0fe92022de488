"""Read a packed submission back: verify its `.sha256` and unpack it safely to check it.

`check` and `upload` both judge the exact bytes that go to the portal, not the
directory they were packed from.
"""

from __future__ import annotations

import shutil
import tarfile
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from mlperf_ops.core.errors import CheckFailed, UsageError
from mlperf_ops.core.tree_files import FILE_SIZE_LIMIT_BYTES, size_text
from mlperf_ops.core.tree_layout import DIVISIONS
from mlperf_ops.core.hashing import file_sha256


def is_tarball(path: Path) -> bool:
    return path.is_file() and path.name.endswith((".tar.gz", ".tgz", ".tar"))


def verify_sha256_sidecar(tarball: Path) -> str:
    """The tarball's sha256; a sibling `<name>.sha256` must agree with it when present."""
    digest = file_sha256(tarball)
    sidecar = tarball.with_name(tarball.name + ".sha256")
    if sidecar.is_file():
        recorded = sidecar.read_text("utf-8", errors="replace").split()[:1]
        if not recorded or recorded[0].lower() != digest:
            raise CheckFailed(f"{tarball.name} does not match {sidecar.name}",
                              hint="the tarball changed after packing; pack it again")
    return digest


class _Oversized(Exception):
    def __init__(self, member: tarfile.TarInfo) -> None:
        self.member = member


def _within_limit(member: tarfile.TarInfo, dest: str) -> tarfile.TarInfo | None:
    """tarfile's "data" filter (no links out, no devices, no escapes), and no member over
    the portal's limit: a few megabytes of gzip unpack to terabytes of zeros, so the
    unpacking stops at the first such member, before its bytes."""
    kept = tarfile.data_filter(member, dest)
    if kept is not None and kept.isreg() and kept.size > FILE_SIZE_LIMIT_BYTES:
        raise _Oversized(kept)
    return kept


@contextmanager
def unpacked(tarball: Path) -> Iterator[Path]:
    """The tree inside `tarball`, unpacked into a temporary directory (links, escapes and
    members over the portal's 50 MB limit refused)."""
    workdir = Path(tempfile.mkdtemp(prefix="mlperf-ops-unpacked-"))
    try:
        try:
            with tarfile.open(tarball, "r:*") as archive:
                archive.extractall(workdir, filter=_within_limit)
        except _Oversized as error:
            raise UsageError(f"{tarball.name} holds {error.member.name}, {size_text(error.member.size)}: "
                             "the portal refuses it", hint="remove it from the tree and pack again") from None
        except (tarfile.TarError, OSError, EOFError) as error:
            raise UsageError(f"cannot unpack {tarball.name}: {error}",
                             hint="use the .tar.gz written by `mlperf-ops pack`") from None
        entries = list(workdir.iterdir())
        root = workdir
        if len(entries) == 1 and entries[0].is_dir() and entries[0].name not in DIVISIONS:
            root = entries[0]
        yield root
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
