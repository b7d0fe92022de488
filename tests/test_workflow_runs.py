"""runs.yml on its defaults, run step by step on this machine the way a runner would.

A small stand-in for the GitHub runner reads `.github/workflows/runs.yml` and runs its
jobs in order (plan, then one `run` job per matrix entry, then aggregate), each in a
fresh copy of the repository's tracked files, as its own workspace. `run:` steps go
through `bash -eo pipefail` with the workflow's and the job's environment, GITHUB_OUTPUT
and GITHUB_STEP_SUMMARY files; the few actions the workflow uses are played by what they
do here: checkout and setup-python are the workspace and this machine's Python 3.11,
upload-artifact and download-artifact copy files through an artifact folder. Nothing of
the workflow is re-stated here: change a step there and this test runs the new step.
"""

from __future__ import annotations

import glob
import json
import os
import re
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml
from tests.support.checkout import copy_checkout

REPO = Path(__file__).resolve().parents[1]
RUNS = REPO / ".github" / "workflows" / "runs.yml"
EXPR = re.compile(r"\$\{\{\s*(.*?)\s*\}\}")


class Runner:
    def __init__(self, base: Path, workflow: dict[str, Any]) -> None:
        self.base = base
        self.workflow = workflow
        self.artifacts = base / "artifacts"
        self.outputs: dict[str, dict[str, str]] = {}
        self.log: list[str] = []

    # -- expressions: only the forms runs.yml uses --------------------------------
    def value(self, expr: str, matrix: dict[str, Any]) -> str:
        """`a || b || 'literal'`, `matrix.x`, `needs.j.outputs.o`; inputs and vars are unset on a push."""
        for alternative in (part.strip() for part in expr.split("||")):
            if alternative.startswith("'") and alternative.endswith("'"):
                return alternative[1:-1]
            if alternative.startswith("matrix."):
                found = matrix.get(alternative.split(".", 1)[1])
                if found is not None:
                    return found if isinstance(found, str) else json.dumps(found)
            if alternative.startswith("needs."):
                _, job, _, name = alternative.split(".")
                if self.outputs.get(job, {}).get(name):
                    return self.outputs[job][name]
        return ""

    def render(self, text: str, matrix: dict[str, Any]) -> str:
        return EXPR.sub(lambda m: self.value(m.group(1), matrix), text)

    def condition(self, text: str | None, matrix: dict[str, Any], steps_ok: bool) -> bool:
        if text is None:
            return steps_ok
        inner = EXPR.sub(lambda m: m.group(1), str(text)).strip()
        if inner == "!cancelled() && steps.assemble.outcome == 'success'":
            return self.outputs.get("_steps", {}).get("assemble") == "success"
        match = re.fullmatch(r"needs\.(\w+)\.outputs\.(\w+) != '(.*)'", inner)
        if match:
            return self.outputs.get(match.group(1), {}).get(match.group(2)) != match.group(3)
        raise AssertionError(f"this stand-in runner does not know the condition {text!r}: teach it")

    # -- jobs ---------------------------------------------------------------------
    def workspace(self, name: str) -> Path:
        """A fresh checkout: the repository's tracked files (as they are in the work tree)."""
        return copy_checkout(self.base / "ws" / name)

    def run_job(self, job_id: str, matrix: dict[str, Any], extra_env: dict[str, str]) -> None:
        job = self.workflow["jobs"][job_id]
        label = f"{job_id}{'/' + matrix['system'] if matrix else ''}"
        ws = self.workspace(label.replace("/", "-"))
        gh_output, summary = ws.parent / f"{ws.name}.output", ws.parent / f"{ws.name}.summary.md"
        gh_output.touch()
        env = {**os.environ, **extra_env, "CI": "true", "GITHUB_OUTPUT": str(gh_output),
               "GITHUB_STEP_SUMMARY": str(summary), "GITHUB_WORKSPACE": str(ws)}
        for scope in (self.workflow.get("env") or {}, job.get("env") or {}):
            env.update({k: self.render(str(v), matrix) for k, v in scope.items()})
        self.outputs["_steps"] = {}
        ok = True
        for step in job["steps"]:
            if not self.condition(step.get("if"), matrix, ok):
                continue
            uses = str(step.get("uses", ""))
            with_ = {k: self.render(str(v), matrix) for k, v in (step.get("with") or {}).items()}
            if uses.startswith(("actions/checkout@", "actions/setup-python@")):
                continue  # the workspace is the checkout; this machine has Python 3.11
            if uses.startswith("actions/upload-artifact@"):
                self.upload(ws, with_)
                continue
            if uses.startswith("actions/download-artifact@"):
                self.download(ws, with_)
                continue
            assert "run" in step, f"{label}: a step this stand-in cannot play: {step}"
            done = subprocess.run(["bash", "--noprofile", "--norc", "-eo", "pipefail", "-c", step["run"]],
                                  cwd=ws, env=env, capture_output=True, text=True, timeout=2400)
            self.log.append(f"== {label}: {step.get('name', step['run'])} -> {done.returncode}\n"
                            f"{done.stdout[-3000:]}{done.stderr[-3000:]}")
            if "id" in step:
                self.outputs["_steps"][step["id"]] = "success" if done.returncode == 0 else "failure"
            assert done.returncode == 0, "\n".join(self.log)
        written = dict(line.partition("=")[::2] for line in gh_output.read_text().splitlines())
        self.outputs[job_id] = {}
        for name, expr in (job.get("outputs") or {}).items():
            source = re.search(r"steps\.\w+\.outputs\.(\w+)", str(expr))
            assert source, f"{job_id}: output {name} is not a step output: {expr}"
            self.outputs[job_id][name] = written.get(source.group(1), "")

    def upload(self, ws: Path, with_: dict[str, str]) -> None:
        target = self.artifacts / with_["name"]
        target.mkdir(parents=True, exist_ok=True)
        found = [p for pattern in with_["path"].split() for p in glob.glob(str(ws / pattern))]
        assert found or with_.get("if-no-files-found") != "error", f"artifact {with_['name']}: no files"
        for path in found:
            shutil.copy2(path, target / Path(path).name)

    def download(self, ws: Path, with_: dict[str, str]) -> None:
        target = ws / with_["path"]
        target.mkdir(parents=True, exist_ok=True)
        for folder in sorted(self.artifacts.glob(with_.get("pattern", "*"))):
            for path in folder.iterdir():
                shutil.copy2(path, target / path.name)


