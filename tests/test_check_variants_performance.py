"""The main performance run: our check against the official checker's verdicts, result by result.

Each variant is a real published excerpt (tests/data/real_trees/: Lenovo v6.0 closed edge
resnet50, Dell v6.0 closed llama3_1-8b, Nebius v6.0 closed gpt-oss-120b) with one thing of
one result's `performance/run_1/` changed: one value of one `:::MLLOG` event of
mlperf_log_detail.txt (its JSON text replaced by json.dumps of the new value, every other
byte kept), one
event line left out (a missing key), the summary's "Result is" line, a file taken away or
put beside the logs. Boundary values sit exactly at the official minimum or limit, or one
past it. tests/data/variants_performance/official_verdicts.json holds what the official
checker said of each variant (recorded by `scripts/record_official_verdicts.py CHECKOUT
--variants test_check_variants_performance`); tests/data/variants_performance/NOTE.md says more.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")

from mlperf_ops.check import check_tree  # noqa: E402
from tests.support.variants import CORPUS, assert_agrees, assert_every_variant_recorded, copy_excerpt, recorded  # noqa: E402

RECORDED = Path(__file__).parent / "data" / "variants_performance" / "official_verdicts.json"

LENOVO_SS = "closed/Lenovo/results/SE100/resnet50/SingleStream"
LENOVO_MS = "closed/Lenovo/results/SE100/resnet50/multistream"  # inferred from a SingleStream run
DELL_OFFLINE = "closed/Dell/results/1-node-2S-GNR_86C/llama3_1-8b/Offline"
DELL_SERVER = "closed/Dell/results/1-node-2S-GNR_86C/llama3_1-8b/Server"
NEBIUS_OFFLINE = "closed/Nebius/results/nebius_b300_n1/gpt-oss-120b/offline"
NEBIUS_SERVER = "closed/Nebius/results/nebius_b300_n1/gpt-oss-120b/server"
TREE_OF = {"closed/Lenovo/": "lenovo_v6.0", "closed/Dell/": "dell_v6.0", "closed/Nebius/": "nebius_v6.0"}
RUN = "performance/run_1"
DETAIL = "mlperf_log_detail.txt"
SUMMARY = "mlperf_log_summary.txt"


def _event_lines(path: Path, key: str) -> tuple[list[bytes], int]:
    """The log's lines (with their ends) and the index of the one event of `key`."""
    lines = path.read_bytes().splitlines(keepends=True)
    marker = f'"key": "{key}"'.encode()
    at = [i for i, line in enumerate(lines) if line.startswith(b":::MLLOG ") and marker in line]
    assert len(at) == 1, (path, key, at)
    return lines, at[0]


def _set(key: str, value: Any) -> Callable[[Path], None]:
    """The event of `key` gets `value`: its line rewritten with json.dumps, the rest byte-identical."""

    def change(run: Path) -> None:
        path = run / DETAIL
        lines, at = _event_lines(path, key)
        body = lines[at][len(b":::MLLOG "):]
        event = json.loads(body)
        assert event["value"] != value, (key, value)
        # the value's JSON text replaced in place: json.dumps of the whole event would
        # rewrite its other numbers too (time_ms 0.037430 -> 0.03743)
        before, after = (f'"value": {json.dumps(v)}'.encode() for v in (event["value"], value))
        assert body.count(before) == 1, (key, body)
        lines[at] = b":::MLLOG " + body.replace(before, after)
        assert json.loads(lines[at][len(b":::MLLOG "):]) == {**event, "value": value}
        path.write_bytes(b"".join(lines))

    return change


def _drop(key: str) -> Callable[[Path], None]:
    """The event of `key` left out: the log lacks the key."""

    def change(run: Path) -> None:
        path = run / DETAIL
        lines, at = _event_lines(path, key)
        del lines[at]
        path.write_bytes(b"".join(lines))

    return change


def _error_event(key: str, value: str, after: str) -> Callable[[Path], None]:
    """A LoadGen error event (`error_*`, as LoadGen's MLPERF_LOG_ERROR writes one) after the
    first event of key `after`, its fields those of that event."""

    def change(run: Path) -> None:
        path = run / DETAIL
        lines = path.read_bytes().splitlines(keepends=True)
        at = next(i for i, line in enumerate(lines)
                  if line.startswith(b":::MLLOG ") and json.loads(line[len(b":::MLLOG "):])["key"] == after)
        event = json.loads(lines[at][len(b":::MLLOG "):])
        event.update(key=key, value=value)
        event["metadata"]["is_error"] = True
        lines.insert(at + 1, b":::MLLOG " + json.dumps(event).encode() + b"\n")
        path.write_bytes(b"".join(lines))

    return change


