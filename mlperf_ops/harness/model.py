"""Train the demo classifier and export it as one ONNX graph that takes ImageNet-shaped input.

Runs at image build time (``python3 -m harness train --out DIR``). Deterministic:
fixed split and model seeds, one BLAS thread, no timestamps in any output, so two
builds produce byte-identical files and the model digest can key run records.

The exported graph's input is ``image``: float32 NCHW [N,3,224,224], normalised
like ImageNet. In-graph preprocessing undoes the normalisation, averages the
channels and pools each 28x28 block back to one digit pixel, giving the 64
features in [0,1] the MLP was trained on. Outputs: ``label`` int64 [N] (the
class index) and ``probabilities`` float32 [N,10].
"""

from __future__ import annotations

import hashlib
import json
import warnings
from pathlib import Path
from typing import Any

import numpy as np

from . import dataset

MODEL_FILE = "digits.onnx"
METADATA_FILE = "model.json"
INPUT_NAME = "image"
LABEL_OUTPUT = "label"
PROBA_OUTPUT = "probabilities"
HIDDEN_LAYERS = (256, 128)
OPSET = 17
ML_OPSET = 3
FEATURES = dataset.DIGIT_SIDE * dataset.DIGIT_SIDE


def _split() -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    from sklearn.datasets import load_digits
    from sklearn.model_selection import train_test_split

    digits = load_digits()
    x = (digits.data / dataset.PIXEL_MAX).astype(np.float32)
    y = digits.target.astype(np.int64)
    x_train, x_test, y_train, y_test = train_test_split(
        x, y, test_size=0.25, stratify=y, random_state=dataset.SPLIT_SEED
    )
    return x_train, x_test, y_train, y_test


def _fit(x_train: np.ndarray, y_train: np.ndarray) -> Any:
    from sklearn.exceptions import ConvergenceWarning
    from sklearn.neural_network import MLPClassifier
    from threadpoolctl import threadpool_limits

    clf = MLPClassifier(hidden_layer_sizes=HIDDEN_LAYERS, random_state=0, max_iter=300)
    # More BLAS threads make training slower on a busy machine and can change rounding.
    with threadpool_limits(limits=1), warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        clf.fit(x_train, y_train)
    return clf


def _mlp_onnx(clf: Any) -> Any:
    from skl2onnx import convert_sklearn
    from skl2onnx.common.data_types import FloatTensorType

    return convert_sklearn(
        clf,
        name="digits_mlp",
        initial_types=[("features", FloatTensorType([None, FEATURES]))],
        options={id(clf): {"zipmap": False}},
        target_opset={"": OPSET, "ai.onnx.ml": ML_OPSET},
    )


def _preprocess_nodes(features_name: str) -> tuple[list[Any], list[Any]]:
    """Nodes mapping `image` [N,3,224,224] to `features_name` [N,64] in [0,1]."""
    from onnx import helper, numpy_helper

    std = dataset.IMAGENET_STD.reshape(1, 3, 1, 1)
    mean = dataset.IMAGENET_MEAN.reshape(1, 3, 1, 1)
    inits = [
        numpy_helper.from_array(std.astype(np.float32), "pre_std"),
        numpy_helper.from_array(mean.astype(np.float32), "pre_mean"),
        numpy_helper.from_array(np.array([-1, FEATURES], dtype=np.int64), "pre_flat_shape"),
    ]
    k = dataset.UPSCALE
    nodes = [
        helper.make_node("Mul", ["image", "pre_std"], ["pre_scaled"], name="pre_unnormalise_scale"),
        helper.make_node("Add", ["pre_scaled", "pre_mean"], ["pre_pixels"], name="pre_unnormalise_shift"),
        # opset 17: ReduceMean takes its axes as an attribute
        helper.make_node("ReduceMean", ["pre_pixels"], ["pre_gray"], axes=[1], keepdims=1, name="pre_gray"),
        helper.make_node("AveragePool", ["pre_gray"], ["pre_pooled"], kernel_shape=[k, k], strides=[k, k], name="pre_pool"),
        helper.make_node("Reshape", ["pre_pooled", "pre_flat_shape"], [features_name], name="pre_flatten"),
    ]
    return nodes, inits


