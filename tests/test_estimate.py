"""`plan`'s time estimate (issue 12, item 6): pure, from the plan and the round's rules."""

from __future__ import annotations

import dataclasses
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from mlperf_ops.plan.estimate import LOADGEN_MIN_DURATION_S, estimate_runs
from mlperf_ops.core.units import human_duration
from mlperf_ops.manifest import load_manifest
from mlperf_ops.manifest.pipeline import load_profile
from mlperf_ops.plan.matrix import CALIBRATION, Plan, plan
from mlperf_ops.state.snapshot import LedgerSnapshot, RecordSummary
from mlperf_ops.rules import load_rules

REPO = Path(__file__).resolve().parents[1]
DEMO = REPO / "manifests" / "demo.yaml"
CALIBRATED = {"SingleStream": {"target_latency": 0.8}, "Offline": {"target_qps": 1600.0}}


def demo_plan(profile_name: str, snapshot: LedgerSnapshot = LedgerSnapshot()) -> Plan:
    manifest = load_manifest(DEMO)
    return plan(manifest, load_rules(manifest.round), load_profile(REPO, profile_name), {"cpu": "sha256:x"}, snapshot)


def calibrated(profile_name: str) -> Plan:
    """The demo's plan once both calibrations are recorded (0.8 ms target latency, 1,600 qps target)."""
    first = demo_plan(profile_name)
    done = {r.spec.key: RecordSummary(r.spec.run_id, r.spec.key, "done", r.spec.inputs, CALIBRATED[r.spec.scenario])
            for r in first.runs if r.spec.mode == CALIBRATION}
    return demo_plan(profile_name, LedgerSnapshot(latest={s.run_id: s for s in done.values()}, done=done))


def test_timed_runs_last_600_s_unless_the_profile_shortens_them() -> None:
    rules = load_rules("v6.1")
    for name, timed_s in (("submission", LOADGEN_MIN_DURATION_S), ("smoke", 10.0)):
        seconds = {r.run_id: r.seconds for r in estimate_runs(demo_plan(name), rules).runs}
        assert seconds["demo-cpu/digits-mlp/Offline/performance"] == timed_s
        assert seconds["demo-cpu/digits-mlp/SingleStream/TEST04"] == timed_s
        assert seconds["demo-cpu/digits-mlp/Offline/calibration"] == 3.0
        # Before calibration nobody knows how fast the SUT is: unknown, not guessed.
        assert seconds["demo-cpu/digits-mlp/Offline/accuracy"] is None


def test_the_accuracy_run_takes_the_data_set_at_the_calibrated_rate() -> None:
    estimate = estimate_runs(calibrated("submission"), load_rules("v6.1"))
    seconds = {r.run_id: r.seconds for r in estimate.runs}
    # 50,000 ImageNet samples (resnet's data set); the calibration measured 1 ms per query
    # (target 0.8 ms is 80 % of it) and 1,000 samples/s (the target is 1.6x the measured rate).
    assert seconds["demo-cpu/digits-mlp/SingleStream/accuracy"] == pytest.approx(50.0)
    assert seconds["demo-cpu/digits-mlp/Offline/accuracy"] == pytest.approx(50.0)
    assert "demo-cpu/digits-mlp/Offline/calibration" not in seconds  # done runs cost nothing
    assert estimate.seconds() == pytest.approx(6 * 600 + 100) and estimate.unknown() == 0
    assert estimate.summary() == "at least 1 h 1 min (8 runs)"


def test_done_runs_are_excluded() -> None:
    full = calibrated("submission")
    skip_all = Plan(full.manifest, full.round, full.division, full.submitter, full.profile, full.submittable,
                    tuple(dataclasses.replace(r, action="skip") for r in full.runs))
    assert estimate_runs(skip_all, load_rules("v6.1")).runs == ()


@pytest.mark.parametrize(("seconds", "text"), [
    (0.000354589, "0.355 ms"), (0.0123456, "12.3 ms"), (0.85, "850 ms"), (3.0, "3.0 s"), (12.4, "12 s"), (66, "1 min 6 s"),
    (600, "10 min"), (6660, "1 h 51 min"), (7200, "2 h"),
])
def test_durations_read_as_people_read_them(seconds: float, text: str) -> None:
    assert human_duration(seconds) == text


def test_plan_prints_the_estimate_for_the_8_gpu_example(tmp_path: Path) -> None:
    env = {**os.environ, "MLPERF_OPS_PROJECT": str(REPO), "CI": "true"}
    manifest = REPO / "manifests" / "example-closed-datacenter-8gpu.yaml"
    base = [sys.executable, "-m", "mlperf_ops", "plan", str(manifest), "--state-dir", str(tmp_path)]
    proc = subprocess.run(base, capture_output=True, text=True, env=env, timeout=120)
    assert proc.returncode == 0, proc.stderr
    assert "estimate xc-h100-sxm-8: at least 1 h 51 min (12 runs)" in proc.stderr
    assert "estimate total: at least 1 h 51 min" in proc.stderr
    data = json.loads(subprocess.run(base + ["--json"], capture_output=True, text=True, env=env).stdout)
    assert data["estimate"]["systems"]["xc-h100-sxm-8"]["seconds"] == pytest.approx(data["estimate"]["total_s"])


def test_loadgen_latencies_show_in_ms_not_ns() -> None:
    from tests.support.records import run_record

    def headline(**fields: object) -> str:
        return run_record(**fields).headline()

    assert headline(summary={"metric": "90.0th percentile latency (ns)", "value": 354589}) \
        == "90.0th percentile latency = 0.355 ms"
    assert headline(summary={"metric": "Samples per second", "value": 27012.5}) == "Samples per second = 27012.5"
    assert headline(calibrated={"target_latency": 0.1697}) == "target_latency=0.1697 ms"
    assert headline(calibrated={"target_qps": 9075.2}) == "target_qps=9075.2"


def test_messages_quoting_loadgen_ns_read_in_ms() -> None:
    from mlperf_ops.core.units import humanize_ns

    assert humanize_ns("VALID: 90.0th percentile latency (ns) = 275691.0") == "VALID: 90.0th percentile latency = 0.276 ms"
    assert humanize_ns("Samples per second = 6137.08") == "Samples per second = 6137.08"


def test_detail_log_latency_keys_hold_ns_whatever_their_suffix() -> None:
    from mlperf_ops.core.units import human_metric

    assert human_metric("early_stopping_latency_ss", 309221.0) == "early_stopping_latency_ss = 0.309 ms"
    assert human_metric("early_stopping_latency_ms", 2_500_000.0) == "early_stopping_latency_ms = 2.5 ms"
    assert human_metric("result_samples_per_second", 6137.08) == "result_samples_per_second = 6137.08"


def test_the_step_summary_title_carries_the_estimate(tmp_path: Path) -> None:
    env = {**os.environ, "MLPERF_OPS_PROJECT": str(REPO), "CI": "true", "GITHUB_STEP_SUMMARY": str(tmp_path / "s.md")}
    subprocess.run([sys.executable, "-m", "mlperf_ops", "plan", str(DEMO), "--state-dir", str(tmp_path / "state"),
                    "--step-summary"], capture_output=True, text=True, env=env, check=True, timeout=120)
    title = (tmp_path / "s.md").read_text("utf-8").splitlines()[0]
    assert title == "### Plan: " + str(DEMO) + " (10 of 10 runs pending, at least 1 min 6 s + 2 of unknown length)"
