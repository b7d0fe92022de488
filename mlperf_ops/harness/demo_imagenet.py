"""The demo as ResNet50 files: the digits classifier in resnet50_v1.onnx's signature, and the
held-out digits as an ImageNet-layout validation set. Built with the image
(``python3 -m harness demo --out DIR``), so the demo runs through the ResNet50 code path
(imagenet.py, resnet.py, the reference accuracy computation) exactly as a real closed run
does, with only the model and data-set paths (and digests) changed.

Files written (deterministic: the same bytes on every x86_64 machine, so the demo manifest
can declare their digests):

  DIR/digits_resnet50_v1.onnx  input ``input_tensor:0`` float32 [N,3,224,224] (the reference
                               preprocessing's output: RGB minus the ImageNet means); outputs
                               ``ArgMax:0`` int64 [N] and ``softmax_tensor:0`` float32
                               [N,1001], class 0 "background" as in the reference, so digit d
                               is class d + 1
  DIR/val/                     ILSVRC2012_val_00000001.JPEG ... _00050000.JPEG and val_map.txt
                               (`<file> <digit>`): image i is held-out digit (i - 1) % 450
  DIR/demo.json                what was built: both digests, the held-out accuracy through these files

The images are 64x64 grey JPEGs: a 4-pixel border and 7x7 pixels per digit pixel, so the
reference's resize to 256 and centre crop to 224 put each digit pixel on one 28x28 block,
which the graph averages back to the 8x8 digit the classifier was trained on. Image i + 450
is a hard link to image i: 450 distinct files, not 50,000 (the harness's sample cache keys
decoded images by content, so each is decoded once).
"""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path
from typing import Any

import numpy as np

from . import dataset, imagenet, model

MODEL_FILE = "digits_resnet50_v1.onnx"
DATASET_DIR = "val"
METADATA_FILE = "demo.json"
SOFTMAX_OUTPUT = "softmax_tensor:0"
CLASSES = 1001  # the reference model's: 0 is background, 1..1000 the ImageNet classes
JPEG_SIDE = 64
BORDER = 4  # 64 px -> 256 px is x4: 4 px of border become the 16 px the centre crop drops
BLOCK = 7  # 7 px -> 28 px per digit pixel after the x4 resize
JPEG_QUALITY = 95
# OpenBLAS picks its kernels by CPU (measured here: the Haswell and SkylakeX kernels train
# different weights from the same seed). Training always on the SSE3 kernel, present on every
# x86_64, gives the same model bytes everywhere; __main__ sets it before numpy loads.
OPENBLAS_CORETYPE = "Prescott"


def file_name(index: int) -> str:
    """The reference's name of validation image `index` (0-based)."""
    return f"ILSVRC2012_val_{index + 1:08d}.JPEG"


def digit_image(digit01: np.ndarray) -> np.ndarray:
    """An (8, 8) digit in [0, 1] -> a 64x64 grey uint8 picture (white ink on black)."""
    pixels = np.rint(np.asarray(digit01, dtype=np.float64).reshape(8, 8) * 255.0).astype(np.uint8)
    image = np.zeros((JPEG_SIDE, JPEG_SIDE), dtype=np.uint8)
    image[BORDER:BORDER + 8 * BLOCK, BORDER:BORDER + 8 * BLOCK] = np.kron(pixels, np.ones((BLOCK, BLOCK), np.uint8))
    return image


def encode_jpeg(image: np.ndarray) -> bytes:
    import cv2

    ok, data = cv2.imencode(".JPEG", image, [cv2.IMWRITE_JPEG_QUALITY, JPEG_QUALITY])
    if not ok:
        raise RuntimeError("OpenCV could not encode a JPEG")
    return bytes(data.tobytes())


def _graph(mlp: Any) -> Any:
    """The digits MLP behind the reference model's input and outputs."""
    from onnx import TensorProto, checker, helper, numpy_helper

    graph = mlp.graph
    features = graph.input[0].name
    outputs = {o.name for o in graph.output}
    if outputs != {model.LABEL_OUTPUT, model.PROBA_OUTPUT}:
        raise RuntimeError(f"unexpected MLP outputs from skl2onnx: {sorted(outputs)}")
    side, k = imagenet.IMAGE_SIDE, dataset.UPSCALE
    inits = [
        numpy_helper.from_array(imagenet.MEANS.reshape(1, 3, 1, 1), "demo_means"),
        numpy_helper.from_array(np.array(1.0 / 255.0, dtype=np.float32), "demo_scale"),
        numpy_helper.from_array(np.array([-1, model.FEATURES], dtype=np.int64), "demo_flat"),
        # digit d -> class d + 1: one background class in front, 990 unused classes behind
        numpy_helper.from_array(np.array([0, 1, 0, CLASSES - 11], dtype=np.int64), "demo_pads"),
    ]
    nodes = [
        # undo the reference's mean subtraction, grey = mean of R, G, B, back to [0, 1]
        helper.make_node("Add", ["input_tensor:0", "demo_means"], ["demo_pixels"], name="demo_add_means"),
        helper.make_node("ReduceMean", ["demo_pixels"], ["demo_grey"], axes=[1], keepdims=1, name="demo_grey"),
        helper.make_node("AveragePool", ["demo_grey"], ["demo_pooled"], kernel_shape=[k, k], strides=[k, k],
                         name="demo_pool"),
        helper.make_node("Mul", ["demo_pooled", "demo_scale"], ["demo_pooled01"], name="demo_scale"),
        helper.make_node("Reshape", ["demo_pooled01", "demo_flat"], [features], name="demo_flatten"),
        *graph.node,
        helper.make_node("Pad", [model.PROBA_OUTPUT, "demo_pads"], [SOFTMAX_OUTPUT], mode="constant",
                         name="demo_classes"),
        helper.make_node("ArgMax", [SOFTMAX_OUTPUT], ["ArgMax:0"], axis=1, keepdims=0, name="demo_argmax"),
    ]
    new_graph = helper.make_graph(
        nodes, "digits_in_resnet50_v1_signature",
        [helper.make_tensor_value_info("input_tensor:0", TensorProto.FLOAT, ["N", 3, side, side])],
        [helper.make_tensor_value_info("ArgMax:0", TensorProto.INT64, ["N"]),
         helper.make_tensor_value_info(SOFTMAX_OUTPUT, TensorProto.FLOAT, ["N", CLASSES])],
        initializer=inits + list(graph.initializer))
    # skl2onnx lists the opsets in the order of a set of objects, which changes with where
    # they sit in memory (about one process in ten): sorted, the model's bytes never do.
    onnx_model = helper.make_model(new_graph, opset_imports=sorted(mlp.opset_import, key=lambda o: o.domain),
                                   producer_name="mlperf-ops-harness", producer_version="1")
    onnx_model.ir_version = mlp.ir_version
    checker.check_model(onnx_model)
    return onnx_model


