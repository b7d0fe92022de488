"""`harness run`: one LoadGen test per process, configured by the container contract.

Contract (environment):
  MLPERF_BENCHMARK        checker benchmark name (informational; default resnet)
  MLPERF_LOADGEN_MODEL    LoadGen's model key for FromConfig (default resnet50)
  MLPERF_SCENARIO         SingleStream | MultiStream | Offline | Server (required)
  MLPERF_MODE             PerformanceOnly | AccuracyOnly (default PerformanceOnly)
  MLPERF_AUDIT_TEST       empty or TEST01/TEST04/...; LoadGen itself reads ./audit.config
  MLPERF_CONFIG_DIR       user.conf and optional mlperf.conf (default /mlperf/config)
  MLPERF_OUTPUT_DIR       LoadGen's mlperf_log_* and accuracy.txt (default /mlperf/output)
  MLPERF_MODEL_DIR        digits.onnx, eval_labels.npy, ... (default /opt/mlperf-ops/models)
  MLPERF_MODEL_PATH       with MLPERF_DATASET_PATH: ResNet50 (resnet.py) on the ImageNet layout
  MLPERF_DATASET_PATH     (imagenet.py) instead of the digits model on generated samples; only for
                          MLPERF_BENCHMARK=resnet (the demo too, with its own files: demo_imagenet.py)
  MLPERF_HARNESS_BACKEND  onnxruntime (default) | noop | identity (inputs rendered, model free)
  MLPERF_ORT_PROVIDER     onnxruntime execution provider (default CPUExecutionProvider)
Optional tuning: MLPERF_HARNESS_MAX_BATCH, MLPERF_ORT_INTRA_OP_THREADS,
MLPERF_HARNESS_PROGRESS_SECONDS, MLPERF_HARNESS_SAMPLE_CACHE_MB (imagenet.py).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from . import accuracy, dataset, loadgen_settings
from .backends import Backend, IdentityBackend, NoopBackend, make_backend
from .errors import HarnessError
from .sut import ISSUE_MODES, SampleSource, SampleStore, Sut

RESNET = "resnet"  # the one benchmark the built-in harness serves from the user's model and data set
SCENARIOS = ("SingleStream", "MultiStream", "Offline", "Server")
MODES = ("PerformanceOnly", "AccuracyOnly")
AUDIT_CONFIG = "audit.config"
# Per-call batch caps: MultiStream's query is 8 samples; 8-16 samples of 602 KB keep the
# batch in cache (measured: batch 8 ran ~2x the samples/s of batch 128 on this model).
DEFAULT_MAX_BATCH = {"SingleStream": 1, "MultiStream": 16, "Offline": 16, "Server": 8}


@dataclass(frozen=True)
class Contract:
    benchmark: str
    loadgen_model: str
    scenario: str
    mode: str
    audit_test: str
    config_dir: Path
    output_dir: Path
    model_dir: Path
    model_path: Path | None  # the manifest's model: (ResNet50 mode, with dataset_path)
    dataset_path: Path | None
    backend: str
    provider: str
    max_batch: int
    intra_op_threads: int
    progress_seconds: float

    @property
    def resnet(self) -> bool:
        """The reference benchmark on the user's files, rather than the digits demo."""
        return self.model_path is not None and self.dataset_path is not None

    @classmethod
    def from_env(cls, env: Mapping[str, str]) -> "Contract":
        scenario = env.get("MLPERF_SCENARIO", "").strip()
        if scenario not in SCENARIOS:
            raise HarnessError(
                f"MLPERF_SCENARIO={scenario!r} is not a scenario this harness runs",
                hint=f"one of {', '.join(SCENARIOS)}",
            )
        mode = env.get("MLPERF_MODE", "PerformanceOnly").strip() or "PerformanceOnly"
        if mode not in MODES:
            raise HarnessError(f"MLPERF_MODE={mode!r} is not a mode", hint=f"one of {', '.join(MODES)}")
        backend = env.get("MLPERF_HARNESS_BACKEND", "onnxruntime").strip() or "onnxruntime"
        if backend not in ("onnxruntime", "noop", "identity"):
            raise HarnessError(f"MLPERF_HARNESS_BACKEND={backend!r} is unknown", hint="onnxruntime, noop or identity")
        return cls(
            benchmark=env.get("MLPERF_BENCHMARK", "resnet").strip() or "resnet",
            loadgen_model=env.get("MLPERF_LOADGEN_MODEL", "resnet50").strip() or "resnet50",
            scenario=scenario,
            mode=mode,
            audit_test=env.get("MLPERF_AUDIT_TEST", "").strip(),
            config_dir=Path(env.get("MLPERF_CONFIG_DIR", "/mlperf/config")),
            output_dir=Path(env.get("MLPERF_OUTPUT_DIR", "/mlperf/output")),
            model_dir=Path(env.get("MLPERF_MODEL_DIR", "/opt/mlperf-ops/models")),
            model_path=Path(env["MLPERF_MODEL_PATH"]) if env.get("MLPERF_MODEL_PATH", "").strip() else None,
            dataset_path=Path(env["MLPERF_DATASET_PATH"]) if env.get("MLPERF_DATASET_PATH", "").strip() else None,
            backend=backend,
            provider=env.get("MLPERF_ORT_PROVIDER", "CPUExecutionProvider").strip() or "CPUExecutionProvider",
            max_batch=_int(env, "MLPERF_HARNESS_MAX_BATCH", DEFAULT_MAX_BATCH[scenario]),
            intra_op_threads=_int(env, "MLPERF_ORT_INTRA_OP_THREADS", 0),
            progress_seconds=float(_int(env, "MLPERF_HARNESS_PROGRESS_SECONDS", 10)),
        )


