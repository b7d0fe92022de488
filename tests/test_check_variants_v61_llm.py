"""An LLM measured by the MLCommons endpoints harness, on real published results: our check
against the official checker's verdicts, result by result, and its summary CSV
(test_check_variants_csv).

The excerpt is tests/data/real_trees/nvidia_vr_v6.1: NVIDIA's VR-NVL72 deepseek-r1 and
qwen3-vl-235b-a22b, each Offline, Server and Interactive, as a public copy stores them
(config.yaml, performance/result_summary.json, accuracy/accuracy_results.json; no LoadGen
logs). The copy lacks each result's README.md and four of the six measurements.json, so
each variant first adds them (files of ours, saying so in their text); the official
checker then accepts all six. Then one thing changes: a token latency of deepseek-r1 at or
above its bound (TTFT and TPOT, Server 2000/80 ms, Interactive 1500/15 ms), its score far
below the LoadGen target (v6.1 holds an endpoints score of deepseek-r1 to none), a scenario
taken away, a configuration that names another scenario, a run without its tokens per
second (STRICTER: ours refuses it; the official checker reports samples/s as Tokens/s).

The values are the published ones: deepseek-r1's tokens per second in all three scenarios
(VALUE_AS_PUBLISHED; the official checker writes samples per second for Offline and
Interactive under the unit Tokens/s, and test_check_variants_csv names those two rows).
tests/data/variants_v61_llm/official_verdicts.json holds what the official checker said of
each variant (recorded by `scripts/record_official_verdicts.py CHECKOUT --variants
test_check_variants_v61_llm`).
"""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path

import pytest

os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")

from mlperf_ops.check import check_tree  # noqa: E402
from tests.support.variants import (  # noqa: E402
    add_file, assert_agrees, assert_every_variant_recorded, copy_excerpt, recorded, remove, replace_text,
)

RECORDED = Path(__file__).parent / "data" / "variants_v61_llm" / "official_verdicts.json"
ROUND = "v6.1"
EXCERPT = "nvidia_vr_v6.1"

SYSTEM = "closed/NVIDIA/results/VR-NVL72_VR-288GB_aarch64x72_TRT"
DSR1 = f"{SYSTEM}/deepseek-r1"
DS_OFF, DS_SRV, DS_INT = f"{DSR1}/Offline", f"{DSR1}/Server", f"{DSR1}/Interactive"
QVL = f"{SYSTEM}/qwen3-vl-235b-a22b"
RESULTS = (DS_OFF, DS_SRV, DS_INT, f"{QVL}/Offline", f"{QVL}/Server", f"{QVL}/Interactive")
PUBLISHED_WITH = (DS_SRV, f"{QVL}/Offline")  # the results whose measurements.json the copy holds

OURS = "written by tests/test_check_variants_v61_llm.py: the stored copy of this result lacks it\n"
MEASUREMENTS = ('{"input_data_types": "int32", "retraining": "No", "starting_weights_filename": "written by this test",'
                ' "weight_data_types": "fp4", "weight_transformations": "quantization"}\n')

# deepseek-r1's tokens per second as MLCommons published them (tests/data/real_trees/
# published_v6.1.json): the CSV's Result of these rows, where the official CSV has samples/s
VALUE_AS_PUBLISHED = {DS_OFF: 1183326.8540322022, DS_INT: 652750.1447708113}


def _completed(*changes: Callable[[Path], None]) -> Callable[[Path], None]:
    """The six results with the files their stored copy lacks, then changed."""

    def change(root: Path) -> None:
        for result in RESULTS:
            add_file(f"{result}/README.md", OURS)(root)
            if result not in PUBLISHED_WITH:
                add_file(f"{result}/measurements.json", MEASUREMENTS)(root)
        for one in changes:
            one(root)

    return change


def _early_stopping_p99(result: str, old: str, new: str) -> Callable[[Path], None]:
    """A 99th percentile (ns) of result_summary.json changed: the one the checkers read."""
    return replace_text(f"{result}/performance/result_summary.json", f'"99.0": {old}', f'"99.0": {new}')


