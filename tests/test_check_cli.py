"""`mlperf-ops check` through the real CLI entry point: exit codes, JSON, CI output."""

from __future__ import annotations

import json
import shutil
import sys
from pathlib import Path

import pytest

from tests.support import treegen  # noqa: E402
from tests.test_check_tree import MUTATIONS  # noqa: E402

from mlperf_ops.cli import main  # noqa: E402
from mlperf_ops.core.errors import EXIT_CHECK_FAILED, EXIT_OK  # noqa: E402

SAMPLE = {"wrong-seed", "invalid-result", "mis-cased-division", "empty-tree", "test01-fail", "integer-zero-accelerators"}


@pytest.fixture()
def tree(tmp_path: Path) -> Path:
    return treegen.copy_tree(tmp_path / "tree")


def test_smoke_tree_exits_zero_and_as_submission_exits_three(tree: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["check", str(tree)]) == EXIT_OK
    out = capsys.readouterr().out
    assert "OK: smoke tree" in out and "smoke run:" in out
    assert main(["check", str(tree), "--as-submission"]) == EXIT_CHECK_FAILED
    captured = capsys.readouterr()
    assert "perf.min-duration" in captured.out and "ERROR" in captured.err


@pytest.mark.parametrize("name,mutate,rule", [m for m in MUTATIONS if m[0] in SAMPLE],
                         ids=[m[0] for m in MUTATIONS if m[0] in SAMPLE])
def test_broken_tree_exits_three_with_rule_in_json(
    tree: Path, capsys: pytest.CaptureFixture[str], name: str, mutate: object, rule: str
) -> None:
    mutate(tree)  # type: ignore[operator]
    # --strict: the generated tree is open, where a failing audit test is otherwise a warning
    assert main(["check", str(tree), "--json", "--strict"]) == EXIT_CHECK_FAILED
    doc = json.loads(capsys.readouterr().out)
    assert doc["ok"] is False
    assert rule in {f["rule_id"] for f in doc["findings"]}


def test_github_actions_annotations_and_summary(
    tree: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    shutil.rmtree(treegen.scenario_dir(tree) / "performance" / "run_1")
    summary = tmp_path / "summary.md"
    monkeypatch.setenv("GITHUB_ACTIONS", "true")
    monkeypatch.setenv("GITHUB_STEP_SUMMARY", str(summary))
    assert main(["check", str(tree)]) == EXIT_CHECK_FAILED
    out = capsys.readouterr().out
    assert "::error file=" in out and "title=perf.missing-run" in out
    text = summary.read_text()
    assert "| severity | rule | path | message |" in text and "`perf.missing-run`" in text


def test_missing_directory_is_a_usage_error(tmp_path: Path) -> None:
    assert main(["check", str(tmp_path / "nope")]) == 2