def _int(env: Mapping[str, str], name: str, default: int) -> int:
    raw = env.get(name, "").strip()
    if not raw:
        return default
    try:
        value = int(raw)
    except ValueError as exc:
        raise HarnessError(f"{name}={raw!r} is not an integer") from exc
    if value < 0:
        raise HarnessError(f"{name}={raw!r} must not be negative")
    return value


def say(message: str) -> None:
    print(f"harness: {message}", flush=True)


def configure(lg: Any, contract: Contract) -> Any:
    """TestSettings: LoadGen's built-in mlperf.conf < config_dir/mlperf.conf (if any) < user.conf."""
    return loadgen_settings.configure(lg, contract, say)


def check_inputs(contract: Contract, cwd: Path) -> None:
    audit_present = (cwd / AUDIT_CONFIG).is_file()
    if contract.audit_test and not audit_present:
        raise HarnessError(
            f"MLPERF_AUDIT_TEST={contract.audit_test} but there is no {AUDIT_CONFIG} in {cwd}",
            hint="LoadGen reads audit.config from the working directory",
        )
    if audit_present and not contract.audit_test:
        # A stray audit.config silently turns a submission run into an audit run.
        raise HarnessError(
            f"{cwd / AUDIT_CONFIG} exists but MLPERF_AUDIT_TEST is empty",
            hint="run each audit test in its own working directory; never leave audit.config behind",
        )
    if contract.resnet:
        if contract.benchmark != RESNET:
            raise HarnessError(f"the built-in harness serves {RESNET} from a model and data set, "
                               f"not {contract.benchmark}", hint="run your own harness with command:")
    elif contract.model_path or contract.dataset_path:
        raise HarnessError("ResNet50 needs both MLPERF_MODEL_PATH and MLPERF_DATASET_PATH",
                           hint="declare both model: and dataset: in the manifest")
    elif contract.backend == "onnxruntime" and not (contract.model_dir / dataset.HELD_OUT_FILE).is_file():
        raise HarnessError(
            f"model directory {contract.model_dir} has no {dataset.HELD_OUT_FILE}",
            hint="train it with `python3 -m harness train --out DIR` or set MLPERF_MODEL_DIR",
        )
    try:
        contract.output_dir.mkdir(parents=True, exist_ok=True)
        probe = contract.output_dir / ".harness-write-test"
        probe.write_text("")
        probe.unlink()
    except OSError as exc:
        raise HarnessError(f"output directory {contract.output_dir} is not writable: {exc}", exit_code=1) from exc


class Progress:
    """Prints completed-sample counts every few seconds while LoadGen runs."""

    def __init__(self, sut: Sut, every: float) -> None:
        self.sut = sut
        self.every = every
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, name="harness-progress", daemon=True)

    def __enter__(self) -> "Progress":
        if self.every > 0:
            self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join()

    def _loop(self) -> None:
        start = time.monotonic()
        while not self._stop.wait(self.every):
            elapsed = time.monotonic() - start
            done = self.sut.completed
            say(f"{done} samples completed in {elapsed:.0f} s ({done / max(elapsed, 1e-9):.0f}/s)")


def warm_up(backend: Any, store: SampleStore, max_batch: int) -> None:
    """First inferences are slow (lazy kernel set-up, first touch of buffers): keep them out of the timed run."""
    if not backend.needs_inputs:
        return
    store.scratch.fill(0.0)
    for size in sorted({1, max_batch}):
        for _ in range(3):
            backend.predict(store.scratch[:size], size)