# variant -> (the result it changes, the change)
CHANGES: dict[str, tuple[str, Callable[[Path], None]]] = {
    "completed": (DS_OFF, _completed()),
    # TTFT of the Server run: 304.65 ms published, bound 2000 ms
    "server_ttft_above_bound": (DS_SRV, _completed(_early_stopping_p99(DS_SRV, "304652135.0", "2000000001.0"))),
    # TPOT of the Interactive run: 12.56 ms published, bound 15 ms
    "interactive_tpot_above_bound": (DS_INT, _completed(
        _early_stopping_p99(DS_INT, "12560416.413533835", "15000001.0"))),
    # TTFT of the Interactive run exactly at its bound of 1500 ms
    "interactive_ttft_at_bound": (DS_INT, _completed(_early_stopping_p99(DS_INT, "484730193.0", "1500000000.0"))),
    "offline_score_far_below": (DS_OFF, _completed(replace_text(
        f"{DS_OFF}/accuracy/accuracy_results.json", '"score": 81.35824977210574', '"score": 10.0'))),
    # one of Server and Interactive stands with Offline (v6.1)
    "without_server": (DS_INT, _completed(remove(DS_SRV))),
    "without_server_and_interactive": (DS_OFF, _completed(remove(DS_SRV, DS_INT))),
    "server_config_type_offline": (DS_SRV, _completed(replace_text(f"{DS_SRV}/config.yaml", "type: online\n",
                                                                "type: offline\n"))),
    # no tokens per second in the Offline run: the official checker reports its samples/s
    "offline_without_tps": (DS_OFF, _completed(replace_text(
        f"{DS_OFF}/performance/result_summary.json", '  "tps": 1183326.8540322022,\n', ""))),
}
VARIANTS: dict[str, Callable[[Path], None]] = {name: change for name, (_, change) in CHANGES.items()}
CHANGED_RESULT = {name: result for name, (result, _) in CHANGES.items()}

# the rule of ours that must refuse the changed result (None: it stays valid)
EXPECTED_RULE: dict[str, str | None] = {
    "completed": None,
    "server_ttft_above_bound": "perf.token-latency",
    "interactive_tpot_above_bound": "perf.token-latency",
    "interactive_ttft_at_bound": "perf.token-latency",
    "offline_score_far_below": None,
    "without_server": None,
    "without_server_and_interactive": "scenario.missing",
    "server_config_type_offline": "perf.scenario-mismatch",
    "offline_without_tps": "perf.missing-key",  # STRICTER
}

# Where ours refuses on purpose what the official checker accepts: variant -> why.
STRICTER: dict[str, str] = {
    # An LLM's result is published in tokens per second; the official checker writes the
    # run's samples per second under that unit when the run has no `tps`.
    "offline_without_tps": "no tokens per second in an LLM's run: its value cannot be given in Tokens/s",
}


def build(variant: str, root: Path) -> Path:
    return copy_excerpt(EXCERPT, root, VARIANTS[variant])


def test_every_variant_was_recorded() -> None:
    assert_every_variant_recorded(recorded(RECORDED), VARIANTS, EXPECTED_RULE, CHANGED_RESULT.__getitem__)
    assert set(STRICTER) <= set(VARIANTS)


@pytest.mark.parametrize("variant", sorted(VARIANTS))
def test_agrees_with_the_official_checker_on_an_endpoints_llm(variant: str, tmp_path: Path) -> None:
    official = recorded(RECORDED)["variants"][variant]
    report = check_tree(build(variant, tmp_path / "tree"), round=ROUND)
    assert_agrees(report, official, CHANGED_RESULT[variant], EXPECTED_RULE[variant], variant in STRICTER)


def test_the_values_are_the_published_tokens_per_second(tmp_path: Path) -> None:
    report = check_tree(build("completed", tmp_path / "tree"), round=ROUND)
    values = {r.path: (r.official_value, r.unit) for r in report.results}
    for result, published in VALUE_AS_PUBLISHED.items():
        assert values[result] == (published, "Tokens/s")
    assert values[DS_SRV] == (1175890.2208168241, "Tokens/s")  # the run's tps, as the official checker reads it
    assert values[f"{QVL}/Offline"][1] == "Samples/s"


def test_the_score_is_reported_not_judged(tmp_path: Path) -> None:
    """v6.1 holds an endpoints score of deepseek-r1 to no target: a score of 10 passes both
    checkers; ours says so (info) and shows the score."""
    report = check_tree(build("offline_score_far_below", tmp_path / "tree"), round=ROUND)
    row = next(r for r in report.results if r.path == DS_OFF)
    assert row.valid and row.accuracy == "score=10"
    assert "acc.endpoints-score" in report.rule_ids()
