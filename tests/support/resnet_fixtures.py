"""A tiny ImageNet-layout data set and a tiny ONNX model with resnet50_v1.onnx's exact signature.

The model: `input_tensor:0` float32 [N,3,224,224] -> per-channel mean -> nearest of eight
palette colours (as the reference preprocessing leaves them: RGB minus the means), written
as logits over 1,001 classes with class 0 "background" -> `ArgMax:0` int64 [N] and
`softmax_tensor:0` [N,1001]. Palette colour k is class k + 1, i.e. label k after the
reference's offset of -1.

Each image is palette colour k in its centre, inside a thin frame of another colour that a
correct centre crop cuts away; the colours are far apart, so JPEG and resize rounding never
change the nearest one, while a missing crop, a wrong channel order or a wrong offset does.
The test's expected top-1 therefore needs neither the harness's code nor its preprocessing.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

MEANS = np.array([123.68, 116.78, 103.94])  # the reference's, RGB
PALETTE = np.array([  # RGB
    [230, 30, 30], [30, 230, 30], [30, 30, 230], [230, 230, 30],
    [230, 30, 230], [30, 230, 230], [240, 240, 240], [20, 20, 20],
], dtype=np.float64)
# The frame around palette colour k: the colour whose class is k + 4 (mod 8), far from colour k.
SIZES = [(500, 375), (375, 500), (333, 500), (500, 333), (300, 200), (180, 240), (260, 259), (640, 480)]  # (w, h)


def write_model(path: Path) -> None:
    """resnet50_v1.onnx's signature around a nearest-palette-colour classifier."""
    import onnx
    from onnx import TensorProto, helper, numpy_helper

    centres = PALETTE - MEANS  # (8, 3): what a correctly preprocessed pixel of colour k is
    weights = np.zeros((3, 1001), dtype=np.float32)
    bias = np.full(1001, -1e6, dtype=np.float32)  # background and classes 9..1000 never win
    # -|x - c|^2 = 2 x.c - |c|^2 - |x|^2; the last term is the same for every class.
    weights[:, 1:9] = (2 * centres).T
    bias[1:9] = -(centres ** 2).sum(axis=1)
    nodes = [
        helper.make_node("ReduceMean", ["input_tensor:0"], ["pooled"], axes=[2, 3], keepdims=0),
        helper.make_node("Gemm", ["pooled", "W", "B"], ["logits"]),
        helper.make_node("Softmax", ["logits"], ["softmax_tensor:0"], axis=1),
        helper.make_node("ArgMax", ["logits"], ["ArgMax:0"], axis=1, keepdims=0),
    ]
    graph = helper.make_graph(
        nodes, "resnet50_v1_signature",
        [helper.make_tensor_value_info("input_tensor:0", TensorProto.FLOAT, ["unk__0", 3, 224, 224])],
        [helper.make_tensor_value_info("ArgMax:0", TensorProto.INT64, ["unk__1"]),
         helper.make_tensor_value_info("softmax_tensor:0", TensorProto.FLOAT, ["unk__2", 1001])],
        [numpy_helper.from_array(weights, "W"), numpy_helper.from_array(bias, "B")],
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)])
    model.ir_version = 8
    onnx.checker.check_model(model)
    path.write_bytes(model.SerializeToString())


@dataclass(frozen=True)
class Synthetic:
    dir: Path
    names: list[str]
    colours: list[int]  # palette index in each image's centre: the model's answer (label space)
    labels: list[int]  # what val_map.txt says

    @property
    def expected_top1(self) -> tuple[int, int]:
        good = sum(1 for c, label in zip(self.colours, self.labels) if c == label)
        return good, len(self.labels)


def write_imagenet(root: Path, count: int = 24, wrong_every: int = 3) -> Synthetic:
    """`count` JPEGs named like ImageNet's, a val_map.txt whose every `wrong_every`-th label is wrong."""
    import cv2

    root.mkdir(parents=True)
    names, colours, labels = [], [], []
    rng = np.random.default_rng(11)
    for i in range(count):
        k = i % len(PALETTE)
        w, h = SIZES[i % len(SIZES)]
        image = np.empty((h, w, 3), dtype=np.float64)
        image[:] = PALETTE[(k + 4) % len(PALETTE)]
        fy, fx = max(2, h // 25), max(2, w // 25)  # 4 % per side: well outside the 87.5 % crop
        image[fy:h - fy, fx:w - fx] = PALETTE[k]
        image += rng.normal(0, 4, image.shape)  # texture, so decoding and resizing really happen
        bgr = np.clip(image, 0, 255).astype(np.uint8)[..., ::-1]
        name = f"ILSVRC2012_val_{i + 1:08d}.JPEG"
        ok, data = cv2.imencode(".jpg", np.ascontiguousarray(bgr), [cv2.IMWRITE_JPEG_QUALITY, 92])
        assert ok
        (root / name).write_bytes(data.tobytes())
        names.append(name)
        colours.append(k)
        labels.append((k + 1) % len(PALETTE) if wrong_every and i % wrong_every == wrong_every - 1 else k)
    (root / "val_map.txt").write_text("".join(f"{n} {label}\n" for n, label in zip(names, labels)))
    return Synthetic(root, names, colours, labels)
