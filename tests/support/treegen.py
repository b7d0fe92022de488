"""Build a complete, VALID-looking v6.1 open-division submission tree for tests.

The LoadGen logs in it are real: every run is a separate process (LoadGen allows one
`FromConfig` per process) that drives the real `mlperf_loadgen` with a trivial SUT
whose response to a sample is the sample's index mod 10 (one byte). Performance runs
use a smoke-short `min_duration`, so the tree is a *smoke* tree (it has the
`SMOKE_TREE.txt` marker) and can never pass as a submission.

`generated_tree()` builds the tree once per process (i.e. once per pytest session) and
returns its path; `copy_tree(dest)` gives each test its own copy to mutate.

Run as a script with `--loadgen-worker SPEC_JSON` it performs one LoadGen run (this is
what the builder starts in a subprocess).
"""

from __future__ import annotations

import atexit
import hashlib
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from functools import cache
from pathlib import Path
from typing import Any

ROUND = "v6.1"
DIVISION = "open"
SUBMITTER = "ExampleOrg"
SYSTEM = "cpu-edge-1"
CUSTOM_MODEL = "tinynet-int8"
OFFICIAL_BENCHMARK = "resnet"
SCENARIOS = ("SingleStream", "MultiStream", "Offline")
MIN_DURATION_MS = 1000
PERFORMANCE_SAMPLE_COUNT = 1024
AUDIT_TESTS = ("TEST01", "TEST04")
# Offline throughput of the throttled SUT and the expected QPS given to LoadGen: the
# one Offline query must take at least min_duration, so expected <= real rate.
OFFLINE_SUT_RATE = 20000.0
OFFLINE_EXPECTED_QPS = 25000


# ----------------------------------------------------------------------------- worker


def _worker(spec: dict[str, Any]) -> None:
    """One LoadGen run in this process (cwd holds user.conf and maybe audit.config)."""
    import array

    import mlperf_loadgen as lg

    scenario = spec["scenario"]
    performance = spec["mode"] == "performance"
    settings = lg.TestSettings()
    settings.FromConfig("user.conf", spec["loadgen_model"], scenario)
    settings.scenario = getattr(lg.TestScenario, scenario)
    settings.mode = lg.TestMode.PerformanceOnly if performance else lg.TestMode.AccuracyOnly

    keep: list[Any] = []

    def respond(samples: list[Any]) -> None:
        buffers = [array.array("B", [s.index % 10]) for s in samples]
        responses = [
            lg.QuerySampleResponse(s.id, b.buffer_info()[0], 1) for s, b in zip(samples, buffers)
        ]
        keep.append(buffers)
        lg.QuerySamplesComplete(responses)
        keep.clear()

    def issue(samples: list[Any]) -> None:
        if not performance:
            respond(samples)
            return
        if scenario == "Offline":
            # Pace the answers to a fixed rate against a deadline schedule, so the
            # throughput (and the audit comparison) does not depend on machine load,
            # and the single Offline query lasts long enough to be VALID.
            chunk = 2750
            start_t = time.monotonic()
            for start in range(0, len(samples), chunk):
                part = samples[start : start + chunk]
                due = start_t + (start + len(part)) / OFFLINE_SUT_RATE
                time.sleep(max(0.0, due - time.monotonic()))
                respond(part)
            return
        # A fixed service time keeps latencies stable, so audit comparisons are stable.
        time.sleep(0.001)
        respond(samples)

    def flush() -> None:
        pass

    sut = lg.ConstructSUT(issue, flush)
    qsl = lg.ConstructQSL(spec["total"], PERFORMANCE_SAMPLE_COUNT, lambda _: None, lambda _: None)
    log_out = lg.LogOutputSettings()
    log_out.outdir = spec["outdir"]
    log_out.copy_summary_to_stdout = False
    log_settings = lg.LogSettings()
    log_settings.log_output = log_out
    log_settings.enable_trace = False
    lg.StartTestWithLogSettings(sut, qsl, settings, log_settings, "audit.config")
    lg.DestroyQSL(qsl)
    lg.DestroySUT(sut)


# ----------------------------------------------------------------------------- builder


def _user_conf(model: str) -> str:
    return "\n".join(
        [
            f"{model}.SingleStream.min_duration = {MIN_DURATION_MS}",
            f"{model}.SingleStream.target_latency = 2",
            f"{model}.MultiStream.min_duration = {MIN_DURATION_MS}",
            f"{model}.MultiStream.target_latency = 2",
            f"{model}.Offline.min_duration = {MIN_DURATION_MS}",
            f"{model}.Offline.target_qps = {OFFLINE_EXPECTED_QPS}",
            "",
        ]
    )


