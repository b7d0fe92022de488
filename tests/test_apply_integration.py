"""`apply` and `status` against the real Docker engine and the real cpu image.

Every command runs as a subprocess (`python -m mlperf_ops ...`) with its own state
directory, on the small test project under tests/project/ (its `images/` is a symlink
to the repository's, so the image is the one `mlperf-ops images build cpu` makes) and
its `test` profile (1 s runs, 0.5 s calibration). `--only` keeps the 50,000-sample
accuracy runs out of everything but the one slow demo test.

Whether a container started is read from the engine itself: the runner labels each
container with `org.mlperf-ops.run-key`, and the engine's event stream over the time
an `apply` ran says which run keys got a container.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import docker
import pytest

from mlperf_ops.plan.controller import image_identity
from mlperf_ops.execute.engine import MANAGED_LABEL, Engine
from mlperf_ops.run.audit_retry import MAX_REMEASURES
from mlperf_ops.manifest.pipeline import load_profile
from mlperf_ops.core.project import find_project_root
from mlperf_ops.state.ledger import Ledger

REPO = Path(__file__).resolve().parents[1]
PROJECT = REPO / "tests" / "project"
STREAMS = PROJECT / "manifests" / "streams.yaml"
FAILURES = PROJECT / "manifests" / "failures.yaml"
RUN_KEY_LABEL = "org.mlperf-ops.run-key"
# Calibration and performance of both latency-bound scenarios: no accuracy, no audits.
STREAMS_ONLY = "*Stream/[cp]*"
STREAMS_RUNS = tuple(f"test-cpu/digits-mlp/{s}/{m}" for s in ("SingleStream", "MultiStream")
                     for m in ("calibration", "performance"))


# --------------------------------------------------------------------------- helpers


@dataclass
class Cli:
    args: tuple[str, ...]
    returncode: int
    stdout: str
    stderr: str
    seconds: float
    started: float  # unix time, for the engine's event stream
    finished: float

    def json(self) -> Any:
        return json.loads(self.stdout)

    def explain(self) -> str:
        return (f"$ mlperf-ops {' '.join(self.args)}\nexit {self.returncode}\n--- stdout\n{self.stdout[-4000:]}"
                f"\n--- stderr\n{self.stderr[-4000:]}")


def cli_env(project: Path = PROJECT) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("MLPERF_OPS_")}
    env.update(OPENBLAS_NUM_THREADS="1", OMP_NUM_THREADS="1", CI="true", PYTHONUNBUFFERED="1",
               MLPERF_OPS_PROJECT=str(project))
    return env


def mlperf_ops(*args: str | Path, project: Path = PROJECT, timeout: float = 900) -> Cli:
    argv = tuple(str(a) for a in args)
    started = time.time()
    t0 = time.perf_counter()
    done = subprocess.run([sys.executable, "-m", "mlperf_ops", *argv], capture_output=True, text=True,
                          env=cli_env(project), cwd=REPO, timeout=timeout, check=False)
    return Cli(argv, done.returncode, done.stdout, done.stderr, time.perf_counter() - t0, started, time.time())


def read_record(state: Path, key: str) -> dict[str, Any]:
    data: dict[str, Any] = json.loads((state / "records" / key / "record.json").read_text("utf-8"))
    return data


def plan_keys(manifest: Path, state: Path, project: Path = PROJECT) -> dict[str, dict[str, Any]]:
    """run_id -> the plan's JSON entry (key, action, reason, ...)."""
    result = mlperf_ops("plan", manifest, "--json", "--state-dir", state, project=project)
    assert result.returncode == 0, result.explain()
    return {run["run_id"]: run for run in result.json()["runs"]}


def status_rows(manifest: Path, state: Path, project: Path = PROJECT) -> dict[str, dict[str, Any]]:
    result = mlperf_ops("status", manifest, "--json", "--state-dir", state, project=project)
    assert result.returncode == 0, result.explain()
    return {row["run_id"]: row for row in result.json()}


