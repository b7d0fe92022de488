"""What running in a container costs, and what a no-op `apply` costs.

    python bench/bench_runs.py [--repeat 5] [--noop-repeat 5]

1. The demo SUT's Offline samples/s and SingleStream p90 inside its container, measured
   by `mlperf-ops apply` on tests/project/manifests/bench-offline.yaml (calibration, then
   a 3 s performance run with tests/project/pipelines/bench.yaml; a fresh state
   directory each repeat), against the same harness on the host (`python -m
   mlperf_ops.harness run`) given the SAME user.conf, the same environment (the image's
   ENV, such as its one onnxruntime thread, and the MLPERF_* variables the runner gave
   the container), and the model files copied out of the same image.
   Alternating pairs (the host side goes first in every other pair, with the previous
   pair's user.conf). Figures `container_host_offline` (container/host samples/s) and
   `container_host_singlestream_p90` (host p90 / container p90): 1.0 = no overhead; bar
   median >= 0.98 with the spread within ±5 %. Each pair also runs the host side twice:
   that A/A control (same program, same inputs) is written beside each figure, and when
   it spreads beyond ±5 % itself the verdict says the machine cannot resolve the bar.
2. Figure `noop_apply_s`: seconds of a second `apply` with nothing to do (reads the
   manifest, the ledger and the image inputs, starts no container), in alternating
   pairs with `mlperf-ops --version` (printed as the baseline); bar <= 0.3 s.

Needs the Docker engine and the cpu image (`mlperf-ops images build cpu`). Numbers
only, no assertion: the machine is shared and noisy; the medians and ratios are what
to watch.
"""

from __future__ import annotations

import argparse
import io
import json
import os
import shutil
import statistics
import subprocess
import sys
import tarfile
import tempfile
import time
from pathlib import Path
from typing import Any

from figures import Figure, Noise, alternating_pairs, pair_count, report
from mlperf_ops.state.record import RunSummary

os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
os.environ.setdefault("OMP_NUM_THREADS", "1")

REPO = Path(__file__).resolve().parents[1]
PROJECT = REPO / "tests" / "project"
MANIFEST = PROJECT / "manifests" / "bench-offline.yaml"
ONLY = "*/*/[cp]*"  # calibration + performance; no 50,000-sample accuracy run
PERF_RUNS = {"Offline": "bench-cpu/digits-mlp/Offline/performance",
             "SingleStream": "bench-cpu/digits-mlp/SingleStream/performance"}
IMAGE_MODELS = "/opt/mlperf-ops/models"


def cli_env() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("MLPERF_OPS_")}
    env.update(OPENBLAS_NUM_THREADS="1", OMP_NUM_THREADS="1", CI="true", MLPERF_OPS_PROJECT=str(PROJECT))
    return env


def mlperf_ops(*args: str) -> tuple[float, subprocess.CompletedProcess[str]]:
    start = time.perf_counter()
    done = subprocess.run([sys.executable, "-m", "mlperf_ops", *args], capture_output=True, text=True,
                          env=cli_env(), cwd=REPO, check=False)
    elapsed = time.perf_counter() - start
    if done.returncode != 0:
        raise SystemExit(f"mlperf-ops {' '.join(args)} failed ({done.returncode}):\n{done.stderr[-3000:]}")
    return elapsed, done


def container_run(state: Path) -> dict[str, dict[str, Any]]:
    """apply the bench manifest into a fresh state dir; the performance runs' records by scenario."""
    _, done = mlperf_ops("apply", str(MANIFEST), "--state-dir", str(state), "--only", ONLY, "--json")
    records = {r["run_id"]: r for r in json.loads(done.stdout)["records"]}
    out = {}
    for scenario, run_id in PERF_RUNS.items():
        record: dict[str, Any] = json.loads((Path(records[run_id]["path"]) / "record.json").read_text())
        record["_path"] = records[run_id]["path"]  # where its config/ is, for the host run
        out[scenario] = record
    return out


