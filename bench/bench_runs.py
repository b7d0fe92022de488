"""What running in a container costs, and what a no-op `apply` costs.

    python bench/bench_runs.py [--repeat 5] [--noop-repeat 5]

1. The demo SUT's Offline samples/s and SingleStream p90, run by `mlperf-ops apply` on
   tests/project/manifests/bench-offline.yaml in its container (the Docker executor) and
   on the host (the local executor, MLPERF_OPS_EXECUTOR=local: the same run spec, the
   same user.conf, the same MLPERF_* variables and the image's own ENV, the harness as a
   child process). One apply calibrates (tests/project/pipelines/bench.yaml: 3 s runs);
   each round then re-runs the two performance runs (`apply --rerun`) three times: in
   the container, on the host, and on the host again (the A/A control: how far two
   identical runs differ is the finest container cost this machine can show). The three
   take turns in each position, round by round: on these VMs a run's place in a sequence
   moves its result by more than the container does.
   Figures `container_host_offline` (container/host samples/s) and
   `container_host_singlestream_p90` (host p90 / container p90): 1.0 = no overhead; bar
   median >= 0.98 with the spread within ±5 %. When the A/A control spreads beyond ±5 %
   itself, the verdict says the machine cannot resolve the bar.
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
from typing import Any, Callable

from figures import Figure, Noise, alternating_pairs, pair_count, report

os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
os.environ.setdefault("OMP_NUM_THREADS", "1")

REPO = Path(__file__).resolve().parents[1]
PROJECT = REPO / "tests" / "project"
MANIFEST = PROJECT / "manifests" / "bench-offline.yaml"
ONLY = "*/*/[cp]*"  # calibration + performance; no 50,000-sample accuracy run
PERF_RUNS = {"Offline": "bench-cpu/digits-mlp/Offline/performance",
             "SingleStream": "bench-cpu/digits-mlp/SingleStream/performance"}
IMAGE_MODELS = "/opt/mlperf-ops/models"


def cli_env(extra: dict[str, str] | None = None) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("MLPERF_OPS_")}
    env.update(OPENBLAS_NUM_THREADS="1", OMP_NUM_THREADS="1", CI="true", MLPERF_OPS_PROJECT=str(PROJECT))
    env.update(extra or {})
    return env


def mlperf_ops(*args: str, env: dict[str, str] | None = None) -> tuple[float, subprocess.CompletedProcess[str]]:
    start = time.perf_counter()
    done = subprocess.run([sys.executable, "-m", "mlperf_ops", *args], capture_output=True, text=True,
                          env=cli_env(env), cwd=REPO, check=False)
    elapsed = time.perf_counter() - start
    if done.returncode != 0:
        raise SystemExit(f"mlperf-ops {' '.join(args)} failed ({done.returncode}):\n{done.stderr[-3000:]}")
    return elapsed, done


def apply_runs(state: Path, *extra: str, env: dict[str, str] | None = None) -> dict[str, dict[str, Any]]:
    """apply the bench manifest into `state`; the performance runs' records by scenario."""
    _, done = mlperf_ops("apply", str(MANIFEST), "--state-dir", str(state), "--only", ONLY, "--json", *extra, env=env)
    records = {r["run_id"]: r for r in json.loads(done.stdout)["records"]}
    out = {}
    for scenario, run_id in PERF_RUNS.items():
        out[scenario] = json.loads((Path(records[run_id]["path"]) / "record.json").read_text())
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


def local_executor_env(image_tag: str, model_dir: Path) -> dict[str, str]:
    """What `apply` needs to run the harness on the host as the image would: the local
    executor, the image's CMD and ENV (values such as its one onnxruntime thread; not the
    names that point into the image), and the model files the image carries."""
    from mlperf_ops.execute.engine import Engine
    from mlperf_ops.execute.local import HARNESS_COMMAND_ENV, HARNESS_ENV_NAMES_ENV, harness_defaults_env

    config = Engine.connect().require_image(image_tag)
    tuning = {name: value for name, _, value in (entry.partition("=") for entry in config.env)
              if name not in IMAGE_PATH_ENV}
    defaults = harness_defaults_env(config.command, [f"{name}={value}" for name, value in tuning.items()])
    return {**tuning, "MLPERF_OPS_EXECUTOR": "local", "MLPERF_OPS_LOCAL_MODEL_DIR": str(model_dir),
            HARNESS_COMMAND_ENV: defaults[HARNESS_COMMAND_ENV], HARNESS_ENV_NAMES_ENV: defaults[HARNESS_ENV_NAMES_ENV]}


# The image's ENV names that point into the image (its venv, its paths): the host keeps its own.
IMAGE_PATH_ENV = {"PATH", "VIRTUAL_ENV", "PYTHONPATH", "HOME"}
SIDES = ("container", "host", "host again")


