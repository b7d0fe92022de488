"""Which harness really serves a closed or network benchmark.

Filing results under an official name in the closed (or network) division claims the
reference model on the reference data set. A benchmark without `command:` runs its image's
own CMD — for our images the built-in harness — so that image must say, in its
image.yaml's `serves:`, that it runs the benchmark for real and which artifacts it needs.
Without this check the digits demo would happily run under the name `resnet` and its 97 %
would clear the closed target: nothing later in the chain could tell.

The demo's own files (the digits classifier in resnet50_v1.onnx's signature, the digits as an
ImageNet-layout set) would pass that test, so their digests are refused there too.

A benchmark with `command:` runs the submitter's own harness: the claim is theirs
(docs/harness.md), as it is for any vendor submission.
"""

from __future__ import annotations

from pathlib import Path

from mlperf_ops.stacks import demo_export
from mlperf_ops.core.errors import Problem
from mlperf_ops.stacks.images import image_serves
from mlperf_ops.manifest.model import BenchmarkSpec, Manifest
from mlperf_ops.manifest.source import SourceDoc

STRICT_DIVISIONS = ("closed", "network")


def harness_problems(doc: SourceDoc, manifest: Manifest, images_dir: Path, targets: list[str],
                     system_index: int, bench_index: int) -> list[Problem]:
    """The honesty problems of one benchmark (empty outside the closed/network divisions)."""
    system = manifest.systems[system_index]
    bench: BenchmarkSpec = system.benchmarks[bench_index]
    if manifest.division not in STRICT_DIVISIONS or bench.command:
        return []
    image = bench.image or system.image
    if image not in targets:
        return []  # crosscheck already reports the unknown target
    bpath: tuple[str | int, ...] = ("systems", system_index, "benchmarks", bench_index)
    serves = image_serves(images_dir, image)
    if bench.official not in serves:
        served = ", ".join(sorted(serves)) or "nothing"
        return [doc.problem(
            (*bpath, "name"),
            f"{bench.name!r} would run on the harness of image {image!r}, which does not serve "
            f"{bench.official} as the real benchmark (images/{image}/image.yaml serves: {served}); "
            f"the {manifest.division} division needs the reference model and data set",
            f"bring your harness: add `command:` (and `accuracy_command:`) and an `image:` of yours "
            f"(docs/harness.md), or submit in the open division as a custom model with "
            f"`maps_to: {bench.official}`")]
    declared = {"model": bench.model, "dataset": bench.dataset}
    missing = [name for name in serves[bench.official] if declared.get(name) is None]
    if missing:
        what = " and ".join(f"`{m}:`" for m in missing)
        return [doc.problem(
            (*bpath, "name"),
            f"the harness of image {image!r} serves {bench.official} only with the reference files: "
            f"{bench.name!r} declares no {what}",
            "add e.g. `model: {path: /models/resnet50_v1.onnx, sha256: …}` and "
            "`dataset: {path: /data/imagenet/val, sha256: …}` (`mlperf-ops digest PATH` prints the digest)")]
    demo = {"model": demo_export.MODEL_SHA256, "dataset": demo_export.DATASET_SHA256}
    return [doc.problem(
        (*bpath, name, "sha256"),
        f"{bench.name!r} declares the built-in demo's {name} (the digits classifier's files made "
        f"with the cpu image), not the reference's: it cannot run in the {manifest.division} division",
        f"point `{name}:` at the reference file and its digest, or submit the demo in the open "
        f"division as a custom model with `maps_to: {bench.official}` (manifests/demo.yaml)")
        for name, artifact in declared.items() if artifact is not None and artifact.sha256 == demo[name]]