def compose(mlp: Any) -> Any:
    """The MLP with the preprocessing prepended: one graph from image to class index."""
    from onnx import TensorProto, checker, helper

    graph = mlp.graph
    features_name = graph.input[0].name
    pre_nodes, pre_inits = _preprocess_nodes(features_name)
    side = dataset.IMAGE_SIDE
    image = helper.make_tensor_value_info(INPUT_NAME, TensorProto.FLOAT, ["N", dataset.CHANNELS, side, side])
    outputs = {o.name: o for o in graph.output}
    if set(outputs) != {LABEL_OUTPUT, PROBA_OUTPUT}:
        raise RuntimeError(f"unexpected MLP outputs from skl2onnx: {sorted(outputs)}")
    new_graph = helper.make_graph(
        pre_nodes + list(graph.node),
        "digits_imagenet_shaped",
        [image],
        [outputs[LABEL_OUTPUT], outputs[PROBA_OUTPUT]],
        initializer=pre_inits + list(graph.initializer),
    )
    model = helper.make_model(
        new_graph,
        # sorted: skl2onnx's order follows a set of objects and changes from process to process
        opset_imports=sorted(mlp.opset_import, key=lambda o: o.domain),
        producer_name="mlperf-ops-harness",
        producer_version="1",
    )
    model.ir_version = mlp.ir_version
    checker.check_model(model)
    return model


def _check_composed(model_bytes: bytes, x_test: np.ndarray, expected: np.ndarray) -> int:
    """Run the composed graph on the plain upscaled held-out digits; return disagreements with sklearn."""
    import onnxruntime as ort

    opts = ort.SessionOptions()
    opts.intra_op_num_threads = 1
    session = ort.InferenceSession(model_bytes, opts, providers=["CPUExecutionProvider"])
    mismatches = 0
    for start in range(0, len(x_test), 64):
        batch = dataset.render_plain(x_test[start : start + 64])
        labels = session.run([LABEL_OUTPUT], {INPUT_NAME: batch})[0]
        mismatches += int(np.sum(labels != expected[start : start + 64]))
    return mismatches


def train(out_dir: Path) -> dict[str, Any]:
    """Write digits.onnx, eval_labels.npy, the held-out digits and model.json into out_dir."""
    x_train, x_test, y_train, y_test = _split()
    clf = _fit(x_train, y_train)
    predicted = clf.predict(x_test).astype(np.int64)
    heldout_accuracy = float(np.mean(predicted == y_test))

    model_bytes = compose(_mlp_onnx(clf)).SerializeToString()
    mismatches = _check_composed(model_bytes, x_test, predicted)
    # Float rounding in the pooled preprocessing may flip a borderline sample, no more.
    if mismatches > max(1, len(x_test) // 200):
        raise RuntimeError(f"composed ONNX graph disagrees with scikit-learn on {mismatches} held-out digits")

    out_dir.mkdir(parents=True, exist_ok=True)
    (out_dir / MODEL_FILE).write_bytes(model_bytes)
    np.save(out_dir / dataset.LABELS_FILE, dataset.eval_labels(y_test))
    np.save(out_dir / dataset.HELD_OUT_FILE, x_test.astype(np.float32))
    np.save(out_dir / dataset.HELD_OUT_LABELS_FILE, y_test.astype(np.int64))
    metadata = {
        "model_file": MODEL_FILE,
        "sha256": hashlib.sha256(model_bytes).hexdigest(),
        "input": {"name": INPUT_NAME, "dtype": "float32", "shape": ["N", 3, 224, 224], "layout": "NCHW"},
        "outputs": {LABEL_OUTPUT: "int64 [N] class index", PROBA_OUTPUT: "float32 [N,10]"},
        "classifier": f"sklearn MLPClassifier hidden_layer_sizes={list(HIDDEN_LAYERS)} random_state=0",
        "heldout_accuracy": round(heldout_accuracy, 6),
        "heldout_count": int(len(y_test)),
        "train_count": int(len(y_train)),
        "dataset": {
            "source": "scikit-learn load_digits (1797 8x8 images, bundled in the wheel)",
            "split": f"stratified 75/25, random_state={dataset.SPLIT_SEED}",
            "eval_set_size": dataset.EVAL_SET_SIZE,
            "eval_sample": (
                "sample i = held-out digit i % n, brightness x U"
                f"{dataset.BRIGHTNESS_RANGE}, N(0,{dataset.NOISE_STD}) noise, shift of up to "
                f"{dataset.MAX_SHIFT}/{dataset.IMAGE_SIDE} px, seed {dataset.AUGMENT_SEED}; "
                "upscaled 28x to 224x224, 3 channels, ImageNet mean/std"
            ),
            "labels_file": dataset.LABELS_FILE,
            "labels_sha256": hashlib.sha256((out_dir / dataset.LABELS_FILE).read_bytes()).hexdigest(),
            "heldout_digits_file": dataset.HELD_OUT_FILE,
            "heldout_digits_sha256": hashlib.sha256((out_dir / dataset.HELD_OUT_FILE).read_bytes()).hexdigest(),
        },
    }
    (out_dir / METADATA_FILE).write_text(json.dumps(metadata, indent=2, sort_keys=True) + "\n", encoding="utf-8")
    return metadata