def created_run_keys(client: docker.DockerClient, since: float, until: float) -> list[str]:
    """Run keys of every mlperf-ops container the engine created between two unix times."""
    events = client.events(since=f"{since:.3f}", until=f"{until + 0.5:.3f}", decode=True,
                           filters={"type": "container", "event": "create", "label": f"{MANAGED_LABEL}=true"})
    keys = [str((e.get("Actor") or {}).get("Attributes", {}).get(RUN_KEY_LABEL, "")) for e in events]
    return [k for k in keys if k]


def containers_with_keys(client: docker.DockerClient, keys: set[str]) -> list[Any]:
    found = client.containers.list(all=True, filters={"label": f"{MANAGED_LABEL}=true"})
    return [c for c in found if c.labels.get(RUN_KEY_LABEL) in keys]


def remove_containers(client: docker.DockerClient, keys: set[str]) -> None:
    for container in containers_with_keys(client, keys):
        try:
            container.remove(force=True)
        except docker.errors.NotFound:
            pass


def dir_stamp(path: Path) -> tuple[int, int, int, int]:
    """Inode and mtime of a record directory and its record.json: unchanged means untouched."""
    d, r = path.stat(), (path / "record.json").stat()
    return d.st_ino, d.st_mtime_ns, r.st_ino, r.st_mtime_ns


def assert_ledger_intact(state: Path) -> int:
    """Every record.json parses and every artifact's sha256 matches; returns the record count."""
    ledger = Ledger(state)
    dirs = [d for parent in (ledger.records_dir, ledger.attempts_dir) if parent.is_dir() for d in parent.iterdir()]
    for directory in dirs:
        json.loads((directory / "record.json").read_text("utf-8"))  # raises on a torn write
    records = list(ledger.records())
    assert len(records) == len(dirs), "a record directory has no readable record"
    for record in records:
        assert ledger.verify(record) == [], f"{record.path}: {ledger.verify(record)}"
    return len(records)


@pytest.fixture(scope="module")
def client(engine: Engine) -> Iterator[docker.DockerClient]:
    """A raw client for the engine's event stream and container list (the `engine` fixture fails
    the test when no engine answers)."""
    raw = docker.from_env()
    yield raw
    raw.close()


# --------------------------------------------------------------------------- the test project


def test_project_root_is_found_and_shares_the_repo_images() -> None:
    saved = os.environ.pop("MLPERF_OPS_PROJECT", None)
    try:
        assert find_project_root(STREAMS) == PROJECT
    finally:
        if saved is not None:
            os.environ["MLPERF_OPS_PROJECT"] = saved
    assert (PROJECT / "images").resolve() == REPO / "images"
    # Same build inputs, same content tag: the tests run the image `images build cpu` makes.
    assert image_identity(PROJECT / "images", "cpu") == image_identity(REPO / "images", "cpu")


# --------------------------------------------------------------------------- 1-3: apply, no-op, change


@pytest.fixture(scope="module")
def streams(engine: Engine, tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Path, Cli]]:
    """One apply of calibration + performance for SingleStream and MultiStream (4 runs)."""
    state = tmp_path_factory.mktemp("streams") / "state"
    result = mlperf_ops("apply", STREAMS, "--state-dir", state, "--only", STREAMS_ONLY, "--json")
    print(f"first apply of {len(STREAMS_RUNS)} runs: {result.seconds:.1f} s")
    yield state, result


