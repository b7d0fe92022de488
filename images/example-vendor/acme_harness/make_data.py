"""`python3 -m acme_harness.make_data --out DIR`: the example's data set, labels and model.

Deterministic (fixed seed). 50,000 samples because the benchmark the example is filed
under (resnet) has a 50,000-sample accuracy data set and the checker counts them.
The labels come from the true weights plus noise; the model is the true weights, so its
accuracy is high but not 100 %, like a real one.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np

SAMPLES = 50_000
FEATURES = 16
CLASSES = 10
# A hidden layer gives each sample real work (~27k multiply-adds): with a bare linear
# model the SUT outran LoadGen's own bookkeeping, and TEST01's extra logging alone made
# the audit >10 % slower than its reference run.
HIDDEN = 1024
SEED = 20250601


def predict(inputs: np.ndarray, hidden: np.ndarray, weights: np.ndarray, logits: bool = False) -> np.ndarray:
    """The toy model: one tanh hidden layer; the class is the argmax of the logits."""
    out = np.tanh(inputs @ hidden) @ weights
    return out if logits else np.argmax(out, axis=1)


def make(out: Path) -> dict[str, float]:
    rng = np.random.default_rng(SEED)
    hidden = (rng.normal(size=(FEATURES, HIDDEN)) / np.sqrt(FEATURES)).astype(np.float32)
    weights = (rng.normal(size=(HIDDEN, CLASSES)) / np.sqrt(HIDDEN)).astype(np.float32)
    inputs = rng.normal(size=(SAMPLES, FEATURES)).astype(np.float32)
    logits = predict(inputs, hidden, weights, logits=True)
    noise = rng.normal(scale=0.25 * float(logits.std()), size=(SAMPLES, CLASSES)).astype(np.float32)
    labels = np.argmax(logits + noise, axis=1).astype(np.int32)
    out.mkdir(parents=True, exist_ok=True)
    np.save(out / "inputs.npy", inputs)
    np.save(out / "labels.npy", labels)
    np.save(out / "hidden.npy", hidden)
    np.save(out / "model.npy", weights)
    expected = float(np.mean(predict(inputs, hidden, weights) == labels))
    meta = {"samples": SAMPLES, "features": FEATURES, "classes": CLASSES, "seed": SEED, "expected_accuracy": expected}
    (out / "meta.json").write_text(json.dumps(meta, indent=2) + "\n", encoding="utf-8")
    return meta


def main() -> int:
    parser = argparse.ArgumentParser(prog="acme_harness.make_data")
    parser.add_argument("--out", required=True, type=Path)
    meta = make(parser.parse_args().out)
    print(f"acme: {meta['samples']} samples, model accuracy {100 * meta['expected_accuracy']:.3f}%", flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
