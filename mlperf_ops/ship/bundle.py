"""Move run records between machines: `export` one system's records, `merge` them elsewhere.

Each system runs on its own machine (a CI job per system); the portal keeps only
one upload per submitter, so the records must meet in one ledger before
`assemble`. A bundle is a tar.gz of finished records plus an index with the
sha256 of every record file; `merge` re-hashes everything before it imports.
"""

from __future__ import annotations

import json
import tarfile
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from mlperf_ops import __version__
from mlperf_ops.plan.controller import Context, make_plan
from mlperf_ops import secretscan
from mlperf_ops.core.errors import CheckFailed, UsageError
from mlperf_ops.core.hashing import file_sha256
from mlperf_ops.core.tree_files import FILE_SIZE_LIMIT_BYTES, size_text
from mlperf_ops.ship.tarballs import UnpackBudget, UnpackRefused
from mlperf_ops.state.ledger import Ledger, record_file

BUNDLE_SCHEMA = 1
INDEX = "bundle.json"
# A bundle's own layout: each finished record as the ledger keeps it, by key, and the
# probes of the systems that ran them.
RECORDS = "records"
PROBES = "probes"


@dataclass
class MergeResult:
    imported: list[str] = field(default_factory=list)
    identical: list[str] = field(default_factory=list)
    probes: list[str] = field(default_factory=list)


def export_bundle(ctx: Context, ledger: Ledger, system: str, out: Path) -> dict[str, Any]:
    """Write every finished record the manifest's plan needs for `system` into `out`."""
    plan = make_plan(ctx, ledger, system=system)
    records = [r for r in (ledger.done(p.spec.key) for p in plan.runs) if r is not None]
    if not records:
        raise UsageError(f"no finished records for system {system!r} in {ledger.root}",
                         hint=f"run `mlperf-ops apply {ctx.manifest.path} --system {system}` first")
    leaks = [(record.path.name, rel, leak) for record in records for rel, leak in secretscan.scan_tree(record.path)]
    if leaks:
        # A bundle is a CI artifact that other jobs and people download: no secret may ride in it.
        where = ", ".join(f"{RECORDS}/{key}/{rel}:{leak.line} ({leak.what})" for key, rel, leak in leaks[:3])
        raise CheckFailed(f"{len(leaks)} secret-looking value(s) in the records to export: {where}",
                          hint="a harness printed a credential into its log; remove the record "
                               "(`apply --rerun`) after fixing the harness, and revoke the credential")
    index: dict[str, Any] = {
        "bundle_schema": BUNDLE_SCHEMA, "tool_version": __version__, "created_unix": time.time(),
        "submitter": ctx.manifest.submitter, "round": ctx.rules.round, "system": system,
        "profile": ctx.profile.name,
        "records": {r.key: {"run_id": r.run_id, "record_sha256": file_sha256(record_file(r.path))} for r in records},
        "missing": [p.spec.run_id for p in plan.runs if ledger.done(p.spec.key) is None],
    }
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_name(f".{out.name}.tmp")
    with tarfile.open(tmp, "w:gz") as tar:
        data = json.dumps(index, indent=2, sort_keys=True).encode("utf-8")
        info = tarfile.TarInfo(INDEX)
        info.size = len(data)
        import io

        tar.addfile(info, io.BytesIO(data))
        for record in records:
            tar.add(record.path, arcname=f"{RECORDS}/{record.key}")
        probe = ledger.probe(system)
        if probe is not None:
            pdata = json.dumps(probe, indent=2, sort_keys=True).encode("utf-8")
            pinfo = tarfile.TarInfo(f"{PROBES}/{system}.json")
            pinfo.size = len(pdata)
            tar.addfile(pinfo, io.BytesIO(pdata))
    tmp.replace(out)
    return index


def _read_whole(name: str) -> bool:
    """The bundle's JSON files that merge reads into memory (the rest it only hashes)."""
    is_record = record_file(Path(name).parent).as_posix() == name
    return name == INDEX or is_record or (name.startswith(PROBES + "/") and name.endswith(".json"))


