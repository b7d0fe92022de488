"""The demo's model and data set, copied out of the image that made them.

The `cpu` image builds the demo as ResNet50 files (harness/demo_imagenet.py): the digits
classifier in resnet50_v1.onnx's signature and an ImageNet-layout validation set. The demo
manifest names them like any user's files (`model:` and `dataset:` with their sha256), so they
must be on the machine that runs `apply`: mounted read-only into the runs and checked against
their declared digests exactly as a real ImageNet set is. This module copies them from the
image into a directory on the host (`build/demo/` by default), once per image.
"""

from __future__ import annotations

import fcntl
import os
import shutil
import tempfile
from pathlib import Path
from typing import Protocol

from mlperf_ops.core.errors import OperationalError
from mlperf_ops.execute.executor import ContainerResult, ContainerSpec, Mount

# What `harness demo` makes, on every machine (manifests/demo.yaml declares them;
# tests/test_demo_resnet.py builds the files and compares). The closed and network divisions
# refuse them (manifest/honesty.py): they are the digits classifier, not the reference's files.
MODEL_SHA256 = "28994a103372ca3347ac5ab0eb8a577a8298c000a97648c708be845f61b28db4"
DATASET_SHA256 = "8f38b6f52c61a0dd444fef675d01c0c100f7a545da2d324400c2c9db35857f48"
DEFAULT_OUT = Path("build/demo")  # relative to the project directory, where the manifest names them
# Where the Dockerfile's `harness demo` writes them: the same relative path under /opt/mlperf-ops,
# the project directory of a controller image built on the cpu image (a pod's working directory).
IMAGE_DIR = f"/opt/mlperf-ops/{DEFAULT_OUT.as_posix()}"


def carried_by_controller(path: str) -> bool:
    """A relative artifact path that every cpu-based controller image holds in its project directory."""
    parts = Path(os.path.normpath(path)).parts
    return not Path(path).is_absolute() and parts[:len(DEFAULT_OUT.parts)] == DEFAULT_OUT.parts
STAMP = ".image"
METADATA = "demo.json"  # written by the build, holds the model's and the data set's digests
MODEL_FILE = "digits_resnet50_v1.onnx"  # harness/demo_imagenet.py's names (importing it would load numpy)
DATASET_DIR = "val"  # the image tag the files came from: the same tag means nothing to copy
EXPORT_TIMEOUT_S = 600.0


class RunsContainers(Protocol):
    def run(self, spec: ContainerSpec, log_path: Path, on_line: None = None,
            timeout_s: float = 3600.0) -> ContainerResult: ...


def _complete(out_dir: Path) -> bool:
    return (out_dir / MODEL_FILE).is_file() and (out_dir / DATASET_DIR / "val_map.txt").is_file()


def _same_files(new: Path, old: Path) -> bool:
    """The image's demo.json (both digests) equals the one already there, whose files are there."""
    try:
        return (new / METADATA).read_bytes() == (old / METADATA).read_bytes() and _complete(old)
    except OSError:
        return False


def up_to_date(out_dir: Path, image_tag: str) -> bool:
    """Copied from this image, and not deleted since (a changed file is for apply's digest check)."""
    try:
        stamped = (out_dir / STAMP).read_text("utf-8").strip() == image_tag
    except OSError:
        return False
    return stamped and _complete(out_dir)


def export(engine: RunsContainers, image_tag: str, out_dir: Path = DEFAULT_OUT,
           labels: dict[str, str] | None = None) -> bool:
    """Copy the demo files of `image_tag` into `out_dir`; False when they came from it already.

    The copy goes into a new sibling directory that then replaces `out_dir`, so a failed or
    interrupted export never leaves a half-copied data set behind the old stamp; when the
    image made the same files (its demo.json is the same), the ones there stay and only the
    stamp changes.
    """
    out_dir = out_dir.absolute()
    if up_to_date(out_dir, image_tag):
        return False
    out_dir.parent.mkdir(parents=True, exist_ok=True)
    with open(out_dir.parent / f".{out_dir.name}.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # two exports at once (make, a test) copy one after the other
        if up_to_date(out_dir, image_tag):
            return False
        return _copy(engine, image_tag, out_dir, labels)


def _copy(engine: RunsContainers, image_tag: str, out_dir: Path, labels: dict[str, str] | None) -> bool:
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
        if _same_files(staging, out_dir):
            # Another image (a harness edit) made the same bytes, as the build is deterministic:
            # keep the files a running apply may have mounted, and only note the new image.
            (out_dir / STAMP).write_text(image_tag + "\n", "utf-8")
            return True
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
