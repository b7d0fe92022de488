"""Run one planned LoadGen run in a container and record it in the ledger.

The container contract (docs/harness.md): LoadGen inputs read-only at
/mlperf/config (also the working directory, because LoadGen reads audit.config from
there), logs written to /mlperf/output, models and data read-only, the benchmark,
scenario, mode and audit test in MLPERF_* variables. Nothing else of the host's
environment goes in.
"""

from __future__ import annotations

import hashlib
import platform
import time
from dataclasses import replace
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from mlperf_ops import __version__
from mlperf_ops.execute.executor import ContainerSpec, Executor, GpuRequest, Mount
from mlperf_ops.core.events import Event, EventSink
from mlperf_ops.stacks.images import ImageRef, ImageTarget
from mlperf_ops.manifest.model import BenchmarkSpec, SystemSpec
from mlperf_ops.run.outcome import ContainerExit, Outcome, evaluate
from mlperf_ops.manifest.pipeline import Profile
from mlperf_ops.plan.matrix import AUDIT, RunSpec
from mlperf_ops.rules import Rules
from mlperf_ops.state.ledger import Attempt, Ledger, Record
from mlperf_ops.state.record import ContainerEnd, ImageUsed, RetryCounts, RunRecord
from mlperf_ops.run.verify import verify_audit

CONFIG_DIR = "/mlperf/config"
STATE_LABEL = "org.mlperf-ops.state"
OUTPUT_DIR = "/mlperf/output"
MODEL_DIR = "/mlperf/model"
DATASET_DIR = "/mlperf/dataset"
ATTEMPT_DIR = "/mlperf/attempt"  # the attempt's folder, mounted read-write for the accuracy command only
# The built-in harness's accuracy script; an image of your own names its own (accuracy_command).
BUILTIN_ACCURACY_COMMAND = ("python3", "-m", "harness", "accuracy",
                            "--log", "${MLPERF_ACCURACY_LOG}", "--out", "${MLPERF_ACCURACY_OUT}")
ACCURACY_SCRIPT_TIMEOUT_S = 1800.0


def state_label(state_root: Path) -> str:
    """Which state directory a container's run belongs to (to clean up after kill -9)."""
    return hashlib.sha256(str(state_root).encode("utf-8")).hexdigest()[:16]


def container_env(spec: RunSpec, target: ImageTarget, bench: BenchmarkSpec) -> dict[str, str]:
    env = {
        "MLPERF_BENCHMARK": spec.official,
        "MLPERF_MODEL_NAME": spec.benchmark,
        "MLPERF_LOADGEN_MODEL": spec.loadgen_model,
        "MLPERF_SCENARIO": spec.scenario,
        "MLPERF_MODE": spec.loadgen_mode,
        "MLPERF_AUDIT_TEST": spec.audit_test or "",
        "MLPERF_CONFIG_DIR": CONFIG_DIR,
        "MLPERF_OUTPUT_DIR": OUTPUT_DIR,
        "MLPERF_ORT_PROVIDER": target.execution_provider,
        "MLPERF_RUN_KEY": spec.key,
        "HOME": "/tmp",
        "PYTHONUNBUFFERED": "1",
        "OPENBLAS_NUM_THREADS": "1",
        "OMP_NUM_THREADS": "1",
    }
    if bench.model:
        env["MLPERF_MODEL_PATH"] = MODEL_DIR
    if bench.dataset:
        env["MLPERF_DATASET_PATH"] = DATASET_DIR
    if bench.server:
        env.update(bench.server.env())  # the LLM endpoint harness's server (README: LLM benchmarks)
    return env


def container_spec(spec: RunSpec, attempt: Attempt, system: SystemSpec, bench: BenchmarkSpec,
                   target: ImageTarget, image: ImageRef, command: list[str] | None = None,
                   extra_env: Mapping[str, str] | None = None) -> ContainerSpec:
    mounts = [Mount(attempt.config_dir, CONFIG_DIR, True), Mount(attempt.output_dir, OUTPUT_DIR, False)]
    if bench.model:
        mounts.append(Mount(Path(bench.model.path).absolute(), MODEL_DIR, True))
    if bench.dataset:
        mounts.append(Mount(Path(bench.dataset.path).absolute(), DATASET_DIR, True))
    gpus = None
    acc = system.accelerator
    if acc is not None and acc.vendor in ("nvidia", "amd"):
        gpus = GpuRequest(vendor=acc.vendor, count=None if acc.device_ids else acc.count,  # type: ignore[arg-type]
                          device_ids=acc.device_ids)
    limits = system.container
    return ContainerSpec(
        image=image.tag,
        command=command if command is not None else (list(spec.command) if spec.command else None),
        env={**container_env(spec, target, bench), **(extra_env or {})},
        mounts=tuple(mounts),
        workdir=CONFIG_DIR,
        network=limits.network,  # type: ignore[arg-type]
        mem_limit=limits.memory,
        pids_limit=limits.pids or 4096,
        shm_size=limits.shm,
        gpus=gpus,
        labels={"org.mlperf-ops.run-key": spec.key, "org.mlperf-ops.run-id": spec.run_id,
                STATE_LABEL: state_label(attempt.dir.parent.parent)},
    )


