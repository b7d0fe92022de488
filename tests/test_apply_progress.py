"""`apply`'s progress (issue 12, item 6): k of N, the run's minimum, the time left, human units."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest
from rich.console import Console

from mlperf_ops.run import apply as apply_mod
from mlperf_ops.run import pending as pending_mod
from mlperf_ops.cli.progress import Progress
from mlperf_ops.plan.controller import load_context
from mlperf_ops.core.events import Event
from mlperf_ops.state.ledger import Ledger
from tests.support.executors import NoExecutor
from tests.support.records import for_spec

REPO = Path(__file__).resolve().parents[1]


def applied_events(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> list[Event]:
    """The demo applied with scripted runs: the events apply reports along the way."""
    monkeypatch.setenv("MLPERF_OPS_PROJECT", str(REPO))

    def fake_execute(spec: Any, *, ledger: Ledger, **_: Any) -> Any:
        attempt = ledger.begin(spec.key, spec.run_id)
        data: dict[str, Any] = {"finished_unix": time.time(), "duration_s": 12.3456}
        if spec.mode == "calibration":
            data["calibrated"] = {"target_latency": 0.8} if spec.scenario == "SingleStream" else {"target_qps": 1600.0}
        return ledger.commit(attempt, for_spec(spec, **data))

    monkeypatch.setattr(pending_mod, "execute", fake_execute)
    monkeypatch.setattr(pending_mod, "probe_host", lambda: {"host_processor_model_name": "test"})
    events: list[Event] = []
    result = apply_mod.apply(load_context(REPO / "manifests" / "demo.yaml"), Ledger(tmp_path / "state"),
                             connect=NoExecutor, on_event=events.append)
    assert result.ok
    return events


def test_each_run_start_says_k_of_n_its_minimum_and_the_time_left(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    events = applied_events(tmp_path, monkeypatch)
    progress = Progress()
    assert not progress.live  # pytest's stderr is no terminal: plain lines
    for event in events:
        progress(event)
    lines = [line for line in capsys.readouterr().err.splitlines() if line.startswith("==> [")]
    assert len(lines) == 10
    assert lines[0].startswith("==> [1 of 10] demo-cpu/digits-mlp/SingleStream/accuracy (new; no minimum duration; "
                               "about 1 min 6 s left + 2 accuracy run(s) of unknown length)")
    assert lines[1].startswith("==> [2 of 10] demo-cpu/digits-mlp/SingleStream/calibration (new; at least 3.0 s;")
    # Left: this run and its two audits (the smoke profile's 10 s each), Offline's calibration
    # (3 s) and three timed runs; Offline's accuracy run comes before its calibration: unknown.
    assert lines[2] == ("==> [3 of 10] demo-cpu/digits-mlp/SingleStream/performance (new; at least 10 s; "
                        "about 1 min 3 s left + 1 accuracy run(s) of unknown length)")
    assert lines[-1].startswith("==> [10 of 10] demo-cpu/digits-mlp/Offline/TEST04 (new; at least 10 s; about 10 s left)")
    assert sum(1 for e in events if e.kind == "run-end") == 10


def test_run_end_durations_are_human(capsys: pytest.CaptureFixture[str]) -> None:
    progress = Progress()
    progress(Event("run-end", "ok", "a/b/SingleStream/performance", {"status": "done", "duration_s": 612.3456}))
    assert "    ok: ok (10 min 12 s)" in capsys.readouterr().err


def test_the_live_row_shows_elapsed_against_the_minimum_and_what_is_left() -> None:
    from mlperf_ops.cli.progress_bar import live_progress

    console = Console(record=True, width=160, force_terminal=True)
    bar = live_progress(console)
    task = bar.add_task("demo-cpu/digits-mlp/Offline/performance", total=10.0, k="[3 of 10]", min_s=10.0,
                        own_s=10.0, after_s=50.0, unknown=1)
    bar.tasks[0].start_time = bar.get_time() - 4.0  # four seconds into the run
    console.print(bar.make_tasks_table([bar.tasks[task]]))
    text = console.export_text()
    assert "[3 of 10]" in text and "4.0 s / 10 s min" in text and "about 56 s left +1 unknown" in text


def test_a_no_op_apply_loads_no_engine_image_builder_or_runner(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Nothing pending: `apply` plans and stops; the Docker engine, the image builder's
    ensure step and the runner are loaded only for a run (issue 16, the no-op apply)."""
    applied_events(tmp_path, monkeypatch)  # every run of the demo recorded
    code = ("import sys; from pathlib import Path; import mlperf_ops.cli.cmd_apply; "
            "from mlperf_ops.plan.controller import load_context; from mlperf_ops.run.apply import apply; "
            "from mlperf_ops.state.ledger import Ledger; "
            f"done = apply(load_context(Path('manifests/demo.yaml')), Ledger(Path({str(tmp_path / 'state')!r})), "
            "connect=None, on_event=print); "  # connecting would fail: nothing may connect
            "print(len(done.plan_before.runs), len(done.remaining), sorted(m for m in ('mlperf_ops.run.pending', "
            "'mlperf_ops.run.runner', 'mlperf_ops.execute.engine', 'mlperf_ops.run.compliance', 'docker') "
            "if m in sys.modules))")
    done = subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True, timeout=120,
                          env={**os.environ, "MLPERF_OPS_PROJECT": str(REPO)})
    assert done.returncode == 0, done.stderr
    planned, remaining, loaded = done.stdout.splitlines()[-1].split(" ", 2)
    assert (int(planned) > 0, remaining, loaded) == (True, "0", "[]"), done.stdout