def result_validity(summary: Path) -> str:
    try:
        for line in summary.read_text(encoding="utf-8", errors="replace").splitlines():
            if line.startswith("Result is"):
                return line.partition(":")[2].strip()
    except OSError:
        pass
    return "UNKNOWN"


def _workload(contract: Contract) -> tuple[SampleSource | None, Backend, np.ndarray | None, int, int]:
    """(samples, backend, labels or None for the demo's file, total, performance sample count)."""
    if contract.resnet:
        from .imagenet import ImagenetSet
        from .resnet import RESPONSE_DTYPE, ResnetBackend, model_file

        assert contract.model_path is not None and contract.dataset_path is not None
        images = ImagenetSet(contract.dataset_path)
        say(f"ImageNet layout: {images.count} images listed in {contract.dataset_path}/val_map.txt")
        backend: Backend
        if contract.backend == "noop":
            backend = NoopBackend()
        elif contract.backend == "identity":
            backend = IdentityBackend(np.dtype(RESPONSE_DTYPE))
        else:
            backend = ResnetBackend(contract.model_path, contract.provider, contract.intra_op_threads)
            say(f"model {model_file(contract.model_path)} on {backend.provider}")
        return images, backend, images.labels, images.count, images.performance_sample_count
    backend = make_backend(contract.backend, contract.model_dir, contract.provider, contract.intra_op_threads)
    if contract.backend == "onnxruntime":
        say(f"model {contract.model_dir / 'digits.onnx'} on {getattr(backend, 'provider', '?')}")
    eval_set = dataset.EvalSet.from_model_dir(contract.model_dir) if backend.needs_inputs else None
    return eval_set, backend, None, dataset.EVAL_SET_SIZE, dataset.PERFORMANCE_SAMPLE_COUNT


def run(env: Mapping[str, str], cwd: Path | None = None) -> int:
    contract = Contract.from_env(env)
    cwd = cwd or Path.cwd()
    check_inputs(contract, cwd)
    import mlperf_loadgen as lg

    say(
        f"benchmark={contract.benchmark} loadgen_model={contract.loadgen_model} scenario={contract.scenario} "
        f"mode={contract.mode} audit={contract.audit_test or '-'} backend={contract.backend}"
    )
    source, backend, labels, total, perf_count = _workload(contract)
    store = SampleStore(source, total, perf_count, backend.needs_inputs, contract.max_batch)
    settings = configure(lg, contract)

    warm_up(backend, store, contract.max_batch)
    sut = Sut(lg, backend, store, contract.max_batch, ISSUE_MODES[contract.scenario])

    def load(indices: list[int]) -> None:
        say(f"loading {len(indices)} samples")
        store.load(indices)

    log_settings = lg.LogSettings()
    log_settings.log_output.outdir = str(contract.output_dir)
    log_settings.log_output.copy_summary_to_stdout = False
    log_settings.enable_trace = False  # the trace is tens of MB per run and no submission needs it
    lg_sut = lg.ConstructFastSUT(sut.issue, sut.flush)
    lg_qsl = lg.ConstructQSL(total, perf_count, load, store.unload)
    started = time.monotonic()
    try:
        with Progress(sut, contract.progress_seconds):
            lg.StartTestWithLogSettings(lg_sut, lg_qsl, settings, log_settings, AUDIT_CONFIG)
    finally:
        sut.stop()
        lg.DestroyQSL(lg_qsl)
        lg.DestroyFastSUT(lg_sut)
    elapsed = time.monotonic() - started
    summary = contract.output_dir / "mlperf_log_summary.txt"
    if not summary.is_file():
        raise HarnessError(f"LoadGen wrote no summary into {contract.output_dir}", exit_code=1)
    validity = result_validity(summary) if contract.mode == "PerformanceOnly" else "n/a (accuracy mode)"
    say(f"LoadGen finished: {sut.completed} samples in {elapsed:.1f} s; result: {validity}")
    if sut.mode == "server":  # how often the SUT kept up (answered at once) or fell behind (batched)
        say(f"Server: {sut.answered_inline} queries answered as they were issued, the rest batched by the worker")

    if contract.mode == "AccuracyOnly" or contract.audit_test == "TEST01":
        if labels is None:
            labels_file = contract.model_dir / dataset.LABELS_FILE
            if not labels_file.is_file():
                raise HarnessError(f"cannot score accuracy: {labels_file} is missing", exit_code=1)
            labels = np.load(labels_file)
        result = accuracy.score(contract.output_dir / "mlperf_log_accuracy.json", labels,
                                str(backend.response_dtype))
        accuracy.write(result, contract.output_dir / "accuracy.txt")
        say(result.line())
    return 0
