"""`apply`'s second half: run what the plan says is pending, until nothing is.

Only an `apply` with work to do gets here, so what it needs (the Docker engine, images,
the runner, the compliance verification) is loaded only then: a no-op `apply` plans,
finds nothing pending and stops before importing any of it.

The plan is recomputed after every run (it is pure and cheap), so a calibration that
finishes unblocks the runs waiting for it.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from mlperf_ops.core.events import Event, EventSink, ImageData, RunEndData
from mlperf_ops.execute.engine import Engine
from mlperf_ops.execute.executor import Executor
from mlperf_ops.execute.probe import probe_host
from mlperf_ops.manifest.probe_check import checked_probes
from mlperf_ops.plan.controller import Context, make_plan
from mlperf_ops.plan.estimate import run_start_data
from mlperf_ops.plan.matrix import AUDIT, CALIBRATION, Plan, PlannedRun
from mlperf_ops.run.artifacts import verify_artifacts
from mlperf_ops.run.audit_retry import REMEASURED, RECALIBRATED, after_timing_failure, counts_before, recalibrations
from mlperf_ops.run.outcome import outran_calibration
from mlperf_ops.run.runner import STATE_LABEL, execute, state_label
from mlperf_ops.run.sidecar import Sidecars, kept_server_facts
from mlperf_ops.stacks.images import ImageEvent, ImageRef, ensure_image, image_tag, load_target, spec_hash
from mlperf_ops.state.ledger import Ledger, Record


@dataclass
class PendingRuns:
    """What running the pending runs did: each record in order, the images used, and
    what is still pending (a run given up, or everything after a failure)."""

    remaining: tuple[PlannedRun, ...]
    records: list[Record] = field(default_factory=list)
    images: dict[str, ImageRef] = field(default_factory=dict)


def run_pending(
    ctx: Context,
    ledger: Ledger,
    first: Plan,
    *,
    connect: Callable[[], Executor],
    system: str | None,
    only: str | None,
    keep_going: bool,
    accept_probe: bool,
    on_event: EventSink,
) -> PendingRuns:
    """Run the pending runs of `first` (never none) until none is left, or one fails
    (every runnable one with `keep_going`). The caller holds the ledger's lock."""
    result = PendingRuns(remaining=first.pending)
    # On the machine that runs them, before any container or record: a missing or
    # changed model or data set stops everything here (issue 11).
    verify_artifacts(ctx.manifest, {(r.spec.system, r.spec.benchmark) for r in first.pending}, ledger.root)
    # The machine is what the manifest says, also before any container or record (issue 12).
    running = sorted({r.spec.system for r in first.pending})
    probes, accepted_notes = checked_probes(
        [ctx.manifest.system(s) for s in running], probe_host(),
        {s: p for s in running if (p := ledger.probe(s)) is not None}, accept_probe=accept_probe)
    for note in accepted_notes:
        on_event(Event("warning", note))

    engine = connect()
    local = engine.name == "local"
    # We hold the lock, so a container of this state dir still around belongs
    # to an apply that was killed: it must not run alongside the resumed one.
    for orphan in engine.remove_orphans({STATE_LABEL: state_label(ledger.root)}):
        on_event(Event("warning", f"removed container {orphan[:12]} left by an interrupted apply"))
    # LLM server sidecars (issue 13): also what a killed apply left of them.
    sidecars = Sidecars(engine, ledger, on_event)
    for leftover in sidecars.remove_leftovers():
        on_event(Event("warning", f"removed the LLM server sidecar's {leftover} left by an interrupted apply"))
    for system_id, probe in probes.items():
        # systems/<id>.json describes the machine the runs happen on, as probed above.
        ledger.write_probe(system_id, {**kept_server_facts(ledger.probe(system_id)), **probe})
    try:
        for target_name in sorted({r.spec.image_target for r in first.pending}):
            target = load_target(ctx.images_dir, target_name)

            def image_event(event: ImageEvent) -> None:
                data: ImageData = {"target": event.target, "stage": event.stage}
                on_event(Event("image", event.message, data=dict(data)))

            if local:
                # We run inside the image (a Kubernetes pod): nothing to build or look up.
                digest = spec_hash(target)
                result.images[target_name] = ImageRef(target_name, image_tag(target), "local", digest, False,
                                                       "local executor: running inside the image")
                image_event(ImageEvent(target_name, "done", result.images[target_name].reason))
            else:
                assert isinstance(engine, Engine)
                result.images[target_name] = ensure_image(engine, target, on_event=image_event)

        given_up: set[str] = set()
        started = 0
        while True:
            current = make_plan(ctx, ledger, system=system, only=only)
            result.remaining = current.pending
            runnable = [r for r in current.runs if r.action == "run" and r.spec.run_id not in given_up]
            if not runnable:
                break
            planned = runnable[0]
            spec = planned.spec
            started += 1
            history = [r.run for r in ledger.records()]
            reference = (spec.inputs.get("references") or {}).get("performance")
            counts = counts_before(spec.run_id, spec.key, reference, history)
            sys_spec = ctx.manifest.system(spec.system)
            bench = next(b for b in sys_spec.benchmarks if b.name == spec.benchmark)
            start = run_start_data(current, ctx.rules, planned)
            start["index"], start["pending"] = started, len(current.pending)
            on_event(Event("run-start", planned.reason, spec.run_id, dict(start)))
            # A sidecar benchmark runs on its server's private network (the server started if needed).
            run_engine = sidecars.executor_for(sys_spec, bench, result.images[spec.image_target].tag)
            record = execute(
                spec, system=sys_spec, bench=bench, target=load_target(ctx.images_dir, spec.image_target),
                image=result.images[spec.image_target], engine=run_engine, ledger=ledger, rules=ctx.rules,
                profile=ctx.profile, on_event=on_event, retry=counts,
                server=(served.as_dict() if (served := sidecars.identity(spec.system, spec.benchmark)) else None),
            )
            result.records.append(record)
            run = record.run
            end: RunEndData = {"status": run.status, "duration_s": run.duration_s, "log": str(record.log_path)}
            on_event(Event("run-end", run.reason, spec.run_id, dict(end)))
            if run.status == "done":
                continue
            if spec.mode == AUDIT and run.transient and run.verification is not None and reference:
                # Only the audit's timing comparison failed (the runner counted it in
                # timing_failures): the compliance procedure's re-run. An audit that is
                # INVALID because it outran its calibration is handled below.
                decision = after_timing_failure(run.retry.timing_failures, ctx.profile.audit_retries,
                                                run.retry.remeasures)
                if decision.action == "remeasure":
                    # Retire (never delete) the reference and every audit compared with it:
                    # the next plan runs the reference again, then those audits right after,
                    # each starting its count afresh against the new measurement.
                    why = f"{REMEASURED}: {spec.run_id} disagreed with it"
                    ledger.retire(str(reference), why)
                    for other in current.runs:
                        if (other.spec.inputs.get("references") or {}).get("performance") == reference:
                            ledger.retire(other.spec.key, why)
                if decision.action != "give-up":
                    on_event(Event("warning", f"{spec.run_id}: {decision.why}"))
                    continue
            elif run.transient and run.summary is not None and outran_calibration(run.summary):
                # The SUT ran faster than the calibration measured (the machine was busier
                # then), so LoadGen ran out of queries before the minimum duration. Measure
                # again: retiring the calibration gives the run new settings and a new key.
                calibrations = [r.spec.key for r in current.runs if r.spec.mode == CALIBRATION
                                and (r.spec.system, r.spec.benchmark, r.spec.scenario)
                                == (spec.system, spec.benchmark, spec.scenario)]
                if calibrations and recalibrations(calibrations[0], history) < ctx.profile.transient_retries:
                    ledger.retire(calibrations[0], f"{RECALIBRATED}: {spec.run_id} outran it")
                    on_event(Event("warning", f"{spec.run_id}: ran out of queries before the minimum "
                                              "duration; calibrating again"))
                    continue
            elif run.transient and run.retry.attempt <= ctx.profile.transient_retries:
                on_event(Event("warning", f"{spec.run_id}: retrying ({run.reason})"))
                continue
            given_up.add(spec.run_id)
            if not keep_going:
                break
        result.remaining = make_plan(ctx, ledger, system=system, only=only).pending
    finally:
        try:
            sidecars.stop()  # also when a run or the sidecar itself failed
        finally:
            engine.close()
    return result
