"""The worked example of a harness of your own (images/example-vendor/), end to end on the real engine.

`apply` builds the example image (offline, from the project's base) and runs every run a
closed resnet edge submission needs through the manifest's `command:` — performance,
accuracy, TEST01 and TEST04 in three scenarios, with the `test` profile's 1 s runs — then
`assemble` writes the closed paperwork and `check` judges the tree. TEST01's accuracy
fallback is then driven for real: a copy of the audit's log with changed responses is
verified, and the accuracy it compares must come from the example's own accuracy script
(`accuracy_command:`), run in the example's image.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from mlperf_ops.plan.controller import load_context, make_plan
from mlperf_ops.execute.engine import Engine
from mlperf_ops.stacks.images import ensure_image, load_target
from mlperf_ops.run.runner import _score_accuracy_log
from mlperf_ops.state.ledger import Ledger
from mlperf_ops.run.verify import verify_audit
from tests.support.records import records_on_disk, run_label

pytestmark = [pytest.mark.docker, pytest.mark.slow]

REPO = Path(__file__).resolve().parents[1]
PROJECT = REPO / "tests" / "project"
MANIFEST = PROJECT / "manifests" / "example-vendor.yaml"
SCENARIOS = ("SingleStream", "MultiStream", "Offline")


def mlperf_ops(*args: str | Path, timeout: float = 900) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("MLPERF_OPS_")}
    env.update(MLPERF_OPS_PROJECT=str(PROJECT), PYTHONUNBUFFERED="1", CI="true")
    return subprocess.run([sys.executable, "-m", "mlperf_ops", *map(str, args)], capture_output=True, text=True,
                          env=env, cwd=REPO, timeout=timeout, check=False)


def explain(done: subprocess.CompletedProcess[str]) -> str:
    return f"$ {' '.join(done.args)}\nexit {done.returncode}\n{done.stdout[-4000:]}\n{done.stderr[-4000:]}"


@pytest.fixture(scope="module")
def applied(tmp_path_factory: pytest.TempPathFactory) -> Path:
    state = tmp_path_factory.mktemp("example-vendor") / "state"
    done = mlperf_ops("apply", MANIFEST, "--state-dir", state)
    assert done.returncode == 0, explain(done)
    return state


def records(state: Path) -> dict[str, dict[str, Any]]:
    return records_on_disk(state, lambda r: f"{r['system']}/{r['benchmark']}/{r['scenario']}/{run_label(r)}")


def test_every_run_is_done_through_the_vendor_command(applied: Path) -> None:
    found = records(applied)
    for scenario in SCENARIOS:
        for label in ("performance", "accuracy", "TEST01", "TEST04"):
            record = found[f"acme-cpu/resnet/{scenario}/{label}"]
            assert record["status"] == "done", record["reason"]
            assert record["inputs"]["command"] == ["python3", "-m", "acme_harness.run"]
            log = (record["_dir"] / "container.log").read_text("utf-8")
            assert "acme: " in log and "harness: " not in log  # the example ran, not our harness
        accuracy = found[f"acme-cpu/resnet/{scenario}/accuracy"]["accuracy"]
        assert accuracy == {"acc": pytest.approx(79.588, abs=0.001)}  # make_data's model, scored by ACME
        test01 = found[f"acme-cpu/resnet/{scenario}/TEST01"]
        assert test01["verification"]["passed"], test01["verification"]
        # TEST01/accuracy/accuracy.txt is the example's own script over the audit's log.
        script_log = (test01["_dir"] / "accuracy-script.log").read_text("utf-8")
        assert "acme: accuracy=" in script_log


def test_closed_tree_has_its_paperwork_and_passes_check(applied: Path, tmp_path: Path) -> None:
    tree = tmp_path / "tree"
    done = mlperf_ops("assemble", MANIFEST, "--state-dir", applied, "--out", tree, "--smoke")
    assert done.returncode == 0, explain(done)
    top = tree / "closed" / "ACME"
    assert (top / "calibration.md").read_text("utf-8").startswith("# ACME calibration")
    src = top / "src" / "resnet"
    shipped = REPO / "images" / "example-vendor" / "acme_harness"
    assert sorted(p.name for p in src.iterdir()) == sorted(p.name for p in shipped.glob("*.py"))
    assert (src / "run.py").read_bytes() == (shipped / "run.py").read_bytes()
    assert not (top / "src" / "harness").exists()  # our harness is not what ran
    assert "harness source: `resnet/`" in (top / "src" / "README.md").read_text("utf-8")
    checked = mlperf_ops("check", tree, "--json")
    assert checked.returncode == 0, explain(checked)
    report = json.loads(checked.stdout)
    assert not [f for f in report.get("findings", []) if f.get("severity") == "error"], report


def test_closed_tree_is_refused_by_ours_as_by_the_official_checker(applied: Path, tmp_path: Path) -> None:
    # The official checker's verdict on this tree, recorded once (tests/data/example_vendor/NOTE.md):
    # a smoke tree judged as a submission fails the 600 s rule on each performance and audit
    # log, and nothing else. Ours, with --as-submission, must say the same of every result.
    official = json.loads((REPO / "tests" / "data" / "example_vendor" / "official_verdicts.json").read_text("utf-8"))
    tree = tmp_path / "tree"
    done = mlperf_ops("assemble", MANIFEST, "--state-dir", applied, "--out", tree, "--smoke")
    assert done.returncode == 0, explain(done)
    checked = mlperf_ops("check", tree, "--as-submission", "--json")
    assert checked.returncode == 3, explain(checked)
    report = json.loads(checked.stdout)
    assert {r["path"]: r["valid"] for r in report["results"]} == {
        r["result"]: r["valid"] for r in official["results"]}
    ours = {(f["rule_id"], f["path"].removesuffix("/performance/run_1/mlperf_log_detail.txt"))
            for f in report["findings"] if f["severity"] == "error"}
    theirs = {("perf.min-duration", line.split(" ", 1)[0].removesuffix("/performance/run_1/mlperf_log_detail.txt"))
              for r in official["results"] for line in r["errors"] if "Test duration less than 600s" in line}
    assert len(theirs) == 9 and ours == theirs
    other = [line for r in official["results"] for line in r["errors"]
             if "Test duration less than 600s" not in line and "Checks failed for" not in line]
    assert other == []  # the official checker found nothing else to refuse


def test_test01_fallback_scores_with_the_examples_own_script(applied: Path, engine: Engine) -> None:
    os.environ["MLPERF_OPS_PROJECT"] = str(PROJECT)
    try:
        ctx = load_context(MANIFEST)
    finally:
        del os.environ["MLPERF_OPS_PROJECT"]
    ledger = Ledger(applied)
    spec = make_plan(ctx, ledger).run("acme-cpu/resnet/Offline/TEST01").spec
    done = ledger.done(spec.key)
    assert done is not None
    system = ctx.manifest.system(spec.system)
    bench = system.benchmarks[0]
    target = load_target(ctx.images_dir, spec.image_target)
    image = ensure_image(engine, target)
    attempt = ledger.begin(spec.key, spec.run_id)
    try:
        shutil.copytree(done.output_dir, attempt.output_dir, dirs_exist_ok=True)
        log = attempt.output_dir / "mlperf_log_accuracy.json"
        entries = json.loads(log.read_text("utf-8"))
        for entry in entries[:3]:  # three answers changed: the response comparison must fail
            entry["data"] = "FFFFFFFF" if entry["data"] != "FFFFFFFF" else "00000000"
        log.write_text(json.dumps(entries), "utf-8")

        verdict = verify_audit(spec, bench, attempt, ledger, ctx.rules,
                               lambda path: _score_accuracy_log(path, spec, attempt, system, bench, target, image,
                                                                engine, lambda event: None))
        assert verdict.details["mismatched"] == 3, verdict.as_dict()
        text = (attempt.dir / "verification" / "verify_accuracy.txt").read_text("utf-8")
        assert "baseline accuracy" in text and "compliance accuracy" in text
        baseline = (attempt.dir / "verification" / "accuracy" / "baseline_accuracy.txt").read_text("utf-8")
        assert baseline.startswith("accuracy=") and "good=" in baseline  # ACME's line, from its image
        assert "acme: accuracy=" in (attempt.dir / "accuracy-script.log").read_text("utf-8")
    finally:
        shutil.rmtree(attempt.dir, ignore_errors=True)


def test_rerun_retires_and_reruns_exactly_the_matched_runs(applied: Path) -> None:
    pattern = "*/Offline/performance"
    preview = mlperf_ops("plan", MANIFEST, "--state-dir", applied, "--rerun", pattern, "--json")
    assert preview.returncode == 0, explain(preview)
    to_run = [(r["run_id"], r["reason"]) for r in json.loads(preview.stdout)["runs"] if r["action"] != "skip"]
    assert to_run == [("acme-cpu/resnet/Offline/performance", "re-run requested")]
    before = records(applied)["acme-cpu/resnet/Offline/performance"]

    done = mlperf_ops("apply", MANIFEST, "--state-dir", applied, "--rerun", pattern, "--json")
    assert done.returncode == 0, explain(done)
    ran = json.loads(done.stdout)["records"]
    assert [(r["run_id"], r["status"]) for r in ran] == [("acme-cpu/resnet/Offline/performance", "done")]
    assert ran[0]["key"] == before["_dir"].name  # same inputs, same key: a new measurement of the same run

    status = mlperf_ops("status", MANIFEST, "--state-dir", applied, "--all", "--json")
    assert status.returncode == 0, explain(status)
    # Only the requested re-run: references re-measured by the audit policy during the
    # fixture's apply are retired too, with their own reason.
    retired = [row for row in json.loads(status.stdout)
               if row["state"] == "retired" and row["reason"].startswith("re-run requested")]
    assert [row["run_id"] for row in retired] == ["acme-cpu/resnet/Offline/performance"]
    old = json.loads((Path(retired[0]["reason"].rsplit("(", 1)[1].rstrip(")")) / "record.json").read_text("utf-8"))
    assert old["status"] == "retired" and old["started_unix"] == before["started_unix"]  # kept, readable
    again = mlperf_ops("plan", MANIFEST, "--state-dir", applied, "--json")
    assert json.loads(again.stdout)["pending_total"] == 0
