"""Build the official v6.x submission tree from ledger records only.

Nothing here runs anything: every file in the tree is copied from a finished
record (or rendered from the manifest), so the tree is a pure function of the
ledger. The tree is built in a staging directory next to `out` and swapped in at
the end, so a crash never leaves half a tree where a whole one was.
"""

from __future__ import annotations

import dataclasses

import json
import shutil
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from mlperf_ops import __version__
from mlperf_ops.core.tree_layout import ACCURACY_DIR, ACCURACY_FILES, ACCURACY_LOG, LOG_FILES, PROVENANCE, SMOKE_MARKER
from mlperf_ops.plan.controller import HARNESS_DIR, Context, make_plan
from mlperf_ops.core.errors import OperationalError, UsageError
from mlperf_ops.core.events import Event, EventSink
from mlperf_ops.manifest.model import BenchmarkSpec, SystemSpec
from mlperf_ops.manifest.documents import measurements_document, system_document
from mlperf_ops.submission.paperwork import SourceCopy, write_paperwork
from mlperf_ops.plan.matrix import ACCURACY, AUDIT, CALIBRATION, PERFORMANCE, Plan, PlannedRun
from mlperf_ops.state.ledger import Ledger, Record
from mlperf_ops.execute.probe import probe_host
from mlperf_ops.submission.truncate import truncate_tree

LOGS = LOG_FILES


@dataclass
class AssembleResult:
    root: Path
    smoke: bool
    results: int
    records: list[Record] = field(default_factory=list)


def _copy(src: Path, dst: Path) -> None:
    if not src.is_file():
        raise OperationalError(f"record file {src} is missing", hint="the ledger is damaged; re-run `mlperf-ops apply`")
    dst.parent.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(src, dst)


def _records_for(plan: Plan, ledger: Ledger) -> tuple[dict[str, Record], list[PlannedRun]]:
    found: dict[str, Record] = {}
    missing: list[PlannedRun] = []
    for planned in plan.runs:
        if planned.spec.mode == CALIBRATION:
            continue
        record = ledger.done(planned.spec.key)
        if record is None:
            missing.append(planned)
        else:
            found[planned.spec.run_id] = record
    return found, missing


def reproduce_command(ctx: Context, run_glob: str) -> str:
    manifest = Path(ctx.manifest.path)
    try:
        manifest = manifest.resolve().relative_to(ctx.project_root)
    except ValueError:
        pass
    return f"mlperf-ops apply {manifest} --pipeline {ctx.profile.name} --only '{run_glob}'"


def _scenario_readme(ctx: Context, system: SystemSpec, bench: BenchmarkSpec, scenario: str,
                     records: dict[str, Record]) -> str:
    perf = records[f"{system.id}/{bench.name}/{scenario}/{PERFORMANCE}"]
    image = perf.run.image
    lines = [
        f"# {bench.name} {scenario} on {system.id}",
        "",
        f"Benchmark: {bench.official} (round {ctx.rules.round}, {ctx.manifest.division} division)"
        + (f", submitted as custom model `{bench.name}`" if bench.custom else ""),
        f"Image: `{image.tag if image else None}` (id `{image.id if image else None}`)",
        f"Harness: {'`' + ' '.join(bench.command) + '`' if bench.command else 'mlperf-ops built-in harness (src/harness)'}",
        f"Pipeline profile: {ctx.profile.name}" + ("" if ctx.profile.submittable else " (smoke: NOT submittable)"),
        "",
        "## Reproduce",
        "",
        "From a checkout of the project that produced this submission:",
        "",
        "```",
        "make setup",
        reproduce_command(ctx, f"{system.id}/{bench.name}/{scenario}/*"),
        "```",
        "",
        "## Runs",
        "",
        "| run | key | result |",
        "|---|---|---|",
    ]
    for run_id in sorted(r for r in records if r.startswith(f"{system.id}/{bench.name}/{scenario}/")):
        record = records[run_id]
        result = record.run.headline() if record.run.accuracy else (record.run.validity or "")
        lines.append(f"| {run_id.rsplit('/', 1)[-1]} | `{record.key[:16]}` | {result} |")
    return "\n".join(lines) + "\n"


