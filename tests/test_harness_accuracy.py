"""The accuracy script (`harness accuracy`) on hand-made logs."""

from __future__ import annotations

import json
import re
from pathlib import Path

import numpy as np
import pytest

from tests.support.harness_runs import base_env, harness

# tools/submission/submission_checker/constants.py ACC_PATTERN["acc"] in mlcommons/inference
# (commit b66003e10e2db4b8c36a448b0545ec90fcc6e9e9), the pattern the checker reads for resnet.
CHECKER_ACC_PATTERN = r"^(?:\{\"accuracy|accuracy)[\": ]*=?\s*([\d\.]+).*"


def _hex(value: int) -> str:
    return np.array([value], dtype=np.int64).tobytes().hex()


@pytest.fixture()
def labels(tmp_path: Path) -> Path:
    path = tmp_path / "labels.npy"
    np.save(path, np.array([3, 1, 4, 1, 5, 9, 2, 6], dtype=np.int64))
    return path


def test_counts_duplicates_once_and_writes_checker_line(tmp_path: Path, labels: Path) -> None:
    entries = [
        {"seq_id": 0, "qsl_idx": 0, "data": _hex(3)},  # good
        {"seq_id": 1, "qsl_idx": 1, "data": _hex(1)},  # good
        {"seq_id": 2, "qsl_idx": 2, "data": _hex(7)},  # wrong
        {"seq_id": 3, "qsl_idx": 0, "data": _hex(8)},  # duplicate: ignored, first one counts
    ]
    log = tmp_path / "mlperf_log_accuracy.json"
    log.write_text(json.dumps(entries))
    out = tmp_path / "accuracy.txt"
    proc = harness(["accuracy", "--log", str(log), "--labels", str(labels), "--out", str(out)], base_env(), tmp_path)
    assert proc.returncode == 0, proc.stderr
    text = out.read_text()
    assert text == "accuracy=66.667%, good=2, total=3\n"
    match = re.match(CHECKER_ACC_PATTERN, text)
    assert match and float(match.group(1)) == pytest.approx(66.667)


@pytest.mark.parametrize(
    "content, why",
    [
        ("[{\"qsl_idx\": 0, \"data\": \"0300", "not JSON"),
        ("{\"qsl_idx\": 0}", "not a list"),
        ("[{\"qsl_idx\": 0}]", "lacks"),
        ("[{\"qsl_idx\": 99, \"data\": \"0300000000000000\"}]", "outside"),
        ("[{\"qsl_idx\": 0, \"data\": \"zz\"}]", "not hex"),
        ("[{\"qsl_idx\": 0, \"data\": \"\"}]", "not hex"),
        ("[]", "no responses"),
    ],
)
def test_malformed_log_fails_cleanly(tmp_path: Path, labels: Path, content: str, why: str) -> None:
    log = tmp_path / "mlperf_log_accuracy.json"
    log.write_text(content)
    out = tmp_path / "accuracy.txt"
    proc = harness(["accuracy", "--log", str(log), "--labels", str(labels), "--out", str(out)], base_env(), tmp_path)
    assert proc.returncode == 2
    assert proc.stderr.startswith("error: malformed accuracy log") and why in proc.stderr
    assert "Traceback" not in proc.stderr
    assert not out.exists()


def test_missing_labels_is_a_usage_error(tmp_path: Path) -> None:
    log = tmp_path / "log.json"
    log.write_text("[]")
    env = base_env()
    env["MLPERF_MODEL_DIR"] = str(tmp_path / "nowhere")
    proc = harness(["accuracy", "--log", str(log)], env, tmp_path)
    assert proc.returncode == 2 and "labels file not found" in proc.stderr