@pytest.mark.docker
def test_apply_records_valid_runs(streams: tuple[Path, Cli], engine: Engine) -> None:
    state, result = streams
    assert result.returncode == 0, result.explain()
    out = result.json()
    assert out["ok"] is True and out["remaining"] == []
    by_id = {r["run_id"]: r for r in out["records"]}
    assert sorted(by_id) == sorted(STREAMS_RUNS)
    identity = image_identity(PROJECT / "images", "cpu")

    for run_id, entry in by_id.items():
        assert entry["status"] == "done", entry
        folder = state / "records" / entry["key"]
        assert Path(entry["path"]) == folder
        data = read_record(state, entry["key"])
        assert data["run_id"] == run_id and data["key"] == entry["key"] and data["status"] == "done"
        # The record names the exact image it ran in, and that image is the content-tagged one.
        assert data["image"]["identity"] == identity
        assert data["image"]["tag"] == f"mlperf-ops/cpu:{identity[:16]}"
        info = engine.image_info(data["image"]["tag"])
        assert info is not None and data["image"]["id"] == info.id
        for rel in ("container.log", "config/user.conf", "output/mlperf_log_summary.txt",
                    "output/mlperf_log_detail.txt"):
            assert (folder / rel).is_file(), rel
            assert rel in data["artifacts"], rel
        assert data["container"] == {"exit_code": 0, "oom_killed": False, "timed_out": False}
        assert data["summary"]["loadgen_version"].startswith("6.0.17")
        assert data["profile"] == "test" and data["submittable"] is False

    for scenario in ("SingleStream", "MultiStream"):
        cal = read_record(state, by_id[f"test-cpu/digits-mlp/{scenario}/calibration"]["key"])
        perf = read_record(state, by_id[f"test-cpu/digits-mlp/{scenario}/performance"]["key"])
        latency = cal["calibrated"]["target_latency"]
        assert latency > 0
        # The performance run used what the calibration measured, and the profile's 1 s duration.
        conf = (state / "records" / perf["key"] / "config" / "user.conf").read_text("utf-8")
        assert f"resnet50.{scenario}.target_latency = {latency:g}" in conf, conf
        assert perf["summary"]["result_validity"] == "VALID", perf["summary"]
        assert perf["summary"]["scenario"] == scenario and perf["summary"]["value"] > 0
        assert perf["summary"]["min_duration_ms"] == 1000
        assert perf["summary"]["errors"] == []
        assert "VALID" in (state / "records" / perf["key"] / "output" / "mlperf_log_summary.txt").read_text()

    rows = status_rows(STREAMS, state)
    for run_id in STREAMS_RUNS:
        assert rows[run_id]["state"] == "up-to-date", rows[run_id]
        assert rows[run_id]["key"] == by_id[run_id]["key"]
    # Runs outside --only were not touched and say so.
    assert rows["test-cpu/digits-mlp/SingleStream/accuracy"]["state"] == "pending"
    assert assert_ledger_intact(state) == len(STREAMS_RUNS)


@pytest.mark.docker
def test_second_apply_starts_no_container(streams: tuple[Path, Cli], client: docker.DockerClient) -> None:
    state, first = streams
    assert first.returncode == 0, first.explain()
    keys = {r["key"] for r in first.json()["records"]}
    stamps = {k: dir_stamp(state / "records" / k) for k in keys}
    before = len(containers_with_keys(client, keys))

    again = mlperf_ops("apply", STREAMS, "--state-dir", state, "--only", STREAMS_ONLY)
    print(f"no-op apply: {again.seconds:.2f} s (first apply: {first.seconds:.1f} s)")

    assert again.returncode == 0, again.explain()
    assert "up to date" in again.stdout and "no container started" in again.stdout, again.explain()
    assert "==> [" not in again.stderr, again.explain()  # no run-start event
    # Other processes may use the engine meanwhile: only containers of this manifest's runs count.
    ours = {run["key"] for run in plan_keys(STREAMS, state).values()}
    created = set(created_run_keys(client, again.started, again.finished))
    assert not created & ours, f"the no-op apply created containers for {created & ours}"
    assert len(containers_with_keys(client, keys)) == before
    assert {k: dir_stamp(state / "records" / k) for k in keys} == stamps
    plan = plan_keys(STREAMS, state)
    assert all(plan[r]["action"] == "skip" and plan[r]["reason"] == "up to date" for r in STREAMS_RUNS)


SS_TARGET_LATENCY_MS = 0.05  # below the digits model's real latency, so the run stays VALID


