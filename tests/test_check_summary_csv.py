"""`check --csv` writes the official checker's summary CSV; `--json` carries each result's
value in the official unit; seeds of another round are said once.

The expected CSVs are the official checker's own (tests/data/real_trees/<name>/
official_summary.csv, see each SOURCE.md), run with `--input tree`: only the Location
column depends on where the tree lies.
"""

from __future__ import annotations

import json
import os
import re
import shutil
from pathlib import Path

import pytest

os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")

from mlperf_ops.check import check_tree  # noqa: E402
from mlperf_ops.check.summary_csv import compare_with_official, render, summary_rows  # noqa: E402
from mlperf_ops.cli import main  # noqa: E402

CORPUS = Path(__file__).parent / "data" / "real_trees"
TREES = sorted(p.name for p in CORPUS.iterdir() if (p / "official_summary.csv").is_file())


def _official_csv(name: str, root: Path) -> str:
    text = (CORPUS / name / "official_summary.csv").read_text(encoding="utf-8")
    return text.replace('"tree/', f'"{root}/')


def test_every_tree_has_an_official_csv() -> None:
    assert len(TREES) >= 6


@pytest.mark.parametrize("name", TREES)
def test_csv_is_the_official_one_byte_for_byte(name: str) -> None:
    root = CORPUS / name / "tree"
    report = check_tree(root, round=json.loads((CORPUS / name / "official_verdicts.json").read_text())["round"])
    assert render(summary_rows(report)) == _official_csv(name, root)


