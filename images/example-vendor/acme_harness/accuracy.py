"""ACME's accuracy script: top-1 of a LoadGen `mlperf_log_accuracy.json` against the labels.

    python3 -m acme_harness.accuracy [--log LOG] [--out accuracy.txt]

--log and --out default to $MLPERF_ACCURACY_LOG and $MLPERF_ACCURACY_OUT, which is how
mlperf-ops calls it (manifest `accuracy_command:`) to score an audit's log. The line it
writes is the one the checker's resnet pattern reads: `accuracy=NN.NNN%, good=G, total=T`.
A sample LoadGen logged more than once counts once. Exit 0 scored, 1 failure, 2 bad input.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path

import numpy as np


def score(log: Path, labels: np.ndarray) -> tuple[int, int]:
    """(good, total) over the distinct samples in the log; raises ValueError on a malformed log."""
    entries = json.loads(log.read_text(encoding="utf-8"))
    if not isinstance(entries, list):
        raise ValueError(f"{log}: top level is not a list")
    seen: set[int] = set()
    good = 0
    for entry in entries:
        idx = entry["qsl_idx"]
        if idx in seen:
            continue
        seen.add(idx)
        predicted = np.frombuffer(bytes.fromhex(entry["data"]), dtype=np.int32)
        if predicted.size != 1 or not 0 <= idx < len(labels):
            raise ValueError(f"{log}: entry for sample {idx} is not one int32 label")
        good += int(predicted[0] == labels[idx])
    if not seen:
        raise ValueError(f"{log}: no responses logged")
    return good, len(seen)


def line(good: int, total: int) -> str:
    return f"accuracy={100.0 * good / total:.3f}%, good={good}, total={total}"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="acme_harness.accuracy")
    parser.add_argument("--log", default=os.environ.get("MLPERF_ACCURACY_LOG"))
    parser.add_argument("--out", default=os.environ.get("MLPERF_ACCURACY_OUT"))
    parser.add_argument("--labels", default=os.path.join(os.environ.get("ACME_DATA", "/opt/acme/data"), "labels.npy"))
    args = parser.parse_args(argv)
    if not args.log:
        print("error: no accuracy log (pass --log or set MLPERF_ACCURACY_LOG)", file=sys.stderr)
        return 2
    try:
        good, total = score(Path(args.log), np.load(args.labels))
    except (OSError, ValueError, KeyError, TypeError) as error:
        print(f"error: cannot score {args.log}: {error}", file=sys.stderr)
        return 1
    text = line(good, total)
    if args.out:
        Path(args.out).write_text(text + "\n", encoding="utf-8")
    print(f"acme: {text}", flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