def _run(spec: dict[str, Any], user_conf: str, audit_config: str | None) -> Path:
    """Run one LoadGen test in a fresh working directory; return the log directory."""
    work = Path(tempfile.mkdtemp(prefix="lg-run-"))
    (work / "user.conf").write_text(user_conf)
    if audit_config is not None:
        (work / "audit.config").write_text(audit_config)
    out = work / "out"
    out.mkdir()
    spec = dict(spec, outdir=str(out))
    env = dict(os.environ, OPENBLAS_NUM_THREADS="1", OMP_NUM_THREADS="1")
    proc = subprocess.run(
        [sys.executable, str(Path(__file__).resolve()), "--loadgen-worker", json.dumps(spec)],
        cwd=work,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )
    if proc.returncode != 0:
        raise RuntimeError(f"LoadGen run {spec} failed:\n{proc.stdout}\n{proc.stderr}")
    return out


def label(index: int) -> int:
    """Ground truth of the toy data set: 80 % of responses (index mod 10) are right."""
    return index % 10 if index % 5 else (index + 1) % 10


def accuracy_script(accuracy_log: Path) -> str:
    """The benchmark's accuracy script for the toy SUT: resnet's `accuracy.txt` line."""
    entries = json.loads(accuracy_log.read_text())
    seen: dict[int, int] = {}
    for entry in entries:
        seen[int(entry["qsl_idx"])] = int(entry["data"], 16)
    good = sum(1 for idx, value in seen.items() if label(idx) == value)
    total = len(seen)
    pct = 100.0 * good / max(total, 1)
    return f"accuracy={pct:.3f}%, good={good}, total={total}\n"


def _entries(path: Path) -> dict[int, str]:
    return {int(e["qsl_idx"]): e["data"] for e in json.loads(path.read_text())}


def _metric(detail: Path, scenario: str) -> float:
    """What the audit verifications compare. Offline: throughput; latency scenarios:
    the median latency, which (unlike the 99th percentile) is stable on a shared
    2-core machine, so the generated tree passes its own audits reliably."""
    from mlperf_ops.core.loadgen_log import parse_detail

    key = "result_samples_per_second" if scenario == "Offline" else "result_50.00_percentile_latency_ns"
    return float(parse_detail(detail).values[key])


def _verify_test01_accuracy(acc_log: Path, test_log: Path) -> str:
    ref = _entries(acc_log)
    test = _entries(test_log)
    mismatch = sum(1 for idx, data in test.items() if ref.get(idx) != data)
    lines = [
        "Verifying accuracy.",
        f"num_acc_log_entries = {len(ref)}",
        f"num_perf_log_entries = {len(test)}",
        f"num_perf_log_data_mismatch = {mismatch}",
        "TEST PASS" if test and mismatch == 0 else "TEST FAIL",
    ]
    return "\n".join(lines) + "\n"


def _verify_performance(ref: float, test: float, scenario: str, test_name: str) -> str:
    lower_is_better = scenario != "Offline"
    ratio = test / ref if ref else float("inf")
    if test_name == "TEST01":
        ok = abs(ratio - 1.0) <= 0.10
    else:  # TEST04: the repeated-sample run must not be >10 % faster (caching)
        faster = (ref / test if lower_is_better else test / ref) if test and ref else float("inf")
        ok = faster <= 1.10
    lines = [
        "Verifying performance.",
        f"reference score = {ref}",
        f"test score = {test}",
        "TEST PASS" if ok else "TEST FAIL: Test score invalid",
    ]
    return "\n".join(lines) + "\n"


def _system_json() -> dict[str, Any]:
    from mlperf_ops.manifest.sysdesc import build_system_json

    probed = {
        "host_processor_model_name": "Example CPU 2.0GHz",
        "host_processors_per_node": "1",
        "host_processor_core_count": "2",
        "host_processor_frequency": "2000 MHz",
        "host_processor_caches": "L2 1 MiB",
        "host_memory_capacity": "24 GB",
        "host_storage_capacity": "100 GB",
        "host_storage_type": "SSD",
        "operating_system": "Debian 12",
        "framework": "onnxruntime 1.18",
        "other_software_stack": "Python 3.11, mlcommons-loadgen 6.0.17",
    }
    declared = {
        "host_memory_configuration": "1x 24 GB",
        "host_networking": "Ethernet 1 Gbit/s",
        "host_networking_topology": "single node",
        "host_network_card_count": "1",
        "host_processor_interconnect": "N/A",
        "cooling": "air",
        "hw_notes": "",
        "sw_notes": "smoke tree built by tests/support/treegen.py",
    }
    return build_system_json(
        probed,
        declared,
        division=DIVISION,
        submitter=SUBMITTER,
        status="available",
        system_type="edge",
        system_name="Example edge CPU system",
        accelerator_model=None,
        accelerator_count=0,
        accelerator_memory=None,
    )


def _measurements() -> dict[str, str]:
    return {
        "input_data_types": "int8",
        "retraining": "no",
        "starting_weights_filename": "tinynet.onnx",
        "weight_data_types": "int8",
        "weight_transformations": "quantization",
    }


def _copy_logs(src: Path, dst: Path, names: tuple[str, ...]) -> None:
    dst.mkdir(parents=True, exist_ok=True)
    for name in names:
        shutil.copyfile(src / name, dst / name)