def _src_readme(ctx: Context, records: dict[str, Record], copies: list[SourceCopy]) -> str:
    lines = [f"# {ctx.manifest.submitter}: implementation", "",
             f"Produced by mlperf-ops {__version__} from `{ctx.manifest.path}` (profile {ctx.profile.name}).", ""]
    for system in ctx.manifest.systems:
        for bench in system.benchmarks:
            perf = next((r for k, r in sorted(records.items()) if k.startswith(f"{system.id}/{bench.name}/")), None)
            image = perf.run.image if perf else None
            lines += [
                f"## {bench.name} on {system.id}", "",
                f"- image: `{image.tag if image else None}`, id `{image.id if image else None}`",
                f"- image build context: `images/{image.target if image else None}` "
                f"(content hash `{image.identity if image else None}`)",
                "- harness: " + (f"external, `{' '.join(bench.command)}`" if bench.command
                                 else "the mlperf-ops built-in LoadGen harness, source in `harness/`"),
                *(f"- harness source: `{c.dest}/`" for c in copies if c.system == system.id and c.benchmark == bench.name),
                "",
            ]
    return "\n".join(lines)


def _copy_harness(dst: Path) -> None:
    for path in sorted(HARNESS_DIR.rglob("*.py")):
        if "__pycache__" in path.parts:
            continue
        _copy(path, dst / path.relative_to(HARNESS_DIR))


def _provenance(ctx: Context, records: dict[str, Record]) -> dict[str, Any]:
    runs = []
    images: dict[str, dict[str, Any]] = {}
    for run_id, record in sorted(records.items()):
        run, image = record.run, record.run.image
        images[str(image.tag if image else None)] = dataclasses.asdict(image) if image else {}
        summary = run.summary
        runs.append({"run_id": run_id, "key": record.key, "status": record.status, "image_id": image.id if image else None,
                     "loadgen_version": summary.loadgen_version if summary else None,
                     "seeds": dict(summary.seeds) if summary else None, "profile": run.profile})
    return {"tool": "mlperf-ops", "tool_version": __version__, "round": ctx.rules.round,
            "profile": ctx.profile.name, "submittable": ctx.profile.submittable,
            "manifest": ctx.manifest.path, "runs": runs, "images": images}


