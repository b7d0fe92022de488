"""A Server TEST06 run is judged by its verification, not by LoadGen's validity.

The round's TEST06 audit.config asks for 100 queries and no minimum duration: too few for
Server's early-stopping estimate, so LoadGen calls every Server (and Interactive) TEST06 run
INVALID, whatever the server does (tests/data/llm_test06_server: LoadGen's logs of one, from
tests/test_llm_llama31_tree.py). The official procedure reads only the audit's logged outputs
(verify_accuracy.txt); `apply` used to fail the run for LoadGen's verdict, so no llama3.1-8b
Server tree could be assembled. A performance run and a TEST01 audit with the same logs are
still failed for it.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from mlperf_ops.plan.matrix import RunSpec
from mlperf_ops.rules import load_rules
from mlperf_ops.run.outcome import ContainerExit, evaluate

LOGS = Path(__file__).parent / "data" / "llm_test06_server"
RULES = load_rules("v6.1")


def _spec(mode: str, audit: str | None) -> RunSpec:
    return RunSpec(run_id=f"llm-cpu/llama3.1-8b/Server/{audit or mode}", system="llm-cpu", benchmark="llama3.1-8b",
                   official="llama3.1-8b", loadgen_model="llama3_1-8b", scenario="Server", mode=mode,
                   audit_test=audit, image_target="llm-endpoint", image_identity="x", user_conf="", audit_config=None,
                   command=None, depends_on=(), settings_source={}, inputs={}, key="k" * 64)


@pytest.mark.parametrize(("mode", "audit", "status"), [
    ("audit", "TEST06", "done"),          # judged by its verification afterwards
    ("performance", None, "invalid"),     # a result: LoadGen's verdict is the verdict
    ("audit", "TEST01", "invalid"),       # compared with its reference run as a run
])
def test_loadgens_verdict_on_a_server_test06_run(tmp_path: Path, mode: str, audit: str | None, status: str) -> None:
    output = tmp_path / "output"
    shutil.copytree(LOGS, output)
    summary = (output / "mlperf_log_summary.txt").read_text()
    assert "Result is : INVALID" in summary and "Early stopping satisfied: NO" in summary
    assert "Performance constraints satisfied : Yes" in summary and "Min queries satisfied : Yes" in summary
    exit_ = ContainerExit(0, False, False, 60.0, tmp_path / "container.log")
    outcome = evaluate(_spec(mode, audit), output, exit_, RULES, require_valid=True)
    assert outcome.status == status, outcome.reason
    if status == "done":
        assert outcome.reason.startswith("INVALID: ")  # the record still says what LoadGen said
