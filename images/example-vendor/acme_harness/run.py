"""`python3 -m acme_harness.run`: one LoadGen test, configured the way mlperf-ops hands it over.

What it reads (docs/harness.md, "What the harness receives"):
  MLPERF_SCENARIO, MLPERF_MODE            LoadGen's scenario and mode
  MLPERF_LOADGEN_MODEL                    the model key of user.conf's lines (resnet50)
  MLPERF_CONFIG_DIR/user.conf             the run's settings, loaded with FromConfig(conf_type=1)
  ./audit.config                          LoadGen reads it from the working directory itself
  MLPERF_OUTPUT_DIR                       where LoadGen's logs and accuracy.txt go
  ACME_DATA                               this image's own data and model
What it leaves: mlperf_log_summary.txt, mlperf_log_detail.txt, mlperf_log_accuracy.json and,
in AccuracyOnly mode, accuracy.txt from its own accuracy script.
Exit codes: 0 LoadGen finished (whether the result is VALID is in the summary),
1 failure, 2 bad input.
"""

from __future__ import annotations

import os
import sys
import time
from pathlib import Path

import numpy as np

from . import accuracy
from .make_data import predict

SCENARIOS = ("SingleStream", "MultiStream", "Offline", "Server")
MODES = ("PerformanceOnly", "AccuracyOnly")
# LoadGen copies the response bytes before QuerySamplesComplete returns, so one chunk's
# predictions need to live only that long. Offline queries arrive as tens of thousands
# of samples; chunks keep each numpy call cache-sized.
CHUNK = 4096


class BadInput(Exception):
    pass


def say(message: str) -> None:
    print(f"acme: {message}", flush=True)


def _env(name: str, allowed: tuple[str, ...] | None = None, default: str | None = None) -> str:
    value = os.environ.get(name, "").strip() or default
    if not value or (allowed and value not in allowed):
        raise BadInput(f"{name}={value!r}" + (f" is not one of {', '.join(allowed)}" if allowed else " is not set"))
    return value


class Sut:
    """Answers each sample with the toy model's class as one int32, vectorised per chunk."""

    def __init__(self, lg: object, inputs: np.ndarray, hidden: np.ndarray, weights: np.ndarray) -> None:
        self.lg = lg
        self.inputs = inputs
        self.hidden = hidden
        self.weights = weights
        self.completed = 0

    def issue(self, samples: list) -> None:  # type: ignore[type-arg]
        lg = self.lg
        for start in range(0, len(samples), CHUNK):
            chunk = samples[start:start + CHUNK]
            index = np.fromiter((s.index for s in chunk), dtype=np.int64, count=len(chunk))
            predicted = np.ascontiguousarray(predict(self.inputs[index], self.hidden, self.weights), dtype=np.int32)
            base, size = predicted.ctypes.data, predicted.itemsize
            responses = [lg.QuerySampleResponse(s.id, base + i * size, size) for i, s in enumerate(chunk)]  # type: ignore[attr-defined]
            lg.QuerySamplesComplete(responses)  # type: ignore[attr-defined]
            self.completed += len(chunk)

    def flush(self) -> None:
        pass


def run() -> int:
    scenario = _env("MLPERF_SCENARIO", SCENARIOS)
    mode = _env("MLPERF_MODE", MODES, "PerformanceOnly")
    model = _env("MLPERF_LOADGEN_MODEL")
    config = Path(_env("MLPERF_CONFIG_DIR", default="/mlperf/config"))
    output = Path(_env("MLPERF_OUTPUT_DIR", default="/mlperf/output"))
    data = Path(_env("ACME_DATA", default="/opt/acme/data"))
    audit = os.environ.get("MLPERF_AUDIT_TEST", "")
    if audit and not Path("audit.config").is_file():
        raise BadInput(f"MLPERF_AUDIT_TEST={audit} but there is no audit.config in {Path.cwd()}")

    import mlperf_loadgen as lg

    settings = lg.TestSettings()
    if settings.FromConfig(str(config / "user.conf"), model, scenario, 1) != 0:
        raise BadInput(f"LoadGen rejected {config / 'user.conf'}")
    settings.scenario = getattr(lg.TestScenario, scenario)
    settings.mode = getattr(lg.TestMode, mode)

    inputs, hidden, weights = (np.load(data / name) for name in ("inputs.npy", "hidden.npy", "model.npy"))
    labels = np.load(data / "labels.npy")
    total = len(inputs)
    sut = Sut(lg, inputs, hidden, weights)
    say(f"{model} {scenario} {mode} audit={audit or '-'}: {total} samples")

    log_settings = lg.LogSettings()
    log_settings.log_output.outdir = str(output)
    log_settings.log_output.copy_summary_to_stdout = False
    log_settings.enable_trace = False
    # The data is in memory already: loading a sample set is a no-op.
    qsl = lg.ConstructQSL(total, min(1024, total), lambda _: None, lambda _: None)
    handle = lg.ConstructSUT(sut.issue, sut.flush)
    started = time.monotonic()
    try:
        lg.StartTestWithLogSettings(handle, qsl, settings, log_settings, "audit.config")
    finally:
        lg.DestroySUT(handle)
        lg.DestroyQSL(qsl)
    say(f"LoadGen finished: {sut.completed} samples in {time.monotonic() - started:.1f} s")

    if mode == "AccuracyOnly":
        good, count = accuracy.score(output / "mlperf_log_accuracy.json", labels)
        (output / "accuracy.txt").write_text(accuracy.line(good, count) + "\n", encoding="utf-8")
        say(accuracy.line(good, count))
    return 0


def main() -> int:
    try:
        return run()
    except BadInput as error:
        print(f"error: {error}", file=sys.stderr, flush=True)
        return 2


if __name__ == "__main__":
    raise SystemExit(main())
