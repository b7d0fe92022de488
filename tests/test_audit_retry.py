"""The re-run policy for audits whose only failure is the timing comparison."""

from __future__ import annotations

import pytest

from mlperf_ops.run.audit_retry import MAX_REMEASURES, after_timing_failure


def play(outcomes: list[bool], retries: int) -> tuple[list[str], int]:
    """Feed a sequence of audit results (True = comparison passed) through the policy the
    way `apply` keeps its counts; returns the actions taken and the attempts used."""
    failures = remeasures = attempts = 0
    actions = []
    for passed in outcomes:
        attempts += 1
        if passed:
            actions.append("pass")
            break
        failures += 1
        decision = after_timing_failure(failures, retries, remeasures)
        actions.append(decision.action)
        if decision.action == "remeasure":
            remeasures += 1
            failures = 0
        if decision.action == "give-up":
            break
    return actions, attempts


def test_every_second_failure_remeasures_then_retries_alone_then_gives_up() -> None:
    actions, attempts = play([False] * 20, retries=4)
    assert actions == ["retry", "remeasure", "retry", "remeasure",
                       "retry", "retry", "retry", "retry", "give-up"]
    assert attempts == 2 * MAX_REMEASURES + 4 + 1


def test_a_pass_ends_it() -> None:
    assert play([False, False, True], retries=4) == (["retry", "remeasure", "pass"], 3)


def test_no_retries_still_remeasures_on_the_second_failure_only() -> None:
    assert after_timing_failure(1, retries=0).action == "give-up"
    assert after_timing_failure(2, retries=1, remeasures=MAX_REMEASURES).action == "give-up"


def test_counts_from_one() -> None:
    with pytest.raises(ValueError):
        after_timing_failure(0, retries=3)
