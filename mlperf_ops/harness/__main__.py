"""`python3 -m harness {train,demo,run,accuracy}` (on the host: `python -m mlperf_ops.harness`).

Exit codes: 0 done (for `run`: LoadGen finished; validity is in the summary),
1 operational failure, 2 bad input. Errors are one `error:` line plus a `hint:` line.
"""

from __future__ import annotations

import os
import sys

# One BLAS/OpenMP thread unless told otherwise: must be set before numpy loads.
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
os.environ.setdefault("OMP_NUM_THREADS", "1")
if sys.argv[1:2] == ["demo"]:
    # The demo's files have declared digests: train on one BLAS kernel on every CPU
    # (demo_imagenet.OPENBLAS_CORETYPE; OpenBLAS reads it when numpy loads).
    os.environ["OPENBLAS_CORETYPE"] = "Prescott"

import argparse  # noqa: E402
from pathlib import Path  # noqa: E402

from .errors import HarnessError, run_reporting  # noqa: E402


def _train(args: argparse.Namespace) -> int:
    from . import model

    meta = model.train(Path(args.out))
    print(f"harness: wrote {args.out}/{model.MODEL_FILE} sha256={meta['sha256']} "
          f"held-out accuracy={100 * meta['heldout_accuracy']:.2f}%", flush=True)
    return 0


def _demo(args: argparse.Namespace) -> int:
    from . import demo_imagenet

    meta = demo_imagenet.build(Path(args.out))
    print(f"harness: wrote {args.out}/{meta['model_file']} sha256={meta['model_sha256']} and "
          f"{args.out}/{meta['dataset_dir']}/ ({meta['images']} images, {meta['distinct_images']} distinct); "
          f"held-out top-1 through the ResNet50 preprocessing={100 * meta['heldout_top1_onnx_on_jpegs']:.2f}%",
          flush=True)
    return 0


def _run(args: argparse.Namespace) -> int:
    from . import runner

    return runner.run(os.environ)


def _accuracy(args: argparse.Namespace) -> int:
    import numpy as np

    from . import accuracy, dataset

    imagenet_dir = args.val_map_dir or os.environ.get("MLPERF_DATASET_PATH", "").strip()
    if imagenet_dir and not args.labels:
        # ResNet50 on the ImageNet layout: the reference accuracy script's labels and dtype.
        from . import imagenet

        labels = imagenet.ValMap.read(Path(imagenet_dir)).labels
        dtype = args.dtype or "float32"
    else:
        labels_path = Path(args.labels) if args.labels else Path(
            os.environ.get("MLPERF_MODEL_DIR", "/opt/mlperf-ops/models")) / dataset.LABELS_FILE
        if not labels_path.is_file():
            raise HarnessError(f"labels file not found: {labels_path}", hint="pass --labels or set MLPERF_MODEL_DIR")
        labels, dtype = np.load(labels_path), args.dtype or "int64"
    result = accuracy.score(Path(args.log), labels, dtype)
    if args.out:
        accuracy.write(result, Path(args.out))
    print(result.line(), flush=True)
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="harness", description="mlperf-ops built-in LoadGen harness (demo digits model)")
    sub = parser.add_subparsers(dest="command", required=True)
    train = sub.add_parser("train", help="train and export the demo model (deterministic)")
    train.add_argument("--out", required=True, help="model directory to write")
    train.set_defaults(func=_train)
    demo = sub.add_parser("demo", help="the demo as ResNet50 files: the digits model in resnet50_v1.onnx's "
                          "signature and an ImageNet-layout validation set (deterministic)")
    demo.add_argument("--out", required=True, help="directory to create")
    demo.set_defaults(func=_demo)
    run = sub.add_parser("run", help="one LoadGen run configured by MLPERF_* environment variables")
    run.set_defaults(func=_run)
    acc = sub.add_parser("accuracy", help="top-1 accuracy of an mlperf_log_accuracy.json")
    acc.add_argument("--log", required=True, help="mlperf_log_accuracy.json")
    acc.add_argument("--labels", help="eval_labels.npy (default: $MLPERF_MODEL_DIR/eval_labels.npy)")
    acc.add_argument("--out", help="write the accuracy line here (accuracy.txt)")
    acc.add_argument("--val-map-dir", help="an ImageNet-layout data set: score against its val_map.txt "
                     "(default: $MLPERF_DATASET_PATH when set)")
    acc.add_argument("--dtype", choices=["int64", "int32", "float32", "uint8"],
                     help="the logged data's type (default: float32 for ImageNet, as the reference; else int64)")
    acc.set_defaults(func=_accuracy)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    return run_reporting(lambda: int(args.func(args)))

if __name__ == "__main__":
    sys.exit(main())
