"""The README's two `make submission` lines, one after the other, in one checkout.

The first makes the smoke demo; the second (the single-stream manifest with the
`submission` profile) takes 30 minutes for real, so here it runs with a test-only profile
of the same shape and a short duration. What matters is the sequence: the second
`assemble` writes another tree into the same `dist/submission`, with other accuracy logs
at the same paths, and must keep both trees' untruncated originals.
"""

from __future__ import annotations

import hashlib
import re
import shlex
import shutil
import subprocess
from pathlib import Path

import pytest
from tests.support.checkout import copy_checkout

REPO = Path(__file__).resolve().parents[1]
SECOND_PROFILE = """\
name: rehearsal
description: test-only stand-in for the submission profile in the README sequence test
submittable: false
loadgen:
  min_duration_ms: 4000
calibration:
  enabled: true
  duration_ms: 1000
run_timeout_s: 600
transient_retries: 2
audit_retries: 10
require_valid: true
"""


def readme_make_lines() -> list[list[str]]:
    """Every `make submission ...` command line in the README's shell blocks, in order."""
    lines = []
    for block in re.findall(r"```sh\n(.*?)```", (REPO / "README.md").read_text("utf-8"), re.S):
        for line in block.splitlines():
            command = line.split("#", 1)[0].strip()
            if command.startswith("make submission"):
                lines.append(shlex.split(command))
    return lines


@pytest.mark.docker
@pytest.mark.slow
def test_the_readme_sequence_of_two_make_submissions(
        tmp_path: Path, demo_ledger: tuple[Path, subprocess.CompletedProcess[str]]) -> None:
    first, second = readme_make_lines()[:2]
    assert first == ["make", "submission"]
    assert "PIPELINE=submission" in second and any(a.startswith("MANIFEST=") for a in second)
    checkout = copy_checkout(tmp_path / "checkout")
    (checkout / "pipelines" / "rehearsal.yaml").write_text(SECOND_PROFILE)
    second = ["PIPELINE=rehearsal" if arg == "PIPELINE=submission" else arg for arg in second]
    # This checkout's venv is the repository's (same code). Its ledger starts as a copy of a
    # demo ledger (the first line's runs, made once for the test session); dist is its own.
    shutil.copytree(demo_ledger[0], checkout / ".mlperf-ops", symlinks=True)
    common = [f"VENV={REPO / '.venv'}", "STATE=.mlperf-ops", "DIST=dist"]
    log = []
    for command in (first, second):
        done = subprocess.run([*command, *common], cwd=checkout, capture_output=True, text=True, timeout=2400)
        log.append(f"$ {' '.join(command)} -> {done.returncode}\n{done.stdout[-4000:]}{done.stderr[-4000:]}")
        assert done.returncode == 0, "\n".join(log)
    tree = checkout / "dist" / "submission"
    assert (tree / "open" / "MLPerfOpsDemo").is_dir()
    # Both trees' originals are kept, each under the hash its accuracy.txt names.
    originals = checkout / ".mlperf-ops" / "originals" / "submission"
    kept = {p.parent.name for p in originals.rglob("mlperf_log_accuracy.json")}
    for txt in tree.rglob("accuracy.txt"):
        hashes = re.findall(r"^hash=(\w+)$", txt.read_text(), re.M)
        assert hashes and set(hashes) <= kept, txt
    for digest in kept:
        [path] = originals.rglob(f"{digest}/mlperf_log_accuracy.json")
        assert hashlib.sha256(path.read_bytes()).hexdigest() == digest
    assert len(kept) > len(list(tree.rglob("accuracy.txt")))  # the first tree's are still there