def _record(spec: RunSpec, outcome: Outcome, image: ImageRef, profile: Profile, started: float,
            exit_: ContainerExit | None, verification: Mapping[str, Any] | None, retry: RetryCounts,
            server: Mapping[str, Any] | None = None) -> RunRecord:
    finished = time.time()
    return RunRecord(
        key=spec.key, run_id=spec.run_id, status=outcome.status, reason=outcome.reason,
        system=spec.system, benchmark=spec.benchmark, official=spec.official, scenario=spec.scenario,
        mode=spec.mode,  # type: ignore[arg-type]  # RunSpec.mode is one of the record's modes
        audit_test=spec.audit_test, inputs=dict(spec.inputs),
        image=ImageUsed(target=image.target, tag=image.tag, id=image.image_id, identity=image.spec_hash),
        profile=profile.name, submittable=profile.submittable,
        started_unix=started, finished_unix=finished, duration_s=round(finished - started, 3),
        tool_version=__version__, host=platform.node(),
        summary=outcome.summary, accuracy=outcome.accuracy, calibrated=outcome.calibrated,
        container=None if exit_ is None else ContainerEnd(exit_.exit_code, exit_.oom_killed, exit_.timed_out),
        verification=verification, failure=outcome.failure, retry=retry, server=server,
    )


def execute(
    spec: RunSpec, *, system: SystemSpec, bench: BenchmarkSpec, target: ImageTarget, image: ImageRef,
    engine: Executor, ledger: Ledger, rules: Rules, profile: Profile, on_event: EventSink,
    retry: RetryCounts = RetryCounts(), server: Mapping[str, Any] | None = None,
) -> Record:
    """Stage, run, judge, verify (audits) and commit one run. Always returns a committed record."""
    started = time.time()
    attempt = ledger.begin(spec.key, spec.run_id)
    (attempt.config_dir / "user.conf").write_text(spec.user_conf, "utf-8")
    if spec.audit_config:
        (attempt.config_dir / "audit.config").write_text(spec.audit_config, "utf-8")
    log_path = attempt.log_path
    timeout = float(system.container.timeout_s or profile.run_timeout_s)

    def line(text: str) -> None:
        on_event(Event("run-line", text, spec.run_id))

    result = engine.run(container_spec(spec, attempt, system, bench, target, image), log_path, line, timeout)
    exit_ = ContainerExit(result.exit_code, result.oom_killed, result.timed_out, timeout, log_path)
    outcome = evaluate(spec, attempt.output_dir, exit_, rules, require_valid=profile.require_valid)
    verification: dict[str, Any] | None = None
    if spec.mode == AUDIT and outcome.status == "done":
        def accuracy_of(log: Path) -> Path:
            return _score_accuracy_log(log, spec, attempt, system, bench, target, image, engine, on_event)

        verdict = verify_audit(spec, bench, attempt, ledger, rules, accuracy_of)
        verification = verdict.as_dict()
        on_event(Event("verify", verdict.summary, spec.run_id))
        if not verdict.passed:
            # A performance comparison can fail on a noisy machine; the official
            # procedure is to run the audit again, so apply may retry it.
            outcome = Outcome("failed", f"{spec.audit_test} verification failed: {verdict.summary}",
                              outcome.summary, failure="transient" if verdict.retryable else "permanent")
            if verdict.retryable:
                retry = replace(retry, timing_failures=retry.timing_failures + 1)
    return ledger.commit(attempt, _record(spec, outcome, image, profile, started, exit_, verification, retry,
                                          server))


class AccuracyCommandMissing(RuntimeError):
    """A vendor harness (`command:`) whose manifest names no `accuracy_command:`."""


def accuracy_command(bench: BenchmarkSpec, log: str, out: str) -> list[str]:
    """The benchmark's accuracy script with `${MLPERF_ACCURACY_LOG}`/`${MLPERF_ACCURACY_OUT}` filled in.

    Our accuracy script only knows our own harness's model and labels, so running it in
    somebody else's image would score their log against the wrong answers (or crash):
    an image of your own names its script in the manifest.
    """
    if bench.accuracy_command:
        template: tuple[str, ...] = bench.accuracy_command
    elif bench.command:
        raise AccuracyCommandMissing(
            f"benchmark {bench.name} runs its own harness (command:) but names no accuracy_command: "
            "nothing can score its accuracy logs (TEST01); add accuracy_command: to the benchmark "
            "(docs/harness.md, 'The accuracy script')")
    else:
        template = BUILTIN_ACCURACY_COMMAND
    return [arg.replace("${MLPERF_ACCURACY_LOG}", log).replace("${MLPERF_ACCURACY_OUT}", out) for arg in template]


def _score_accuracy_log(log: Path, spec: RunSpec, attempt: Attempt, system: SystemSpec, bench: BenchmarkSpec,
                        target: ImageTarget, image: ImageRef, engine: Executor, on_event: EventSink) -> Path:
    """Run the benchmark's accuracy script on a log inside the attempt, in the run's image (TEST01)."""
    rel = log.relative_to(attempt.dir)
    out_rel = rel.parent / (rel.stem + ".accuracy.txt")
    log_in, out_in = f"{ATTEMPT_DIR}/{rel.as_posix()}", f"{ATTEMPT_DIR}/{out_rel.as_posix()}"
    command = accuracy_command(bench, log_in, out_in)
    base = container_spec(spec, attempt, system, bench, target, image, command,
                          {"MLPERF_ACCURACY_LOG": log_in, "MLPERF_ACCURACY_OUT": out_in})
    spec_ = ContainerSpec(**{**base.__dict__, "mounts": (*base.mounts, Mount(attempt.dir, ATTEMPT_DIR, False))})
    result = engine.run(spec_, attempt.accuracy_script_log,
                        lambda text: on_event(Event("run-line", text, spec.run_id)), ACCURACY_SCRIPT_TIMEOUT_S)
    if result.exit_code != 0:
        raise RuntimeError(f"accuracy script {' '.join(command)} exited with {result.exit_code} "
                           f"(log: {attempt.accuracy_script_log})")
    if not (attempt.dir / out_rel).is_file():
        raise RuntimeError(f"accuracy script {' '.join(command)} wrote no {out_in}")
    return attempt.dir / out_rel
