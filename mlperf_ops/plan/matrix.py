"""The planner: a pure function from (manifest, rules, profile, images, ledger) to runs.

Every run the submission needs — system × benchmark × scenario × mode
(calibration, performance, accuracy, each compliance test) — gets a content key
over everything that determines its result, and an action with a reason. No I/O
here: callers pass image identities and a snapshot of the ledger.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from mlperf_ops.plan.calibrate import CALIBRATED_KEY, measurement_settings, needs_calibration
from mlperf_ops.core.keys import content_key
from mlperf_ops.plan.loadgen_config import render_audit_config, render_user_conf
from mlperf_ops.core.loadgen import LoadGenValue
from mlperf_ops.manifest.model import BenchmarkSpec, Manifest, ScenarioSpec, SystemSpec
from mlperf_ops.manifest.pipeline import Profile
from mlperf_ops.rules import Rules
from mlperf_ops.state.snapshot import LedgerSnapshot, RecordSummary

CALIBRATION = "calibration"
PERFORMANCE = "performance"
ACCURACY = "accuracy"
AUDIT = "audit"

LOADGEN_SCENARIO = {"Interactive": "Server"}



@dataclass(frozen=True)
class RunSpec:
    run_id: str
    system: str
    benchmark: str  # directory name in the tree (custom model name in open)
    official: str
    loadgen_model: str
    scenario: str
    mode: str  # calibration | performance | accuracy | audit
    audit_test: str | None
    image_target: str
    image_identity: str
    user_conf: str
    audit_config: str | None
    command: tuple[str, ...] | None
    depends_on: tuple[str, ...]  # run ids
    settings_source: Mapping[str, str]  # user.conf key -> "manifest" | "calibration <key>" | "pending"
    inputs: Mapping[str, Any]
    key: str

    @property
    def label(self) -> str:
        return self.audit_test or self.mode

    @property
    def loadgen_mode(self) -> str:
        return "AccuracyOnly" if self.mode == ACCURACY else "PerformanceOnly"


@dataclass(frozen=True)
class PlannedRun:
    spec: RunSpec
    action: str  # run | skip | wait
    reason: str


@dataclass(frozen=True)
class Plan:
    manifest: str
    round: str
    division: str
    submitter: str
    profile: str
    submittable: bool
    runs: tuple[PlannedRun, ...]

    @property
    def pending(self) -> tuple[PlannedRun, ...]:
        return tuple(r for r in self.runs if r.action != "skip")

    def run(self, run_id: str) -> PlannedRun:
        for planned in self.runs:
            if planned.spec.run_id == run_id:
                return planned
        raise KeyError(run_id)


def run_id(system: str, benchmark: str, scenario: str, label: str) -> str:
    return f"{system}/{benchmark}/{scenario}/{label}"


def compliance_tests(bench: BenchmarkSpec, rules: Rules) -> tuple[str, ...]:
    if bench.compliance is not None:
        return bench.compliance
    return rules.benchmarks[bench.official].compliance_tests


def _artifact_digest(bench: BenchmarkSpec) -> dict[str, str | None]:
    return {
        "model": bench.model.sha256 if bench.model else None,
        "dataset": bench.dataset.sha256 if bench.dataset else None,
    }


def _explain(previous: RecordSummary | None, inputs: Mapping[str, Any], key: str) -> tuple[str, str]:
    if previous is None:
        return "run", "new"
    if previous.key == key:
        if previous.status == "done":
            return "skip", "up to date"
        if previous.status == "retired":
            # Retired on purpose (`apply --rerun`, an audit's re-measurement): say why.
            return "run", previous.reason or "retired"
        return "run", f"previous attempt {previous.status}: {previous.reason or 'see status'}; retrying"
    old = previous.inputs
    names = {
        "image": "image changed",
        "user_conf": "user.conf changed",
        "audit_config": "audit.config changed",
        "artifacts": "model or dataset changed",
        "profile": "pipeline profile changed",
        "command": "harness command changed",
        "accuracy_command": "accuracy command changed",
        "server": "LLM server changed",
        "references": "reference run changed",
        "rules": "round rules changed",
    }
    changed = [text for name, text in names.items() if old.get(name) != inputs.get(name)]
    if "model or dataset changed" in changed:
        # Say which: re-running because the data set changed is not the same news as the model.
        before, after = old.get("artifacts") or {}, inputs.get("artifacts") or {}
        which = [f"{kind} changed" for kind in ("model", "dataset") if before.get(kind) != after.get(kind)]
        at = changed.index("model or dataset changed")
        changed[at:at + 1] = which or ["model or dataset changed"]
    return "run", ", ".join(changed) if changed else "inputs changed"


def _scenario_runs(
    manifest: Manifest, rules: Rules, profile: Profile, system: SystemSpec, bench: BenchmarkSpec,
    scenario: ScenarioSpec, image_identity: str, ledger: LedgerSnapshot,
) -> list[PlannedRun]:
    rb = rules.benchmarks[bench.official]
    loadgen_model = rb.loadgen_model_for(scenario.scenario)
    # LoadGen has no Interactive scenario: it is Server with the benchmark's interactive model key.
    loadgen_scenario = LOADGEN_SCENARIO.get(scenario.scenario, scenario.scenario)
    image_target = bench.image or system.image
    settings: dict[str, LoadGenValue] = dict(bench.loadgen)
    settings.update(scenario.settings)
    sources = {k: "manifest" for k in settings}
    common: dict[str, Any] = {
        "round": rules.round,
        "system": system.id,
        "benchmark": bench.name,
        "official": bench.official,
        "scenario": scenario.scenario,
        "image": {"target": image_target, "identity": image_identity},
        "artifacts": _artifact_digest(bench),
        "command": list(bench.command) if bench.command else None,
        "profile": profile.identity(),
    }
    if bench.accuracy_command:
        # Only when declared, so the keys of manifests without it (every record made
        # before it existed) stay what they were.
        common["accuracy_command"] = list(bench.accuracy_command)
    if bench.server:
        # Only when declared, as above. Which server answers is part of what a run measured.
        common["server"] = bench.server.key()  # a sidecar's declaration too (image, command, GPUs)
    out: list[PlannedRun] = []

    def make(mode: str, audit: str | None, user_conf: str, audit_config: str | None,
             depends: tuple[str, ...], references: dict[str, str], srcs: Mapping[str, str]) -> RunSpec:
        label = audit or mode
        inputs = {**common, "mode": mode, "audit_test": audit, "user_conf": user_conf,
                  "audit_config": audit_config, "references": references}
        return RunSpec(
            run_id=run_id(system.id, bench.name, scenario.scenario, label), system=system.id,
            benchmark=bench.name, official=bench.official, loadgen_model=loadgen_model,
            scenario=scenario.scenario, mode=mode, audit_test=audit, image_target=image_target,
            image_identity=image_identity, user_conf=user_conf, audit_config=audit_config,
            command=bench.command, depends_on=depends, settings_source=dict(srcs), inputs=inputs,
            key=content_key(inputs),
        )

    def decide(spec: RunSpec, blocked_by: str | None = None) -> PlannedRun:
        if spec.key in ledger.done:
            return PlannedRun(spec, "skip", "up to date")
        if blocked_by:
            return PlannedRun(spec, "wait", f"waits for {blocked_by}")
        action, reason = _explain(ledger.latest.get(spec.run_id), spec.inputs, spec.key)
        return PlannedRun(spec, action, reason)

    # Runs happen in list order. The accuracy run comes first and the audits right after
    # the performance run they are compared with: a timing comparison is fairest between
    # runs made minutes apart, not with a 50,000-sample accuracy run in between.
    # Accuracy mode ignores timing settings, so calibration never re-runs it.
    acc_settings = {k: v for k, v in settings.items() if sources.get(k) == "manifest"}
    acc_conf = render_user_conf(loadgen_model, loadgen_scenario, acc_settings,
                                min_duration_ms=profile.min_duration_ms)
    acc = make(ACCURACY, None, acc_conf, None, (), {}, {k: "manifest" for k in acc_settings})
    out.append(decide(acc))

    # 1. Calibration: only where the manifest leaves the expected performance open.
    calibration_id: str | None = None
    calibration_pending = False
    if profile.calibrate and needs_calibration(scenario.scenario, settings):
        measure = measurement_settings(scenario.scenario, profile.calibration_duration_ms)
        conf = render_user_conf(loadgen_model, loadgen_scenario, {**settings, **measure})
        cal = make(CALIBRATION, None, conf, None, (), {}, {k: "calibration run" for k in measure})
        planned = decide(cal)
        out.append(planned)
        calibration_id = cal.run_id
        done = ledger.done.get(cal.key)
        if done is not None and done.calibrated:
            settings.update(done.calibrated)
            for name in done.calibrated:
                sources[name] = f"calibration {cal.key[:12]}"
        else:
            calibration_pending = True
            sources[CALIBRATED_KEY[scenario.scenario]] = "pending calibration"

    perf_conf = render_user_conf(loadgen_model, loadgen_scenario, settings,
                                 min_duration_ms=profile.min_duration_ms)

    blocked = calibration_id if calibration_pending else None
    perf_deps = (calibration_id,) if calibration_id else ()
    perf = make(PERFORMANCE, None, perf_conf, None, perf_deps, {}, sources)
    out.append(decide(perf, blocked))

    for test in compliance_tests(bench, rules):
        audit_test = rules.audit_tests.get(test)
        if audit_test is None or audit_test.kind == "external":
            continue
        audit_conf = render_audit_config(audit_test, bench.official)
        refs = {"performance": perf.key}
        deps = [perf.run_id]
        if audit_test.kind == "accuracy_sampling":
            refs["accuracy"] = acc.key
            deps.append(acc.run_id)
        spec = make(AUDIT, test, perf_conf, audit_conf, tuple(deps), refs, sources)
        missing = [dep for dep, key in zip(deps, refs.values()) if key not in ledger.done]
        out.append(decide(spec, blocked or (", ".join(missing) if missing else None)))
    return out


def plan(
    manifest: Manifest,
    rules: Rules,
    profile: Profile,
    image_identities: Mapping[str, str],
    ledger: LedgerSnapshot,
) -> Plan:
    runs: list[PlannedRun] = []
    for system in manifest.systems:
        for bench in system.benchmarks:
            target = bench.image or system.image
            identity = image_identities.get(target, f"unknown:{target}")
            for scenario in bench.scenarios:
                runs.extend(_scenario_runs(manifest, rules, profile, system, bench, scenario, identity, ledger))
    return Plan(
        manifest=manifest.path, round=rules.round, division=manifest.division,
        submitter=manifest.submitter, profile=profile.name, submittable=profile.submittable,
        runs=tuple(runs),
    )


def github_matrix(plan_: Plan, manifest: Manifest) -> dict[str, list[dict[str, Any]]]:
    """One entry per system with pending runs, for `strategy.matrix` in runs.yml."""
    include = []
    for system in manifest.systems:
        pending = sum(1 for r in plan_.pending if r.spec.system == system.id)
        if pending:
            include.append({"system": system.id, "runs_on": list(system.runner_labels), "pending": pending})
    return {"include": include}


def plan_to_json(plan_: Plan, manifest: Manifest) -> dict[str, Any]:
    return {
        "manifest": plan_.manifest,
        "round": plan_.round,
        "division": plan_.division,
        "submitter": plan_.submitter,
        "profile": plan_.profile,
        "submittable": plan_.submittable,
        "pending_total": len(plan_.pending),
        "runs": [
            {
                "run_id": r.spec.run_id, "system": r.spec.system, "benchmark": r.spec.benchmark,
                "official": r.spec.official, "scenario": r.spec.scenario, "mode": r.spec.mode,
                "audit_test": r.spec.audit_test, "image": r.spec.image_target, "key": r.spec.key,
                "action": r.action, "reason": r.reason, "depends_on": list(r.spec.depends_on),
                "settings": dict(r.spec.settings_source), "user_conf": r.spec.user_conf,
            }
            for r in plan_.runs
        ],
        "matrix": github_matrix(plan_, manifest),
    }