@pytest.mark.docker
def test_changed_setting_reruns_only_affected_runs(
    streams: tuple[Path, Cli], client: docker.DockerClient, tmp_path: Path,
) -> None:
    source, first = streams
    assert first.returncode == 0, first.explain()
    state = tmp_path / "state"
    shutil.copytree(source, state, symlinks=True)
    changed_manifest = tmp_path / "streams-tuned.yaml"
    text = STREAMS.read_text("utf-8")
    assert "SingleStream: {}" in text
    changed_manifest.write_text(text.replace("SingleStream: {}",
                                             f"SingleStream: {{target_latency: {SS_TARGET_LATENCY_MS}}}"))

    before = plan_keys(STREAMS, state)
    after = plan_keys(changed_manifest, state)
    changed = {rid for rid, run in after.items() if rid not in before or before[rid]["key"] != run["key"]}
    # What the change touches: SingleStream runs whose user.conf carries the setting. The
    # calibration run disappears (the manifest now gives the value) and MultiStream is untouched.
    assert changed == {f"test-cpu/digits-mlp/SingleStream/{m}" for m in ("performance", "accuracy", "TEST01",
                                                                          "TEST04")}, changed
    assert "test-cpu/digits-mlp/SingleStream/calibration" not in after
    for rid, run in after.items():
        if "/MultiStream/" in rid:
            assert run["key"] == before[rid]["key"] and run["action"] == before[rid]["action"], rid
    ss_perf = after["test-cpu/digits-mlp/SingleStream/performance"]
    assert ss_perf["action"] == "run" and "user.conf changed" in ss_perf["reason"], ss_perf
    assert ss_perf["settings"]["target_latency"] == "manifest"

    untouched = {before[r]["key"] for r in STREAMS_RUNS}
    stamps = {k: dir_stamp(state / "records" / k) for k in untouched}
    result = mlperf_ops("apply", changed_manifest, "--state-dir", state, "--only", STREAMS_ONLY, "--json")
    assert result.returncode == 0, result.explain()
    records = result.json()["records"]
    # Exactly the changed runs that --only selects: SingleStream performance, nothing else.
    expected = {rid for rid in changed if rid in STREAMS_RUNS}
    assert {r["run_id"] for r in records} == expected == {"test-cpu/digits-mlp/SingleStream/performance"}
    assert records[0]["key"] == ss_perf["key"] and records[0]["status"] == "done", records
    assert sorted(created_run_keys(client, result.started, result.finished)) == [ss_perf["key"]]
    assert {k: dir_stamp(state / "records" / k) for k in untouched} == stamps
    data = read_record(state, ss_perf["key"])
    assert data["summary"]["result_validity"] == "VALID", data["summary"]
    conf = (state / "records" / ss_perf["key"] / "config" / "user.conf").read_text("utf-8")
    assert f"resnet50.SingleStream.target_latency = {SS_TARGET_LATENCY_MS:g}" in conf
    rows = status_rows(changed_manifest, state)
    assert all(rows[r]["state"] == "up-to-date" for r in expected | {
        "test-cpu/digits-mlp/MultiStream/calibration", "test-cpu/digits-mlp/MultiStream/performance"})


# --------------------------------------------------------------------------- 5: failures


CRASH = "crash-cpu/digits-mlp/SingleStream/performance"
HANG = "hang-cpu/digits-mlp/SingleStream/performance"
INVALID = "invalid-cpu/digits-mlp/SingleStream/performance"


@pytest.fixture(scope="module")
def failures(engine: Engine, tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Cli]:
    state = tmp_path_factory.mktemp("failures") / "state"
    result = mlperf_ops("apply", FAILURES, "--state-dir", state, "--only", "*/SingleStream/performance",
                        "--keep-going")
    return state, result


def _attempt(state: Path, run_id: str) -> tuple[Path, dict[str, Any]]:
    found = [r for r in Ledger(state).records() if r.run_id == run_id]
    assert len(found) == 1, f"{run_id}: {len(found)} records"
    # The record as it is on disk: what a user or a CI step reading record.json sees.
    return found[0].path, json.loads((found[0].path / "record.json").read_text("utf-8"))