def test_cli_writes_the_csv(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    root = CORPUS / "lenovo_v6.0" / "tree"
    out = tmp_path / "summary.csv"
    assert main(["check", str(root), "--round", "v6.0", "--csv", str(out)]) == 0
    assert out.read_text(encoding="utf-8") == _official_csv("lenovo_v6.0", root)
    captured = capsys.readouterr()
    assert "3 accepted, 0 refused" in captured.out and "no result" not in captured.out


def test_a_refused_result_has_no_row_and_is_said_refused(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    root = CORPUS / "krai_v6.0" / "tree"
    out = tmp_path / "summary.csv"
    assert main(["check", str(root), "--round", "v6.0", "--csv", str(out)]) == 3
    rows = out.read_text(encoding="utf-8").splitlines()[1:]
    assert len(rows) == 2 and all("llama3_1-70b-fp8_dyn" in r for r in rows)
    captured = capsys.readouterr()
    assert captured.out.count(": REFUSED,") == 4 and "ERROR: check failed: no result" not in captured.err
    assert "4 of 6 result(s) refused" in captured.err


def test_json_carries_the_value_in_the_official_unit(capsys: pytest.CaptureFixture[str]) -> None:
    main(["check", str(CORPUS / "dell_v6.0" / "tree"), "--round", "v6.0", "--json"])
    results = {r["path"].split("/results/")[1]: r for r in json.loads(capsys.readouterr().out)["results"]}
    llm = results["1-node-2S-GNR_86C/llama3_1-8b/Offline"]
    assert (llm["official_value"], llm["unit"]) == (807.675, "Tokens/s")  # LoadGen's samples/s is 6.31
    assert llm["valid"] is True
    whisper = results["XE7740_H200_NVL_141GBx8_TRT/whisper/Offline"]
    assert (whisper["official_value"], whisper["unit"]) == (31969.2, "Samples/s")  # tokens/s, named samples


def test_inferred_edge_values_follow_the_official_formulas() -> None:
    report = check_tree(CORPUS / "lenovo_v6.0" / "tree", round="v6.0")
    values = {r.scenario: (r.official_value, r.unit) for r in report.results}
    # MultiStream from the SingleStream run's 8-sample early-stopping estimate, Offline from its QPS
    assert values == {"SingleStream": (1.203352, "Latency (ms)"), "MultiStream": (9.918944, "Latency (ms)"),
                      "Offline": (834.804, "Samples/s")}


def test_seeds_of_another_round_are_said_once() -> None:
    report = check_tree(CORPUS / "lenovo_v6.0" / "tree", round="v6.1")
    said = [f for f in report.findings if f.rule_id == "perf.seed-round"]
    assert len(said) == 1 and "these logs carry v6.0 seeds: use --round v6.0" in said[0].message
    assert "perf.seed-mismatch" not in report.rule_ids()
    assert report.results and all(r.valid is False for r in report.results)
    assert all("perf.seed-round" in {x["rule_id"] for x in r.reasons} for r in report.results)


def test_the_round_is_named_from_the_seeds_the_check_read(monkeypatch: pytest.MonkeyPatch) -> None:
    """The flagged logs are not read a second time (on a 200-result tree that was a serial
    third of a second): a second read fails this test."""
    from mlperf_ops.check import seed_round

    def read_again(log: Path) -> dict[str, str]:
        raise AssertionError(f"{log} read again")

    monkeypatch.setattr(seed_round, "_seeds", read_again)
    report = check_tree(CORPUS / "lenovo_v6.0" / "tree", round="v6.1")
    assert [f.rule_id for f in report.findings].count("perf.seed-round") == 1


def test_seeds_of_no_known_round_stay_per_log(tmp_path: Path) -> None:
    root = tmp_path / "tree"
    shutil.copytree(CORPUS / "lenovo_v6.0" / "tree", root)
    detail = next(root.rglob("SingleStream/performance/run_1/mlperf_log_detail.txt"))
    detail.write_text(re.sub(r'("key": "effective_qsl_rng_seed", "value": )\d+', r"\g<1>123", detail.read_text()))
    report = check_tree(root, round="v6.1")
    assert "perf.seed-round" not in report.rule_ids()
    assert "perf.seed-mismatch" in report.rule_ids()


def test_differences_from_the_official_csv_are_named() -> None:
    root = CORPUS / "dell_v6.0" / "tree"
    ours = render(summary_rows(check_tree(root, round="v6.0")))
    official = (CORPUS / "dell_v6.0" / "official_summary.csv").read_text(encoding="utf-8")
    assert compare_with_official(ours, str(root), [(official, "tree")]) == []
    changed = official.replace('"807.675"', '"807.0"')
    differences = compare_with_official(ours, str(root), [(changed, "tree")])
    assert differences == ["Result of closed/Dell/results/1-node-2S-GNR_86C/llama3_1-8b/Offline/performance/run_1: "
                           "ours 807.675, the official CSV 807.0"]
    # another column too: the two rows are shown whole
    changed = changed.replace('"Tokens/s"', '"Samples/s"', 1)
    differences = compare_with_official(ours, str(root), [(changed, "tree")])
    assert len(differences) == 2 and "807.675" in differences[0] and "807.0" in differences[1]
    assert differences[0].startswith("only in ours: ") and differences[1].startswith("only in the official CSV: ")


CHECKOUT = os.environ.get("MLPERF_INFERENCE_CHECKOUT")


@pytest.mark.skipif(not CHECKOUT, reason="set MLPERF_INFERENCE_CHECKOUT to a mlcommons/inference checkout")
@pytest.mark.parametrize("name", ["lenovo_v6.0", "krai_v6.0"])
def test_the_official_checker_writes_our_csv_today(name: str, tmp_path: Path,
                                                   capsys: pytest.CaptureFixture[str]) -> None:
    root = tmp_path / "tree"
    shutil.copytree(CORPUS / name / "tree", root)
    main(["check", str(root), "--round", "v6.0", "--official", str(CHECKOUT), "--csv", str(tmp_path / "s.csv"), "--json"])
    assert json.loads(capsys.readouterr().out)["official_csv_differences"] == []


POWER_FILES = ("client.json", "client.log", "ptd_logs.txt", "server.json", "server.log")
SPL_TIME = "%m-%d-%Y %H:%M:%S.%f"


def _with_power(root: Path) -> None:
    """The Lenovo excerpt as a power submission: analyser samples around its own
    power_begin (a synthetic spl.txt), the power/ and ranging/ folders the layout asks for."""
    import datetime

    begin = datetime.datetime.strptime("02-09-2026 23:15:54.633", SPL_TIME)
    bench = root / "closed/Lenovo/results/SE100/resnet50"
    for i, scenario in enumerate(["SingleStream", "multistream", "offline"]):
        perf = bench / scenario / "performance"
        run = perf / "run_1"
        for extra in ("mlperf_log_trace.json", "results.json"):
            (run / extra).unlink(missing_ok=True)  # a power run holds the LoadGen logs only
        lines = []
        for s in range(-5, 610):
            stamp = (begin + datetime.timedelta(seconds=s, milliseconds=500)).strftime(SPL_TIME)[:-3]
            lines.append(f"Time,{stamp},Watts,{40.0 + (s % 7) * 0.731 + i:.3f},Volts,229.0,Amps,0.2,PF,0.9,Mark,x")
        (run / "spl.txt").write_text("\n".join(lines) + "\n")
        (perf / "power").mkdir()
        for name in POWER_FILES:
            (perf / "power" / name).write_text("{}\n" if name.endswith("json") else "x\n")
        (perf / "ranging").mkdir()
        for name in ("mlperf_log_summary.txt", "mlperf_log_detail.txt", "spl.txt"):
            shutil.copy(run / name, perf / "ranging" / name)


def test_a_power_result_has_its_power_row(tmp_path: Path) -> None:
    # official_summary_power.csv: the official checker on this tree (--skip-power-check:
    # the analyser's own logs are placeholders); see lenovo_v6.0/SOURCE.md
    root = tmp_path / "tree"
    shutil.copytree(CORPUS / "lenovo_v6.0" / "tree", root)
    _with_power(root)
    report = check_tree(root, round="v6.0")
    assert all(r.valid for r in report.results)
    expected = (CORPUS / "lenovo_v6.0" / "official_summary_power.csv").read_text(encoding="utf-8")
    assert render(summary_rows(report)) == expected.replace('"tree/', f'"{root}/')
    units = [line.split('","')[27] for line in expected.splitlines()[1:]]
    assert units == ["Latency (ms)", "millijoules", "Latency (ms)", "millijoules", "Samples/s", "Watts"]


def test_design_power_is_the_needed_supplies() -> None:
    from mlperf_ops.check.power_value import design_power_watts

    nameplate = {"node": {"PSUs": [{"PowerCapacityWatts": 800}, {"PowerCapacityWatts": 1200}],
                          "Min PSUs Needed": 1},
                 "switch": [{"PSUs": [{"PowerCapacityWatts": 150}], "min psus needed": 1}]}
    assert design_power_watts(nameplate) == 1350


def _reseeded(root: Path, old: str, new: str) -> None:
    """Give every LoadGen log of the tree the seeds of round `new` instead of `old`'s."""
    from mlperf_ops.rules import load_rules

    from tests.support.variants import replace_seeds

    replace_seeds(root.rglob("mlperf_log_detail.txt"), load_rules(old).seeds, load_rules(new).seeds)


def test_a_round_with_nameplates_reports_no_design_power_as_none(tmp_path: Path) -> None:
    root = tmp_path / "tree"
    shutil.copytree(CORPUS / "lenovo_v6.0" / "tree", root)
    _reseeded(root, "v6.0", "v6.1")
    report = check_tree(root, round="v6.1")
    assert report.ok
    expected = (CORPUS / "lenovo_v6.0" / "official_summary_v6.1.csv").read_text(encoding="utf-8")
    assert render(summary_rows(report)) == expected.replace('"tree/', f'"{root}/')
