"""The re-run policy for audits whose only failure is the timing comparison."""

from __future__ import annotations

import pytest

from mlperf_ops.audit_retry import after_timing_failure


def test_alternates_retry_and_remeasure_then_gives_up() -> None:
    actions = [after_timing_failure(n, retries=4).action for n in range(1, 7)]
    assert actions == ["retry", "remeasure", "retry", "remeasure", "give-up", "give-up"]


def test_no_retries_gives_up_at_once() -> None:
    assert after_timing_failure(1, retries=0).action == "give-up"


def test_counts_from_one() -> None:
    with pytest.raises(ValueError):
        after_timing_failure(0, retries=3)