def _safe_members(tar: tarfile.TarFile, name: str, dest: Path) -> list[tarfile.TarInfo]:
    """Every member, vetted before anything is written: paths inside `dest`, regular files
    and folders only, and no more entries or bytes than UnpackBudget allows (a bundle's
    records may hold gigabytes, but a few megabytes of gzip can unpack to terabytes)."""
    members = []
    budget = UnpackBudget(dest)
    for member in tar:  # one at a time: a bundle of millions of entries is refused on the way
        parts = Path(member.name).parts
        if member.name.startswith("/") or ".." in parts:
            raise UsageError(f"{name}: unsafe path {member.name!r} in bundle")
        if not (member.isfile() or member.isdir()):
            raise UsageError(f"{name}: {member.name!r} is not a regular file (links are refused)")
        if member.isfile() and _read_whole(member.name) and member.size > FILE_SIZE_LIMIT_BYTES:
            raise UsageError(f"{name}: {member.name} is {size_text(member.size)}; `export` writes it in kilobytes",
                             hint="make bundles with `mlperf-ops export`")
        try:
            budget.admit(member)
        except UnpackRefused as error:
            raise UsageError(f"{name} is not unpacked: it {error}", hint="free space there, or point TMPDIR at a "
                             "larger disk; a bundle holds one system's run records") from None
        members.append(member)
    return members


def merge_bundles(ledger: Ledger, bundles: list[Path], *, submitter: str | None = None) -> MergeResult:
    """Verify and import bundles; nothing is imported from a bundle that fails verification."""
    result = MergeResult()
    with ledger.lock():
        for bundle in bundles:
            if not bundle.is_file():
                raise UsageError(f"bundle {bundle} not found")
            with tempfile.TemporaryDirectory(prefix="mlperf-ops-merge-") as tmp:
                root = Path(tmp)
                try:
                    with tarfile.open(bundle, "r:gz") as tar:
                        tar.extractall(root, members=_safe_members(tar, str(bundle), root), filter="data")
                except (tarfile.TarError, OSError, EOFError) as error:
                    raise UsageError(f"{bundle} is not a readable bundle: {error}") from None
                try:
                    index = json.loads((root / INDEX).read_text("utf-8"))
                except (OSError, ValueError):
                    raise UsageError(f"{bundle} has no valid {INDEX}",
                                     hint="make bundles with `mlperf-ops export`") from None
                if submitter and index.get("submitter") != submitter:
                    raise UsageError(f"{bundle} belongs to submitter {index.get('submitter')!r}, not {submitter!r}")
                problems = _verify(root, index)
                if problems:
                    listing = "\n".join(f"  - {p}" for p in problems[:20])
                    raise UsageError(f"{bundle} failed verification; nothing imported from it:\n{listing}")
                for key in sorted(index["records"]):
                    status, _ = ledger.import_record(root / RECORDS / key)
                    (result.imported if status == "imported" else result.identical).append(key)
                for probe in sorted((root / PROBES).glob("*.json")) if (root / PROBES).is_dir() else []:
                    ledger.write_probe(probe.stem, json.loads(probe.read_text("utf-8")))
                    result.probes.append(probe.stem)
    return result


def _verify(root: Path, index: dict[str, Any]) -> list[str]:
    problems = []
    listed = index.get("records") or {}
    present = {p.name for p in (root / RECORDS).iterdir()} if (root / RECORDS).is_dir() else set()
    for extra in sorted(present - set(listed)):
        problems.append(f"{RECORDS}/{extra}: not in the bundle index")
    for key, meta in sorted(listed.items()):
        rdir = root / RECORDS / key
        rfile = record_file(rdir)
        if not rfile.is_file():
            problems.append(f"{RECORDS}/{key}: missing")
            continue
        if file_sha256(rfile) != meta.get("record_sha256"):
            problems.append(f"{RECORDS}/{key}/{rfile.name}: sha256 differs from the index")
            continue
        data = json.loads(rfile.read_text("utf-8"))
        if data.get("key") != key or data.get("status") != "done":
            problems.append(f"{RECORDS}/{key}: record says key {data.get('key')!r}, status {data.get('status')!r}")
            continue
        for rel, art in (data.get("artifacts") or {}).items():
            path = rdir / rel
            if not path.is_file():
                problems.append(f"{RECORDS}/{key}/{rel}: missing")
            elif file_sha256(path) != art.get("sha256"):
                problems.append(f"{RECORDS}/{key}/{rel}: sha256 differs from the record")
    return problems
