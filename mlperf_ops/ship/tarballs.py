"""Read a packed submission back: verify its `.sha256` and unpack it safely to check it.

`check` and `upload` both judge the exact bytes that go to the portal, not the
directory they were packed from.
"""

from __future__ import annotations

import shutil
import string
import tarfile
import tempfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

from mlperf_ops.core.errors import CheckFailed, UsageError
from mlperf_ops.core.tree_files import FILE_SIZE_LIMIT_BYTES, read_tree_text, size_text
from mlperf_ops.core.tree_layout import DIVISIONS
from mlperf_ops.core.hashing import file_sha256


def is_tarball(path: Path) -> bool:
    return path.is_file() and path.name.endswith((".tar.gz", ".tgz", ".tar"))


# "<64 hex digits>  <name>\n" is all a sidecar holds: a larger one is not one (and is never read whole)
SIDECAR_LIMIT = 4096


def sidecar_digest(tarball: Path) -> str | None:
    """The sha256 that the sibling `<name>.sha256` records, None without one. UsageError
    when it is no sha256 file: not UTF-8 text, longer than a line, no digest first."""
    sidecar = tarball.with_name(tarball.name + ".sha256")
    if not sidecar.exists():  # a FIFO or a folder of that name is there, and is refused
        return None
    hint = "`mlperf-ops pack` writes it beside the tarball: pack again, or remove it"
    try:
        words = read_tree_text(sidecar, limit=SIDECAR_LIMIT).split()
    except (OSError, UnicodeDecodeError) as error:
        why = error.strerror if isinstance(error, OSError) else "not UTF-8 text"
        raise UsageError(f"{sidecar.name} is no sha256 file: {why}", hint=hint) from None
    if not words or len(words[0]) != 64 or any(c not in string.hexdigits for c in words[0]):
        raise UsageError(f"{sidecar.name} does not start with a sha256 hex digest", hint=hint)
    return words[0].lower()


def verify_sha256_sidecar(tarball: Path) -> str:
    """The tarball's sha256; a sibling `<name>.sha256` must agree with it when present."""
    recorded = sidecar_digest(tarball)
    digest = file_sha256(tarball)
    if recorded is not None and recorded != digest:
        raise CheckFailed(f"{tarball.name} does not match {tarball.name}.sha256",
                          hint="the tarball changed after packing; pack it again")
    return digest


# An archive of more entries than this is refused as it is read: the largest published
# submitter seen holds 17,699 (GATEOverflow, open, v5.1), and each entry costs tarfile
# about a kilobyte of memory and the disk an inode.
MAX_MEMBERS = 200_000
# What unpacking leaves free on its disk, at least: a bundle of run records may hold
# gigabytes (untruncated accuracy logs), and a few megabytes of gzip unpack to terabytes.
DISK_RESERVE_BYTES = 1024 ** 3


class UnpackRefused(Exception):
    """An archive that is not unpacked, and why ("holds ...", for a message)."""


class UnpackBudget:
    """Counts an archive's entries and bytes as they are met, and refuses the one that
    would pass MAX_MEMBERS or fill the disk of `dest` (DISK_RESERVE_BYTES kept free),
    before its bytes are written."""

    def __init__(self, dest: Path) -> None:
        self.dest = dest
        self.room = shutil.disk_usage(dest).free - DISK_RESERVE_BYTES
        self.members = 0
        self.size = 0

    def admit(self, member: tarfile.TarInfo) -> None:
        self.members += 1
        if self.members > MAX_MEMBERS:
            raise UnpackRefused(f"holds more than {MAX_MEMBERS:,} entries")
        if member.isreg():
            self.size += member.size
            if self.size > self.room:
                raise UnpackRefused(f"unpacks to more than the {size_text(max(self.room, 0))} that {self.dest} "
                                    f"can take and keep {size_text(DISK_RESERVE_BYTES)} free "
                                    f"(at {member.name}, {size_text(self.size)} so far)")


class _Oversized(Exception):
    def __init__(self, member: tarfile.TarInfo) -> None:
        self.member = member


def _within_limit(budget: UnpackBudget) -> Callable[[tarfile.TarInfo, str], tarfile.TarInfo | None]:
    """tarfile's "data" filter (no links out, no devices, no escapes), no member over the
    portal's limit, and `budget`: a few megabytes of gzip unpack to terabytes of zeros, so
    the unpacking stops at the first such member, before its bytes."""
    def admit(member: tarfile.TarInfo, dest: str) -> tarfile.TarInfo | None:
        kept = tarfile.data_filter(member, dest)
        if kept is not None and kept.isreg() and kept.size > FILE_SIZE_LIMIT_BYTES:
            raise _Oversized(kept)
        if kept is not None:
            budget.admit(kept)
        return kept
    return admit


@contextmanager
def unpacked(tarball: Path) -> Iterator[Path]:
    """The tree inside `tarball`, unpacked into a temporary directory (links, escapes and
    members over the portal's 50 MB limit refused)."""
    workdir = Path(tempfile.mkdtemp(prefix="mlperf-ops-unpacked-"))
    try:
        try:
            with tarfile.open(tarball, "r:*") as archive:
                archive.extractall(workdir, filter=_within_limit(UnpackBudget(workdir)))
        except _Oversized as error:
            raise UsageError(f"{tarball.name} holds {error.member.name}, {size_text(error.member.size)}: "
                             "the portal refuses it", hint="remove it from the tree and pack again") from None
        except UnpackRefused as error:
            raise UsageError(f"{tarball.name} is not unpacked: it {error}",
                             hint="check the tree it was packed from, or pack it with `mlperf-ops pack`") from None
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