@pytest.mark.docker
def test_failed_runs_are_reported_and_keep_going_finishes_the_rest(failures: tuple[Path, Cli]) -> None:
    state, result = failures
    assert result.returncode == 1, result.explain()
    # --keep-going: all three ran although the first failed at once.
    for run_id in (CRASH, HANG, INVALID):
        assert re.search(rf"==> \[\d+ of \d+\] {re.escape(run_id)} ", result.stderr), result.explain()
        assert f"ERROR: {run_id}: " in result.stderr, result.explain()

    crash_dir, crash = _attempt(state, CRASH)
    assert crash["status"] == "failed" and "exited with code 3" in crash["reason"], crash["reason"]
    assert crash["container"]["exit_code"] == 3
    assert "boom" in (crash_dir / "container.log").read_text("utf-8")

    hang_dir, hang = _attempt(state, HANG)
    assert hang["status"] == "failed" and "timed out after 5 s" in hang["reason"], hang["reason"]
    assert hang["container"]["timed_out"] is True
    assert hang["duration_s"] < 120  # killed, not waited for the 600 s sleep (a bound, not a timing)

    invalid_dir, invalid = _attempt(state, INVALID)
    assert invalid["status"] == "invalid", invalid
    assert invalid["container"]["exit_code"] == 0  # LoadGen finished: only the summary says it doesn't count
    assert invalid["summary"]["result_validity"] == "INVALID"
    summary = (invalid_dir / "output" / "mlperf_log_summary.txt").read_text("utf-8")
    assert "INVALID" in summary
    # Why: the reason carries LoadGen's own explanation.
    assert "Ran out of generated queries" in invalid["reason"] or "INVALID" in invalid["reason"], invalid["reason"]

    for run_id, folder in ((CRASH, crash_dir), (HANG, hang_dir), (INVALID, invalid_dir)):
        assert folder.parent.name == "attempts"  # never mistaken for a finished record
        log_line = f"  log: {folder / 'container.log'}"
        assert log_line in result.stderr, f"{run_id}: no {log_line!r}\n{result.explain()}"
    assert not (state / "records").exists() or not any((state / "records").iterdir())
    assert assert_ledger_intact(state) == 3

    rows = status_rows(FAILURES, state)
    assert rows[CRASH]["state"] == "failed" and "exited with code 3" in rows[CRASH]["reason"]
    assert rows[HANG]["state"] == "failed" and "timed out" in rows[HANG]["reason"]
    assert rows[INVALID]["state"] == "invalid" and rows[INVALID]["reason"] == invalid["reason"]
    text = mlperf_ops("status", FAILURES, "--state-dir", state)
    assert text.returncode == 0
    for run_id, state_name in ((CRASH, "failed"), (HANG, "failed"), (INVALID, "invalid")):
        line = next(line for line in text.stdout.splitlines() if line.startswith(run_id))
        assert state_name in line.split(), line


@pytest.mark.docker
def test_failure_reasons_name_a_log_that_exists(failures: tuple[Path, Cli]) -> None:
    state, _ = failures
    for run_id in (CRASH, HANG):
        _, data = _attempt(state, run_id)
        reason = data["reason"]
        assert "(log: " in reason
        path = Path(reason.split("(log: ", 1)[1].split(")", 1)[0])
        assert path.is_file(), f"{run_id}: status says the log is {path}, which does not exist"


# --------------------------------------------------------------------------- 6: the demo


DEMO = REPO / "manifests" / "demo.yaml"
DEMO_SCENARIOS = ("SingleStream", "Offline")


@pytest.fixture(scope="module")
def demo(demo_ledger: tuple[Path, subprocess.CompletedProcess[str]]) -> tuple[Path, Cli]:
    """The real demo manifest with the real smoke profile, applied once for the session."""
    state, done = demo_ledger
    return state, Cli(tuple(map(str, done.args[3:])), done.returncode, done.stdout, done.stderr, 0.0, 0.0, 0.0)


