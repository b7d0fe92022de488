"""Inference backends: onnxruntime serving the demo model, and `noop` for overhead measurements."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Protocol

import numpy as np

from .errors import HarnessError
from .model import INPUT_NAME, LABEL_OUTPUT, MODEL_FILE

CPU_PROVIDER = "CPUExecutionProvider"


class Backend(Protocol):
    name: str
    needs_inputs: bool  # False: the QSL need not render samples at all

    def predict(self, batch: np.ndarray | None, count: int) -> np.ndarray:
        """Class indices (int64, length count) for a (count,3,224,224) batch."""
        ...


class NoopBackend:
    """Answers class 0 instantly: what is left of a run's time is harness + LoadGen overhead."""

    name = "noop"
    needs_inputs = False

    def __init__(self) -> None:
        self._zeros = np.zeros(0, dtype=np.int64)

    def predict(self, batch: np.ndarray | None, count: int) -> np.ndarray:
        if count > len(self._zeros):
            self._zeros = np.zeros(max(count, 2 * len(self._zeros)), dtype=np.int64)
        return self._zeros[:count]


class OrtBackend:
    name = "onnxruntime"
    needs_inputs = True

    def __init__(self, model_dir: Path, provider: str, intra_op_threads: int = 0) -> None:
        try:
            import onnxruntime as ort
        except ImportError as exc:  # pragma: no cover - the image always has it
            raise HarnessError(f"onnxruntime is not installed: {exc}", exit_code=1) from exc
        model_path = model_dir / MODEL_FILE
        if not model_path.is_file():
            raise HarnessError(
                f"model not found: {model_path}",
                hint="train it with `python3 -m harness train --out DIR` or set MLPERF_MODEL_DIR",
            )
        available = ort.get_available_providers()
        providers = [provider]
        if provider not in available:
            # Never silently: a GPU run on the CPU would be a wrong result with the right name.
            print(
                f"harness: WARNING: {provider} is not available in this onnxruntime "
                f"(available: {', '.join(available)}); FALLING BACK to {CPU_PROVIDER}",
                file=sys.stderr,
                flush=True,
            )
            providers = [CPU_PROVIDER]
        elif provider != CPU_PROVIDER:
            providers.append(CPU_PROVIDER)
        options = ort.SessionOptions()
        if intra_op_threads > 0:
            options.intra_op_num_threads = intra_op_threads
        self.session = ort.InferenceSession(str(model_path), options, providers=providers)
        self.provider = self.session.get_providers()[0]
        if self.provider != provider:
            print(
                f"harness: WARNING: requested {provider}, session runs on {self.provider}",
                file=sys.stderr,
                flush=True,
            )
        self._outputs = [LABEL_OUTPUT]

    def predict(self, batch: np.ndarray | None, count: int) -> np.ndarray:
        assert batch is not None
        labels: np.ndarray = self.session.run(self._outputs, {INPUT_NAME: batch})[0]
        return labels


def make_backend(name: str, model_dir: Path, provider: str, intra_op_threads: int = 0) -> Backend:
    if name == "noop":
        return NoopBackend()
    if name == "onnxruntime":
        return OrtBackend(model_dir, provider, intra_op_threads)
    raise HarnessError(f"unknown backend {name!r}", hint="MLPERF_HARNESS_BACKEND is onnxruntime or noop")
