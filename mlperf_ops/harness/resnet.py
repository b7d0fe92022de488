"""The ResNet50-v1.5 backend: the user's `resnet50_v1.onnx` on onnxruntime, as the reference runs it.

The reference model (MLCommons' `resnet50_v1.onnx`, converted from TensorFlow with
`--inputs-as-nchw`) takes `input_tensor:0`, float32 [N, 3, 224, 224], and gives `ArgMax:0`,
int64 [N], over 1,001 classes of which 0 is "background": the reference's resnet50-onnxruntime
profile reads `ArgMax:0` and subtracts 1 (its `PostProcessCommon(offset=-1)`) to get
val_map.txt's 0..999 labels. It answers LoadGen with that label as one float32, which is what
its accuracy script reads by default (`--dtype float32`); so do we.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from .backends import open_session
from .errors import HarnessError

INPUT_NAME = "input_tensor:0"
LABEL_OUTPUT = "ArgMax:0"
LABEL_OFFSET = -1
RESPONSE_DTYPE = "float32"  # the accuracy log's data type (the reference's --dtype default)
MODEL_FILE = "resnet50_v1.onnx"  # looked for when model: names a directory


def model_file(path: Path) -> Path:
    return path / MODEL_FILE if path.is_dir() else path


class ResnetBackend:
    name = "onnxruntime"
    needs_inputs = True
    response_dtype = np.dtype(RESPONSE_DTYPE)

    def __init__(self, model_path: Path, provider: str, intra_op_threads: int = 0) -> None:
        path = model_file(model_path)
        self.session, self.provider = open_session(path, provider, intra_op_threads)
        inputs = {i.name: i for i in self.session.get_inputs()}
        outputs = [o.name for o in self.session.get_outputs()]
        if INPUT_NAME not in inputs or LABEL_OUTPUT not in outputs:
            raise HarnessError(
                f"{path} is not resnet50_v1.onnx's signature: inputs {sorted(inputs)}, outputs {outputs}",
                hint=f"the reference model takes {INPUT_NAME} (float32 NCHW) and gives {LABEL_OUTPUT}")
        shape = inputs[INPUT_NAME].shape
        if len(shape) != 4 or list(shape[1:]) != [3, 224, 224] or inputs[INPUT_NAME].type != "tensor(float)":
            raise HarnessError(f"{path}: {INPUT_NAME} is {inputs[INPUT_NAME].type} {shape}, "
                               "not float32 [N, 3, 224, 224]")
        self._outputs = [LABEL_OUTPUT]

    def predict(self, batch: np.ndarray | None, count: int) -> np.ndarray:
        assert batch is not None
        classes: np.ndarray = self.session.run(self._outputs, {INPUT_NAME: batch})[0]
        return (classes.reshape(count).astype(np.int64) + LABEL_OFFSET).astype(self.response_dtype)
