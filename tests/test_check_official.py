"""The official submission checker on a generated tree (needs a mlcommons/inference checkout)."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest

from tests.support import treegen  # noqa: E402

from mlperf_ops.check import run_official_checker  # noqa: E402
from mlperf_ops.check.official import judge  # noqa: E402

CHECKOUT = os.environ.get("MLPERF_INFERENCE_CHECKOUT")


@pytest.mark.skipif(not CHECKOUT, reason="set MLPERF_INFERENCE_CHECKOUT to a mlcommons/inference checkout")
def test_official_checker_agrees_smoke_tree_fails_only_on_duration(tmp_path: Path) -> None:
    tree = treegen.copy_tree(tmp_path / "tree")
    verdict = run_official_checker(Path(CHECKOUT or "."), tree, treegen.ROUND, treegen.SUBMITTER)
    assert not verdict.traceback, verdict.output[-3000:]
    assert not verdict.ok
    duration = [e for e in verdict.errors if "Test duration less than 600s" in e]
    assert len(duration) == len(treegen.SCENARIOS)
    # every other ERROR line is the checker's own consequence of those (no other rule failed)
    others = [e for e in verdict.errors if e not in duration]
    assert all("Some performance checks" in e or "NoResults" in e or "SUMMARY" in e for e in others), others


def test_judge_reads_its_log_not_its_exit_code() -> None:
    ok_log = "[x main.py:1 INFO] Results=3, NoResults=0, Power Results=0\n[x main.py:2 INFO] Closed Results=0\n"
    assert judge(ok_log, 0)[0] is True
    assert judge("[x main.py:1 INFO] Results=0, NoResults=0, Power Results=0\n", 0)[0] is False  # empty tree
    assert judge(ok_log + "[x a.py:3 ERROR] something\n", 0)[0] is False
    assert judge(ok_log + "Traceback (most recent call last):\n", 0)[0] is False
    assert judge(ok_log, 1)[0] is False


def test_disagreements_name_each_result_the_checkers_judge_differently() -> None:
    from mlperf_ops.check.official import disagreements, per_result_verdicts

    root = Path("/trees/t")
    log = "\n".join([  # the closing lines of an official run, as it prints them
        "[x main.py:1 INFO] Results /trees/t/closed/A/results/s/resnet/Offline/performance/run_1/mlperf_log_detail.txt 12.5",
        "[x main.py:2 ERROR] NoResults /trees/t/closed/A/results/s/resnet/SingleStream/performance/run_1/mlperf_log_detail.txt",
        "[x main.py:3 ERROR] NoResults /trees/t/closed/A/results/s/resnet/MultiStream/performance/run_1/mlperf_log_detail.txt",
    ])
    official = per_result_verdicts(log, root)
    assert official == {"closed/A/results/s/resnet/Offline": True, "closed/A/results/s/resnet/SingleStream": False,
                        "closed/A/results/s/resnet/MultiStream": False}
    ours = {"closed/A/results/s/resnet/Offline": (False, ["perf.invalid", "perf.invalid"]),
            "closed/A/results/s/resnet/SingleStream": (False, ["perf.min-duration"]),
            "closed/A/results/s/resnet/Server": (True, [])}
    assert disagreements(ours, official) == [
        {"result": "closed/A/results/s/resnet/MultiStream", "ours": None, "official": False, "our_reasons": []},
        {"result": "closed/A/results/s/resnet/Offline", "ours": False, "official": True, "our_reasons": ["perf.invalid"]},
        {"result": "closed/A/results/s/resnet/Server", "ours": True, "official": None, "our_reasons": []},
    ]


@pytest.mark.skipif(not CHECKOUT, reason="set MLPERF_INFERENCE_CHECKOUT to a mlcommons/inference checkout")
def test_check_with_official_names_no_difference_on_a_real_tree(capsys: pytest.CaptureFixture[str]) -> None:
    import json

    from mlperf_ops.cli import main

    root = Path(__file__).parent / "data" / "real_trees" / "lenovo_se455_v6.0" / "tree"
    assert main(["check", str(root), "--round", "v6.0", "--official", str(CHECKOUT), "--json"]) == 0
    doc = json.loads(capsys.readouterr().out)
    assert [v["disagreements"] for v in doc["official"]] == [[]]
