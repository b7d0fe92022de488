"""Hostile input: every file a person edits fails safely (issue 14).

The corpus under tests/hostile/ (written by tests/hostile/make_corpus.py) holds manifests,
pipeline profiles and image specs built to break a YAML reader: alias bombs, recursive
aliases, 5,000 brackets, control characters, NUL bytes, invalid UTF-8/UTF-16, huge
numbers, secrets, meaningless LoadGen values. Each must give exit 2, no traceback, a
problem on the line EXPECTED.yaml names, short output, and bounded CPU time and memory —
measured inside the validating process with getrusage, not by the wall clock (the machine
is shared).
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest
import yaml

from mlperf_ops.stacks import images
from mlperf_ops.core.errors import FileInvalid
from mlperf_ops.manifest.pipeline import load_profile
from tests.support.measured import run_measured

REPO = Path(__file__).resolve().parents[1]
CORPUS = REPO / "tests" / "hostile"
EXPECTED: dict[str, dict[str, Any]] = yaml.safe_load((CORPUS / "EXPECTED.yaml").read_text("utf-8"))

# Generous bounds (the issue asks for 2 s and 200 MB per 1 MB file; CPU time includes
# the interpreter's start-up and imports, and this machine is shared).
MAX_CPU_S = 10.0
MAX_RSS_MB = 200
MAX_STDERR = 20_000  # characters: values are quoted back shortened, whatever their size

def run_validate(path: Path, usage_file: Path) -> tuple[subprocess.CompletedProcess[str], dict[str, float]]:
    env = dict(os.environ, HOSTILE_RUSAGE=str(usage_file), OPENBLAS_NUM_THREADS="1", OMP_NUM_THREADS="1",
               NO_COLOR="1")
    env.pop("MLPERF_OPS_PROJECT", None)
    return run_measured(["validate", str(path)], usage_file, cwd=REPO, env=env, timeout=120)


def assert_bounded(result: subprocess.CompletedProcess[str], usage: dict[str, float]) -> None:
    assert "Traceback" not in result.stderr + result.stdout, result.stderr[-3000:]
    assert usage, "the validating process did not finish normally"
    assert usage["cpu_s"] < MAX_CPU_S, usage
    assert usage["maxrss_mb"] < MAX_RSS_MB, usage
    assert len(result.stderr) < MAX_STDERR, f"{len(result.stderr)} characters of output"


def test_corpus_and_expectations_match() -> None:
    files = {p.relative_to(CORPUS).as_posix() for p in CORPUS.rglob("*")
             if p.is_file() and p.name not in ("EXPECTED.yaml", "make_corpus.py")}
    assert files == set(EXPECTED)
    kinds = {kind: [f for f in files if f.startswith(kind)] for kind in ("manifests/", "profiles/", "image-specs/")}
    assert len(files) >= 40
    assert all(len(found) >= 10 for found in kinds.values()), {k: len(v) for k, v in kinds.items()}


@pytest.fixture(scope="module")
def corpus_results(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """One validating process per file, two at a time (a shared two-core machine)."""
    usage_dir = tmp_path_factory.mktemp("rusage")

    def one(name: str) -> tuple[str, Any]:
        return name, run_validate(CORPUS / name, usage_dir / (name.replace("/", "_") + ".json"))

    with ThreadPoolExecutor(max_workers=2) as pool:
        return dict(pool.map(one, sorted(EXPECTED)))


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_validate_reports_the_line(name: str, corpus_results: dict[str, Any]) -> None:
    expected = EXPECTED[name]
    result, usage = corpus_results[name]
    assert_bounded(result, usage)
    assert result.returncode == 2, result.stderr
    rel = str(CORPUS / name)
    located = re.compile(rf"^{re.escape(rel)}:{expected['line']}:\d+: (.*)$", re.M)
    lines = [m.group(1) for m in located.finditer(result.stderr)]
    assert lines, f"no problem at line {expected['line']} in:\n{result.stderr[:3000]}"
    assert any(expected["message"] in line for line in lines), result.stderr[:3000]


PROFILES = sorted(n for n in EXPECTED if n.startswith("profiles/"))
IMAGE_SPECS = sorted(n for n in EXPECTED if n.startswith("image-specs/"))


def _problem_at(error: FileInvalid, line: int, message: str) -> bool:
    return any(p.line == line and message in p.message for p in error.problems)


@pytest.mark.parametrize("name", PROFILES)
def test_profile_loader_raises_positioned_problems(name: str, tmp_path: Path) -> None:
    """What apply and plan call: `load_profile` raises FileInvalid (exit 2), never a traceback."""
    source = CORPUS / name
    (tmp_path / "pipelines").mkdir()
    shutil.copyfile(source, tmp_path / "pipelines" / source.name)
    with pytest.raises(FileInvalid) as caught:
        load_profile(tmp_path, source.stem)
    assert caught.value.exit_code == 2
    assert _problem_at(caught.value, EXPECTED[name]["line"], EXPECTED[name]["message"]), caught.value.problems


@pytest.mark.parametrize("name", IMAGE_SPECS)
def test_image_loader_raises_positioned_problems(name: str, tmp_path: Path) -> None:
    """What every verb calls: listing targets reads each image.yaml and raises FileInvalid."""
    source = CORPUS / name
    context = tmp_path / "images" / source.parent.name
    context.mkdir(parents=True)
    shutil.copyfile(source, context / "image.yaml")
    with pytest.raises(FileInvalid) as caught:
        images.list_targets(tmp_path / "images")
    assert caught.value.exit_code == 2
    assert _problem_at(caught.value, EXPECTED[name]["line"], EXPECTED[name]["message"]), caught.value.problems


MEGABYTE = 1024 * 1024
# A valid manifest; NOTES is replaced by each megabyte-sized variant, so every tier runs.
VALID = (CORPUS / "manifests" / "target_qps_zero.yaml").read_text("utf-8").replace(
    "Offline: {target_qps: 0}", "SingleStream: {}")
NOTES = '      sw_notes: "plain notes"'


def _megabyte_files() -> dict[str, bytes]:
    """Files of about 1 MB each: the size bound of the issue, hostile in different ways."""
    def notes(text: str) -> bytes:
        return VALID.replace(NOTES, text).encode()

    return {
        "value": notes('      sw_notes: "' + "x" * MEGABYTE + '"'),
        "token_at_the_end": notes('      sw_notes: "' + "word " * (MEGABYTE // 5) + "hf_" + "a" * 34 + '"'),
        "token_lookalikes": notes('      sw_notes: "' + "eyJ" * (MEGABYTE // 3) + '"'),
        "brackets": notes("      sw_notes: " + "[" * MEGABYTE),
        "flat_list": notes("      sw_notes:\n" + "        - x\n" * (MEGABYTE // 12)),
        "many_keys": notes("      sw_notes: x\n" + "".join(f"      k{i}: {i}\n" for i in range(MEGABYTE // 16))),
        "one_line_of_colons": notes("      sw_notes: " + "a:" * (MEGABYTE // 2)),
        "nul_bytes": b"\0" * MEGABYTE,
        "invalid_utf8": b"\xff" * MEGABYTE,
    }


@pytest.mark.parametrize("kind", sorted(_megabyte_files()))
def test_megabyte_files_are_bounded(kind: str, tmp_path: Path) -> None:
    path = tmp_path / "manifests" / f"{kind}.yaml"
    path.parent.mkdir()
    path.write_bytes(_megabyte_files()[kind])
    result, usage = run_validate(path, tmp_path / "usage.json")
    assert_bounded(result, usage)
    assert result.returncode == 2
    assert re.search(rf"^{re.escape(str(path))}:\d+:\d+: ", result.stderr, re.M), result.stderr[:2000]