def assemble(ctx: Context, ledger: Ledger, out: Path, *, allow_smoke: bool, on_event: EventSink) -> AssembleResult:
    plan = make_plan(ctx, ledger)
    records, missing = _records_for(plan, ledger)
    if missing:
        listing = "\n".join(f"  - {p.spec.run_id} ({p.action}: {p.reason})" for p in missing)
        raise OperationalError(f"{len(missing)} required run(s) have no finished record:\n{listing}",
                               hint=f"run `mlperf-ops apply {ctx.manifest.path}` first")
    stray = sorted(r.run_id for r in records.values() if not r.run.submittable)
    if ctx.profile.submittable and stray and not allow_smoke:
        # Asked for a submission, the ledger holds short runs: never mix them in silently.
        raise UsageError(f"the {ctx.profile.name!r} profile is submittable, but {len(stray)} record(s) are not "
                         f"(first: {stray[0]})",
                         hint="re-run them with `mlperf-ops apply`, or pass --smoke to build a tree marked "
                              "as a smoke tree")
    # A profile that is not submittable (smoke) always makes a tree marked as such: the
    # manifest or --pipeline already said so, and the marker keeps `upload` from sending it.
    smoke = not ctx.profile.submittable or bool(stray)

    out = out.resolve()
    out.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{out.name}.", dir=out.parent))
    try:
        manifest = ctx.manifest
        top = staging / manifest.division / manifest.submitter
        probe_cache: dict[str, dict[str, str]] = {}
        results = 0
        for system in manifest.systems:
            probed = ledger.probe(system.id)
            if probed is None:
                on_event(Event("warning", f"no host probe recorded for {system.id}; probing this host"))
                probed = probe_cache.setdefault("local", probe_host())
            doc = system_document(manifest, system, ctx.rules, ctx.images_dir, probed)
            (top / "systems").mkdir(parents=True, exist_ok=True)
            (top / "systems" / f"{system.id}.json").write_text(json.dumps(doc, indent=2) + "\n", "utf-8")

            for bench in system.benchmarks:
                for scenario_spec in bench.scenarios:
                    scenario = scenario_spec.scenario
                    base = f"{system.id}/{bench.name}/{scenario}"
                    sdir = top / "results" / system.id / bench.name / scenario
                    perf = records[f"{base}/{PERFORMANCE}"]
                    accuracy = records[f"{base}/{ACCURACY}"]
                    sdir.mkdir(parents=True)
                    (sdir / "user.conf").write_text(str(perf.run.inputs["user_conf"]), "utf-8")
                    (sdir / "measurements.json").write_text(json.dumps(measurements_document(bench), indent=2) + "\n", "utf-8")
                    (sdir / "README.md").write_text(_scenario_readme(ctx, system, bench, scenario, records), "utf-8")
                    for name in LOGS:
                        _copy(perf.output_dir / name, sdir / "performance" / "run_1" / name)
                    for name in ACCURACY_FILES:
                        _copy(accuracy.output_dir / name, sdir / "accuracy" / name)
                    for run_id, record in sorted(records.items()):
                        if not run_id.startswith(base + "/") or record.run.mode != AUDIT:
                            continue
                        test = str(record.run.audit_test)
                        tdir = sdir / test
                        for name in LOGS:
                            _copy(record.output_dir / name, tdir / "performance" / "run_1" / name)
                        verification = record.verification_dir
                        if verification.is_dir():
                            for path in sorted(verification.rglob("*")):
                                if path.is_file():
                                    _copy(path, tdir / path.relative_to(verification))
                        if (record.output_dir / ACCURACY_LOG).is_file() and (tdir / ACCURACY_DIR).is_dir():
                            _copy(record.output_dir / ACCURACY_LOG, tdir / ACCURACY_DIR / ACCURACY_LOG)
                    results += 1

        src = top / "src"
        src.mkdir(parents=True, exist_ok=True)
        copies = write_paperwork(manifest, top, submittable=not smoke, on_event=on_event)
        (src / "README.md").write_text(_src_readme(ctx, records, copies), "utf-8")
        if any(not b.command for s in manifest.systems for b in s.benchmarks):
            _copy_harness(src / "harness")
        (src / PROVENANCE).write_text(json.dumps(_provenance(ctx, records), indent=2, sort_keys=True) + "\n", "utf-8")
        if manifest.division == "open":
            mapping = {b.name: b.official for s in manifest.systems for b in s.benchmarks if b.custom}
            if mapping:
                (top / "model_mapping.json").write_text(json.dumps(mapping, indent=2, sort_keys=True) + "\n", "utf-8")
        if smoke:
            (staging / SMOKE_MARKER).write_text(
                f"round: {ctx.rules.round}\nprofile: {ctx.profile.name}\n"
                "This tree was made by mlperf-ops with a smoke profile: LoadGen's minimum duration was "
                "shortened. It is NEVER submittable and `mlperf-ops upload` refuses it.\n", "utf-8")

        truncate_tree(staging, ledger.originals_for(out.name))

        if out.exists():
            trash = Path(tempfile.mkdtemp(prefix=f".{out.name}.old.", dir=out.parent))
            out.rename(trash / out.name)
            staging.rename(out)
            shutil.rmtree(trash, ignore_errors=True)
        else:
            staging.rename(out)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    return AssembleResult(root=out, smoke=smoke, results=results, records=list(records.values()))
