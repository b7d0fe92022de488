"""The built-in ResNet50 harness (issue 11): the reference's preprocessing, signature and accuracy.

Preprocessing is compared with numbers the MLCommons reference code computed
(tests/data/imagenet_reference/SOURCE.md); the accuracy line with a top-1 this test knows
from how it built the data set and the model (tests/support/resnet_fixtures.py), and with what the
ONNX model itself answers on inputs the test prepares without the harness.
"""

from __future__ import annotations

import hashlib
import json
import re
import shutil
from pathlib import Path

import numpy as np
import pytest

from mlperf_ops.harness import imagenet
from mlperf_ops.harness.accuracy import score
from mlperf_ops.core.loadgen_log import parse_detail, parse_summary
from tests.support.resnet_fixtures import MEANS, PALETTE, Synthetic, write_imagenet, write_model
from tests.support.harness_runs import base_env, harness

REFERENCE = Path(__file__).resolve().parent / "data" / "imagenet_reference"
ACCURACY_LINE = re.compile(r"accuracy=(\d+\.\d{3})%, good=(\d+), total=(\d+)")


def _reference() -> dict[str, dict[str, object]]:
    images: dict[str, dict[str, object]] = json.loads((REFERENCE / "REFERENCE.json").read_text())["images"]
    return images


@pytest.mark.parametrize("name", sorted(_reference()))
def test_preprocessing_matches_the_reference_numbers(name: str) -> None:
    expected = _reference()[name]
    got = imagenet.preprocess_file(REFERENCE / name)
    assert got.dtype == np.float32 and list(got.shape) == expected["shape"] == [3, 224, 224]
    values = expected["values"]
    assert isinstance(values, dict)
    for where, value in values.items():
        c, h, w = (int(x) for x in where.split(","))
        assert got[c, h, w] == pytest.approx(value, abs=1e-4), where
    assert float(got.astype(np.float64).sum()) == pytest.approx(expected["sum"], rel=1e-9)
    assert hashlib.sha256(got.tobytes()).hexdigest() == expected["sha256"]


def test_resize_keeps_the_reference_integer_arithmetic() -> None:
    # int(256 * h / w) on the longer side, 256 on the shorter; square stays 256x256
    assert imagenet.resized_shape(375, 500) == (256, 341)
    assert imagenet.resized_shape(500, 333) == (384, 256)
    assert imagenet.resized_shape(224, 224) == (256, 256)
    assert imagenet.resized_shape(150, 200) == (256, 341)


def test_val_map_problems_are_named(tmp_path: Path) -> None:
    from mlperf_ops.harness.errors import HarnessError

    (tmp_path / "val_map.txt").write_text("ILSVRC2012_val_00000001.JPEG 65\n")
    with pytest.raises(HarnessError, match="1 image\\(s\\) listed in .* are missing, e.g. ILSVRC2012_val_00000001"):
        imagenet.ValMap.read(tmp_path)
    (tmp_path / "val_map.txt").write_text("ILSVRC2012_val_00000001.JPEG sixty-five\n")
    with pytest.raises(HarnessError, match="val_map.txt:1: expected `<file> <label>`"):
        imagenet.ValMap.read(tmp_path)


# --- a real LoadGen run of the harness on a synthetic set -----------------------------------


@pytest.fixture(scope="module")
def synthetic(tmp_path_factory: pytest.TempPathFactory) -> tuple[Synthetic, Path]:
    root = tmp_path_factory.mktemp("resnet")
    data = write_imagenet(root / "val")
    model = root / "resnet50_v1.onnx"
    write_model(model)
    return data, model


def test_the_model_answers_what_the_test_built(synthetic: tuple[Synthetic, Path]) -> None:
    """The tiny model, run without the harness on inputs made here, gives palette k as class k+1."""
    import onnxruntime as ort

    _, model = synthetic
    session = ort.InferenceSession(str(model), providers=["CPUExecutionProvider"])
    assert [i.name for i in session.get_inputs()] == ["input_tensor:0"]
    assert [o.name for o in session.get_outputs()] == ["ArgMax:0", "softmax_tensor:0"]
    batch = np.empty((len(PALETTE), 3, 224, 224), dtype=np.float32)
    batch[:] = (PALETTE - MEANS).astype(np.float32)[:, :, None, None]
    classes, probabilities = session.run(None, {"input_tensor:0": batch})
    assert classes.tolist() == list(range(1, 9)) and probabilities.shape == (8, 1001)


def _run(tmp: Path, data: Path, model: Path, mode: str, scenario: str, conf: str = "") -> tuple[int, str, Path]:
    config, output = tmp / "config", tmp / "output"
    config.mkdir(parents=True)
    output.mkdir()
    (config / "user.conf").write_text(conf)
    env = base_env()
    env.update(MLPERF_BENCHMARK="resnet", MLPERF_LOADGEN_MODEL="resnet50", MLPERF_SCENARIO=scenario,
               MLPERF_MODE=mode, MLPERF_CONFIG_DIR=str(config), MLPERF_OUTPUT_DIR=str(output),
               MLPERF_MODEL_PATH=str(model), MLPERF_DATASET_PATH=str(data), MLPERF_HARNESS_PROGRESS_SECONDS="0")
    proc = harness(["run"], env, config)
    return proc.returncode, proc.stdout + proc.stderr, output


