"""`mlperf-ops validate` on the invalid-manifest corpus, run as a subprocess.

Each file under tests/manifests/invalid/ holds one failure mode; EXPECTED.yaml says
on which line (and column) the problem must land and what its message says. The
corpus lives inside the repository, so the CLI finds the project's images/ and
pipelines/ by walking up from the manifest (MLPERF_OPS_PROJECT is removed on purpose).
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest
import yaml

REPO = Path(__file__).resolve().parents[1]
CORPUS = REPO / "tests" / "manifests" / "invalid"
EXPECTED_FILE = CORPUS / "EXPECTED.yaml"
EXPECTED: dict[str, dict[str, Any]] = yaml.safe_load(EXPECTED_FILE.read_text("utf-8"))


def _env(project: Path | None = None) -> dict[str, str]:
    env = dict(os.environ)
    env.pop("MLPERF_OPS_PROJECT", None)
    env.update(OPENBLAS_NUM_THREADS="1", OMP_NUM_THREADS="1", CI="true", NO_COLOR="1")
    if project is not None:
        env["MLPERF_OPS_PROJECT"] = str(project)
    return env


def validate(*args: str, project: Path | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "mlperf_ops", "validate", *args],
        cwd=REPO, env=_env(project), capture_output=True, text=True, timeout=60,
    )


def _corpus_files() -> list[str]:
    return sorted(p.name for p in CORPUS.iterdir() if p.name != EXPECTED_FILE.name)


def _cases() -> list[Any]:
    cases = []
    for name, expected in sorted(EXPECTED.items()):
        marks = [pytest.mark.xfail(strict=True, reason=expected["xfail"])] if expected.get("xfail") else []
        cases.append(pytest.param(name, expected, id=name, marks=marks))
    return cases


def test_corpus_and_expectations_match() -> None:
    """Every corpus file has an expectation and every expectation a file."""
    files = set(_corpus_files())
    assert files == set(EXPECTED), (
        f"without expectation: {sorted(files - set(EXPECTED))}; without file: {sorted(set(EXPECTED) - files)}"
    )
    assert len(files) >= 35
    for name, expected in EXPECTED.items():
        assert {"what", "line", "col", "message"} <= set(expected), name


@pytest.fixture(scope="module")
def corpus_results() -> dict[str, subprocess.CompletedProcess[str]]:
    """One `validate FILE` subprocess per corpus file, a few at a time (CLI start-up dominates)."""
    names = sorted(EXPECTED)
    with ThreadPoolExecutor(max_workers=4) as pool:
        results = pool.map(lambda name: validate(f"tests/manifests/invalid/{name}"), names)
        return dict(zip(names, results))


@pytest.mark.parametrize(("name", "expected"), _cases())
def test_invalid_manifest_is_reported_at_its_line(
    name: str, expected: dict[str, Any], corpus_results: dict[str, subprocess.CompletedProcess[str]]
) -> None:
    rel = f"tests/manifests/invalid/{name}"
    result = corpus_results[name]
    assert "Traceback" not in result.stderr + result.stdout
    assert result.returncode == 2, result.stderr
    assert result.stdout == "", "problems go to stderr, nothing to stdout"
    col = r"\d+" if expected["col"] is None else str(expected["col"])
    located = re.compile(rf"^{re.escape(rel)}:{expected['line']}:{col}: (.*)$", re.M)
    lines = [m.group(1) for m in located.finditer(result.stderr)]
    assert lines, f"no problem at {rel}:{expected['line']}:{expected['col']} in:\n{result.stderr}"
    assert any(expected["message"] in line for line in lines), result.stderr
    if expected.get("hint"):
        assert f"hint: {expected['hint']}" in result.stderr or expected["hint"] in result.stderr
    # one failure mode per file: exactly one problem is reported
    assert re.search(r"^ERROR: 1 problem\(s\) in 1 of 1 manifest\(s\)$", result.stderr, re.M), result.stderr


def test_directory_instead_of_file(tmp_path: Path) -> None:
    folder = tmp_path / "manifest.yaml"
    folder.mkdir()
    result = validate(str(folder), project=REPO)
    assert "Traceback" not in result.stderr
    assert result.returncode == 2
    assert re.search(rf"^{re.escape(str(folder))}:1:1: .*is a directory", result.stderr, re.M), result.stderr


def test_missing_file(tmp_path: Path) -> None:
    missing = tmp_path / "nope.yaml"
    result = validate(str(missing), project=REPO)
    assert "Traceback" not in result.stderr
    assert result.returncode == 2
    assert f"{missing}:1:1: " in result.stderr and "file not found" in result.stderr


def _problem_lines(stderr: str, path: Path) -> list[str]:
    return [line for line in stderr.splitlines() if re.match(rf"^{re.escape(str(path))}:\d+:\d+: ", line)]


SCHEMA_TIER_PROBLEMS = """\
version: 1
round: v6.1
submitter: Corpus Corp
division: closd
status: available
system_type: edge
colour: blue
systems:
  - id: sut-a
    image: cpu
    container:
      pids: lots
    benchmarks:
      - name: resnet
        scenarios: {}
