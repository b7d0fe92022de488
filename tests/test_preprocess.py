"""`mlperf-ops preprocess`: the official preprocess step on copies of real published trees.

What the official tools/submission/preprocess_submission.py (b66003e1) did on the first
case, by hand: the same move (resnet50 to open/Lenovo/results/SE100, SE100.json with
division open) — then its own checker crashed on the closed/Lenovo it left without
results/, which our pruning removes. On the corpus trees as published it stops with a
FileNotFoundError (it copies src/<benchmark>, which the excerpts replace by one README).
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
from pathlib import Path

import pytest

os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")

from mlperf_ops.check import check_tree  # noqa: E402
from mlperf_ops.cli import main  # noqa: E402
from mlperf_ops.core.errors import UsageError  # noqa: E402
from mlperf_ops.preprocess import PreprocessOptions, preprocess  # noqa: E402

CORPUS = Path(__file__).parent / "data" / "real_trees"
LENOVO = "closed/Lenovo/results/SE100/resnet50"


def _digest(root: Path) -> str:
    h = hashlib.sha256()
    for path in sorted(root.rglob("*")):
        h.update(path.relative_to(root).as_posix().encode())
        if path.is_file():
            h.update(path.read_bytes())
    return h.hexdigest()


def _lenovo(tmp_path: Path) -> Path:
    root = tmp_path / "in"
    shutil.copytree(CORPUS / "lenovo_v6.0" / "tree", root)
    return root


def _kinds(report_actions: list[dict[str, str]]) -> list[tuple[str, str]]:
    return [(a["kind"], a["path"]) for a in report_actions]


def test_a_failing_closed_result_moves_to_open_and_the_output_passes(tmp_path: Path,
                                                                   capsys: pytest.CaptureFixture[str]) -> None:
    src = _lenovo(tmp_path)
    shutil.rmtree(src / LENOVO / "SingleStream" / "TEST04")  # the closed SingleStream now fails its audit
    before = check_tree(src, round="v6.0")
    assert not before.ok and {r.scenario for r in before.results if not r.valid} == {"SingleStream"}
    digest = _digest(src)

    out = tmp_path / "out"
    assert main(["preprocess", str(src), "--out", str(out), "--round", "v6.0", "--json"]) == 0
    doc = json.loads(capsys.readouterr().out)
    assert ("moved-to-open", "open/Lenovo/results/SE100/resnet50") in _kinds(doc["actions"])
    assert doc["check"] == {"ok": True, "accepted": 3, "refused": 0, "notes": []}
    assert _digest(src) == digest  # never in place

    after = check_tree(out, round="v6.0")
    assert after.ok and {r.division for r in after.results} == {"open"} and len(after.results) == 3
    assert not (out / "closed").exists()  # the closed submitter had nothing left
    system = json.loads((out / "open/Lenovo/systems/SE100.json").read_text())
    assert system["division"] == "open"
    assert (out / "open/Lenovo/src").is_dir()


def test_the_real_krai_tree_loses_its_failed_results_and_passes(tmp_path: Path) -> None:
    # published as is: the official checker refuses its four text-to-video results
    out = tmp_path / "out"
    report = preprocess(CORPUS / "krai_v6.0" / "tree", out, PreprocessOptions(round="v6.0"))
    kinds = _kinds([a.as_dict() for a in report.actions])
    # open already holds the same system's wan results: the closed ones are dropped, said so
    assert ("deleted-failed", "closed/Krai/results/h200_n1-kissv/wan-2.2-t2v-a14b") in kinds
    assert ("deleted-failed", "open/Krai/results/h200_n1-kissv/wan-2.2-t2v-a14b/offline") in kinds
    assert ("deleted-unused-system", "open/Krai/systems/h200_n1-kissv.json") in kinds
    assert report.ok and (report.accepted, report.refused) == (2, 0)
    assert check_tree(out, round="v6.0").ok


def test_without_moving_a_failed_closed_benchmark_is_deleted(tmp_path: Path) -> None:
    src = _lenovo(tmp_path)
    shutil.rmtree(src / LENOVO / "SingleStream" / "TEST04")
    report = preprocess(src, tmp_path / "out", PreprocessOptions(round="v6.0", move_failed_to_open=False))
    assert ("deleted-failed", LENOVO) in _kinds([a.as_dict() for a in report.actions])
    assert not (tmp_path / "out" / "open").exists()
    assert report.ok is False and report.accepted == 0  # nothing left to submit


def test_keeping_failed_results_leaves_the_tree_failing(tmp_path: Path) -> None:
    src = _lenovo(tmp_path)
    shutil.rmtree(src / LENOVO / "SingleStream" / "TEST04")
    out = tmp_path / "out"
    code = main(["preprocess", str(src), "--out", str(out), "--round", "v6.0",
                 "--no-move-failed-to-open", "--no-delete-failed"])
    assert code == 3
    assert (out / LENOVO / "SingleStream").is_dir()


def test_edge_scenarios_are_inferred_from_singlestream(tmp_path: Path) -> None:
    src = _lenovo(tmp_path)
    shutil.rmtree(src / LENOVO / "multistream")
    shutil.rmtree(src / LENOVO / "offline")
    assert not check_tree(src, round="v6.0").ok  # MultiStream and Offline are required on edge
    out = tmp_path / "out"
    report = preprocess(src, out, PreprocessOptions(round="v6.0"))
    assert _kinds([a.as_dict() for a in report.actions]) == [
        ("inferred-scenario", f"{LENOVO}/Offline"), ("inferred-scenario", f"{LENOVO}/MultiStream")]
    checked = check_tree(out, round="v6.0")
    assert checked.ok
    values = {r.scenario: r.official_value for r in checked.results}
    assert values == {"SingleStream": 1.203352, "MultiStream": 9.918944, "Offline": 834.804}

    kept = preprocess(src, tmp_path / "out2", PreprocessOptions(round="v6.0", infer_scenarios=False))
    assert kept.actions == [] and not kept.ok


def test_a_high_accuracy_result_stands_for_the_low_one(tmp_path: Path) -> None:
    src = tmp_path / "in"
    shutil.copytree(CORPUS / "krai_v6.0" / "tree" / "open", src / "open")
    system = src / "open/Krai/results/h200_n1-vllm"
    (system / "llama3_1-70b-fp8_dyn").rename(system / "llama2-70b-99.9")
    (src / "open/Krai/model_mapping.json").unlink()
    shutil.rmtree(src / "open/Krai/results/h200_n1-kissv")
    (src / "open/Krai/systems/h200_n1-kissv.json").unlink()
    out = tmp_path / "out"
    report = preprocess(src, out, PreprocessOptions(round="v6.0"))
    assert ("inferred-low-accuracy", "open/Krai/results/h200_n1-vllm/llama2-70b-99") in _kinds(
        [a.as_dict() for a in report.actions])
    checked = check_tree(out, round="v6.0")
    assert checked.ok and {r.official_benchmark for r in checked.results} == {"llama2-70b-99", "llama2-70b-99.9"}

    kept = preprocess(src, tmp_path / "out2", PreprocessOptions(round="v6.0", infer_low_accuracy=False))
    assert not (tmp_path / "out2" / "open/Krai/results/h200_n1-vllm/llama2-70b-99").exists() and kept.ok


def test_never_in_place(tmp_path: Path) -> None:
    src = _lenovo(tmp_path)
    with pytest.raises(UsageError):
        preprocess(src, src / "out", PreprocessOptions(round="v6.0"))
    (tmp_path / "taken").mkdir()
    with pytest.raises(UsageError):
        preprocess(src, tmp_path / "taken", PreprocessOptions(round="v6.0"))


def test_one_submitter_of_a_tree(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    src = tmp_path / "in"
    shutil.copytree(CORPUS / "lenovo_v6.0" / "tree", src)
    shutil.copytree(CORPUS / "dell_v6.0" / "tree" / "closed" / "Dell", src / "closed" / "Dell")
    out = tmp_path / "out"
    assert main(["preprocess", str(src), "--out", str(out), "--round", "v6.0", "--submitter", "Dell"]) == 0
    assert sorted(p.name for p in (out / "closed").iterdir()) == ["Dell"]
    assert "0 action(s); passes check for v6.0 (3 accepted, 0 refused)" in capsys.readouterr().out


def test_logs_of_another_round_are_left_alone_and_named(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    src = _lenovo(tmp_path)
    shutil.rmtree(src / LENOVO / "SingleStream" / "TEST04")
    out = tmp_path / "out"
    assert main(["preprocess", str(src), "--out", str(out), "--round", "v6.1"]) == 3
    printed = capsys.readouterr().out
    assert "note: these logs carry v6.0 seeds: use --round v6.0" in printed
    assert "moved-to-open" not in printed and (out / LENOVO / "SingleStream").is_dir()


def test_a_failed_edge_offline_is_deleted_and_inferred_again(tmp_path: Path) -> None:
    src = _lenovo(tmp_path)
    accuracy = src / LENOVO / "offline" / "accuracy" / "accuracy.txt"
    accuracy.write_text(accuracy.read_text().replace("accuracy=76.218%", "accuracy=70.000%"))  # below the target
    assert {r.scenario for r in check_tree(src, round="v6.0").results if not r.valid} == {"Offline"}
    report = preprocess(src, tmp_path / "out", PreprocessOptions(round="v6.0"))
    assert _kinds([a.as_dict() for a in report.actions]) == [
        ("deleted-failed", f"{LENOVO}/offline"), ("inferred-scenario", f"{LENOVO}/offline")]
    assert report.ok and report.accepted == 3
    assert "76.218" in (tmp_path / "out" / LENOVO / "offline" / "accuracy" / "accuracy.txt").read_text()
