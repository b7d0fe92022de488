"""The GitHub Actions workflows: three offline validators plus the project's own rules.

Validators (all from the dev extras, found next to this Python; a missing one FAILS):
- check-jsonschema with the GitHub workflow schema (structure),
- actionlint with .github/actionlint.yaml (expressions, contexts, runner labels, vars),
- zizmor --offline (security: injection, credentials, permissions, pinning).

Project rules (README, "How it fits together"): every `run:` calls `make` or `mlperf-ops`,
nothing is spliced into a script with `${{ }}`, actions are pinned to commit SHAs, jobs
have timeouts, permissions start at `contents: read`, and the CLI verbs/flags and make
targets the workflows call exist.
"""

from __future__ import annotations

import re
import shlex
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import click
import pytest
import yaml

REPO = Path(__file__).resolve().parents[1]
WORKFLOWS_DIR = REPO / ".github" / "workflows"
ACTIONLINT_CONFIG = REPO / ".github" / "actionlint.yaml"
VENV_BIN = Path(sys.executable).parent
WORKFLOW_NAMES = ("ci.yml", "runs.yml", "submit.yml", "revalidate.yml")
WORKFLOWS = [WORKFLOWS_DIR / name for name in WORKFLOW_NAMES]

MLPERF_OPS = ".venv/bin/mlperf-ops"
# The one exception to "make or mlperf-ops": the hosted CI runs the same script as the
# project's own CI, so ci.yml cannot drift from it.
ALLOWED_OTHER_COMMANDS = {"ci.yml": {"bash .ci/run"}}
SHELL_LOGIC = re.compile(r"[;&|`<>]|\$\(")
SHA_PIN = re.compile(r"^\s*(?:-\s*)?uses:\s*([\w.-]+/[\w./-]+)@([0-9a-f]{40})\s+#\s*v\d+\.\d+\.\d+\s*$")


def _tool(name: str) -> Path:
    path = VENV_BIN / name
    assert path.is_file(), f"{name} not found in {VENV_BIN}: install the dev extras (pip install -e '.[dev]')"
    return path


def _load(path: Path) -> dict[str, Any]:
    # PyYAML (YAML 1.1) reads the key `on` as True; normalise it back.
    data = yaml.safe_load(path.read_text("utf-8"))
    assert isinstance(data, dict), path
    if True in data:
        data["on"] = data.pop(True)
    return data


def _steps(workflow: dict[str, Any]) -> Iterator[tuple[str, dict[str, Any]]]:
    for job_id, job in workflow["jobs"].items():
        for step in job.get("steps", []):
            yield job_id, step


def _run(cmd: list[str], cwd: Path = REPO) -> subprocess.CompletedProcess[str]:
    return subprocess.run(cmd, cwd=cwd, capture_output=True, text=True, timeout=300, check=False)


# --- the three validators ---------------------------------------------------------


@pytest.mark.parametrize("name", ["check-jsonschema", "actionlint", "zizmor"])
def test_validator_is_installed(name: str) -> None:
    result = _run([str(_tool(name)), "--version"])
    assert result.returncode == 0, result.stderr


def test_every_workflow_is_covered() -> None:
    assert sorted(p.name for p in WORKFLOWS_DIR.glob("*.yml")) == sorted(WORKFLOW_NAMES)
    assert not list(WORKFLOWS_DIR.glob("*.yaml"))


@pytest.mark.parametrize("workflow", WORKFLOWS, ids=lambda p: p.name)
def test_github_workflow_schema(workflow: Path) -> None:
    result = _run([str(_tool("check-jsonschema")), "--builtin-schema", "vendor.github-workflows", str(workflow)])
    assert result.returncode == 0, result.stdout + result.stderr


@pytest.mark.parametrize("workflow", WORKFLOWS, ids=lambda p: p.name)
def test_actionlint(workflow: Path) -> None:
    result = _run([str(_tool("actionlint")), "-config-file", str(ACTIONLINT_CONFIG), str(workflow)])
    assert result.returncode == 0, result.stdout + result.stderr


def test_zizmor_offline_has_no_findings() -> None:
    result = _run([str(_tool("zizmor")), "--offline", "--format", "json", *map(str, WORKFLOWS)])
    findings = [f for f in yaml.safe_load(result.stdout or "[]") if not f.get("ignored")]
    assert findings == [], "\n".join(f"{f['ident']}: {f['desc']}" for f in findings)
    assert result.returncode == 0, result.stderr


