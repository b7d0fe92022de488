"""Inference backends: onnxruntime serving the demo model, and `noop` for overhead measurements.

`open_session` is shared with the ResNet50 backend (resnet.py).
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any, Protocol

import numpy as np

from .errors import HarnessError
from .model import INPUT_NAME, LABEL_OUTPUT, MODEL_FILE

CPU_PROVIDER = "CPUExecutionProvider"


class Backend(Protocol):
    name: str
    needs_inputs: bool  # False: the QSL need not render samples at all
    response_dtype: np.dtype  # what one sample's answer is logged as (the accuracy script's --dtype)

    def predict(self, batch: np.ndarray | None, count: int) -> np.ndarray:
        """Class indices (int64, length count) for a (count,3,224,224) batch."""
        ...


class NoopBackend:
    """Answers class 0 instantly: what is left of a run's time is harness + LoadGen overhead."""

    name = "noop"
    needs_inputs = False
    response_dtype = np.dtype(np.int64)

    def __init__(self) -> None:
        self._zeros = np.zeros(0, dtype=np.int64)

    def predict(self, batch: np.ndarray | None, count: int) -> np.ndarray:
        if count > len(self._zeros):
            self._zeros = np.zeros(max(count, 2 * len(self._zeros)), dtype=np.int64)
        return self._zeros[:count]


def open_session(model_path: Path, provider: str, intra_op_threads: int = 0) -> tuple[Any, str]:
    """An onnxruntime session on `provider` (loudly on the CPU when it is missing) and the provider it got."""
    try:
        import onnxruntime as ort
    except ImportError as exc:  # pragma: no cover - the image always has it
        raise HarnessError(f"onnxruntime is not installed: {exc}", exit_code=1) from exc
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
    try:
        session = ort.InferenceSession(str(model_path), options, providers=providers)
    except Exception as exc:  # onnxruntime raises its own types for a file that is not a model
        raise HarnessError(f"onnxruntime cannot load {model_path}: {exc}") from exc
    got = str(session.get_providers()[0])
    if got != provider:
        print(f"harness: WARNING: requested {provider}, session runs on {got}", file=sys.stderr, flush=True)
    return session, got


class IdentityBackend:
    """Takes the rendered batch and answers class 0 at no cost: what is left is the sample
    library's work (gathering loaded samples into the batch) plus LoadGen's, measured in
    `make bench` against LoadGen's null SUT."""

    name = "identity"
    needs_inputs = True

    def __init__(self, response_dtype: np.dtype = np.dtype(np.int64)) -> None:
        self.response_dtype = response_dtype
        self._zeros = np.zeros(0, dtype=response_dtype)

    def predict(self, batch: np.ndarray | None, count: int) -> np.ndarray:
        assert batch is not None and len(batch) == count
        if count > len(self._zeros):
            self._zeros = np.zeros(max(count, 2 * len(self._zeros)), dtype=self.response_dtype)
        return self._zeros[:count]


class OrtBackend:
    name = "onnxruntime"
    needs_inputs = True
    response_dtype = np.dtype(np.int64)

    def __init__(self, model_dir: Path, provider: str, intra_op_threads: int = 0) -> None:
        self.session, self.provider = open_session(model_dir / MODEL_FILE, provider, intra_op_threads)
        self._outputs = [LABEL_OUTPUT]

    def predict(self, batch: np.ndarray | None, count: int) -> np.ndarray:
        assert batch is not None
        labels: np.ndarray = self.session.run(self._outputs, {INPUT_NAME: batch})[0]
        return labels


def make_backend(name: str, model_dir: Path, provider: str, intra_op_threads: int = 0) -> Backend:
    if name == "noop":
        return NoopBackend()
    if name == "identity":
        return IdentityBackend()
    if name == "onnxruntime":
        return OrtBackend(model_dir, provider, intra_op_threads)
    raise HarnessError(f"unknown backend {name!r}", hint="MLPERF_HARNESS_BACKEND is onnxruntime, noop or identity")
