"""Pack a checked tree into a deterministic `tar.gz` + `.sha256` + `report.json`.

Same tree in, same bytes out: entries sorted, fixed mtime, uid/gid 0 with empty
owner names, modes normalised to 0755/0644, gzip header without file name and with
mtime 0. Hidden files and symbolic links are refused: a hidden entry is most often
a tool's (.git, .DS_Store) and makes archives differ between machines, and a link's target
is either packed twice or not at all. Published trees hold a few of both, and the
official checker accepts their results (`check` warns, `--strict` refuses), so `pack`
asks for a tree without them rather than guessing.
"""

from __future__ import annotations

import gzip
import hashlib
import json
import os
import stat
import tarfile
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any, BinaryIO

from mlperf_ops import __version__
from mlperf_ops.core.walk import entries_under
from mlperf_ops.core.atomic import write_bytes
from mlperf_ops.check import CheckReport, check_tree
from mlperf_ops.core.errors import CheckFailed, UsageError
from mlperf_ops.core.tree_layout import DIVISIONS, PROVENANCE, SMOKE_MARKER

FIXED_MTIME = 946684800  # 2000-01-01T00:00:00Z: any constant works; 0 upsets some tools
_CHUNK = 1 << 20
# gzip level 1: on the 300-result bench tree (LoadGen logs) it compresses 4x faster than
# level 6 (gzip's and `tar czf`'s default) for a tarball ~13 % larger. The extra bytes
# cost less upload time than the saved CPU time on any link faster than ~1 MB/s, and
# level 1 keeps `pack` ahead of `tar czf` on a 2-core machine. Part of the determinism
# contract: changing it changes every tarball's bytes.
GZIP_LEVEL = 1


@dataclass(frozen=True)
class PackResult:
    tarball: Path
    sha256: str
    sha256_file: Path
    report_file: Path
    file_count: int
    total_size: int  # bytes of file content in the archive
    report: dict[str, Any]


def _members(tree: Path) -> list[tuple[str, Path]]:
    """(archive name, path) of every entry to pack, sorted; refuses what can't be packed."""
    tops = [tree / d for d in DIVISIONS if (tree / d).is_dir()]
    if (tree / SMOKE_MARKER).is_file():
        tops.append(tree / SMOKE_MARKER)
    if not tops:
        raise CheckFailed(f"{tree} has no closed/, open/ or network/ directory", hint="pack the tree's root")
    refused: list[str] = []
    out: list[tuple[str, Path]] = []
    for top in tops:
        paths = [top] + (sorted(entries_under(top)) if top.is_dir() and not top.is_symlink() else [])
        for path in paths:
            name = path.relative_to(tree).as_posix()
            if any(part.startswith(".") for part in path.relative_to(tree).parts):
                refused.append(f"hidden: {name}")
            elif path.is_symlink():
                refused.append(f"symlink: {name}")
            elif not (path.is_dir() or path.is_file()):
                refused.append(f"special file: {name}")
            else:
                out.append((name, path))
    if refused:
        shown = "; ".join(refused[:5]) + (f"; and {len(refused) - 5} more" if len(refused) > 5 else "")
        raise CheckFailed(f"cannot pack {len(refused)} entr(y/ies): {shown}", hint="remove them from the tree")
    out.sort(key=lambda item: item[0])
    return out


def _tarinfo(name: str, path: Path) -> tarfile.TarInfo:
    info = tarfile.TarInfo(name)
    st = path.stat()
    info.mtime = FIXED_MTIME
    info.uid = info.gid = 0
    info.uname = info.gname = ""
    if stat.S_ISDIR(st.st_mode):
        info.type = tarfile.DIRTYPE
        info.mode = 0o755
    else:
        info.type = tarfile.REGTYPE
        info.size = st.st_size
        info.mode = 0o755 if st.st_mode & 0o111 else 0o644
    return info


class _HashingWriter:
    """A binary file wrapper that hashes every byte written through it, so the tarball's
    sha256 comes from the same pass that writes it (no second read of the file)."""

    def __init__(self, handle: BinaryIO) -> None:
        self._handle = handle
        self.digest = hashlib.sha256()

    def write(self, data: bytes) -> int:
        self.digest.update(data)
        return self._handle.write(data)

    def flush(self) -> None:
        self._handle.flush()