def build_tree(root: Path) -> Path:
    """Run every LoadGen test of the tree (about a dozen short runs) and lay it out."""
    from mlperf_ops.rules import load_rules
    from mlperf_ops.submission.truncate import truncate_tree

    rules = load_rules(ROUND)
    bench = rules.benchmark(OFFICIAL_BENCHMARK)
    model = bench.loadgen_model
    user_conf = _user_conf(model)
    base = {"loadgen_model": model}

    jobs: list[tuple[str, str, str | None]] = []
    for scenario in SCENARIOS:
        jobs.append((scenario, "performance", None))
        jobs.append((scenario, "accuracy", None))
        for test in AUDIT_TESTS:
            jobs.append((scenario, "performance", test))

    def run(job: tuple[str, str, str | None]) -> Path:
        scenario, mode, test = job
        total = bench.dataset_size
        audit = None
        if test is not None:
            audit = "\n".join(rules.audit_tests[test].audit_config_lines(bench.name)) + "\n"
        spec = dict(base, scenario=scenario, mode=mode, total=total)
        return _run(spec, user_conf, audit)

    with ThreadPoolExecutor(max_workers=2) as pool:
        outs = dict(zip(jobs, pool.map(run, jobs)))

    sub = root / DIVISION / SUBMITTER
    (sub / "systems").mkdir(parents=True)
    (sub / "systems" / f"{SYSTEM}.json").write_text(json.dumps(_system_json(), indent=2) + "\n")
    (sub / "src").mkdir()
    (sub / "src" / "README.md").write_text("Toy SUT used by the mlperf-ops test suite.\n")
    (sub / "model_mapping.json").write_text(json.dumps({CUSTOM_MODEL: OFFICIAL_BENCHMARK}) + "\n")
    logs = ("mlperf_log_detail.txt", "mlperf_log_summary.txt")
    for scenario in SCENARIOS:
        sdir = sub / "results" / SYSTEM / CUSTOM_MODEL / scenario
        sdir.mkdir(parents=True)
        (sdir / "README.md").write_text(f"# {CUSTOM_MODEL} {scenario}\n\nSmoke run of a toy SUT.\n")
        (sdir / "user.conf").write_text(user_conf)
        (sdir / "measurements.json").write_text(json.dumps(_measurements(), indent=2) + "\n")
        perf = outs[(scenario, "performance", None)]
        _copy_logs(perf, sdir / "performance" / "run_1", logs)
        acc = outs[(scenario, "accuracy", None)]
        _copy_logs(acc, sdir / "accuracy", logs + ("mlperf_log_accuracy.json",))
        (sdir / "accuracy" / "accuracy.txt").write_text(
            accuracy_script(acc / "mlperf_log_accuracy.json")
        )
        ref_metric = _metric(perf / "mlperf_log_detail.txt", scenario)
        for test in AUDIT_TESTS:
            out = outs[(scenario, "performance", test)]
            tdir = sdir / test
            _copy_logs(out, tdir / "performance" / "run_1", logs)
            test_metric = _metric(out / "mlperf_log_detail.txt", scenario)
            (tdir / "verify_performance.txt").write_text(
                _verify_performance(ref_metric, test_metric, scenario, test)
            )
            if test == "TEST01":
                _copy_logs(out, tdir / "accuracy", ("mlperf_log_accuracy.json",))
                (tdir / "verify_accuracy.txt").write_text(
                    _verify_test01_accuracy(
                        acc / "mlperf_log_accuracy.json", out / "mlperf_log_accuracy.json"
                    )
                )
                (tdir / "accuracy" / "accuracy.txt").write_text(
                    accuracy_script(out / "mlperf_log_accuracy.json")
                )
    (root / "SMOKE_TREE.txt").write_text(
        "Made by the smoke profile: short runs, never submittable.\n"
    )
    backup = root.parent / (root.name + "-accuracy-originals")
    truncate_tree(root, backup)
    for run_dir in outs.values():
        shutil.rmtree(run_dir.parent, ignore_errors=True)
    return root


@cache
def generated_tree() -> Path:
    """The tree, built once per process; treat it as read-only (use copy_tree)."""
    base = Path(tempfile.mkdtemp(prefix="mlperf-ops-treegen-"))
    atexit.register(shutil.rmtree, base, True)
    return build_tree(base / "tree")


def copy_tree(dest: Path) -> Path:
    """A private, mutable copy of the generated tree at `dest` (which must not exist)."""
    shutil.copytree(generated_tree(), dest, symlinks=True)
    return dest


def scenario_dir(root: Path, scenario: str = "Offline") -> Path:
    return root / DIVISION / SUBMITTER / "results" / SYSTEM / CUSTOM_MODEL / scenario


def submitter_dir(root: Path) -> Path:
    return root / DIVISION / SUBMITTER


def sha256_file(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


if __name__ == "__main__":
    if len(sys.argv) == 3 and sys.argv[1] == "--loadgen-worker":
        _worker(json.loads(sys.argv[2]))
    elif len(sys.argv) == 2:
        print(build_tree(Path(sys.argv[1])))
    else:
        sys.exit("usage: treegen.py DEST | --loadgen-worker SPEC_JSON")