def _flag_error(key: str, value: str) -> Callable[[Path], None]:
    """The event of `key` (and `value`) flagged is_error in its metadata: LoadGen's error
    flag on an ordinary event (a published log has it on every event), no LoadGen error."""

    def change(run: Path) -> None:
        path = run / DETAIL
        lines = path.read_bytes().splitlines(keepends=True)
        at = [i for i, line in enumerate(lines)
              if line.startswith(b":::MLLOG ") and json.loads(line[len(b":::MLLOG "):])["key"] == key
              and json.loads(line[len(b":::MLLOG "):])["value"] == value]
        assert len(at) == 1, at
        body = lines[at[0]][len(b":::MLLOG "):]
        event = json.loads(body)
        assert body.count(b'"is_error": false') == 1
        lines[at[0]] = b":::MLLOG " + body.replace(b'"is_error": false', b'"is_error": true')
        event["metadata"]["is_error"] = True
        assert json.loads(lines[at[0]][len(b":::MLLOG "):]) == event
        path.write_bytes(b"".join(lines))

    return change


def _summary_says_invalid(run: Path) -> None:
    path = run / SUMMARY
    text = path.read_bytes()
    assert text.count(b"Result is : VALID") == 1
    path.write_bytes(text.replace(b"Result is : VALID", b"Result is : INVALID"))


def _remove_summary(run: Path) -> None:
    (run / SUMMARY).unlink()


def _extra_file(run: Path) -> None:
    (run / "notes.txt").write_text("harness notes\n")


def _as_published(run: Path) -> None:
    pass


# name -> (the result it changes, the change of that result's performance/run_1)
CHANGES: dict[str, tuple[str, Callable[[Path], None]]] = {
    # resnet50 SingleStream (Lenovo, edge)
    "ss_as_published": (LENOVO_SS, _as_published),
    "ss_min_duration_one_below": (LENOVO_SS, _set("effective_min_duration_ms", 599999)),
    "ss_min_duration_as_text": (LENOVO_SS, _set("effective_min_duration_ms", "600000")),
    "ss_performance_sample_count_one_below": (LENOVO_SS, _set("effective_performance_sample_count", 1023)),
    "ss_qsl_seed_off_by_one": (LENOVO_SS, _set("effective_qsl_rng_seed", 2465351861681999780)),
    "ss_early_stopping_not_met": (LENOVO_SS, _set("early_stopping_met", False)),
    "ss_scenario_multistream": (LENOVO_SS, _set("effective_scenario", "MultiStream")),
    "ss_result_invalid": (LENOVO_SS, _set("result_validity", "INVALID")),
    "ss_summary_says_invalid": (LENOVO_SS, _summary_says_invalid),
    "ss_test_mode_accuracy_only": (LENOVO_SS, _set("effective_test_mode", "AccuracyOnly")),
    "ss_error_flag_on_an_event": (LENOVO_SS, _flag_error("generic_message", "Starting performance mode")),
    "ss_loadgen_error": (LENOVO_SS, _error_event(
        "error_invalid_config", "Multiple conf files are used. This is not valid for official submission.",
        "generic_message")),
    # resnet50 MultiStream inferred from the SingleStream run (Lenovo, edge)
    "ms_inferred_early_stopping_latency_zero": (LENOVO_MS, _set("early_stopping_latency_ms", 0)),
    # llama3_1-8b Offline (Dell): samples per query, performance sample count and min query count at their minimum
    "llama_offline_samples_per_query_one_below": (DELL_OFFLINE, _set("effective_samples_per_query", 13367)),
    "llama_offline_min_query_count_zero": (DELL_OFFLINE, _set("effective_min_query_count", 0)),
    "llama_offline_min_query_count_missing": (DELL_OFFLINE, _drop("effective_min_query_count")),
    # llama3_1-8b Server (Dell): target latency bound 20 s, TTFT limit 2 s
    "llama_server_target_latency_at_bound": (DELL_SERVER, _set("effective_target_latency_ns", 20000000000)),
    "llama_server_target_latency_one_above": (DELL_SERVER, _set("effective_target_latency_ns", 20000000001)),
    "llama_server_ttft_at_limit": (DELL_SERVER, _set("result_first_token_99.00_percentile_latency_ns", 2000000000)),
    "llama_server_ttft_one_below_limit": (
        DELL_SERVER, _set("result_first_token_99.00_percentile_latency_ns", 1999999999)),
    # gpt-oss-120b (Nebius): TPOT limit 80 ms, Offline samples per query minimum 6396
    "gptoss_server_tpot_at_limit": (NEBIUS_SERVER, _set("result_time_per_output_token_99.00_percentile_ns", 80000000)),
    "gptoss_server_extra_file_in_run": (NEBIUS_SERVER, _extra_file),
    "gptoss_offline_samples_per_query_at_minimum": (NEBIUS_OFFLINE, _set("effective_samples_per_query", 6396)),
    "gptoss_offline_token_latencies_off": (NEBIUS_OFFLINE, _set("requested_use_token_latencies", False)),
    "gptoss_offline_min_duration_missing": (NEBIUS_OFFLINE, _drop("effective_min_duration_ms")),
    "gptoss_offline_no_summary": (NEBIUS_OFFLINE, _remove_summary),
}


