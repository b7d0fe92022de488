"""The planner, pure: no Docker, no state directory — hand-made image ids and ledgers."""

from __future__ import annotations

import dataclasses
import hashlib
import json
from pathlib import Path
from typing import Any

import pytest

from mlperf_ops.core.keys import canonical_json, content_key
from mlperf_ops.manifest import Manifest, load_manifest
from mlperf_ops.manifest.model import build_manifest
from mlperf_ops.manifest.pipeline import Profile, load_profile
from mlperf_ops.plan.matrix import (
    ACCURACY,
    AUDIT,
    CALIBRATION,
    PERFORMANCE,
    LedgerSnapshot,
    Plan,
    PlannedRun,
    RecordSummary,
    plan,
    plan_to_json,
)
from mlperf_ops.rules import Rules, load_rules

REPO = Path(__file__).resolve().parents[1]
CLOSED_EXAMPLES = sorted((REPO / "manifests").glob("example-closed-*.yaml"))
IMAGE_A = "sha256:" + "a" * 64
IMAGE_B = "sha256:" + "b" * 64
EMPTY = LedgerSnapshot()


def identities(manifest: Manifest, identity: str = IMAGE_A) -> dict[str, str]:
    targets = {s.image for s in manifest.systems} | {b.image for s in manifest.systems for b in s.benchmarks if b.image}
    return {t: identity for t in targets}


def profile(name: str) -> Profile:
    return load_profile(REPO, name)


def make(manifest: Manifest, prof: Profile | None = None, ledger: LedgerSnapshot = EMPTY,
         identity: str = IMAGE_A) -> Plan:
    return plan(manifest, load_rules(manifest.round), prof or profile(manifest.pipeline),
                identities(manifest, identity), ledger)


def keys(result: Plan) -> dict[str, str]:
    return {r.spec.run_id: r.spec.key for r in result.runs}


def done(run: PlannedRun, **extra: Any) -> RecordSummary:
    return RecordSummary(run_id=run.spec.run_id, key=run.spec.key, status="done", inputs=run.spec.inputs, **extra)


def load(name: str) -> Manifest:
    return load_manifest(REPO / "manifests" / name)


def replace_scenario_setting(manifest: Manifest, system: str, bench: str, scenario: str,
                             key: str, value: Any) -> Manifest:
    """A copy of `manifest` with one user.conf setting of one scenario changed."""
    systems = []
    for s in manifest.systems:
        benches = []
        for b in s.benchmarks:
            if s.id == system and b.name == bench:
                specs = []
                for spec in b.scenarios:
                    if spec.scenario == scenario:
                        settings = dict(spec.settings)
                        settings[key] = value
                        spec = dataclasses.replace(spec, settings=tuple(sorted(settings.items())))
                    specs.append(spec)
                b = dataclasses.replace(b, scenarios=tuple(specs))
            benches.append(b)
        systems.append(dataclasses.replace(s, benchmarks=tuple(benches)))
    return dataclasses.replace(manifest, systems=tuple(systems))


# --- what the round requires --------------------------------------------------------------


@pytest.mark.parametrize("path", CLOSED_EXAMPLES, ids=lambda p: p.name)
def test_closed_example_plans_exactly_the_required_scenarios(path: Path) -> None:
    manifest = load_manifest(path)
    rules = load_rules(manifest.round)
    result = make(manifest)
    for system in manifest.systems:
        for bench in system.benchmarks:
            planned = {r.spec.scenario for r in result.runs
                       if r.spec.system == system.id and r.spec.benchmark == bench.name}
            required = set(rules.required_scenarios(bench.official, manifest.system_type))
            groups = rules.one_of_scenarios(bench.official, manifest.system_type)
            assert required <= planned, (bench.name, required - planned)
            for group in groups:
                assert planned & set(group), (bench.name, group)
            # nothing beyond what the round requires: the required ones plus the chosen
            # member(s) of each "at least one of" group
            chosen = {s for g in groups for s in g if s in planned}
            assert planned == required | chosen, bench.name
            assert planned <= set(rules.closed_scenarios(bench.official, manifest.system_type))


