"""Image build and container start costs, as ratios against baselines measured in the same run.

  python bench/bench_images.py [--repeat N]

- cold build: the cpu target with a private harness copy (a new content tag) and no layer
  cache; the base image and the wheel cache are reused (they are keyed separately).
- warm build: `ensure_image` for the same target again — a tag lookup, no build.
- container start-to-exit for `true` in the base image (our hardened defaults) vs `true` as a
  host process.
Needs a running engine (bash scripts/ensure-docker.sh). Removes the image it builds.
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import subprocess
import tempfile
import time
from pathlib import Path

from mlperf_ops.stacks import images
from mlperf_ops.execute.engine import Engine
from mlperf_ops.execute.executor import ContainerSpec

ROOT = Path(__file__).resolve().parents[1]


def timed(call) -> float:  # type: ignore[no-untyped-def]
    started = time.perf_counter()
    call()
    return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    engine = Engine.connect()
    target = images.load_target(ROOT / "images", "cpu")
    base = images.ensure_base(engine, images.load_rootfs(ROOT / "images", "base"), images.BuildSettings())

    with tempfile.TemporaryDirectory(prefix="bench-images-") as tmp:
        harness = Path(tmp) / "harness"
        shutil.copytree(images.DEFAULT_HARNESS_DIR, harness,
                        ignore=shutil.ignore_patterns("__pycache__"))
        (harness / "_bench_marker.py").write_text(f"# {time.time_ns()}\n")
        settings = images.BuildSettings(nocache=True)
        ref: images.ImageRef | None = None

        def cold() -> None:
            nonlocal ref
            ref = images.ensure_image(engine, target, harness, settings=settings)

        cold_s = timed(cold)
        assert ref is not None and ref.built
        warm = [timed(lambda: images.ensure_image(engine, target, harness, settings=settings))
                for _ in range(args.repeat)]
        size_mb = (engine.image_info(ref.tag).size_bytes or 0) / 1e6  # type: ignore[union-attr]
        engine.remove_image(ref.tag)

    log = Path(tempfile.mkdtemp(prefix="bench-run-")) / "true.log"
    spec = ContainerSpec(image=base.tag, command=["true"], labels={"org.mlperf-ops.bench": "images"})
    container = [timed(lambda: engine.run(spec, log, None, timeout_s=60)) for _ in range(args.repeat)]
    host = [timed(lambda: subprocess.run(["true"], check=True)) for _ in range(args.repeat)]
    shutil.rmtree(log.parent, ignore_errors=True)

    warm_s, container_s, host_s = (statistics.median(x) for x in (warm, container, host))
    print(f"cold build (no layer cache, cached wheels): {cold_s:8.2f} s   image {size_mb:.0f} MB")
    print(f"warm ensure_image (median of {args.repeat}):      {warm_s * 1e3:8.2f} ms")
    print(f"  cold / warm ratio:                        {cold_s / warm_s:10.0f}x")
    print(f"container `true` start-to-exit (median):    {container_s * 1e3:8.1f} ms")
    print(f"host `true` (median):                       {host_s * 1e3:8.1f} ms")
    print(f"  container / host ratio:                   {container_s / host_s:10.1f}x")


if __name__ == "__main__":
    main()
