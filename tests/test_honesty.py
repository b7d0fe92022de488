"""A closed or network benchmark must run on a harness that serves it for real (issue 11).

The built-in harness's demo model would clear resnet's closed accuracy target; only the
image's `serves:` declaration (or the submitter's own `command:`) lets a closed benchmark run.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from mlperf_ops.core.errors import Problem
from mlperf_ops.stacks.images import image_serves
from mlperf_ops.manifest import check_manifest

REPO = Path(__file__).resolve().parents[1]
SHA = "ab" * 32

CLOSED = """\
version: 1
round: v6.1
submitter: CorpusCorp
division: {division}
status: available
system_type: edge
pipeline: smoke
systems:
  - id: sut-a
    image: {image}
    benchmarks:
      - name: {name}
{extra}        scenarios:
          SingleStream: {{target_latency: 0.5}}
          MultiStream: {{target_latency: 4}}
          Offline: {{target_qps: 100}}
"""
MODEL = f"        model: {{path: /models/resnet50_v1.onnx, sha256: {SHA}}}\n"
DATASET = f"        dataset: {{path: /data/imagenet/val, sha256: {SHA}}}\n"


@pytest.fixture(scope="module")
def project(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The project's pipelines and cpu image, plus `served` (declares resnet) and `child` (FROM served)."""
    root = tmp_path_factory.mktemp("project")
    shutil.copytree(REPO / "pipelines", root / "pipelines")
    for name in ("base", "cpu"):
        shutil.copytree(REPO / "images" / name, root / "images" / name)
    served = root / "images" / "served"
    shutil.copytree(REPO / "images" / "cpu", served)
    text = (served / "image.yaml").read_text("utf-8")
    assert text.endswith("serves:\n  resnet: [model, dataset]\n")  # the built-in harness's claim
    plain = root / "images" / "plain"  # an image that claims nothing
    shutil.copytree(REPO / "images" / "cpu", plain)
    (plain / "image.yaml").write_text(text.replace("serves:\n  resnet: [model, dataset]\n", ""), "utf-8")
    child = root / "images" / "child"
    shutil.copytree(REPO / "images" / "cpu", child)
    text = (child / "image.yaml").read_text("utf-8").replace("base:\n  rootfs: base", "base:\n  target: served")
    (child / "image.yaml").write_text(text, "utf-8")
    return root


def _check(project: Path, *, division: str = "closed", image: str = "cpu", name: str = "resnet",
           extra: str = "") -> list[Problem]:
    path = project / "m.yaml"
    path.write_text(CLOSED.format(division=division, image=image, name=name, extra=extra), "utf-8")
    manifest, problems = check_manifest(path, project)
    assert manifest is not None
    return problems


def test_the_shipped_edge_example_as_it_was_is_refused_with_the_honesty_error(tmp_path: Path) -> None:
    """The acceptance line: the example as first shipped (no `command:`) fails `validate`."""
    # manifests/example-closed-edge.yaml as commit 0d6d928 shipped it (kept as data: a shallow
    # clone has no history to read it from)
    old = (REPO / "tests" / "data" / "example-closed-edge-as-first-shipped.yaml").read_text("utf-8")
    assert "command: [python3, -m, harness_bert, run]" in old and "harness_resnet" not in old
    path = tmp_path / "example-closed-edge.yaml"
    path.write_text(old, "utf-8")
    env = {**os.environ, "MLPERF_OPS_PROJECT": str(REPO)}
    result = subprocess.run([sys.executable, "-m", "mlperf_ops", "validate", str(path)],
                            cwd=REPO, env=env, capture_output=True, text=True, timeout=60)
    assert result.returncode == 2, result.stderr
    lines = [line for line in result.stderr.splitlines() if "would run on the harness" in line]
    assert len(lines) == 1, result.stderr
    assert ":40:15: systems[0].benchmarks[0].name: 'resnet' would run on the harness of image 'nvidia-cuda'" in lines[0]
    assert "`command:`" in result.stderr and "`maps_to: resnet`" in result.stderr
    assert "bert-99" not in result.stderr, "bert-99 names its own command: the claim is the submitter's"


def test_the_shipped_edge_example_shows_the_right_way() -> None:
    manifest, problems = check_manifest(REPO / "manifests" / "example-closed-edge.yaml")
    assert problems == [] and manifest is not None
    assert all(b.command for s in manifest.systems for b in s.benchmarks)


def test_an_image_that_declares_nothing_serves_nothing(project: Path) -> None:
    assert image_serves(project / "images", "plain") == {}
    [problem] = _check(project, image="plain", extra=MODEL + DATASET)
    assert "image 'plain', which does not serve resnet" in problem.message
    assert "serves: nothing" in problem.message


def test_the_digits_demo_cannot_be_filed_as_closed_resnet(project: Path) -> None:
    """The cpu image serves resnet only from the user's model and data set, never its digits model."""
    assert image_serves(REPO / "images", "cpu") == {"resnet": ("model", "dataset")}
    [problem] = _check(project)
    assert "image 'cpu' serves resnet only with the reference files: 'resnet' declares no `model:` and " \
           "`dataset:`" in problem.message
    assert _check(project, extra=MODEL + DATASET) == []


@pytest.mark.parametrize("division", ["closed", "network"])
def test_own_command_is_the_submitters_claim(project: Path, division: str) -> None:
    problems = _check(project, division=division, extra="        command: [python3, -m, mine]\n")
    assert not [p for p in problems if "harness" in p.message], problems


def test_open_division_with_maps_to_runs_the_demo(project: Path) -> None:
    assert _check(project, division="open", name="digits-mlp", extra="        maps_to: resnet\n") == []


def test_a_serving_image_needs_the_artifacts_it_names(project: Path) -> None:
    assert image_serves(project / "images", "served") == {"resnet": ("model", "dataset")}
    [problem] = _check(project, image="served")
    assert "serves resnet only with the reference files: 'resnet' declares no `model:` and `dataset:`" \
        in problem.message
    [problem] = _check(project, image="served", extra=MODEL)
    assert "declares no `dataset:`" in problem.message
    assert _check(project, image="served", extra=MODEL + DATASET) == []


def test_a_target_built_from_a_serving_image_inherits_its_claim(project: Path) -> None:
    assert image_serves(project / "images", "child") == {"resnet": ("model", "dataset")}
    assert _check(project, image="child", extra=MODEL + DATASET) == []


def test_a_serving_image_serves_only_what_it_names(project: Path) -> None:
    path = project / "m.yaml"
    path.write_text(CLOSED.format(division="closed", image="served", name="bert-99", extra=MODEL + DATASET)
                    .replace("          MultiStream: {target_latency: 4}\n", ""), "utf-8")
    _, problems = check_manifest(path, project)
    assert [p.message for p in problems] == [
        "'bert-99' would run on the harness of image 'served', which does not serve bert-99 as the real "
        "benchmark (images/served/image.yaml serves: resnet); the closed division needs the reference "
        "model and data set"]
