"""The demo benchmark's accuracy script: top-1 from mlperf_log_accuracy.json.

Writes the line the submission checker's resnet pattern reads
(``accuracy=NN.NNN%, good=G, total=T``). A sample LoadGen issued more than once is
counted once, at its first entry, as the resnet reference script does.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from .errors import HarnessError

DTYPES = {"int64": np.int64, "int32": np.int32, "float32": np.float32, "uint8": np.uint8}


@dataclass(frozen=True)
class AccuracyResult:
    good: int
    total: int
    duplicates: int

    @property
    def accuracy(self) -> float:
        return 100.0 * self.good / self.total if self.total else 0.0

    def line(self) -> str:
        return f"accuracy={self.accuracy:.3f}%, good={self.good}, total={self.total}"


def _malformed(log: Path, why: str) -> HarnessError:
    return HarnessError(f"malformed accuracy log {log}: {why}", hint="is this LoadGen's mlperf_log_accuracy.json?")


def score(log: Path, labels: np.ndarray, dtype: str = "int64") -> AccuracyResult:
    try:
        entries = json.loads(log.read_text(encoding="utf-8"))
    except FileNotFoundError as exc:
        raise HarnessError(f"accuracy log not found: {log}") from exc
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise _malformed(log, f"not JSON ({exc})") from exc
    if not isinstance(entries, list):
        raise _malformed(log, "top level is not a list")
    kind = DTYPES[dtype]
    seen: set[int] = set()
    good = 0
    for number, entry in enumerate(entries):
        if not isinstance(entry, dict) or "qsl_idx" not in entry or "data" not in entry:
            raise _malformed(log, f"entry {number} lacks qsl_idx/data")
        idx, data = entry["qsl_idx"], entry["data"]
        if not isinstance(idx, int) or isinstance(idx, bool) or not 0 <= idx < len(labels):
            raise _malformed(log, f"entry {number}: qsl_idx {idx!r} outside 0..{len(labels) - 1}")
        if idx in seen:
            continue
        try:
            values = np.frombuffer(bytes.fromhex(data), dtype=kind) if isinstance(data, str) else None
        except ValueError:
            values = None
        if values is None or values.size == 0:
            raise _malformed(log, f"entry {number}: data {str(data)[:40]!r} is not hex of {dtype} values")
        seen.add(idx)
        if int(values[0]) == int(labels[idx]):
            good += 1
    if not seen:
        raise _malformed(log, "no responses logged")
    return AccuracyResult(good=good, total=len(seen), duplicates=len(entries) - len(seen))


def write(result: AccuracyResult, out: Path) -> None:
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(result.line() + "\n", encoding="utf-8")