def _on(result: str, change: Callable[[Path], None]) -> Callable[[Path], None]:
    """A change of one result's performance/run_1, given the tree's root."""
    return lambda root: change(root / result / RUN)


VARIANTS: dict[str, Callable[[Path], None]] = {name: _on(*spec) for name, spec in CHANGES.items()}
CHANGED_RESULT = {name: spec[0] for name, spec in CHANGES.items()}
# the rule of ours that must refuse the changed result (None: it stays valid), as the
# official checker decides: None where it accepts the changed result
EXPECTED_RULE: dict[str, str | None] = {
    "ss_as_published": None,
    "ss_min_duration_one_below": "perf.min-duration",
    "ss_min_duration_as_text": "perf.min-duration",
    "ss_performance_sample_count_one_below": "perf.sample-count",
    "ss_qsl_seed_off_by_one": "perf.seed-mismatch",
    "ss_early_stopping_not_met": "perf.early-stopping",
    "ss_scenario_multistream": "perf.scenario-mismatch",
    "ss_result_invalid": "perf.invalid",  # STRICTER
    "ss_summary_says_invalid": "perf.invalid",  # STRICTER
    "ss_test_mode_accuracy_only": "perf.mode-mismatch",  # STRICTER
    "ss_error_flag_on_an_event": None,  # a perf.loadgen-error warning
    "ss_loadgen_error": "perf.loadgen-error",  # STRICTER
    "ms_inferred_early_stopping_latency_zero": "perf.early-stopping",
    "llama_offline_samples_per_query_one_below": "perf.offline-spq",
    "llama_offline_min_query_count_zero": "perf.min-query-count",
    "llama_offline_min_query_count_missing": "perf.missing-key",
    "llama_server_target_latency_at_bound": None,
    "llama_server_target_latency_one_above": "perf.latency-bound",
    "llama_server_ttft_at_limit": "perf.token-latency",
    "llama_server_ttft_one_below_limit": None,
    "gptoss_server_tpot_at_limit": "perf.token-latency",
    "gptoss_server_extra_file_in_run": None,
    "gptoss_offline_samples_per_query_at_minimum": None,
    "gptoss_offline_token_latencies_off": "perf.token-latencies-off",
    "gptoss_offline_min_duration_missing": "perf.missing-key",
    "gptoss_offline_no_summary": "files.missing",  # STRICTER
}


def _tree_of(result: str) -> str:
    return next(tree for prefix, tree in TREE_OF.items() if result.startswith(prefix))


# Where ours refuses on purpose what the official checker accepts (README, "Checker rules":
# a result that is not what it claims is an error): variant -> why. The test holds ours to
# refusing it with EXPECTED_RULE alone, and to the official verdict on every other result.
STRICTER: dict[str, str] = {
    # the official checker sets the result valid whatever result_validity says
    "ss_result_invalid": "LoadGen says the run is INVALID",
    # ...and never reads the main run's summary
    "ss_summary_says_invalid": "LoadGen's summary says the run is INVALID",
    "gptoss_offline_no_summary": "a run without the summary the submission layout requires",
    # nothing reads effective_test_mode: an accuracy run filed as the performance run
    "ss_test_mode_accuracy_only": "the performance run is an accuracy run",
    # with its default flags the official checker refuses LoadGen errors only under
    # --submission-exceptions (performance_check.py at b66003e1)
    "ss_loadgen_error": "LoadGen reports an error in the run (an error_* event)",
}


def build(variant: str, root: Path) -> Path:
    """The excerpt holding the variant's result at `root`, that result's performance run changed."""
    return copy_excerpt(_tree_of(CHANGED_RESULT[variant]), root, VARIANTS[variant])


def test_every_variant_was_recorded() -> None:
    doc = recorded(RECORDED)
    assert_every_variant_recorded(doc, VARIANTS, EXPECTED_RULE, CHANGED_RESULT.__getitem__)
    # every result each variant leaves alone keeps its published verdict
    for variant, results in doc["variants"].items():
        published = json.loads((CORPUS / _tree_of(CHANGED_RESULT[variant]) / "official_verdicts.json").read_text())
        assert {r["result"]: r["valid"] for r in results if r["result"] != CHANGED_RESULT[variant]} == {
            r["result"]: r["valid"] for r in published["results"] if r["result"] != CHANGED_RESULT[variant]}


@pytest.mark.parametrize("variant", sorted(VARIANTS))
def test_agrees_with_the_official_checker_on_the_performance_run(variant: str, tmp_path: Path) -> None:
    report = check_tree(build(variant, tmp_path / "tree"), round="v6.0")
    assert_agrees(report, recorded(RECORDED)["variants"][variant], CHANGED_RESULT[variant], EXPECTED_RULE[variant],
                  variant in STRICTER)
