"""TEST06 (LLM output consistency) on hand-made accuracy logs."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from mlperf_ops.run.compliance import verify_test06
from mlperf_ops.core.errors import UsageError

EOS = 2


def _entry(idx: int, tokens: list[int], *, first: list[int] | None = None, count: int | None = None) -> dict[str, object]:
    data = np.array(tokens, dtype=np.int32).tobytes().hex()
    entry: dict[str, object] = {"seq_id": idx, "qsl_idx": idx, "data": data,
                                "token_count": len(tokens) if count is None else count}
    entry["token_data"] = np.array(first if first is not None else tokens[:1], dtype=np.int32).tobytes().hex()
    return entry


def _log(tmp_path: Path, entries: list[dict[str, object]]) -> Path:
    path = tmp_path / "mlperf_log_accuracy.json"
    path.write_text(json.dumps(entries))
    return path


def test_good_outputs_pass(tmp_path: Path) -> None:
    log = _log(tmp_path, [_entry(0, [5, 6, 7, EOS]), _entry(1, [9, 8])])
    verdict = verify_test06(accuracy_log=log, scenario="Server", eos_token_id=EOS)
    assert verdict.passed
    assert verdict.verify_accuracy_text.splitlines() == [
        "First token check pass: True", "EOS check pass: True", "Sample length check pass: True",
        "TEST06 verification complete",
    ]


def test_offline_skips_first_token(tmp_path: Path) -> None:
    log = _log(tmp_path, [_entry(0, [5, 6], first=[1])])
    verdict = verify_test06(accuracy_log=log, scenario="Offline", eos_token_id=EOS)
    assert verdict.passed and verdict.first_token is None
    assert "First token check pass: Skipped" in verdict.verify_accuracy_text


@pytest.mark.parametrize(
    "entry, failing_line",
    [
        (_entry(0, [5, 6, EOS, EOS]), "EOS check pass: False"),
        (_entry(0, [5, 6, 7], count=4), "Sample length check pass: False"),
        (_entry(0, [5, 6, 7], first=[4]), "First token check pass: False"),
    ],
)
def test_each_check_can_fail(tmp_path: Path, entry: dict[str, object], failing_line: str) -> None:
    verdict = verify_test06(accuracy_log=_log(tmp_path, [entry]), scenario="Server", eos_token_id=EOS)
    assert not verdict.passed
    assert failing_line in verdict.verify_accuracy_text.splitlines()
    assert verdict.verify_accuracy_text.endswith("TEST06 verification failed\n")
    assert verdict.reasons


def test_malformed_log_is_a_usage_error(tmp_path: Path) -> None:
    path = tmp_path / "mlperf_log_accuracy.json"
    path.write_text("[{")
    with pytest.raises(UsageError):
        verify_test06(accuracy_log=path, scenario="Server", eos_token_id=EOS)
