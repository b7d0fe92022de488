"""A tree of another round than the one checked: named by its LoadGen seeds, not judged by
the rules of a round it was not run for.

tests/data/real_trees/gateoverflow_v5.1/ is a published v5.1 submission (see its SOURCE.md):
v5.1 kept compliance/ and measurements/ beside results/ and its LoadGen ran with v5.1's
seeds. Checked as v6.1 (the newest round, what `check` picks without --round) every result
would lack files it has; the checker names the round from the seeds instead, and with
`--round v5.1` accepts the tree as the official checker does (test_check_real_trees).

v5.0 is a round this tool knows by its seeds alone. No v5.0 tree can be had here (its results
repository is too large to fetch), so `_as_v50` makes one: the v5.1 excerpt with the three
v5.1 seeds of its logs replaced by v5.0's (rules/rounds_without_rules.yaml). For such a tree
the checker points to the official checker.
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
from mlperf_ops.rules import load_rules, rounds_without_rules  # noqa: E402
from tests.support.variants import replace_seeds  # noqa: E402

V51 = Path(__file__).parent / "data" / "real_trees" / "gateoverflow_v5.1" / "tree"
KRAI = Path(__file__).parent / "data" / "real_trees" / "krai_v6.0" / "tree"
RESULT = ("closed/GATEOverflow/results/GATEOverflow_AMD_AM5-reference-cpu-onnxruntime_v1.22.1-default_config"
          "/resnet50/offline")


def _as_v50(dest: Path) -> Path:
    """The v5.1 excerpt whose logs carry v5.0's seeds instead of v5.1's."""
    shutil.copytree(V51, dest)
    logs = sorted(p for p in dest.rglob("*") if p.is_file() and p.suffix in (".txt", ".json"))
    changed = replace_seeds(logs, load_rules("v5.1").seeds, rounds_without_rules()["v5.0"])
    assert changed >= 3 * 6  # the detail and summary logs of each result's runs
    return dest


def test_a_v51_tree_is_named_by_its_seeds_when_checked_as_another_round() -> None:
    report = check_tree(V51)  # no --round: the newest round's rules
    assert [f.rule_id for f in report.findings] == ["perf.seed-round"]
    said = report.findings[0].message
    assert said.startswith("these logs carry v5.1 seeds: use --round v5.1") and "left out" in said
    assert {r.path for r in report.results} >= {RESULT} and not any(r.valid for r in report.results)


def test_checked_as_v51_it_is_accepted(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["check", str(V51), "--round", "v5.1"]) == 0
    out = capsys.readouterr().out
    assert "3 accepted, 0 refused" in out and "perf.seed" not in out


def test_a_v50_tree_is_named_by_its_seeds_and_nothing_else_is_said(tmp_path: Path) -> None:
    report = check_tree(_as_v50(tmp_path / "tree"))
    assert [f.rule_id for f in report.findings] == ["perf.seed-round"]
    said = report.findings[0].message
    assert "these logs carry v5.0 seeds" in said and "--version v5.0" in said
    assert "official checker" in said and "left out" in said
    assert not any(r.valid for r in report.results)
    assert all([x["rule_id"] for x in r.reasons] == ["perf.seed-round"] for r in report.results)


def test_what_no_rounds_rules_decide_is_still_said(tmp_path: Path) -> None:
    root = _as_v50(tmp_path / "tree")
    # a credential-shaped value (made up here) in a file of the submission
    (root / "closed" / "GATEOverflow" / "calibration.md").write_text(
        "token: ghp_" + "a1B2c3D4e5F6g7H8i9J0" * 2 + "\n")
    report = check_tree(root)
    assert sorted(f.rule_id for f in report.findings) == ["perf.seed-round", "tree.secret"]


def test_beside_a_result_of_the_checked_round_nothing_is_set_aside(tmp_path: Path) -> None:
    """v5.1 results in a tree of v6.0 results: their seed errors become the one finding,
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
    # its other findings (v6.0's layout: no TEST01/TEST04 beside the result) are still said
    assert "compliance.missing" in mixed.rule_ids()


def test_asking_for_a_round_without_rules_names_the_tool_that_has_them(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["check", str(_as_v50(tmp_path / "tree")), "--round", "v5.0"]) == 2
    err = capsys.readouterr().err
    assert "no rules for round 'v5.0'" in err and "--version v5.0" in err


def test_the_cli_fails_the_tree_with_the_one_finding(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["check", str(_as_v50(tmp_path / "tree"))]) == 3
    out = capsys.readouterr().out
    assert "perf.seed-round: these logs carry v5.0 seeds" in out
    assert "compliance.missing" not in out and "files.missing" not in out


def test_preprocess_leaves_it_alone_and_names_the_round(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "out"
    assert main(["preprocess", str(_as_v50(tmp_path / "tree")), "--out", str(out)]) == 3
    assert "these logs carry v5.0 seeds" in capsys.readouterr().out
    assert (out / RESULT / "performance" / "run_1" / "mlperf_log_detail.txt").is_file()


@pytest.mark.skipif(not os.environ.get("MLPERF_INFERENCE_CHECKOUT"),
                    reason="set MLPERF_INFERENCE_CHECKOUT to a mlcommons/inference checkout")
def test_the_official_checker_finds_no_seed_wrong_for_the_round_we_name(tmp_path: Path) -> None:
    checkout = Path(os.environ["MLPERF_INFERENCE_CHECKOUT"])
    entry = checkout / "tools" / "submission" / "submission_checker" / "main.py"

    def seed_errors(tree: Path, version: str) -> list[str]:
        proc = subprocess.run([sys.executable, str(entry), "--input", str(tree), "--version", version],
                              capture_output=True, text=True, cwd=checkout, timeout=600, check=False)
        return [line for line in (proc.stdout + proc.stderr).splitlines() if "rng_seed is wrong" in line]

    assert seed_errors(V51, "v5.1") == []
    assert len(seed_errors(V51, "v6.1")) == 3 * 3  # the three seeds of each performance log
    v50 = _as_v50(tmp_path / "tree")
    assert seed_errors(v50, "v5.0") == []


def test_preprocess_of_a_v51_tree_says_what_to_use(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """Moving a v5.1 result would have to move its compliance/ and measurements/ folders too:
    preprocess refuses the layout, before writing anything, and names the tool that has it."""
    out = tmp_path / "out"
    assert main(["preprocess", str(V51), "--out", str(out), "--round", "v5.1"]) == 2
    err = capsys.readouterr().err
    assert "compliance/ and measurements/" in err and "preprocess_submission.py --version v5.1" in err
    assert not out.exists()


def test_the_report_of_a_v51_tree_reads_its_compliance_folders(tmp_path: Path) -> None:
    out = tmp_path / "report.html"
    assert main(["report", str(V51), "--round", "v5.1", "--out", str(out)]) == 0
    page = out.read_text(encoding="utf-8")
    # each of the three results' TEST01 and TEST04, read from compliance/, as published: PASS
    assert page.count('TEST01" data-verdict="PASS"') == 3 and page.count('TEST04" data-verdict="PASS"') == 3
    assert 'data-verdict="FAIL"' not in page and 'data-verdict="MISSING"' not in page