@pytest.mark.parametrize("path", CLOSED_EXAMPLES, ids=lambda p: p.name)
def test_closed_example_runs_per_scenario(path: Path) -> None:
    manifest = load_manifest(path)
    rules = load_rules(manifest.round)
    result = make(manifest)
    for system in manifest.systems:
        for bench in system.benchmarks:
            expected_audits = {t for t in rules.benchmarks[bench.official].compliance_tests
                               if rules.audit_tests[t].kind != "external"}
            for spec in bench.scenarios:
                runs = [r.spec for r in result.runs if r.spec.system == system.id
                        and r.spec.benchmark == bench.name and r.spec.scenario == spec.scenario]
                modes = [r.mode for r in runs]
                assert modes.count(PERFORMANCE) == 1 and modes.count(ACCURACY) == 1
                # calibrated exactly when the example leaves the expected performance open
                # (example-closed-resnet-cpu.yaml: the user's CPU is unknown)
                assert (CALIBRATION in modes) == (not spec.settings), (bench.name, spec.scenario)
                audits = [r.audit_test for r in runs if r.mode == AUDIT]
                assert len(audits) == len(set(audits))
                assert set(audits) == expected_audits, (bench.name, spec.scenario)
                perf = next(r for r in runs if r.mode == PERFORMANCE)
                acc = next(r for r in runs if r.mode == ACCURACY)
                assert perf.loadgen_mode == "PerformanceOnly" and acc.loadgen_mode == "AccuracyOnly"
                for audit in (r for r in runs if r.mode == AUDIT):
                    kind = rules.audit_tests[audit.audit_test or ""].kind
                    if kind == "accuracy_sampling":  # TEST01 compares with both reference runs
                        assert audit.depends_on == (perf.run_id, acc.run_id)
                        assert audit.inputs["references"] == {"performance": perf.key, "accuracy": acc.key}
                    else:
                        assert audit.depends_on == (perf.run_id,)
                        assert audit.inputs["references"] == {"performance": perf.key}
                    assert audit.audit_config and audit.audit_config.strip()
                    assert audit.user_conf == perf.user_conf
            # every run of the plan carries its own key
    all_keys = [r.spec.key for r in result.runs]
    assert len(all_keys) == len(set(all_keys))


def test_external_audit_tests_have_no_run(tmp_path: Path) -> None:
    """gpt-oss-120b (TEST07, TEST09) and dlrm-v3 (TEST08) need tests this tool does not run."""
    text = """\
version: 1
round: v6.1
submitter: ExampleCorp
division: closed
status: available
system_type: datacenter
pipeline: submission
systems:
  - id: dc
    image: nvidia-cuda
    benchmarks:
      - name: gpt-oss-120b
        command: [python3, -m, my_harness]
        scenarios:
          Offline: {target_qps: 10}
          Server: {target_qps: 5}
      - name: dlrm-v3
        command: [python3, -m, my_harness]
        scenarios:
          Offline: {target_qps: 10}
          Server: {target_qps: 5}
      - name: llama3.1-8b
        command: [python3, -m, my_harness]
        eos_token_id: 128009
        scenarios:
          Offline: {target_qps: 10}
          Interactive: {target_qps: 5}
"""
    path = tmp_path / "dc.yaml"
    path.write_text(text, encoding="utf-8")
    manifest = load_manifest(path, project_root=REPO)
    rules = load_rules("v6.1")
    assert {rules.audit_tests[t].kind for t in ("TEST07", "TEST08", "TEST09")} == {"external"}
    result = make(manifest)
    audits = {(r.spec.benchmark, r.spec.scenario, r.spec.audit_test) for r in result.runs if r.spec.mode == AUDIT}
    assert audits == {("llama3.1-8b", "Offline", "TEST06"), ("llama3.1-8b", "Interactive", "TEST06")}
    assert len([r for r in result.runs if r.spec.mode == PERFORMANCE]) == 6