def main() -> int:
    from mlperf_ops.execute.local import HARNESS_COMMAND_ENV, HARNESS_ENV_NAMES_ENV

    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--repeat", type=int, default=pair_count(), help="rounds of container/host/host again (default 5)")
    parser.add_argument("--noop-repeat", type=int, default=pair_count())
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="bench-runs-"))
    try:
        state = work / "state"
        first = apply_runs(state)  # calibration and the first performance runs, in the container
        tag = first["Offline"]["image"]["tag"]
        host_env = local_executor_env(tag, copy_models_out(tag, work / "image-models"))
        print(f"  host runs: the local executor, with the image's CMD and ENV: {host_env[HARNESS_COMMAND_ENV]} "
              f"{host_env[HARNESS_ENV_NAMES_ENV]}", flush=True)
        rerun = ("--rerun", "*/performance")
        sides: dict[str, Callable[[], dict[str, dict[str, Any]]]] = {
            "container": lambda: apply_runs(state, *rerun),
            "host": lambda: apply_runs(state, *rerun, env=host_env),
            "host again": lambda: apply_runs(state, *rerun, env=host_env),
        }
        # per scenario and side: the headline value (samples/s, p90 ns) of each round
        values: dict[str, dict[str, list[float]]] = {s: {side: [] for side in SIDES} for s in PERF_RUNS}
        # The container side runs under the Docker daemon, outside our process tree: its CPU
        # would read as other processes', so only steal, load average and frequency count here.
        noise = Noise(own_cpu_visible=False)
        for i in range(max(args.repeat, 1)):
            order = SIDES[i % 3:] + SIDES[:i % 3]  # each side takes each place in turn
            for side in order:
                for scenario, record in sides[side]().items():
                    if record["summary"]["result_validity"] != "VALID":
                        raise SystemExit(f"the {side} {scenario} run was not VALID: {record['summary']}")
                    values[scenario][side].append(float(record["summary"]["value"]))
            for scenario in PERF_RUNS:
                got = {side: values[scenario][side][-1] for side in SIDES}
                print(f"  round {i + 1} {scenario:12s} ({' / '.join(order)}): "
                      + ", ".join(f"{side} {got[side]:12.0f}" for side in SIDES), flush=True)
            noise.sample()

        noop_noise = Noise()
        pairs = alternating_pairs(lambda: mlperf_ops("--version")[0], lambda: noop_apply(state), args.noop_repeat,
                                  noop_noise)
    finally:
        shutil.rmtree(work, ignore_errors=True)

    offline, single = values["Offline"], values["SingleStream"]
    print(f"demo SUT Offline in container (apply)  : {statistics.median(offline['container']):10.0f} samples/s (median)")
    print(f"demo SUT Offline on host (same inputs) : {statistics.median(offline['host']):10.0f} samples/s (median)")
    container_host_figure("container_host_offline", offline, higher_is_better=True, noise=noise,
                          what="demo Offline samples/s in its container / on the host (local executor), same run spec")
    print(f"demo SUT SingleStream p90 in container : {statistics.median(single['container']) / 1e6:10.4f} ms (median)")
    print(f"demo SUT SingleStream p90 on host      : {statistics.median(single['host']) / 1e6:10.4f} ms (median)")
    container_host_figure("container_host_singlestream_p90", single, higher_is_better=False, noise=noise,
                          what="demo SingleStream p90 latency on the host / in its container (1.0 = no overhead)")
    version = statistics.median(b for b, _ in pairs)
    report(Figure("noop_apply_s", [s for _, s in pairs], bar=0.3, higher_is_better=False, tolerance=0.25,
                  noise=noop_noise, extra={"baseline_version_s": round(version, 4)},
                  what=f"seconds of `mlperf-ops apply` with nothing to do (`mlperf-ops --version`: {version:.3f} s)"))
    return 0


def container_host_figure(name: str, sides: dict[str, list[float]], *, higher_is_better: bool, noise: Noise,
                          what: str) -> None:
    """Report container vs host per round, 1.0 = no overhead (container/host for a rate,
    host/container for a latency), with host again vs host as its A/A control."""
    def ratio(subject: float, base: float) -> float:
        return subject / base if higher_is_better else base / subject

    report(Figure(name, [ratio(c, h) for c, h in zip(sides["container"], sides["host"])],
                  bar=0.98, higher_is_better=True, tolerance=0.05, noise=noise,
                  control=[ratio(a, h) for a, h in zip(sides["host again"], sides["host"])], what=what))


def noop_apply(state: Path) -> float:
    seconds, done = mlperf_ops("apply", str(MANIFEST), "--state-dir", str(state), "--only", ONLY)
    if "no container started" not in done.stdout:
        raise SystemExit(f"the second apply was not a no-op:\n{done.stdout}\n{done.stderr}")
    return seconds


if __name__ == "__main__":
    sys.exit(main())