def attempts_of(state: Path, run_id: str) -> list[dict[str, Any]]:
    """Every record of one run id, finished, failed or retired, oldest first."""
    found = []
    for parent in ("records", "attempts"):
        for path in (state / parent).glob("*/record.json"):
            data = json.loads(path.read_text("utf-8"))
            if data["run_id"] == run_id:
                found.append(data)
    return sorted(found, key=lambda d: float(d.get("finished_unix", 0)))


def assert_audit_followed_the_procedure(state: Path, run_id: str, row: dict[str, Any], retries: int) -> None:
    """An audit is verified; any failure was its timing comparison alone, re-run as the policy says.

    Whether two timed runs agree within 10 % on a loaded 2-core machine is luck, so the
    test never demands that the comparison won, only that it was made, recorded and
    retried by the rules (mlperf_ops/run/audit_retry.py)."""
    history = [d for d in attempts_of(state, run_id) if d["status"] != "retired"]
    assert history, f"{run_id}: no record"
    for data in history:
        verification = data.get("verification")
        assert verification, f"{run_id}: a finished audit without a verification: {data['reason']}"
        assert "TEST PASS" in verification.get("performance", "TEST PASS") or data["status"] != "done"
        if data["status"] == "done":
            assert verification["passed"] is True, (run_id, verification)
        else:
            # Accuracy never fails by chance: only the timing comparison may have.
            assert data.get("failure") == "transient", (run_id, data["reason"])
            assert "performance outside threshold" in verification["summary"] or \
                verification["summary"].startswith("TEST04 FAIL"), (run_id, verification["summary"])
    if row["state"] != "up-to-date":
        failed = [d for d in history if d["status"] != "done"]
        most = 2 * MAX_REMEASURES + retries + 1
        assert retries + 1 <= len(failed) <= most, f"{run_id}: gave up after {len(failed)} attempts, policy: {most}"
        print(f"NOTE {run_id}: timing comparison lost {len(failed)} times on this machine (recorded, not a bug)")


@pytest.mark.docker
@pytest.mark.slow
def test_demo_acceptance(demo: tuple[Path, Cli]) -> None:
    state, result = demo
    rows = status_rows(DEMO, state, project=REPO)
    prefix = "demo-cpu/digits-mlp"
    smoke = load_profile(REPO, "smoke")
    audits = {f"{prefix}/{scenario}/{test}" for scenario in DEMO_SCENARIOS for test in ("TEST01", "TEST04")}
    problems = [f"{rid}: {row['state']}: {row['reason']}" for rid, row in rows.items()
                if row["state"] != "up-to-date" and rid not in audits]
    assert not problems, "\n".join(problems) + "\n" + result.explain()
    for scenario in DEMO_SCENARIOS:
        perf = read_record(state, rows[f"{prefix}/{scenario}/performance"]["key"])
        assert perf["summary"]["result_validity"] == "VALID", (scenario, perf["summary"])
        assert perf["summary"]["min_duration_ms"] == smoke.min_duration_ms  # the real smoke profile's
        acc = read_record(state, rows[f"{prefix}/{scenario}/accuracy"]["key"])
        assert acc["accuracy"]["acc"] >= 95.0, (scenario, acc["accuracy"])
        assert (state / "records" / acc["key"] / "output" / "mlperf_log_accuracy.json").stat().st_size > 0
        for test in ("TEST01", "TEST04"):
            run_id = f"{prefix}/{scenario}/{test}"
            assert_audit_followed_the_procedure(state, run_id, rows[run_id], smoke.audit_retries)
            if rows[run_id]["state"] == "up-to-date":
                audit = read_record(state, rows[run_id]["key"])
                assert audit["verification"]["test"] == test
                assert (state / "records" / audit["key"] / "verification").is_dir()
    all_up_to_date = all(row["state"] == "up-to-date" for row in rows.values())
    assert (result.returncode == 0) == all_up_to_date, result.explain()
    assert assert_ledger_intact(state) >= len(rows)  # plus any retried audit attempts
