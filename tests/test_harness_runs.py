"""Real LoadGen runs of the harness, one subprocess per run."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from mlperf_ops.core.loadgen_log import parse_detail, parse_summary
from tests.support.harness_runs import (
    SHORT_USER_CONF,
    accuracy_run,
    base_env,
    harness,
    model_dir,
    run_harness,
    shared_base,
)

SCENARIOS = ["SingleStream", "MultiStream", "Offline", "Server"]


@pytest.fixture(scope="module")
def base(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return shared_base(tmp_path_factory)


@pytest.mark.parametrize("scenario", SCENARIOS)
def test_performance_run_is_valid(base: Path, scenario: str) -> None:
    run = run_harness(base, f"perf-{scenario}", scenario=scenario)
    assert run.returncode == 0, run.stderr
    summary = parse_summary(run.summary)
    assert summary.scenario == scenario and summary.mode == "PerformanceOnly"
    assert summary.valid, run.summary.read_text()
    detail = parse_detail(run.detail)
    assert detail.errors == []
    assert detail.get("effective_scenario") == scenario
    # Our user.conf applied on top of LoadGen's built-in resnet50 settings.
    assert detail.get("effective_min_duration_ms") == {"Offline": 500, "Server": 1500}.get(scenario, 1000)
    assert detail.get("effective_performance_sample_count") == 1024
    assert detail.seeds  # the round's seeds come from LoadGen's built-in mlperf.conf
    assert "result: VALID" in run.stdout
    if scenario == "Server":  # the demo model keeps up at the test's QPS: most queries skip the worker
        match = re.search(r"Server: (\d+) queries answered as they were issued", run.stdout)
        assert match and int(match.group(1)) > 0, run.stdout


def test_accuracy_run_covers_the_data_set(base: Path) -> None:
    run = accuracy_run(base)
    assert run.returncode == 0, run.stderr
    text = (run.output_dir / "accuracy.txt").read_text()
    match = re.fullmatch(r"accuracy=(\d+\.\d{3})%, good=(\d+), total=(\d+)\n", text)
    assert match, text
    assert int(match.group(3)) == 50_000
    assert float(match.group(1)) >= 95.0
    assert parse_detail(run.detail).errors == []


def test_noop_backend_offline_is_valid(base: Path) -> None:
    # noop answers ~300k samples/s here: the one Offline query must be big enough to last min_duration
    conf = "*.Offline.min_duration = 300\n*.Offline.target_qps = 2000000\nresnet50.Offline.min_query_count = 2048\n"
    run = run_harness(base, "noop-offline", scenario="Offline", user_conf=conf,
                      extra_env={"MLPERF_HARNESS_BACKEND": "noop"})
    assert run.returncode == 0, run.stderr
    assert parse_summary(run.summary).valid, run.summary.read_text()
    assert "backend=noop" in run.stdout


def test_mlperf_conf_sits_between_builtin_and_user_conf_and_provider_falls_back_loudly(base: Path) -> None:
    mlperf_conf = "*.SingleStream.min_query_count = 3000\n*.SingleStream.min_duration = 600000\n"
    user_conf = "*.SingleStream.min_duration = 300\n*.SingleStream.target_latency = 1\n"
    run = run_harness(base, "mlperf-conf", scenario="SingleStream", user_conf=user_conf, mlperf_conf=mlperf_conf,
                      extra_env={"MLPERF_ORT_PROVIDER": "CUDAExecutionProvider"})
    assert run.returncode == 0, run.stderr
    detail = parse_detail(run.detail)
    assert detail.get("effective_min_query_count") == 3000  # from mlperf.conf
    assert detail.get("effective_min_duration_ms") == 300  # user.conf has the last word
    assert detail.errors == []  # no "multiple conf files" error
    assert "FALLING BACK to CPUExecutionProvider" in run.stderr


def _bad_run(base: Path, tmp_path: Path, **env_over: str) -> tuple[int, str]:
    config = tmp_path / "config"
    config.mkdir(exist_ok=True)
    (config / "user.conf").write_text(SHORT_USER_CONF)
    env = base_env()
    env.update(MLPERF_SCENARIO="Offline", MLPERF_CONFIG_DIR=str(config), MLPERF_OUTPUT_DIR=str(tmp_path / "out"),
               MLPERF_MODEL_DIR=str(model_dir(base)))
    env.update(env_over)
    proc = harness(["run"], env, tmp_path / "cwd" if (tmp_path / "cwd").is_dir() else tmp_path)
    assert "Traceback" not in proc.stderr, proc.stderr
    return proc.returncode, proc.stderr


def test_unknown_scenario_is_a_usage_error(base: Path, tmp_path: Path) -> None:
    code, err = _bad_run(base, tmp_path, MLPERF_SCENARIO="Interactive")
    assert code == 2 and "MLPERF_SCENARIO='Interactive'" in err and "hint:" in err


def test_unknown_mode_is_a_usage_error(base: Path, tmp_path: Path) -> None:
    code, err = _bad_run(base, tmp_path, MLPERF_MODE="Submission")
    assert code == 2 and "MLPERF_MODE" in err


def test_missing_model_is_a_usage_error(base: Path, tmp_path: Path) -> None:
    code, err = _bad_run(base, tmp_path, MLPERF_MODEL_DIR=str(tmp_path / "empty"))
    assert code == 2 and "model directory" in err


def test_audit_test_without_audit_config_is_refused(base: Path, tmp_path: Path) -> None:
    code, err = _bad_run(base, tmp_path, MLPERF_AUDIT_TEST="TEST01")
    assert code == 2 and "no audit.config" in err


def test_stray_audit_config_is_refused(base: Path, tmp_path: Path) -> None:
    (tmp_path / "cwd").mkdir()
    (tmp_path / "cwd" / "audit.config").write_text("*.*.mode = 2\n")
    code, err = _bad_run(base, tmp_path)
    assert code == 2 and "MLPERF_AUDIT_TEST is empty" in err
    assert not (tmp_path / "out" / "mlperf_log_summary.txt").exists()
