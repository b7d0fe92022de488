"""What running in a container costs, and what a no-op `apply` costs.

    python bench/bench_runs.py [--repeat 3] [--noop-repeat 5]

1. The demo SUT's Offline samples/s inside its container, measured by
   `mlperf-ops apply` on tests/project/manifests/bench-offline.yaml (calibration, then
   a 3 s performance run with tests/project/pipelines/bench.yaml; a fresh state
   directory each repeat), against the same harness on the host (`python -m mlperf_ops.harness run`) given the SAME user.conf,
   the same MLPERF_* environment the runner gave the container, and the model files
   copied out of the same image. Printed as container/host (1.0 = no overhead).
2. A second `apply` with nothing to do (reads the manifest, hashes the image inputs,
   reads the ledger, starts no container) against `mlperf-ops --version` (interpreter
   and CLI start-up), as a ratio.

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

os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
os.environ.setdefault("OMP_NUM_THREADS", "1")

REPO = Path(__file__).resolve().parents[1]
PROJECT = REPO / "tests" / "project"
MANIFEST = PROJECT / "manifests" / "bench-offline.yaml"
ONLY = "*/Offline/[cp]*"  # calibration + performance; no 50,000-sample accuracy run
PERF_RUN = "bench-cpu/digits-mlp/Offline/performance"
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


def container_run(state: Path) -> dict[str, Any]:
    """apply the bench manifest into a fresh state dir; the performance run's record."""
    _, done = mlperf_ops("apply", str(MANIFEST), "--state-dir", str(state), "--only", ONLY, "--json")
    records = {r["run_id"]: r for r in json.loads(done.stdout)["records"]}
    record: dict[str, Any] = json.loads((Path(records[PERF_RUN]["path"]) / "record.json").read_text())
    return record


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


def host_run(record_dir: Path, container_env: dict[str, str], model_dir: Path, work: Path) -> dict[str, Any]:
    """The same harness on the host with the record's user.conf and the container's environment."""
    from mlperf_ops.outcome import summarise

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


def runner_env() -> dict[str, str]:
    """The MLPERF_* environment the runner gives the performance run's container (from the plan)."""
    from mlperf_ops.controller import load_context, make_plan
    from mlperf_ops.images import load_target
    from mlperf_ops.runner import container_env
    from mlperf_ops.state.ledger import Ledger

    os.environ["MLPERF_OPS_PROJECT"] = str(PROJECT)
    ctx = load_context(MANIFEST)
    with tempfile.TemporaryDirectory(prefix="bench-runs-empty-") as empty:
        plan = make_plan(ctx, Ledger(Path(empty)))
    spec = next(r.spec for r in plan.runs if r.spec.run_id == PERF_RUN)
    bench = next(b for b in ctx.manifest.system(spec.system).benchmarks if b.name == spec.benchmark)
    env = container_env(spec, load_target(ctx.images_dir, spec.image_target), bench)
    env.pop("MLPERF_RUN_KEY", None)
    env.pop("HOME", None)  # the host's HOME stays
    return env


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--repeat", type=int, default=3, help="container/host pairs (default 3)")
    parser.add_argument("--noop-repeat", type=int, default=5)
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="bench-runs-"))
    try:
        ratios, in_container, on_host = [], [], []
        env: dict[str, str] | None = None
        model_dir: Path | None = None
        state = work / "state-0"
        for i in range(args.repeat):
            state = work / f"state-{i}"
            record = container_run(state)
            if env is None:
                env = runner_env()
                model_dir = copy_models_out(record["image"]["tag"], work / "image-models")
            assert model_dir is not None
            host = host_run(state / "records" / record["key"], env, model_dir, work / f"host-{i}")
            c, h = float(record["summary"]["value"]), float(host["value"])
            in_container.append(c)
            on_host.append(h)
            ratios.append(c / h)
            print(f"  pair {i + 1}: container {c:9.0f} samples/s ({record['summary']['result_validity']}), "
                  f"host {h:9.0f} samples/s ({host['result_validity']}), ratio {c / h:.3f}", flush=True)

        noop, version = [], []
        for _ in range(args.noop_repeat):
            seconds, done = mlperf_ops("apply", str(MANIFEST), "--state-dir", str(state), "--only", ONLY)
            if "no container started" not in done.stdout:
                raise SystemExit(f"the second apply was not a no-op:\n{done.stdout}\n{done.stderr}")
            noop.append(seconds)
            seconds, _ = mlperf_ops("--version")
            version.append(seconds)

        print(f"demo SUT Offline in container (apply)  : {statistics.median(in_container):10.0f} samples/s (median)")
        print(f"demo SUT Offline on host (same inputs) : {statistics.median(on_host):10.0f} samples/s (median)")
        print(f"ratio container/host                   : {statistics.median(ratios):10.3f}  (1.0 = no overhead)")
        print(f"no-op apply                            : {statistics.median(noop):10.3f} s (median of {len(noop)})")
        print(f"mlperf-ops --version                   : {statistics.median(version):10.3f} s (median)")
        print(f"ratio no-op apply/--version            : {statistics.median(noop) / statistics.median(version):10.2f}")
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
