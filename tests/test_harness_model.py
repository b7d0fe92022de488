"""The demo model: deterministic training, the composed ONNX graph, the lazily rendered eval set."""

from __future__ import annotations

import ast
import hashlib
import json
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from mlperf_ops.harness import dataset
from tests.support.harness_runs import HARNESS_SRC, base_env, model_dir, shared_base


@pytest.fixture(scope="module")
def models(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return model_dir(shared_base(tmp_path_factory))


def test_train_as_top_level_package_is_byte_identical(models: Path, tmp_path: Path) -> None:
    # The image copies the directory in as `harness`; train there and compare every file.
    shutil.copytree(HARNESS_SRC, tmp_path / "pkg" / "harness", ignore=shutil.ignore_patterns("__pycache__"))
    env = base_env()
    env["PYTHONPATH"] = str(tmp_path / "pkg")
    out = tmp_path / "again"
    proc = subprocess.run([sys.executable, "-m", "harness", "train", "--out", str(out)],
                          env=env, cwd=tmp_path, capture_output=True, text=True, timeout=300, check=False)
    assert proc.returncode == 0, proc.stderr
    assert "sha256=" in proc.stdout
    names = sorted(p.name for p in models.iterdir())
    assert names == sorted(p.name for p in out.iterdir())
    assert {"digits.onnx", "eval_labels.npy", "model.json"} <= set(names)
    for name in names:
        assert (models / name).read_bytes() == (out / name).read_bytes(), name


def test_model_json_describes_the_files(models: Path) -> None:
    meta = json.loads((models / "model.json").read_text())
    assert meta["sha256"] == hashlib.sha256((models / "digits.onnx").read_bytes()).hexdigest()
    assert meta["heldout_accuracy"] >= 0.95
    assert meta["heldout_count"] + meta["train_count"] == 1797
    labels = np.load(models / "eval_labels.npy")
    assert labels.shape == (50_000,) and labels.dtype == np.int64
    assert set(np.unique(labels).tolist()) == set(range(10))
    assert meta["dataset"]["labels_sha256"] == hashlib.sha256((models / "eval_labels.npy").read_bytes()).hexdigest()


def test_graph_takes_imagenet_shaped_input(models: Path) -> None:
    import onnxruntime as ort

    session = ort.InferenceSession(str(models / "digits.onnx"), providers=["CPUExecutionProvider"])
    (inp,) = session.get_inputs()
    assert inp.type == "tensor(float)" and inp.shape[1:] == [3, 224, 224]
    assert [o.name for o in session.get_outputs()] == ["label", "probabilities"]
    eval_set = dataset.EvalSet.from_model_dir(models)
    idx = np.arange(0, 400)
    label, proba = session.run(None, {"image": eval_set.render(idx)})
    assert label.dtype == np.int64 and proba.shape == (400, 10)
    assert np.mean(label == eval_set.labels[idx]) >= 0.95


def _render_slow(eval_set: dataset.EvalSet, indices: np.ndarray) -> np.ndarray:
    # The definition, pass by pass: upscale, zero-filled shift, normalise.
    big = dataset.upscale(eval_set.digits(indices))
    shifted = np.zeros_like(big)
    for j, (dy, dx) in enumerate(eval_set.augmentation.shift[indices].tolist()):
        for y in range(224):
            if 0 <= y - dy < 224:
                xs = np.arange(224) - dx
                ok = (xs >= 0) & (xs < 224)
                shifted[j, y, ok] = big[j, y - dy, xs[ok]]
    out = np.empty((len(indices), 3, 224, 224), dtype=np.float32)
    dataset.normalise(shifted, out)
    return out


def test_fast_render_equals_definition_and_ignores_batch_order(models: Path) -> None:
    eval_set = dataset.EvalSet.from_model_dir(models)
    idx = np.array([0, 1, 449, 450, 31_337, 49_999])
    fast = eval_set.render(idx)
    np.testing.assert_array_equal(fast, _render_slow(eval_set, idx))
    np.testing.assert_array_equal(eval_set.render(idx[::-1])[::-1], fast)
    # i and i + n come from the same digit but are different samples.
    n = len(eval_set.held_out)
    assert eval_set.labels[0] == eval_set.labels[n]
    assert not np.array_equal(fast[0], fast[3])


def test_harness_imports_nothing_from_mlperf_ops() -> None:
    for path in HARNESS_SRC.glob("*.py"):
        tree = ast.parse(path.read_text())
        for node in ast.walk(tree):
            if isinstance(node, ast.ImportFrom):
                assert node.level > 0 or not (node.module or "").startswith(("mlperf_ops", "harness")), path
            if isinstance(node, ast.Import):
                assert not any(a.name.startswith(("mlperf_ops", "harness")) for a in node.names), path
