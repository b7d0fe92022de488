"""Does the ResNet50 sample library keep up? Offline samples/s with a free model, against LoadGen's null SUT.

    python bench/bench_resnet_qsl.py [--images 1024] [--min-duration-ms 2000]

The ResNet50 harness (mlperf_ops/harness/imagenet.py) decodes the JPEGs when LoadGen loads
them (outside the timed section); in the timed section it gathers each query's loaded
samples (3x224x224 float32, 602 KB each) into the batch the model takes. Here the model is
replaced by the `identity` backend (takes the batch, answers at once), so what is measured
is that gathering plus the harness's and LoadGen's own work, on a synthetic ImageNet-layout
set of 500x375 JPEGs with a val_map.txt.

Figure (alternating pairs, dist/bench.json):
  resnet_qsl_null_offline  Offline samples/s: harness with the identity backend / a minimal
                           LoadGen loop (the null SUT, no data at all). The bar: the sample
                           library must not be what limits a fast accelerator, i.e. it must
                           deliver at least REQUIRED_SPS samples/s — a bar on the ratio of
                           REQUIRED_SPS / the null SUT's rate in the same run.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
from pathlib import Path

import numpy as np
from bench_harness import host_runner, measure_minimal, measure_offline
from figures import Figure, Noise, alternating_pairs, pair_count, report

# The closed edge example's L4 Offline target (manifests/example-closed-edge.yaml): a
# sample library slower than this would hold a real accelerator back.
REQUIRED_SPS = 12000


def write_set(root: Path, count: int) -> None:
    import cv2

    rng = np.random.default_rng(5)
    y, x = np.mgrid[0:375, 0:500]
    base = (127 + 60 * np.sin(x / 9.0)[..., None] * np.cos(y / 13.0)[..., None]).astype(np.float64)
    lines = []
    for i in range(count):
        image = np.clip(base + rng.normal(0, 20, (375, 500, 3)), 0, 255).astype(np.uint8)
        name = f"ILSVRC2012_val_{i + 1:08d}.JPEG"
        ok, data = cv2.imencode(".jpg", image, [cv2.IMWRITE_JPEG_QUALITY, 90])
        assert ok
        (root / name).write_bytes(data.tobytes())
        lines.append(f"{name} {i % 1000}\n")
    (root / "val_map.txt").write_text("".join(lines))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--images", type=int, default=1024, help="resnet50's performance sample count")
    parser.add_argument("--min-duration-ms", type=int, default=2000)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="bench-resnet-") as tmp:
        data = Path(tmp) / "val"
        data.mkdir()
        write_set(data, args.images)
        model = Path(tmp) / "resnet50_v1.onnx"
        model.write_bytes(b"")  # never opened by the identity backend
        env = {"MLPERF_BENCHMARK": "resnet", "MLPERF_MODEL_PATH": str(model), "MLPERF_DATASET_PATH": str(data),
               "MLPERF_HARNESS_BACKEND": "identity"}
        noise = Noise()
        pairs = alternating_pairs(
            lambda: measure_minimal(min_duration_ms=args.min_duration_ms),
            lambda: measure_offline(host_runner, env, guess_qps=20000, min_duration_ms=args.min_duration_ms),
            pair_count(), noise)
    identity = statistics.median(s for _, s in pairs)
    null = statistics.median(b for b, _ in pairs)
    print(f"ResNet50 harness, identity backend Offline : {identity:12.0f} samples/s (median)")
    print(f"null SUT (minimal LoadGen loop)    Offline : {null:12.0f} samples/s (median)")
    print(f"ratio                                      : {identity / null:12.4f}  "
          f"(bar {REQUIRED_SPS / null:.4f} = {REQUIRED_SPS} samples/s)")
    report(Figure("resnet_qsl_null_offline", [s / b for b, s in pairs], bar=REQUIRED_SPS / null,
                  higher_is_better=True, noise=noise,
                  what="Offline samples/s: ResNet50 harness with an identity-cost model / LoadGen's null SUT "
                       f"(bar: {REQUIRED_SPS} samples/s, the closed edge example's L4 target)",
                  extra={"identity_sps": round(identity), "null_sps": round(null), "images": args.images}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