# The validators must actually look: each rejects a workflow with a known fault.
BAD_WORKFLOW = """\
name: bad
on:
  pull_request:
permissions:
  contents: read
jobs:
  x:
    runs-on: ubuntu-latest
    timeout-minutes: 5
    steps:
      - uses: actions/checkout@v4
      - run: echo "${{ github.event.pull_request.title }}" ${{ vars.NOT_DECLARED }}
"""


def _bad_repo(tmp_path: Path, text: str) -> Path:
    target = tmp_path / ".github" / "workflows" / "bad.yml"
    target.parent.mkdir(parents=True)
    target.write_text(text, encoding="utf-8")
    return target


def test_controls_zizmor_finds_injection_and_unpinned_action(tmp_path: Path) -> None:
    bad = _bad_repo(tmp_path, BAD_WORKFLOW)
    result = _run([str(_tool("zizmor")), "--offline", "--format", "json", str(bad)], cwd=tmp_path)
    idents = {f["ident"] for f in yaml.safe_load(result.stdout)}
    assert {"template-injection", "unpinned-uses", "artipacked"} <= idents
    assert result.returncode != 0


def test_controls_actionlint_finds_undeclared_variable(tmp_path: Path) -> None:
    bad = _bad_repo(tmp_path, BAD_WORKFLOW)
    result = _run([str(_tool("actionlint")), "-config-file", str(ACTIONLINT_CONFIG), str(bad)], cwd=tmp_path)
    assert result.returncode != 0
    assert "not_declared" in result.stdout.lower()


def test_controls_schema_rejects_unknown_job_key(tmp_path: Path) -> None:
    bad = _bad_repo(tmp_path, BAD_WORKFLOW.replace("timeout-minutes: 5", "timeout-minute: 5"))
    result = _run([str(_tool("check-jsonschema")), "--builtin-schema", "vendor.github-workflows", str(bad)])
    assert result.returncode != 0


# --- project rules, every workflow -----------------------------------------------


@pytest.mark.parametrize("workflow", WORKFLOWS, ids=lambda p: p.name)
def test_run_steps_call_make_or_mlperf_ops(workflow: Path) -> None:
    allowed_other = ALLOWED_OTHER_COMMANDS.get(workflow.name, set())
    for job_id, step in _steps(_load(workflow)):
        if "run" not in step:
            continue
        script = step["run"].strip()
        assert "\n" not in script, f"{workflow.name}:{job_id}: multi-line script; move the logic into make or the CLI"
        if script in allowed_other:
            continue
        words = shlex.split(script)
        assert words[0] in ("make", MLPERF_OPS), f"{workflow.name}:{job_id}: {script!r}"
        # Variables ("$MANIFEST") and globs are fine; pipes, lists, redirections and
        # command substitution are logic that belongs in make or the CLI.
        assert not SHELL_LOGIC.search(script), f"{workflow.name}:{job_id}: shell logic in {script!r}"


@pytest.mark.parametrize("workflow", WORKFLOWS, ids=lambda p: p.name)
def test_no_expressions_inside_run(workflow: Path) -> None:
    for job_id, step in _steps(_load(workflow)):
        assert "${{" not in step.get("run", ""), f"{workflow.name}:{job_id}: pass values through env:, not ${{{{ }}}}"


@pytest.mark.parametrize("workflow", WORKFLOWS, ids=lambda p: p.name)
def test_actions_pinned_to_commit_sha_with_version_comment(workflow: Path) -> None:
    lines = [line for line in workflow.read_text("utf-8").splitlines() if re.match(r"^\s*(-\s*)?uses:", line)]
    assert lines, f"{workflow.name} uses no action?"
    for line in lines:
        assert SHA_PIN.match(line), f"{workflow.name}: not pinned to a 40-hex SHA with a '# vX.Y.Z' comment: {line.strip()}"


def test_each_action_pinned_to_one_sha_everywhere() -> None:
    pins: dict[str, set[str]] = {}
    for workflow in WORKFLOWS:
        for match in map(SHA_PIN.match, workflow.read_text("utf-8").splitlines()):
            if match:
                pins.setdefault(match.group(1), set()).add(match.group(2))
    assert {action: len(shas) for action, shas in pins.items()} == {action: 1 for action in pins}
    assert set(pins) == {
        "actions/checkout", "actions/setup-python", "actions/upload-artifact", "actions/download-artifact"
    }