def _link_or_copy(source: Path, target: Path) -> None:
    try:
        os.link(source, target)
    except OSError:  # a file system without hard links: a copy is the same bytes
        target.write_bytes(source.read_bytes())


def tree_sha256(root: Path) -> str:
    """A directory's digest as `mlperf-ops digest` defines it (README, "Models and data sets"):
    the sha256 of `<sha256>  <relative path>` lines, one per file, sorted by path in byte order.
    Written afresh here because the harness cannot import mlperf_ops."""
    rels = sorted((p.relative_to(root).as_posix() for p in root.rglob("*") if p.is_file()),
                  key=lambda rel: rel.encode("utf-8"))
    text = "".join(f"{hashlib.sha256((root / rel).read_bytes()).hexdigest()}  {rel}\n" for rel in rels)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def _score(model_path: Path, set_dir: Path, distinct: int) -> float:
    """Top-1 of the model on the first `distinct` images, through the harness's own code."""
    from .resnet import ResnetBackend

    images = imagenet.ImagenetSet(set_dir, threads=1)
    backend = ResnetBackend(model_path, "CPUExecutionProvider", 1)
    indices = list(range(distinct))
    images.load(indices)
    good = 0
    for start in range(0, distinct, 64):
        chunk = np.arange(start, min(start + 64, distinct))
        predicted = backend.predict(images.render(chunk), len(chunk))
        good += int(np.sum(predicted.astype(np.int64) == images.labels[chunk]))
    images.unload(indices)
    return good / distinct


def build(out_dir: Path, count: int = dataset.EVAL_SET_SIZE) -> dict[str, Any]:
    """Write the model, the validation set and demo.json into out_dir (which must not exist)."""
    if os.environ.get("OPENBLAS_CORETYPE") != OPENBLAS_CORETYPE:
        raise RuntimeError(f"train with OPENBLAS_CORETYPE={OPENBLAS_CORETYPE} set before numpy loads "
                           "(python3 -m harness demo does): other kernels give other weights")
    x_train, x_test, y_train, y_test = model._split()
    clf = model._fit(x_train, y_train)
    model_bytes = _graph(model._mlp_onnx(clf)).SerializeToString()

    out_dir.mkdir(parents=True)
    (out_dir / MODEL_FILE).write_bytes(model_bytes)
    set_dir = out_dir / DATASET_DIR
    set_dir.mkdir()
    distinct = len(x_test)
    for i in range(distinct):
        (set_dir / file_name(i)).write_bytes(encode_jpeg(digit_image(x_test[i])))
    for i in range(distinct, count):
        _link_or_copy(set_dir / file_name(i % distinct), set_dir / file_name(i))
    val_map = "".join(f"{file_name(i)} {int(y_test[i % distinct])}\n" for i in range(count))
    (set_dir / imagenet.VAL_MAP).write_text(val_map, encoding="utf-8")

    top1 = _score(out_dir / MODEL_FILE, set_dir, distinct)
    sklearn_top1 = float(np.mean(clf.predict(x_test) == y_test))
    # JPEG coding and the resize blur the digits a little; a large drop means a broken graph.
    if top1 < sklearn_top1 - 0.02:
        raise RuntimeError(f"the ONNX model scores {top1:.4f} on the JPEGs, scikit-learn {sklearn_top1:.4f} "
                           "on the digits: the preprocessing does not invert the picture")
    metadata = {
        "model_file": MODEL_FILE,
        "model_sha256": hashlib.sha256(model_bytes).hexdigest(),
        "dataset_dir": DATASET_DIR,
        "dataset_sha256": tree_sha256(set_dir),
        "images": count,
        "distinct_images": distinct,
        "classifier": f"sklearn MLPClassifier hidden_layer_sizes={list(model.HIDDEN_LAYERS)} random_state=0, "
                      f"trained with OPENBLAS_CORETYPE={OPENBLAS_CORETYPE}",
        "split": f"scikit-learn load_digits, stratified 75/25, random_state={dataset.SPLIT_SEED}: "
                 "the held-out quarter only",
        "heldout_top1_sklearn": round(sklearn_top1, 6),
        "heldout_top1_onnx_on_jpegs": round(top1, 6),
        "jpeg": f"{JPEG_SIDE}x{JPEG_SIDE} grey, quality {JPEG_QUALITY}, {BLOCK}x{BLOCK} px per digit pixel, "
                f"{BORDER} px border",
    }
    (out_dir / METADATA_FILE).write_text(json.dumps(metadata, indent=2, sort_keys=True) + "\n", encoding="utf-8")
    return metadata
