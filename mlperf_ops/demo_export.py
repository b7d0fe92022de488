"""The demo's model and data set, copied out of the image that made them.

The `cpu` image builds the demo as ResNet50 files (harness/demo_imagenet.py): the digits
classifier in resnet50_v1.onnx's signature and an ImageNet-layout validation set. The demo
manifest names them like any user's files (`model:` and `dataset:` with their sha256), so they
must be on the machine that runs `apply`: mounted read-only into the runs and checked against
their declared digests exactly as a real ImageNet set is. This module copies them from the
image into a directory on the host (`build/demo/` by default), once per image.
"""

from __future__ import annotations

import shutil
import tempfile
from pathlib import Path
from typing import Protocol

from mlperf_ops.errors import OperationalError
from mlperf_ops.execution import ContainerResult, ContainerSpec, Mount

IMAGE_DIR = "/opt/mlperf-ops/demo"  # where the Dockerfile's `harness demo` writes them
DEFAULT_OUT = Path("build/demo")
STAMP = ".image"  # the image tag the files came from: the same tag means nothing to copy
EXPORT_TIMEOUT_S = 600.0


class RunsContainers(Protocol):
    def run(self, spec: ContainerSpec, log_path: Path, on_line: None = None,
            timeout_s: float = 3600.0) -> ContainerResult: ...


def up_to_date(out_dir: Path, image_tag: str) -> bool:
    try:
        return (out_dir / STAMP).read_text("utf-8").strip() == image_tag
    except OSError:
        return False


def export(engine: RunsContainers, image_tag: str, out_dir: Path = DEFAULT_OUT,
           labels: dict[str, str] | None = None) -> bool:
    """Copy the demo files of `image_tag` into `out_dir`; False when they are already there.

    The copy goes into a new sibling directory that then replaces `out_dir`, so a failed or
    interrupted export never leaves a half-copied data set behind the old stamp.
    """
    out_dir = out_dir.absolute()
    if up_to_date(out_dir, image_tag):
        return False
    out_dir.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{out_dir.name}.", dir=out_dir.parent))
    try:
        # cp --preserve=links keeps the 50,000 names as hard links to the 450 distinct JPEGs.
        spec = ContainerSpec(
            image=image_tag,
            command=["cp", "-R", "--preserve=links", f"{IMAGE_DIR}/.", "/out/"],
            mounts=(Mount(staging, "/out", False),),
            network="none",
            labels={"org.mlperf-ops.managed": "true", **(labels or {})},
        )
        log = staging.parent / f"{staging.name}.log"
        result = engine.run(spec, log, None, EXPORT_TIMEOUT_S)
        output = log.read_text("utf-8", errors="replace").strip() if log.exists() else ""
        log.unlink(missing_ok=True)
        if result.exit_code != 0:
            raise OperationalError(f"copying the demo files out of {image_tag} failed "
                                   f"(exit {result.exit_code}): {output[-400:]}",
                                   hint="rebuild the image: mlperf-ops images build cpu")
        (staging / STAMP).write_text(image_tag + "\n", "utf-8")
        staging.chmod(0o755)  # mkdtemp's 0700 would hide the files from other users of the machine
        if out_dir.exists():
            retired = Path(tempfile.mkdtemp(prefix=f".{out_dir.name}.old.", dir=out_dir.parent))
            out_dir.rename(retired / out_dir.name)
            shutil.rmtree(retired, ignore_errors=True)
        staging.rename(out_dir)
    finally:
        if staging.exists():
            shutil.rmtree(staging, ignore_errors=True)
    return True