def write_tarball(tree: Path, members: list[tuple[str, Path]], handle: BinaryIO) -> tuple[int, int, str]:
    """Write the deterministic archive to `handle`; returns (file count, content bytes, sha256)."""
    files = size = 0
    out = _HashingWriter(handle)
    # GzipFile only calls write() and flush() on its fileobj.
    with gzip.GzipFile(filename="", mode="wb", fileobj=out, mtime=0, compresslevel=GZIP_LEVEL) as gz:
        # 1 MiB copies: tarfile's 16 KiB default means ~15x more gzip/zlib calls.
        with tarfile.TarFile(fileobj=gz, mode="w", format=tarfile.PAX_FORMAT, copybufsize=_CHUNK) as tar:
            for name, path in members:
                info = _tarinfo(name, path)
                if info.isdir():
                    tar.addfile(info)
                    continue
                with path.open("rb") as src:
                    tar.addfile(info, src)
                files += 1
                size += info.size
    return files, size, out.digest.hexdigest()


_atomic_write = write_bytes


def _submitters(tree: Path) -> list[str]:
    return sorted({p.name for d in DIVISIONS if (tree / d).is_dir() for p in (tree / d).iterdir() if p.is_dir()})


def _provenance(tree: Path) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for path in sorted(tree.glob(f"*/*/src/{PROVENANCE}")):
        try:
            out[path.relative_to(tree).as_posix()] = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError) as error:
            out[path.relative_to(tree).as_posix()] = {"unreadable": str(error)}
    return out


def default_name(tree: Path, report: CheckReport) -> str:
    subs = _submitters(tree) or ["submission"]
    profile = "smoke" if report.smoke else "submission"
    return f"{'+'.join(subs)}-{report.round}-{profile}"


def build_report(
    report: CheckReport, *, tarball: str, sha256: str, file_count: int, total_size: int, forced: bool, tree: Path
) -> dict[str, Any]:
    counts: dict[str, int] = {}
    for f in report.findings:
        if f.severity != "info":
            counts[f.rule_id] = counts.get(f.rule_id, 0) + 1
    return {
        "tool": "mlperf-ops",
        "tool_version": __version__,
        "round": report.round,
        "profile": "smoke" if report.smoke else "submission",
        "tarball": tarball,
        "sha256": sha256,
        "file_count": file_count,
        "total_size": total_size,
        "checker": {
            "ok": report.ok,
            "forced": forced,
            "errors": len(report.errors),
            "warnings": sum(1 for f in report.findings if f.severity == "warning"),
            "infos": sum(1 for f in report.findings if f.severity == "info"),
            "rules": dict(sorted(counts.items())),
        },
        "results": [r.as_dict() for r in report.results],
        "provenance": _provenance(tree),
    }


def pack(
    tree: Path, out_dir: Path, *, name: str | None = None, force: bool = False, round: str | None = None
) -> PackResult:
    """Check `tree`, then write `<name>.tar.gz`, `<name>.tar.gz.sha256`, `report.json`."""
    tree = Path(tree)
    report = check_tree(tree, round=round)
    leaks = [f for f in report.findings if f.rule_id == "tree.secret"]
    if leaks:
        # Never overridable: a tarball is uploaded and kept; a secret in it is public.
        where = ", ".join(f"{f.path} ({f.message})" for f in leaks[:3])
        raise CheckFailed(f"{tree} holds {len(leaks)} secret-looking value(s), not even --force packs it: {where}",
                          hint="remove them from the tree (and revoke them), then pack again")
    if not report.ok and not force:
        first = report.errors[0] if report.errors else None
        detail = f"; first: {first.rule_id} at {first.path or '.'}" if first else "; it holds no result"
        raise CheckFailed(
            f"{tree} does not pass the check ({len(report.errors)} error(s){detail})",
            hint="run `mlperf-ops check` on it, or pack anyway with --force",
        )
    members = _members(tree)
    name = name or default_name(tree, report)
    if "/" in name or name.startswith(".") or not name:
        raise UsageError(f"bad archive name {name!r}", hint="a plain file name without the .tar.gz suffix")
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    tarball = out_dir / f"{name}.tar.gz"
    fd, tmp = tempfile.mkstemp(prefix=f".{tarball.name}.", suffix=".tmp", dir=out_dir)
    try:
        with os.fdopen(fd, "wb") as handle:
            files, size, digest = write_tarball(tree, members, handle)
            handle.flush()
            os.fsync(handle.fileno())
        os.chmod(tmp, 0o644)
        os.replace(tmp, tarball)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    sha_file = out_dir / f"{tarball.name}.sha256"
    _atomic_write(sha_file, f"{digest}  {tarball.name}\n".encode())
    doc = build_report(
        report, tarball=tarball.name, sha256=digest, file_count=files, total_size=size, forced=force, tree=tree
    )
    report_file = out_dir / "report.json"
    _atomic_write(report_file, (json.dumps(doc, indent=2, sort_keys=True) + "\n").encode())
    return PackResult(tarball, digest, sha_file, report_file, files, size, doc)