def test_interactive_scenario_uses_the_interactive_loadgen_key(tmp_path: Path) -> None:
    path = tmp_path / "dc.yaml"
    path.write_text("""\
version: 1
round: v6.1
submitter: ExampleCorp
division: closed
status: available
system_type: datacenter
pipeline: submission
systems:
  - id: dc
    image: nvidia-cuda
    benchmarks:
      - name: llama2-70b-99.9
        command: [python3, -m, my_harness]
        eos_token_id: 2
        scenarios:
          Offline: {target_qps: 28}
          Interactive: {target_qps: 20}
""", encoding="utf-8")
    manifest = load_manifest(path, project_root=REPO)
    rules = load_rules("v6.1")
    model = rules.benchmarks["llama2-70b-99.9"].loadgen_model_for("Interactive")
    assert model == "llama2-70b-interactive"
    perf = make(manifest).run("dc/llama2-70b-99.9/Interactive/performance").spec
    assert perf.loadgen_model == model
    lines = perf.user_conf.splitlines()
    assert lines and all(line.startswith(f"{model}.Server.") for line in lines), perf.user_conf


# --- determinism and the key --------------------------------------------------------------


@pytest.mark.parametrize("name", ["demo.yaml", "example-closed-edge.yaml", "example-closed-datacenter-8gpu.yaml"])
def test_plan_twice_is_byte_identical(name: str) -> None:
    manifest = load(name)
    first = json.dumps(plan_to_json(make(manifest), manifest), sort_keys=True)
    second = json.dumps(plan_to_json(make(load(name)), load(name)), sort_keys=True)
    assert first == second
    assert json.loads(first)["runs"]


def test_key_formula_golden() -> None:
    """Pins the key formula: a change here means every stored run record is re-run."""
    inputs = {
        "round": "v6.1", "system": "sut-g", "benchmark": "resnet", "official": "resnet",
        "scenario": "SingleStream",
        "image": {"target": "cpu", "identity": "sha256:" + "ab" * 32},
        "artifacts": {"model": None, "dataset": None},
        "command": None,
        "profile": {"name": "golden", "min_duration_ms": 2000, "submittable": False},
        "mode": "performance", "audit_test": None,
        "user_conf": "resnet50.SingleStream.min_duration = 2000\nresnet50.SingleStream.target_latency = 0.5\n",
        "audit_config": None, "references": {},
    }
    text = (
        '{"artifacts":{"dataset":null,"model":null},"audit_config":null,"audit_test":null,'
        '"benchmark":"resnet","command":null,"image":{"identity":"sha256:'
        + "ab" * 32 + '","target":"cpu"},"key_schema":1,"mode":"performance","official":"resnet",'
        '"profile":{"min_duration_ms":2000,"name":"golden","submittable":false},"references":{},'
        '"round":"v6.1","scenario":"SingleStream","system":"sut-g",'
        '"user_conf":"resnet50.SingleStream.min_duration = 2000\\nresnet50.SingleStream.target_latency = 0.5\\n"}'
    )
    golden = "185ce96fbc60cc99adb932442f6d8ed6753e78ab14fbe243a73f0f51fb469a9d"
    assert canonical_json({"key_schema": 1, **inputs}) == text
    assert hashlib.sha256(text.encode("utf-8")).hexdigest() == golden
    assert content_key(inputs) == golden

    # ...and the planner builds exactly these inputs for the same hand-made manifest.
    manifest = build_manifest({
        "version": 1, "round": "v6.1", "submitter": "GoldenCorp", "division": "open",
        "status": "available", "system_type": "edge", "pipeline": "smoke",
        "systems": [{"id": "sut-g", "image": "cpu", "benchmarks": [
            {"name": "resnet", "scenarios": {"SingleStream": {"target_latency": 0.5}}}]}],
    }, "golden.yaml")
    prof = Profile(name="golden", description="", submittable=False, min_duration_ms=2000, run_timeout_s=60,
                   transient_retries=0, calibrate=True, calibration_duration_ms=500, require_valid=True)
    result = plan(manifest, load_rules("v6.1"), prof, {"cpu": "sha256:" + "ab" * 32}, EMPTY)
    perf = result.run("sut-g/resnet/SingleStream/performance").spec
    assert dict(perf.inputs) == inputs
    assert perf.key == golden


def test_changing_a_manifest_setting_changes_only_that_scenarios_keys() -> None:
    """A manifest setting lands in the performance, audit AND accuracy user.conf."""
    before = load("example-closed-edge.yaml")
    after = replace_scenario_setting(before, "xc-edge-l4", "resnet", "Offline", "target_qps", 13000)
    k1, k2 = keys(make(before)), keys(make(after))
    assert k1.keys() == k2.keys()
    changed = {run_id for run_id in k1 if k1[run_id] != k2[run_id]}
    prefix = "xc-edge-l4/resnet/Offline/"
    assert changed == {prefix + "performance", prefix + "accuracy", prefix + "TEST01", prefix + "TEST04"}
    perf = make(after).run(prefix + "performance").spec
    assert "resnet50.Offline.target_qps = 13000\n" in perf.user_conf


