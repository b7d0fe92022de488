"""A real tree of a round this tool holds no rules for: named as such, not judged by another.

tests/data/other_rounds/gateoverflow_v5.1/ is one result of a published v5.1 submission (see
its SOURCE.md). v5.1 kept compliance/ and measurements/ beside results/ and its LoadGen
ran with other seeds; judged by v6.1's rules the result drew a dozen findings that say
nothing true about it. The checker names the round from its seeds (the rules data knows
v5.0's and v5.1's) and points to the official checker instead.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")

from mlperf_ops.check import check_tree  # noqa: E402
from mlperf_ops.cli import main  # noqa: E402

V51 = Path(__file__).parent / "data" / "other_rounds" / "gateoverflow_v5.1" / "tree"
KRAI = Path(__file__).parent / "data" / "real_trees" / "krai_v6.0" / "tree"
RESULT = ("closed/GATEOverflow/results/GATEOverflow_AMD_AM5-reference-cpu-onnxruntime_v1.22.1-default_config"
          "/resnet50/offline")


def test_a_v51_tree_is_named_by_its_seeds_and_nothing_else_is_said() -> None:
    report = check_tree(V51)  # no --round: the newest round's rules
    assert [f.rule_id for f in report.findings] == ["perf.seed-round"]
    said = report.findings[0].message
    assert "these logs carry v5.1 seeds" in said and "--version v5.1" in said
    assert "official checker" in said and "left out" in said
    (row,) = report.results
    assert row.path == RESULT and row.valid is False
    assert [r["rule_id"] for r in row.reasons] == ["perf.seed-round"]


def test_what_no_rounds_rules_decide_is_still_said(tmp_path: Path) -> None:
    root = tmp_path / "tree"
    shutil.copytree(V51, root)
    # a credential-shaped value (made up here) in a file of the submission
    (root / "closed" / "GATEOverflow" / "calibration.md").write_text(
        "token: ghp_" + "a1B2c3D4e5F6g7H8i9J0" * 2 + "\n")
    report = check_tree(root)
    assert sorted(f.rule_id for f in report.findings) == ["perf.seed-round", "tree.secret"]


def test_beside_a_result_of_the_checked_round_nothing_is_set_aside(tmp_path: Path) -> None:
    """One v5.1 result in a tree of v6.0 results: its seed errors become the one finding,
    but the tree is not a v5.1 tree, so the other findings stay as they were."""
    root = tmp_path / "tree"
    shutil.copytree(KRAI, root)
    shutil.copytree(V51 / "closed" / "GATEOverflow", root / "closed" / "GATEOverflow")
    alone = check_tree(KRAI, round="v6.0")
    mixed = check_tree(root, round="v6.0")
    assert [f.rule_id for f in mixed.findings].count("perf.seed-round") == 1
    assert "perf.seed-mismatch" not in mixed.rule_ids() and "left out" not in mixed.findings[0].message
    verdicts = {r.path: (r.valid, sorted(x["rule_id"] for x in r.reasons)) for r in mixed.results}
    for row in alone.results:
        assert verdicts[row.path] == (row.valid, sorted(x["rule_id"] for x in row.reasons))
    assert verdicts[RESULT][0] is False
    # its other findings (v6.1's layout: no TEST01/TEST04 beside the result) are still said
    assert "compliance.missing" in mixed.rule_ids()


def test_asking_for_a_round_without_rules_names_the_tool_that_has_them(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["check", str(V51), "--round", "v5.1"]) == 2
    err = capsys.readouterr().err
    assert "no rules for round 'v5.1'" in err and "--version v5.1" in err


def test_the_cli_fails_the_tree_with_the_one_finding(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["check", str(V51)]) == 3
    out = capsys.readouterr().out
    assert "perf.seed-round: these logs carry v5.1 seeds" in out
    assert "compliance.missing" not in out and "files.missing" not in out


def test_preprocess_leaves_it_alone_and_names_the_round(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "out"
    assert main(["preprocess", str(V51), "--out", str(out)]) == 3
    assert "these logs carry v5.1 seeds" in capsys.readouterr().out
    assert (out / RESULT / "performance" / "run_1" / "mlperf_log_detail.txt").is_file()


@pytest.mark.skipif(not os.environ.get("MLPERF_INFERENCE_CHECKOUT"),
                    reason="set MLPERF_INFERENCE_CHECKOUT to a mlcommons/inference checkout")
def test_the_official_checker_finds_no_seed_wrong_for_the_round_we_name() -> None:
    checkout = Path(os.environ["MLPERF_INFERENCE_CHECKOUT"])
    entry = checkout / "tools" / "submission" / "submission_checker" / "main.py"

    def seed_errors(version: str) -> list[str]:
        proc = subprocess.run([sys.executable, str(entry), "--input", str(V51), "--version", version],
                              capture_output=True, text=True, cwd=checkout, timeout=600, check=False)
        return [line for line in (proc.stdout + proc.stderr).splitlines() if "rng_seed is wrong" in line]

    assert seed_errors("v5.1") == []
    assert len(seed_errors("v6.1")) == 3  # the three seeds of the one performance log