def test_accuracy_run_reports_the_independent_top1(synthetic: tuple[Synthetic, Path], tmp_path: Path) -> None:
    data, model = synthetic
    code, log, output = _run(tmp_path, data.dir, model, "AccuracyOnly", "Offline")
    assert code == 0, log
    line = (output / "accuracy.txt").read_text()
    match = ACCURACY_LINE.fullmatch(line.strip())
    assert match, line
    good, total = data.expected_top1
    assert (total, good) == (24, 16)  # every third label is wrong, by construction
    assert (int(match.group(2)), int(match.group(3))) == (good, total)
    assert match.group(1) == f"{100 * good / total:.3f}"
    # The log holds one float32 label per sample, as the reference's accuracy script reads it.
    entries = json.loads((output / "mlperf_log_accuracy.json").read_text())
    answers = {e["qsl_idx"]: float(np.frombuffer(bytes.fromhex(e["data"]), np.float32)[0]) for e in entries}
    assert answers == {i: float(c) for i, c in enumerate(data.colours)}
    assert score(output / "mlperf_log_accuracy.json", np.asarray(data.labels), "float32").good == good
    assert parse_detail(output / "mlperf_log_detail.txt").errors == []


def test_offline_performance_run_is_valid(synthetic: tuple[Synthetic, Path], tmp_path: Path) -> None:
    data, model = synthetic
    conf = "*.Offline.min_duration = 200\n*.Offline.target_qps = 100000\nresnet50.Offline.min_query_count = 1\n"
    code, log, output = _run(tmp_path, data.dir, model, "PerformanceOnly", "Offline", conf)
    assert code == 0, log
    summary = parse_summary(output / "mlperf_log_summary.txt")
    assert summary.valid, (output / "mlperf_log_summary.txt").read_text()
    assert "loading 24 samples" in log, "images are decoded in the QSL's load step"


@pytest.mark.parametrize("scenario", ["SingleStream", "MultiStream", "Server"])
def test_every_other_scenario_is_valid(synthetic: tuple[Synthetic, Path], tmp_path: Path, scenario: str) -> None:
    data, model = synthetic
    # The tiny model answers in ~50 us: expected latencies that low make LoadGen generate
    # enough queries to fill the minimum duration (else the run is INVALID for running short).
    conf = ("*.SingleStream.min_duration = 1000\n*.SingleStream.target_latency = 0.02\n"
            "*.MultiStream.min_duration = 1000\n*.MultiStream.target_latency = 0.1\n"
            "*.MultiStream.min_query_count = 1000\n"
            "*.Server.min_duration = 1000\n*.Server.target_qps = 1000\n*.Server.min_query_count = 100\n"
            "resnet50.Server.target_latency = 200\n")
    code, log, output = _run(tmp_path, data.dir, model, "PerformanceOnly", scenario, conf)
    assert code == 0, log
    summary = parse_summary(output / "mlperf_log_summary.txt")
    assert summary.scenario == scenario and summary.valid, (output / "mlperf_log_summary.txt").read_text()
    assert parse_detail(output / "mlperf_log_detail.txt").errors == []


def test_accuracy_script_scores_against_val_map(synthetic: tuple[Synthetic, Path], tmp_path: Path) -> None:
    """`harness accuracy` (TEST01's script) reads val_map.txt and float32, like the reference script."""
    data, model = synthetic
    code, log, output = _run(tmp_path, data.dir, model, "AccuracyOnly", "SingleStream")
    assert code == 0, log
    env = {**base_env(), "MLPERF_DATASET_PATH": str(data.dir)}
    proc = harness(["accuracy", "--log", str(output / "mlperf_log_accuracy.json"), "--out", str(tmp_path / "a.txt")],
                   env, tmp_path)
    assert proc.returncode == 0, proc.stderr
    good, total = data.expected_top1
    assert (tmp_path / "a.txt").read_text() == f"accuracy={100 * good / total:.3f}%, good={good}, total={total}\n"


def test_a_model_without_the_reference_signature_is_refused(synthetic: tuple[Synthetic, Path], tmp_path: Path) -> None:
    data, _ = synthetic
    wrong = tmp_path / "digits.onnx"
    shutil.copy(Path(__file__).resolve().parent / "data" / "imagenet_reference" / "REFERENCE.json", wrong)
    code, log, _ = _run(tmp_path / "a", data.dir, wrong, "AccuracyOnly", "Offline")
    assert code == 2 and "onnxruntime cannot load" in log, log


def test_identity_backend_renders_inputs_and_answers_zero(synthetic: tuple[Synthetic, Path], tmp_path: Path) -> None:
    """`make bench`'s sample-library figure: the batch is gathered, the model costs nothing."""
    data, _ = synthetic
    config, output = tmp_path / "config", tmp_path / "output"
    config.mkdir()
    output.mkdir()
    (config / "user.conf").write_text("")
    env = base_env()
    env.update(MLPERF_BENCHMARK="resnet", MLPERF_SCENARIO="Offline", MLPERF_MODE="AccuracyOnly",
               MLPERF_CONFIG_DIR=str(config), MLPERF_OUTPUT_DIR=str(output), MLPERF_HARNESS_BACKEND="identity",
               MLPERF_MODEL_PATH=str(tmp_path / "never-opened.onnx"), MLPERF_DATASET_PATH=str(data.dir),
               MLPERF_HARNESS_PROGRESS_SECONDS="0")
    proc = harness(["run"], env, config)
    assert proc.returncode == 0, proc.stderr
    assert "loading 24 samples" in proc.stdout
    wrong = sum(1 for label in data.labels if label != 0)
    assert (output / "accuracy.txt").read_text().startswith(f"accuracy={100 * (24 - wrong) / 24:.3f}%, ")