def test_changing_a_benchmark_loadgen_setting_changes_all_its_scenarios() -> None:
    before = load("example-closed-edge.yaml")
    systems = []
    for s in before.systems:
        benches = tuple(dataclasses.replace(b, loadgen=(("max_async_queries", 2),)) if b.name == "bert-99" else b
                        for b in s.benchmarks)
        systems.append(dataclasses.replace(s, benchmarks=benches))
    after = dataclasses.replace(before, systems=tuple(systems))
    k1, k2 = keys(make(before)), keys(make(after))
    changed = {run_id for run_id in k1 if k1[run_id] != k2[run_id]}
    assert changed == {r for r in k1 if r.startswith("xc-edge-l4/bert-99/")}
    assert len(changed) == 2 * 3  # SingleStream, Offline × performance, accuracy, TEST01


def test_changing_a_calibrated_setting_leaves_accuracy_alone() -> None:
    """A calibrated value is timing only: performance and audits re-run, accuracy does not."""
    manifest = load("demo.yaml")
    first = make(manifest, profile("smoke"))
    cal = first.run("demo-cpu/digits-mlp/SingleStream/calibration")

    def with_calibrated(value: float) -> dict[str, str]:
        ledger = LedgerSnapshot(done={cal.spec.key: done(cal, calibrated={"target_latency": value})})
        return keys(make(manifest, profile("smoke"), ledger))

    k1, k2 = with_calibrated(0.40), with_calibrated(0.45)
    changed = {run_id for run_id in k1 if k1[run_id] != k2[run_id]}
    prefix = "demo-cpu/digits-mlp/SingleStream/"
    assert changed == {prefix + "performance", prefix + "TEST01", prefix + "TEST04"}
    # the accuracy run is the same whether or not calibration has happened
    assert k1[prefix + "accuracy"] == keys(first)[prefix + "accuracy"]


# --- the ledger ---------------------------------------------------------------------------


def test_done_record_with_same_key_is_skipped() -> None:
    manifest = load("example-closed-edge.yaml")
    first = make(manifest)
    perf = first.run("xc-edge-l4/resnet/Offline/performance")
    ledger = LedgerSnapshot(latest={perf.spec.run_id: done(perf)}, done={perf.spec.key: done(perf)})
    again = make(manifest, ledger=ledger).run(perf.spec.run_id)
    assert (again.action, again.reason) == ("skip", "up to date")
    assert again.spec.key == perf.spec.key
    assert len(make(manifest, ledger=ledger).pending) == len(first.pending) - 1


def test_everything_done_means_nothing_pending() -> None:
    manifest = load("example-closed-edge.yaml")
    first = make(manifest)
    ledger = LedgerSnapshot(latest={r.spec.run_id: done(r) for r in first.runs},
                            done={r.spec.key: done(r) for r in first.runs})
    again = make(manifest, ledger=ledger)
    assert again.pending == ()
    assert {r.reason for r in again.runs} == {"up to date"}


def test_other_image_identity_means_image_changed() -> None:
    manifest = load("example-closed-edge.yaml")
    old = make(manifest, identity=IMAGE_A)
    ledger = LedgerSnapshot(latest={r.spec.run_id: done(r) for r in old.runs},
                            done={r.spec.key: done(r) for r in old.runs})
    new = make(manifest, ledger=ledger, identity=IMAGE_B)
    for run in new.runs:
        assert run.spec.key != old.run(run.spec.run_id).spec.key
    perf = new.run("xc-edge-l4/resnet/Offline/performance")
    acc = new.run("xc-edge-l4/resnet/Offline/accuracy")
    assert (perf.action, perf.reason) == ("run", "image changed")
    assert (acc.action, acc.reason) == ("run", "image changed")
    # audits wait for the new reference runs instead of reusing the old ones
    audit = new.run("xc-edge-l4/resnet/Offline/TEST04")
    assert audit.action == "wait" and perf.spec.run_id in audit.reason


