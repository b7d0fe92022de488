"""Build the real cpu image offline, then show the content tag makes the next call a no-op."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from mlperf_ops.stacks import images
from mlperf_ops.execute.engine import Engine
from mlperf_ops.execute.executor import ContainerSpec

pytestmark = [pytest.mark.docker, pytest.mark.slow]

PROJECT_IMAGES = Path(__file__).resolve().parents[1] / "images"
HARNESS = Path(images.__file__).resolve().parents[1] / "harness"


def test_cpu_image_builds_offline_and_is_reused(engine: Engine, docker_labels, tmp_path):
    if not (HARNESS / "__main__.py").is_file():
        pytest.fail("mlperf_ops/harness/__main__.py is missing: the cpu image trains its model with it")
    target = images.load_target(PROJECT_IMAGES, "cpu")
    events: list[images.ImageEvent] = []
    first = images.ensure_image(engine, target, HARNESS, on_event=events.append)
    assert first.tag == images.image_tag(target, HARNESS)
    info = engine.image_info(first.tag)
    assert info is not None
    assert info.labels["org.mlperf-ops.managed"] == "true"
    assert info.labels["org.mlperf-ops.target"] == "cpu"
    assert info.labels["org.mlperf-ops.spec-hash"] == first.spec_hash
    assert info.labels["org.mlperf-ops.tool-version"]

    started = time.monotonic()
    second = images.ensure_image(engine, target, HARNESS)
    elapsed = time.monotonic() - started
    assert not second.built
    assert second.reason == f"up to date: image {first.tag} exists"
    assert second.image_id == first.image_id
    print(f"second ensure_image: {elapsed:.3f}s")  # reported, not asserted (noisy machines)

    # The image serves what the harness needs, as a non-root user, with no network.
    probe = ("import mlperf_loadgen, onnxruntime, numpy, sklearn, os; "
             "print(onnxruntime.get_available_providers()); "
             "print(sorted(os.listdir('/opt/mlperf-ops/models')))")
    lines: list[str] = []
    result = engine.run(
        ContainerSpec(image=first.tag, command=["python3", "-c", probe], user="4242:4242",
                      labels=docker_labels),
        tmp_path / "probe.log", lines.append, timeout_s=120,
    )
    assert result.exit_code == 0, lines
    # No runtime warnings either (e.g. onnxruntime failing to write under an unwritable HOME).
    assert len(lines) == 2, lines
    assert "CPUExecutionProvider" in lines[0]
    assert "digits.onnx" in lines[1]
