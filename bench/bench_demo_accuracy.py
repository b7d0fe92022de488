"""The demo's accuracy run through the ResNet50 path, against the digits path it replaced.

    python bench/bench_demo_accuracy.py [--scenario Offline]

The demo used to render its 50,000 samples from 8x8 digits in memory (harness/dataset.py);
it now reads an ImageNet-layout set of JPEGs and decodes them in the sample library's load
step like a real ResNet50 run (harness/imagenet.py; 450 distinct images behind 50,000 names,
decoded once thanks to the content-keyed sample cache). Both paths are still in the harness,
so both are measured here on this host, the same model behind each (the digits MLP): the
`harness train` files for the digits path, the `harness demo` files for the ResNet50 path.

Figure (alternating pairs, dist/bench.json):
  demo_accuracy_resnet_path  wall time of one AccuracyOnly run (50,000 samples, LoadGen's
                             load/unload chunks included) on the ResNet50 path / on the
                             digits path (bar <= 1.5: the demo's accuracy runs, and so
                             `make submission`, stay within 1.5x of what they took before)
"""

from __future__ import annotations

import argparse
import re
import subprocess
import sys
import tempfile
from pathlib import Path

from bench_harness import _env, host_runner
from figures import Figure, Noise, alternating_pairs, pair_count, report, timed

ACCURACY = re.compile(r"accuracy=([\d.]+)%, good=(\d+), total=(\d+)")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--scenario", default="Offline", choices=["Offline", "SingleStream"])
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="bench-demo-") as tmp:
        root = Path(tmp)
        for command, out in (("train", root / "models"), ("demo", root / "demo")):
            subprocess.run([sys.executable, "-m", "mlperf_ops.harness", command, "--out", str(out)],
                           env=_env({}), check=True, capture_output=True)
        common = {"MLPERF_SCENARIO": args.scenario, "MLPERF_MODE": "AccuracyOnly",
                  "MLPERF_HARNESS_PROGRESS_SECONDS": "0", "MLPERF_ORT_INTRA_OP_THREADS": "1"}
        digits_env = {**common, "MLPERF_MODEL_DIR": str(root / "models")}
        resnet_env = {**common, "MLPERF_MODEL_PATH": str(root / "demo" / "digits_resnet50_v1.onnx"),
                      "MLPERF_DATASET_PATH": str(root / "demo" / "val")}
        lines: dict[str, str] = {}

        def run(name: str, env: dict[str, str]) -> float:
            config, output = root / f"{name}-config", root / f"{name}-output"
            for folder in (config, output):
                folder.mkdir(exist_ok=True)
            (config / "user.conf").write_text("")
            seconds = timed(lambda: host_runner(config, output, env))
            lines[name] = (output / "accuracy.txt").read_text().strip()
            return seconds

        noise = Noise()
        pairs = alternating_pairs(lambda: run("digits", digits_env), lambda: run("resnet", resnet_env),
                                  pair_count(), noise)
    for name, line in sorted(lines.items()):
        match = ACCURACY.fullmatch(line)
        if match is None or int(match.group(3)) != 50_000:
            print(f"the {name} path's accuracy run did not score 50,000 samples: {line!r}", file=sys.stderr)
            return 1
        print(f"{name:6} path, {args.scenario} accuracy run: {line}")
    print("seconds per run (digits, resnet): " + ", ".join(f"({b:.1f}, {s:.1f})" for b, s in pairs))
    report(Figure("demo_accuracy_resnet_path", [s / b for b, s in pairs], bar=1.5, higher_is_better=False,
                  noise=noise, tolerance=0.25,
                  what=f"{args.scenario} accuracy run of the demo (50,000 samples): ResNet50 path (JPEGs, "
                       "imagenet.py) / digits path (in-memory digits) wall time, same classifier"))
    return 0


if __name__ == "__main__":
    sys.exit(main())
