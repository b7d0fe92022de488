"""`kill -9` of `apply` in the middle of a run, then `apply` again (real engine, real image).

The killed apply is started in its own process group and SIGKILLed as a group once it has
finished at least one record and a container for the next run exists — the Docker daemon
is never touched, so the killed run's container is orphaned exactly as it would be on a
real crash of the controller.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import docker
import pytest

from mlperf_ops.execute.engine import Engine
from tests.test_apply_integration import (
    REPO,
    STREAMS,
    STREAMS_ONLY,
    STREAMS_RUNS,
    Cli,
    assert_ledger_intact,
    cli_env,
    containers_with_keys,
    dir_stamp,
    mlperf_ops,
    plan_keys,
    remove_containers,
    status_rows,
)

KILL_WAIT_S = 300


@dataclass
class KilledThenResumed:
    state: Path
    killed_run_id: str  # the run whose container was running at the kill
    killed_key: str
    finished_before: dict[str, tuple[int, int, int, int]]  # key -> dir_stamp, records done before the kill
    staging_at_kill: list[str]
    killed_output: str
    resumed: Cli
    leftovers: list[dict[str, Any]]  # containers carrying the killed run's key after the resume


@pytest.fixture(scope="module")
def client(engine: Engine) -> Iterator[docker.DockerClient]:
    raw = docker.from_env()
    yield raw
    raw.close()


@pytest.fixture(scope="module")
def killed(client: docker.DockerClient, tmp_path_factory: pytest.TempPathFactory) -> Iterator[KilledThenResumed]:
    work = tmp_path_factory.mktemp("killed")
    state = work / "state"
    keys = {run["key"]: rid for rid, run in plan_keys(STREAMS, state).items()}
    log = work / "killed-apply.log"
    with log.open("w") as out:
        proc = subprocess.Popen(
            [sys.executable, "-m", "mlperf_ops", "apply", str(STREAMS), "--state-dir", str(state),
             "--only", STREAMS_ONLY],
            stdout=out, stderr=subprocess.STDOUT, env=cli_env(), cwd=REPO, start_new_session=True,
        )
    victim: Any = None
    try:
        deadline = time.monotonic() + KILL_WAIT_S
        while time.monotonic() < deadline and proc.poll() is None:
            finished = list((state / "records").glob("*/record.json")) if (state / "records").is_dir() else []
            staging = list((state / "staging").iterdir()) if (state / "staging").is_dir() else []
            # Calibration keys are known up front; later runs' keys only once calibrated, so
            # any running container whose run id belongs to this manifest's system counts.
            running = [c for c in client.containers.list(filters={"label": "org.mlperf-ops.managed=true"})
                       if c.labels.get("org.mlperf-ops.run-id", "") in STREAMS_RUNS]
            if finished and staging and running:
                victim = running[0]
                break
            time.sleep(0.2)
        if victim is None:
            proc.kill()
            proc.wait()
            pytest.fail(f"apply never reached a second run within {KILL_WAIT_S} s:\n{log.read_text()}")
        staging_at_kill = sorted(p.name for p in (state / "staging").iterdir())
        os.killpg(proc.pid, signal.SIGKILL)  # the apply and anything it spawned; not the daemon
        proc.wait()
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
    assert proc.returncode == -signal.SIGKILL
    killed_key = victim.labels["org.mlperf-ops.run-key"]
    finished_before = {p.name: dir_stamp(p) for p in (state / "records").iterdir()}

    resumed = mlperf_ops("apply", STREAMS, "--state-dir", state, "--only", STREAMS_ONLY, "--json")
    leftovers = [{"id": c.id[:12], "status": c.status, "run_id": c.labels.get("org.mlperf-ops.run-id")}
                 for c in containers_with_keys(client, {killed_key})]
    yield KilledThenResumed(state, victim.labels["org.mlperf-ops.run-id"], killed_key, finished_before,
                            staging_at_kill, log.read_text(), resumed, leftovers)
    remove_containers(client, set(keys) | {killed_key})


@pytest.mark.docker
def test_apply_resumes_after_kill_9(killed: KilledThenResumed) -> None:
    state, resumed = killed.state, killed.resumed
    assert killed.finished_before, "nothing had finished before the kill"
    assert killed.killed_key not in killed.finished_before
    assert any(name.startswith(killed.killed_key[:12]) for name in killed.staging_at_kill), killed.staging_at_kill

    assert resumed.returncode == 0, resumed.explain()
    assert "removed an interrupted run's staging directory" in resumed.stderr, resumed.explain()
    out = resumed.json()
    assert out["ok"] is True and out["remaining"] == []
    rerun = {r["run_id"]: r for r in out["records"]}
    # The interrupted run ran again (under the same key); the finished ones did not.
    assert killed.killed_run_id in rerun and rerun[killed.killed_run_id]["key"] == killed.killed_key
    assert not set(killed.finished_before) & {r["key"] for r in out["records"]}
    for key, stamp in killed.finished_before.items():
        assert dir_stamp(state / "records" / key) == stamp, f"record {key[:12]} was rewritten"

    # Nothing half-written anywhere: every record parses and matches its artifact digests.
    assert assert_ledger_intact(state) == len(STREAMS_RUNS)
    assert not any((state / "staging").iterdir())
    rows = status_rows(STREAMS, state)
    assert all(rows[r]["state"] == "up-to-date" for r in STREAMS_RUNS), {r: rows[r] for r in STREAMS_RUNS}
    resumed_record = json.loads((state / "records" / killed.killed_key / "record.json").read_text())
    if resumed_record["mode"] == "performance":
        assert resumed_record["summary"]["result_validity"] == "VALID", resumed_record["summary"]


@pytest.mark.docker
def test_killed_runs_container_does_not_outlive_the_resume(killed: KilledThenResumed) -> None:
    assert killed.resumed.returncode == 0, killed.resumed.explain()
    assert killed.leftovers == [], f"containers of the killed run left behind: {killed.leftovers}"
