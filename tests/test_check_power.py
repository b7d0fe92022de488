"""Power results: our check against the official checker's verdicts, result by result.

No published tree of a round this tool has rules for holds power results (v6.0 has none:
every row of its summary_results.json says has_power false), so the trees are the real
Lenovo v6.0 excerpt made a power submission by test_check_summary_csv._with_power
(a synthetic analyser spl.txt around the logs' own power_begin/power_end, placeholder
power/ files, ranging/ copies), as made and with one scenario broken in each of the ways
the official checker's power checks look at. tests/data/power/official_verdicts.json holds
what the official checker said of each variant (see tests/data/power/NOTE.md for how it
was recorded: `--skip-power-check`, since placeholders are no analyser logs).
"""

from __future__ import annotations

import json
import os
import shutil
from collections.abc import Callable
from pathlib import Path

import pytest

os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")

from mlperf_ops.check import check_tree  # noqa: E402

from tests.test_check_summary_csv import CORPUS, SPL_TIME, _with_power  # noqa: E402

RECORDED = Path(__file__).parent / "data" / "power" / "official_verdicts.json"
# the power files are placeholders, no analyser logs: the Power WG's own check is skipped
CHECKER_ARGS = ["--skip-power-check"]
BROKEN = "closed/Lenovo/results/SE100/resnet50/offline"  # the scenario each variant breaks


def _as_made(perf: Path) -> None:
    pass


def _power_log_missing(perf: Path) -> None:
    (perf / "power" / "ptd_logs.txt").unlink()


def _extra_file_in_run(perf: Path) -> None:
    (perf / "run_1" / "metadata.json").write_text("{}\n")


def _ranging_without_spl(perf: Path) -> None:
    (perf / "ranging" / "spl.txt").unlink()


def _no_samples_in_window(perf: Path) -> None:
    # the analyser's clock a day late: every reading falls after power_end
    import datetime

    spl = perf / "run_1" / "spl.txt"
    lines = []
    for line in spl.read_text().splitlines():
        fields = line.split(",")
        stamp = datetime.datetime.strptime(fields[1], SPL_TIME) + datetime.timedelta(days=1)
        fields[1] = stamp.strftime(SPL_TIME)[:-3]
        lines.append(",".join(fields))
    spl.write_text("\n".join(lines) + "\n")


def _zero_watts(perf: Path) -> None:
    spl = perf / "run_1" / "spl.txt"
    spl.write_text("".join(
        ",".join(f[:3] + ["0.000"] + f[4:]) + "\n" for f in (line.split(",") for line in spl.read_text().splitlines())))


VARIANTS: dict[str, Callable[[Path], None]] = {
    "as_made": _as_made,
    "power_log_missing": _power_log_missing,
    "extra_file_in_run": _extra_file_in_run,
    "ranging_without_spl": _ranging_without_spl,
    "no_samples_in_window": _no_samples_in_window,
    "zero_watts": _zero_watts,
}
# the rule of ours that must refuse the broken scenario (None: nothing is broken)
EXPECTED_RULE = {
    "as_made": None,
    "power_log_missing": "power.files",
    "extra_file_in_run": "power.files",
    "ranging_without_spl": "power.files",
    "no_samples_in_window": "power.samples",
    "zero_watts": "power.samples",
}


def build(variant: str, root: Path) -> Path:
    """The Lenovo excerpt as a power submission at `root`, broken as `variant` says."""
    shutil.copytree(CORPUS / "lenovo_v6.0" / "tree", root)
    _with_power(root)
    VARIANTS[variant](root / BROKEN / "performance")
    return root


def test_every_variant_was_recorded() -> None:
    recorded = json.loads(RECORDED.read_text())
    assert set(recorded["variants"]) == set(VARIANTS) == set(EXPECTED_RULE)
    assert recorded["checker"]["commit"] == "b66003e10e2db4b8c36a448b0545ec90fcc6e9e9"


@pytest.mark.parametrize("variant", sorted(VARIANTS))
def test_agrees_with_the_official_checker_on_power_results(variant: str, tmp_path: Path) -> None:
    official = {r["result"]: r["valid"] for r in json.loads(RECORDED.read_text())["variants"][variant]}
    report = check_tree(build(variant, tmp_path / "tree"), round="v6.0")
    assert "check.internal" not in report.rule_ids()
    ours = {r.path: r.valid for r in report.results}
    assert ours == official
    broken = next(r for r in report.results if r.path == BROKEN)
    rules = {f["rule_id"] for f in broken.reasons}
    expected = EXPECTED_RULE[variant]
    if expected is None:
        assert broken.valid and all(official.values())
    else:
        assert not broken.valid and rules == {expected}, broken.reasons
    # every power result says that the analyser's own logs are left to the official checker
    infos = [f for f in report.findings if f.rule_id == "power.analyser-logs"]
    assert len(infos) == 3 and all(f.severity == "info" for f in infos)


def test_json_carries_the_power_figure_of_the_official_csv(tmp_path: Path) -> None:
    # official_summary_power.csv: the official checker's CSV for the tree as made (its
    # second row per result holds the power metric and unit); --json says the same
    import csv

    rows = list(csv.DictReader((CORPUS / "lenovo_v6.0" / "official_summary_power.csv").open(encoding="utf-8")))
    official = {(r["Scenario"], r["Units"]): float(r["Result"]) for r in rows if r["Units"] in ("Watts", "millijoules")}
    assert len(official) == 3
    report = check_tree(build("as_made", tmp_path / "tree"), round="v6.0")
    ours = {(r.path.rsplit("/", 1)[1], r.as_dict()["power_unit"]): r.as_dict()["power_value"] for r in report.results}
    assert ours == pytest.approx(official, rel=1e-12)