def test_failed_attempt_with_same_key_is_retried_with_the_reason() -> None:
    manifest = load("example-closed-edge.yaml")
    perf = make(manifest).run("xc-edge-l4/bert-99/Offline/performance")
    failed = RecordSummary(run_id=perf.spec.run_id, key=perf.spec.key, status="failed",
                           inputs=perf.spec.inputs, reason="container exited with code 137")
    again = make(manifest, ledger=LedgerSnapshot(latest={perf.spec.run_id: failed})).run(perf.spec.run_id)
    assert again.action == "run"
    assert "failed" in again.reason and "container exited with code 137" in again.reason


def test_audits_wait_for_their_reference_runs() -> None:
    manifest = load("example-closed-edge.yaml")
    first = make(manifest)
    prefix = "xc-edge-l4/resnet/SingleStream/"
    perf, acc = first.run(prefix + "performance"), first.run(prefix + "accuracy")
    assert first.run(prefix + "TEST01").action == "wait"
    only_perf = make(manifest, ledger=LedgerSnapshot(done={perf.spec.key: done(perf)}))
    assert only_perf.run(prefix + "TEST04").action == "run"
    test01 = only_perf.run(prefix + "TEST01")
    assert test01.action == "wait" and acc.spec.run_id in test01.reason and perf.spec.run_id not in test01.reason
    both = make(manifest, ledger=LedgerSnapshot(done={perf.spec.key: done(perf), acc.spec.key: done(acc)}))
    assert (both.run(prefix + "TEST01").action, both.run(prefix + "TEST01").reason) == ("run", "new")


def test_calibration_result_feeds_the_performance_run() -> None:
    manifest = load("demo.yaml")
    prefix = "demo-cpu/digits-mlp/SingleStream/"
    first = make(manifest, profile("smoke"))
    cal = first.run(prefix + "calibration")
    perf_before = first.run(prefix + "performance")
    assert perf_before.action == "wait" and cal.spec.run_id in perf_before.reason
    assert perf_before.spec.settings_source["target_latency"] == "pending calibration"
    assert "target_latency" not in perf_before.spec.user_conf

    ledger = LedgerSnapshot(done={cal.spec.key: done(cal, calibrated={"target_latency": 0.42})})
    after = make(manifest, profile("smoke"), ledger)
    perf = after.run(prefix + "performance")
    assert "resnet50.SingleStream.target_latency = 0.42\n" in perf.spec.user_conf
    assert perf.spec.settings_source["target_latency"].startswith("calibration")
    assert cal.spec.key[:12] in perf.spec.settings_source["target_latency"]
    assert perf.spec.depends_on == (cal.spec.run_id,)
    assert (perf.action, perf.reason) == ("run", "new")
    assert after.run(prefix + "calibration").action == "skip"
    # the accuracy run neither waits for nor carries the calibrated value
    acc = after.run(prefix + "accuracy")
    assert "target_latency" not in acc.spec.user_conf and acc.action == "run"


def test_smoke_and_submission_profiles_give_different_runs() -> None:
    manifest = load("example-closed-edge.yaml")
    smoke, submission = make(manifest, profile("smoke")), make(manifest, profile("submission"))
    assert smoke.submittable is False and submission.submittable is True
    k_smoke, k_sub = keys(smoke), keys(submission)
    assert k_smoke.keys() == k_sub.keys()
    assert all(k_smoke[r] != k_sub[r] for r in k_smoke)
    for run in smoke.runs:
        if run.spec.mode == PERFORMANCE:
            assert f".{run.spec.scenario}.min_duration = {profile('smoke').min_duration_ms}\n" in run.spec.user_conf
            assert "min_duration" not in submission.run(run.spec.run_id).spec.user_conf


def test_plan_json_shape() -> None:
    manifest = load("example-closed-datacenter-8gpu.yaml")
    result = make(manifest)
    data = plan_to_json(result, manifest)
    assert data["pending_total"] == len(result.pending) == len(data["runs"])  # empty ledger
    assert data["matrix"] == {"include": [{
        "system": "xc-h100-sxm-8", "runs_on": ["self-hosted", "linux", "x64", "gpu-h100x8"],
        "pending": len(result.runs)}]}
    assert [r["run_id"] for r in data["runs"]] == [r.spec.run_id for r in result.runs]