@pytest.mark.parametrize("workflow", WORKFLOWS, ids=lambda p: p.name)
def test_checkout_never_persists_credentials(workflow: Path) -> None:
    for job_id, step in _steps(_load(workflow)):
        if str(step.get("uses", "")).startswith("actions/checkout@"):
            assert step.get("with", {}).get("persist-credentials") is False, f"{workflow.name}:{job_id}"


@pytest.mark.parametrize("workflow", WORKFLOWS, ids=lambda p: p.name)
def test_permissions_minimal_and_timeouts(workflow: Path) -> None:
    data = _load(workflow)
    assert data["permissions"] == {"contents": "read"}
    for job_id, job in data["jobs"].items():
        assert isinstance(job.get("timeout-minutes"), int), f"{workflow.name}:{job_id} has no timeout"
        perms = job.get("permissions", {})
        assert "write" not in perms.values(), f"{workflow.name}:{job_id} asks for write: {perms}"
        assert set(perms) <= {"contents", "actions"}, f"{workflow.name}:{job_id}: {perms}"


@pytest.mark.parametrize("workflow", WORKFLOWS, ids=lambda p: p.name)
def test_secrets_only_in_the_submission_environment(workflow: Path) -> None:
    for job_id, job in _load(workflow)["jobs"].items():
        text = yaml.safe_dump(job)
        if "secrets." in text:
            assert workflow.name == "submit.yml" and job.get("environment") == "submission", f"{workflow.name}:{job_id}"
            # Only the upload steps see the secret, not checkout/install/check.
            for step in job["steps"]:
                holds_secret = "secrets." in yaml.safe_dump(step)
                assert holds_secret == ("upload" in step.get("run", "").split()[:2]), step


# --- project rules, per workflow --------------------------------------------------


def test_runs_trigger_only_on_manifests_and_dispatch() -> None:
    on = _load(WORKFLOWS_DIR / "runs.yml")["on"]
    assert set(on) == {"push", "workflow_dispatch"}
    assert on["push"]["paths"] == ["manifests/**"]
    assert "manifest" in on["workflow_dispatch"]["inputs"]


def test_runs_matrix_comes_from_plan() -> None:
    jobs = _load(WORKFLOWS_DIR / "runs.yml")["jobs"]
    assert jobs["plan"]["runs-on"] == "ubuntu-latest"
    plan_step = next(s for s in jobs["plan"]["steps"] if s.get("id") == "plan")
    assert "--github-output" in plan_step["run"].split()
    assert jobs["plan"]["outputs"]["matrix"] == "${{ steps.plan.outputs.matrix }}"
    run = jobs["run"]
    assert run["needs"] == "plan"
    assert run["strategy"]["matrix"] == "${{ fromJSON(needs.plan.outputs.matrix) }}"
    assert run["strategy"]["fail-fast"] is False
    assert run["runs-on"] == "${{ matrix.runs_on }}"
    assert "matrix.system" in run["concurrency"]["group"]
    assert run["concurrency"]["cancel-in-progress"] is False
    scripts = [s.get("run", "") for s in run["steps"]]
    assert "make setup" in scripts
    assert any(s.startswith(f"{MLPERF_OPS} apply ") and '--system "$SYSTEM"' in s for s in scripts)
    assert any(s.startswith(f"{MLPERF_OPS} export ") for s in scripts)
    assert any(str(s.get("uses", "")).startswith("actions/upload-artifact@") for s in run["steps"])


def test_runs_aggregate_merges_checks_and_packs_in_order() -> None:
    jobs = _load(WORKFLOWS_DIR / "runs.yml")["jobs"]
    verbs = [shlex.split(s["run"])[1] for s in jobs["aggregate"]["steps"] if s.get("run", "").startswith(MLPERF_OPS)]
    assert verbs == ["merge", "status", "assemble", "check", "pack", "report"]
    assert set(jobs["aggregate"]["needs"]) == {"plan", "run"}
    uploads = [s["with"]["name"] for s in jobs["aggregate"]["steps"] if "upload-artifact" in str(s.get("uses"))]
    assert uploads == ["submission", "report"]


def test_untrusted_manifest_input_reaches_scripts_only_through_env() -> None:
    data = _load(WORKFLOWS_DIR / "runs.yml")
    assert "inputs.manifest" in data["env"]["MANIFEST"]
    for _, step in _steps(data):
        assert "inputs." not in step.get("run", "")