@pytest.mark.docker
@pytest.mark.slow
def test_runs_workflow_on_its_defaults_reaches_the_packed_tarball(
        tmp_path: Path, demo_ledger: tuple[Path, subprocess.CompletedProcess[str]]) -> None:
    workflow = yaml.safe_load(RUNS.read_text())
    runner = Runner(tmp_path, workflow)
    runner.run_job("plan", {}, {})
    plan = runner.outputs["plan"]
    assert plan["pending"] != "0", runner.log
    matrix = json.loads(plan["matrix"])
    assert [entry["system"] for entry in matrix["include"]] == ["demo-cpu"]
    for entry in matrix["include"]:
        # The self-hosted runner's .env: a ledger outside the work tree that survives checkouts
        # (runs.yml's header); this runner ran the demo before, so apply resumes from it.
        ledger = tmp_path / "runner-state" / entry["system"]
        shutil.copytree(demo_ledger[0], ledger, symlinks=True)
        runner.run_job("run", entry, {"MLPERF_OPS_STATE": str(ledger)})
    runner.run_job("aggregate", {}, {})
    submission = runner.artifacts / "submission"
    tarballs = sorted(submission.glob("*.tar.gz"))
    assert [t.name for t in tarballs] == ["MLPerfOpsDemo-v6.1-smoke.tar.gz"], runner.log
    assert (submission / "report.json").is_file() and list(submission.glob("*.sha256"))
    assert (runner.artifacts / "report" / "report.html").is_file()
