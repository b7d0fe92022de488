"""Compliance (audit) tests and measurements.json: our check against the official checker's
verdicts, result by result.

Each variant is a real published excerpt with one file (or one line of one file) changed:
the Lenovo v6.0 excerpt (closed edge resnet50, TEST01/TEST04) for the TEST01/TEST04
verify files, their performance/run_1 folders and logs, a test the benchmark has no use for,
and the result's measurements.json, README.md and user.conf; the Dell v6.0 excerpt for
TEST06 (llama3_1-8b Offline) and for TEST01's accuracy-delta fallback (whisper Offline);
the Nebius v6.0 excerpt for TEST09 (gpt-oss-120b offline).
tests/data/variants_compliance/official_verdicts.json holds what the official checker said
of each variant (recorded by `scripts/record_official_verdicts.py CHECKOUT --variants
test_check_variants_compliance`); NOTE.md there says what each variant changes.

A measurements.json that is no JSON at all is no variant here: the official checker crashes
on it (loader.py load_single_log reads it with json.load, uncaught).
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
from tests.support.variants import (  # noqa: E402
    CORPUS, assert_agrees, assert_every_variant_recorded, copy_excerpt, delete,
    empty, log_value, new_file, recorded,
)

RECORDED = Path(__file__).parent / "data" / "variants_compliance" / "official_verdicts.json"

LENOVO = "closed/Lenovo/results/SE100/resnet50/offline"
DELL_LLAMA = "closed/Dell/results/1-node-2S-GNR_86C/llama3_1-8b/Offline"
DELL_WHISPER = "closed/Dell/results/XE7740_H200_NVL_141GBx8_TRT/whisper/Offline"
NEBIUS = "closed/Nebius/results/nebius_b300_n1/gpt-oss-120b/offline"
TREE_OF = {LENOVO: "lenovo_v6.0", DELL_LLAMA: "dell_v6.0", DELL_WHISPER: "dell_v6.0", NEBIUS: "nebius_v6.0"}


def _replace_line(old: str, new: str | None) -> Callable[[Path], None]:
    """Each line that is `old` (stripped) becomes `new` (None: is dropped)."""

    def change(path: Path) -> None:
        lines = path.read_text().split("\n")
        hit = [i for i, line in enumerate(lines) if line.strip() == old]
        assert hit, (path, old)
        out = [line if line.strip() != old else new for line in lines]
        path.write_text("\n".join(line for line in out if line is not None))

    return change


def _insert_before(old: str, new: str) -> Callable[[Path], None]:
    def change(path: Path) -> None:
        lines = path.read_text().split("\n")
        i = next(i for i, line in enumerate(lines) if line.strip() == old)
        path.write_text("\n".join([*lines[:i], new, *lines[i:]]))

    return change


def _append(line: str) -> Callable[[Path], None]:
    return lambda path: path.write_text(path.read_text().rstrip("\n") + "\n" + line + "\n")


def _json_edit(edit: Callable[[dict], object]) -> Callable[[Path], None]:
    def change(path: Path) -> None:
        doc = json.loads(path.read_text())
        path.write_text(json.dumps(edit(doc), indent=4) + "\n")

    return change


def _rename_to(name: str) -> Callable[[Path], None]:
    return lambda path: path.rename(path.with_name(name))


def _without(key: str) -> Callable[[dict], dict]:
    return lambda doc: {k: v for k, v in doc.items() if k != key}


def _with(key: str, value: object) -> Callable[[dict], dict]:
    return lambda doc: {**doc, key: value}


def _on(result: str, file: str, change: Callable[[Path], None]) -> tuple[str, Callable[[Path], None]]:
    """(the result changed, the change of one file of it, given the tree's root)."""
    return result, lambda root: change(root / result / file)


def _copy_of(result: str, src: str, dst: str) -> tuple[str, Callable[[Path], None]]:
    """A folder of another excerpt's result copied into `result` (a test it has no use for)."""

    def change(root: Path) -> None:
        assert not (root / result / dst).exists()
        shutil.copytree(CORPUS / "dell_v6.0" / "tree" / src, root / result / dst)

    return result, change


T01 = "TEST01/verify_accuracy.txt"
T01P = "TEST01/verify_performance.txt"
T01RUN = "TEST01/performance/run_1/"
T04P = "TEST04/verify_performance.txt"
T06 = "TEST06/verify_accuracy.txt"
SEED = "2465351861681999779"  # v6.0's qsl_rng_seed, as Lenovo's TEST01 log gives it

CHANGES: dict[str, tuple[str, Callable[[Path], None]]] = {
    "as_published": (LENOVO, lambda root: None),
    # TEST01 verify_accuracy.txt (official: a stripped line equal to TEST PASS, else the
    # accuracy-delta fallback, which Lenovo's TEST01/accuracy/ cannot take)
    "test01_accuracy_says_fail": _on(LENOVO, T01, _replace_line("TEST PASS", "TEST FAIL")),
    "test01_accuracy_says_passed": _on(LENOVO, T01, _replace_line("TEST PASS", "TEST PASSED")),
    "test01_accuracy_fail_then_pass": _on(LENOVO, T01, _insert_before("TEST PASS", "TEST FAIL")),
    # TEST01 verify_performance.txt (official: TEST PASS anywhere in a line)
    "test01_performance_says_fail": _on(LENOVO, T01P, _replace_line("TEST PASS", "TEST FAIL")),
    # TEST01 performance/run_1 (official: exactly the two LoadGen logs, give or take
    # mlperf_log_accuracy.json, mlperf_log_trace.json, results.json, .gitkeep)
    "test01_run_summary_missing": _on(LENOVO, T01RUN + "mlperf_log_summary.txt", delete),
    "test01_run_spl_txt": _on(LENOVO, T01RUN + "spl.txt", new_file("0\n")),
    "test01_run_trace_json": _on(LENOVO, T01RUN + "mlperf_log_trace.json", new_file("[]\n")),
    "test01_run_hidden_file": _on(LENOVO, T01RUN + ".DS_Store", new_file("x")),
    # TEST01's detail log, checked like a performance run
    "test01_run_accuracy_mode": _on(LENOVO, T01RUN + "mlperf_log_detail.txt",
                                    log_value("effective_test_mode", '"PerformanceOnly"', '"AccuracyOnly"')),
    "test01_run_wrong_seed": _on(LENOVO, T01RUN + "mlperf_log_detail.txt",
                                 log_value("effective_qsl_rng_seed", SEED, "1")),
    # TEST04
    "test04_performance_says_fail": _on(LENOVO, T04P, _replace_line("TEST PASS", "TEST FAIL")),
    "test04_failing_verify_accuracy": _on(LENOVO, "TEST04/verify_accuracy.txt", new_file("TEST FAIL\n")),
    # a test resnet50 has no use for: Dell's TEST06 (which passes) copied in
    "unneeded_test06": _copy_of(LENOVO, DELL_LLAMA + "/TEST06", "TEST06"),
    # measurements.json, README.md, user.conf of the result
    "measurements_key_missing": _on(LENOVO, "measurements.json", _json_edit(_without("retraining"))),
    "measurements_value_false": _on(LENOVO, "measurements.json", _json_edit(_with("retraining", False))),
    "measurements_value_blank": _on(LENOVO, "measurements.json", _json_edit(_with("retraining", " "))),
    "measurements_is_a_list": _on(LENOVO, "measurements.json", _json_edit(lambda doc: [doc])),
    "readme_lowercase": _on(LENOVO, "README.md", _rename_to("readme.md")),
    "user_conf_empty": _on(LENOVO, "user.conf", empty),
    # TEST06 (official: the three exact lines First token / EOS / Sample length check pass)
    "test06_eos_line_missing": _on(DELL_LLAMA, T06, _replace_line("EOS check pass: True", None)),
    "test06_eos_without_space": _on(DELL_LLAMA, T06, _replace_line("EOS check pass: True", "EOS check pass:True")),
    "test06_extra_check_false": _on(DELL_LLAMA, T06, _insert_before("TEST06 verification complete",
                                                                    "Output length check pass: False")),
    # TEST01's accuracy-delta fallback (whisper): an optional file beside the four it needs
    "test01_fallback_results_json": _on(DELL_WHISPER, "TEST01/accuracy/results.json", new_file("{}\n")),
    # TEST09 (official: TEST PASS anywhere in verify_output_len.txt)
    "test09_says_fail": _on(NEBIUS, "TEST09/verify_output_len.txt", _replace_line("TEST PASS", "TEST FAIL")),
}
VARIANTS: dict[str, Callable[[Path], None]] = {name: change for name, (_, change) in CHANGES.items()}
CHANGED_RESULT = {name: result for name, (result, _) in CHANGES.items()}

# the rule of ours that must refuse the changed result (None: it stays valid)
EXPECTED_RULE: dict[str, str | None] = {
    "as_published": None,
    "test01_accuracy_says_fail": "compliance.test01-fail",
    "test01_accuracy_says_passed": "compliance.test01-fail",
    "test01_accuracy_fail_then_pass": None,
    "test01_performance_says_fail": "compliance.test01-fail",
    "test01_run_summary_missing": "compliance.missing",
    "test01_run_spl_txt": "compliance.run-files",
    "test01_run_trace_json": None,
    "test01_run_hidden_file": "compliance.run-files",
    "test01_run_accuracy_mode": "perf.mode-mismatch",  # STRICTER
    "test01_run_wrong_seed": "perf.seed-mismatch",
    "test04_performance_says_fail": "compliance.test04-fail",
    "test04_failing_verify_accuracy": None,
    "unneeded_test06": None,
    "measurements_key_missing": "measurements.missing-key",
    "measurements_value_false": "measurements.empty-key",
    "measurements_value_blank": None,
    "measurements_is_a_list": "measurements.bad-json",
    "readme_lowercase": "files.missing",
    "user_conf_empty": "files.empty",
    "test06_eos_line_missing": "compliance.test-fail",
    "test06_eos_without_space": "compliance.test-fail",
    "test06_extra_check_false": None,
    "test01_fallback_results_json": None,
    "test09_says_fail": "compliance.test-fail",
}


# Where ours refuses on purpose what the official checker accepts (README, "Checker rules":
# a result that is not what it claims): variant -> why. The test holds ours to refusing
# it with EXPECTED_RULE alone, and to the official verdict on every other result.
STRICTER: dict[str, str] = {
    # TEST01's audit.config runs LoadGen in PerformanceOnly mode (mode 2); a log in another
    # mode is no TEST01 performance run. The official checker does not read the mode.
    "test01_run_accuracy_mode": "the audit run is not in the mode its test sets",
}


def build(variant: str, root: Path) -> Path:
    """The excerpt that holds the variant's result, copied to `root`, with one file changed."""
    return copy_excerpt(TREE_OF[CHANGED_RESULT[variant]], root, VARIANTS[variant])


def test_every_variant_was_recorded() -> None:
    assert_every_variant_recorded(recorded(RECORDED), VARIANTS, EXPECTED_RULE, CHANGED_RESULT.__getitem__)


@pytest.mark.parametrize("variant", sorted(VARIANTS))
def test_agrees_with_the_official_checker_on_compliance_and_measurements(variant: str, tmp_path: Path) -> None:
    report = check_tree(build(variant, tmp_path / "tree"), round="v6.0")
    assert_agrees(report, recorded(RECORDED)["variants"][variant], CHANGED_RESULT[variant], EXPECTED_RULE[variant],
                  variant in STRICTER)