def test_submit_is_manual_protected_and_rechecks_before_upload() -> None:
    data = _load(WORKFLOWS_DIR / "submit.yml")
    assert set(data["on"]) == {"workflow_dispatch"}
    assert data["on"]["workflow_dispatch"]["inputs"]["run_id"]["required"] is True
    (job,) = data["jobs"].values()
    assert job["environment"] == "submission"
    assert job["permissions"] == {"contents": "read", "actions": "read"}
    download = next(s for s in job["steps"] if "download-artifact" in str(s.get("uses")))
    assert download["with"]["run-id"] == "${{ inputs.run_id }}"
    verbs = [shlex.split(s["run"])[1] for s in job["steps"] if s.get("run", "").startswith(MLPERF_OPS)]
    assert verbs == ["check", "upload", "upload"]
    for step in job["steps"]:
        if step.get("run", "").startswith(f"{MLPERF_OPS} upload"):
            assert step["env"]["MLPERF_SUBMITTER_ID"] == "${{ secrets.MLPERF_SUBMITTER_ID }}"


def test_revalidate_is_scheduled_and_rechecks() -> None:
    data = _load(WORKFLOWS_DIR / "revalidate.yml")
    assert set(data["on"]) == {"schedule", "workflow_dispatch"}
    assert data["on"]["schedule"][0]["cron"].split()[4] != "*", "weekly, not daily"
    (job,) = data["jobs"].values()
    assert any(s.get("run", "").startswith(f"{MLPERF_OPS} check ") for s in job["steps"])


def test_ci_runs_the_project_ci_script_on_hosted_runners() -> None:
    data = _load(WORKFLOWS_DIR / "ci.yml")
    assert {"push", "pull_request"} <= set(data["on"])
    (job,) = data["jobs"].values()
    assert job["runs-on"] == "ubuntu-latest"
    assert [s["run"] for s in job["steps"] if "run" in s] == ["bash .ci/run"]


# --- what the workflows call exists ------------------------------------------------


def _invocations() -> Iterator[tuple[str, list[str]]]:
    for workflow in WORKFLOWS:
        for _, step in _steps(_load(workflow)):
            script = step.get("run", "").strip()
            if script.startswith(MLPERF_OPS):
                yield workflow.name, shlex.split(script)[1:]


def _command(path: list[str]) -> click.Command:
    from mlperf_ops.cli import cli

    command: click.Command = cli
    for word in path:
        assert isinstance(command, click.Group), f"{' '.join(path)}: {command.name} has no subcommands"
        sub = command.get_command(click.Context(command), word)  # the CLI loads verbs lazily
        assert sub is not None, f"mlperf-ops has no verb {' '.join(path)!r}"
        command = sub
    return command


@pytest.mark.parametrize("verb", sorted({args[0] for _, args in _invocations()}))
def test_cli_verbs_and_flags_used_by_workflows_exist(verb: str) -> None:
    command = _command([verb])
    known = {opt for param in command.params for opt in (*param.opts, *param.secondary_opts)}
    for workflow, args in _invocations():
        if args[0] != verb:
            continue
        used = {arg for arg in args[1:] if arg.startswith("--")}
        assert used <= known, f"{workflow}: mlperf-ops {verb} lacks {sorted(used - known)}"
        if any(arg.endswith(".tar.gz") for arg in args[1:] if not arg.startswith("--")):
            # submit.yml and revalidate.yml re-check the packed tarball itself.
            arguments = [p for p in command.params if isinstance(p, click.Argument)]
            assert any(
                not isinstance(a.type, click.Path) or a.type.file_okay for a in arguments
            ), f"{workflow}: mlperf-ops {verb} takes no file argument, but is given a tarball"


def test_make_targets_used_by_workflows_exist() -> None:
    makefile = REPO / "Makefile"
    assert makefile.is_file(), "the workflows call make targets but there is no Makefile"
    defined = set(re.findall(r"^([A-Za-z0-9_.-]+)\s*:(?!=)", makefile.read_text("utf-8"), flags=re.M))
    used = set()
    for workflow in WORKFLOWS:
        for _, step in _steps(_load(workflow)):
            words = shlex.split(step.get("run", "") or "true")
            if words[0] == "make":
                used.update(w for w in words[1:] if "=" not in w and not w.startswith("-"))
    assert used and used <= defined, f"Makefile lacks {sorted(used - defined)}"