def copy_models_out(image_tag: str, dest: Path) -> Path:
    """The image's trained model files (no container is started: read from a created one)."""
    import docker

    client = docker.from_env()
    container = client.containers.create(image_tag, command=["true"], labels={"org.mlperf-ops.managed": "true"})
    try:
        stream, _ = container.get_archive(IMAGE_MODELS)
        with tarfile.open(fileobj=io.BytesIO(b"".join(stream))) as tar:
            tar.extractall(dest, filter="data")
    finally:
        container.remove(force=True)
        client.close()
    return dest / Path(IMAGE_MODELS).name


def host_run(record_dir: Path, container_env: dict[str, str], model_dir: Path, work: Path) -> RunSummary:
    """The same harness on the host with the record's user.conf and the container's environment."""
    from mlperf_ops.run.outcome import summarise

    config, output = work / "config", work / "output"
    shutil.copytree(record_dir / "config", config)
    output.mkdir()
    env = {k: v for k, v in os.environ.items() if not k.startswith("MLPERF_")}
    env.update(container_env)
    env.update(MLPERF_CONFIG_DIR=str(config), MLPERF_OUTPUT_DIR=str(output), MLPERF_MODEL_DIR=str(model_dir))
    done = subprocess.run([sys.executable, "-m", "mlperf_ops.harness", "run"], env=env, cwd=config,
                          capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise SystemExit(f"host harness run failed ({done.returncode}):\n{done.stdout[-2000:]}{done.stderr[-2000:]}")
    return summarise(output)


def runner_env(run_id: str) -> dict[str, str]:
    """The MLPERF_* environment the runner gives a performance run's container (from the plan)."""
    from mlperf_ops.plan.controller import load_context, make_plan
    from mlperf_ops.stacks.images import load_target
    from mlperf_ops.run.runner import container_env
    from mlperf_ops.state.ledger import Ledger

    os.environ["MLPERF_OPS_PROJECT"] = str(PROJECT)
    ctx = load_context(MANIFEST)
    with tempfile.TemporaryDirectory(prefix="bench-runs-empty-") as empty:
        plan = make_plan(ctx, Ledger(Path(empty)))
    spec = next(r.spec for r in plan.runs if r.spec.run_id == run_id)
    bench = next(b for b in ctx.manifest.system(spec.system).benchmarks if b.name == spec.benchmark)
    env = container_env(spec, load_target(ctx.images_dir, spec.image_target), bench)
    env.pop("MLPERF_RUN_KEY", None)
    env.pop("HOME", None)  # the host's HOME stays
    return env


# The image's ENV names that point into the image (its venv, its paths): the host keeps its own.
IMAGE_PATH_ENV = {"PATH", "VIRTUAL_ENV", "PYTHONPATH", "HOME"}


def image_env(image_tag: str) -> dict[str, str]:
    """The image's own ENV (its Dockerfile's tuning: thread counts and the like), without the
    names that point into the image: the container runs with it, so the host run must too."""
    from mlperf_ops.execute.engine import Engine

    pairs = (entry.partition("=") for entry in Engine.connect().require_image(image_tag).env)
    return {name: value for name, _, value in pairs if name not in IMAGE_PATH_ENV}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--repeat", type=int, default=pair_count(), help="container/host pairs (default 5)")
    parser.add_argument("--noop-repeat", type=int, default=pair_count())
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="bench-runs-"))
    try:
        envs: dict[str, dict[str, str]] = {}
        model_dir: Path | None = None
        # per scenario: (container value, host value) of each pair
        values: dict[str, list[tuple[float, float]]] = {s: [] for s in PERF_RUNS}
        controls: dict[str, list[float]] = {s: [] for s in PERF_RUNS}  # host / host again, per pair
        previous: dict[str, dict[str, Any]] = {}
        # The container side runs under the Docker daemon, outside our process tree: its CPU
        # would read as other processes', so only steal, load average and frequency count here.
        noise = Noise(own_cpu_visible=False)
        state = work / "state-0"
        for i in range(max(args.repeat, 1)):
            state = work / f"state-{i}"
            host_first = i % 2 == 1 and bool(previous)
            early: dict[str, float] = {}
            if host_first:  # alternate the order; the previous pair's user.conf serves the host run
                for scenario, record in previous.items():
                    early[scenario] = host_value(scenario, record, envs, model_dir, work / f"host-{i}-{scenario}")
            records = container_run(state)
            if not envs:
                tag = records["Offline"]["image"]["tag"]
                # what the container ran with: the image's ENV, under the runner's environment
                tuning = image_env(tag)
                envs = {scenario: {**tuning, **runner_env(run_id)} for scenario, run_id in PERF_RUNS.items()}
                model_dir = copy_models_out(tag, work / "image-models")
                print(f"  host runs get the image's ENV too: {sorted(tuning)}", flush=True)
            for scenario, record in records.items():
                c = float(record["summary"]["value"])
                h = early[scenario] if host_first else host_value(scenario, record, envs, model_dir,
                                                                   work / f"host-{i}-{scenario}")
                # The A/A control: the host again, same user.conf and environment. How far two
                # identical runs differ is the finest container cost this machine can show.
                again = host_value(scenario, record, envs, model_dir, work / f"host-{i}-{scenario}-again")
                values[scenario].append((c, h))
                controls[scenario].append(again / h if scenario == "Offline" else h / again)
                print(f"  pair {i + 1} {scenario:12s}: container {c:12.0f} ({record['summary']['result_validity']}), "
                      f"host {h:12.0f}{' (host first)' if host_first else ''}, host again {again:12.0f}", flush=True)
            previous = records
            noise.sample()

        noop_noise = Noise()
        pairs = alternating_pairs(lambda: mlperf_ops("--version")[0], lambda: noop_apply(state), args.noop_repeat,
                                  noop_noise)
    finally:
        shutil.rmtree(work, ignore_errors=True)

    offline = values["Offline"]
    print(f"demo SUT Offline in container (apply)  : {statistics.median(c for c, _ in offline):10.0f} samples/s (median)")
    print(f"demo SUT Offline on host (same inputs) : {statistics.median(h for _, h in offline):10.0f} samples/s (median)")
    report(Figure("container_host_offline", [c / h for c, h in offline], bar=0.98, higher_is_better=True,
                  tolerance=0.05, noise=noise, control=controls["Offline"],
                  what="demo Offline samples/s in its container / on the host, same user.conf and environment"))
    single = values["SingleStream"]
    print(f"demo SUT SingleStream p90 in container : {statistics.median(c for c, _ in single) / 1e6:10.4f} ms (median)")
    print(f"demo SUT SingleStream p90 on host      : {statistics.median(h for _, h in single) / 1e6:10.4f} ms (median)")
    report(Figure("container_host_singlestream_p90", [h / c for c, h in single], bar=0.98, higher_is_better=True,
                  tolerance=0.05, noise=noise, control=controls["SingleStream"],
                  what="demo SingleStream p90 latency on the host / in its container (1.0 = no overhead)"))
    version = statistics.median(b for b, _ in pairs)
    report(Figure("noop_apply_s", [s for _, s in pairs], bar=0.3, higher_is_better=False, tolerance=0.25,
                  noise=noop_noise, extra={"baseline_version_s": round(version, 4)},
                  what=f"seconds of `mlperf-ops apply` with nothing to do (`mlperf-ops --version`: {version:.3f} s)"))
    return 0


def host_value(scenario: str, record: dict[str, Any], envs: dict[str, dict[str, str]], model_dir: Path | None,
               work: Path) -> float:
    """The host run's headline value (samples/s or p90 ns) with the record's user.conf."""
    assert model_dir is not None
    value = host_run(Path(record["_path"]), envs[scenario], model_dir, work).value
    if value is None:
        raise SystemExit(f"the host {scenario} run logged no result")
    return float(value)


def noop_apply(state: Path) -> float:
    seconds, done = mlperf_ops("apply", str(MANIFEST), "--state-dir", str(state), "--only", ONLY)
    if "no container started" not in done.stdout:
        raise SystemExit(f"the second apply was not a no-op:\n{done.stdout}\n{done.stderr}")
    return seconds


if __name__ == "__main__":
    sys.exit(main())