"""

RULES_TIER_PROBLEMS = """\
version: 1
round: v6.1
submitter: CorpusCorp
division: open
status: available
system_type: edge
pipeline: smok
systems:
  - id: sut-a
    image: cpu
    description:
      api_key: x
    benchmarks:
      - name: resnet51
        scenarios:
          SingleStream: {}
      - name: resnet
        scenarios:
          SingleStream:
            min_duration: 10
          Server: {}
  - id: sut-a
    image: tpu
    benchmarks:
      - name: bert-99
        scenarios:
          Offline: {target_qsp: 5}
"""


def test_all_schema_problems_reported_at_once(tmp_path: Path) -> None:
    manifest = tmp_path / "many.yaml"
    manifest.write_text(SCHEMA_TIER_PROBLEMS, encoding="utf-8")
    result = validate(str(manifest), project=REPO)
    assert result.returncode == 2 and "Traceback" not in result.stderr
    lines = _problem_lines(result.stderr, manifest)
    # submitter pattern, division enum, unknown key colour, pids type, empty scenarios
    assert len(lines) == 5, result.stderr
    assert {int(line.split(":")[1]) for line in lines} == {3, 4, 7, 12, 15}
    assert "ERROR: 5 problem(s) in 1 of 1 manifest(s)" in result.stderr


def test_all_rules_problems_reported_at_once(tmp_path: Path) -> None:
    manifest = tmp_path / "many.yaml"
    manifest.write_text(RULES_TIER_PROBLEMS, encoding="utf-8")
    result = validate(str(manifest), project=REPO)
    assert result.returncode == 2 and "Traceback" not in result.stderr
    lines = _problem_lines(result.stderr, manifest)
    expected = {
        7: "pipeline profile 'smok'",
        12: "key 'api_key' looks like it holds a secret",
        14: "unknown benchmark 'resnet51'",
        20: "LoadGen setting 'min_duration' cannot be set",
        21: "scenario Server is not allowed",
        22: "duplicate system id 'sut-a'",
        23: "image target 'tpu' does not exist",
        27: "unknown LoadGen setting 'target_qsp'",
    }
    assert len(lines) == len(expected), result.stderr
    for line_no, text in expected.items():
        assert any(line.split(":")[1] == str(line_no) and text in line for line in lines), (line_no, result.stderr)
    assert f"ERROR: {len(expected)} problem(s) in 1 of 1 manifest(s)" in result.stderr


def test_infinite_loadgen_values_rejected(tmp_path: Path) -> None:
    """1.0e+999 parses as inf (bare 1e999 is a string to PyYAML): rejected in a scenario and in loadgen."""
    manifest = tmp_path / "inf.yaml"
    manifest.write_text("""\
version: 1
round: v6.1
submitter: CorpusCorp
division: open
status: available
system_type: edge
systems:
  - id: sut-a
    image: cpu
    benchmarks:
      - name: resnet
        loadgen: {max_duration: -.inf}
        scenarios:
          Offline: {target_qps: 1.0e+999}
""", encoding="utf-8")
    result = validate(str(manifest), project=REPO)
    assert result.returncode == 2 and "Traceback" not in result.stderr
    lines = _problem_lines(result.stderr, manifest)
    assert len(lines) == 2, result.stderr
    assert any(":12:" in line and "'max_duration' must be a finite number" in line for line in lines)
    assert any(":14:" in line and "'target_qps' must be a finite number" in line for line in lines)


def test_several_files_each_reported() -> None:
    a = "tests/manifests/invalid/rules_unknown_round.yaml"
    b = "tests/manifests/invalid/schema_bad_version.yaml"
    result = validate(a, "manifests/demo.yaml", b)
    assert result.returncode == 2
    assert f"{a}:2:8: " in result.stderr and f"{b}:1:10: " in result.stderr
    assert "manifests/demo.yaml: valid" in result.stdout
    assert "ERROR: 2 problem(s) in 2 of 3 manifest(s)" in result.stderr


def test_json_report_carries_positions() -> None:
    rel = "tests/manifests/invalid/rules_unknown_scenario.yaml"
    result = validate("--json", rel)
    assert result.returncode == 2
    report = json.loads(result.stdout)
    assert [entry["manifest"] for entry in report] == [rel]
    assert report[0]["valid"] is False
    (problem,) = report[0]["problems"]
    assert (problem["line"], problem["col"]) == (14, 11)
    assert "SingelStream" in problem["message"]
