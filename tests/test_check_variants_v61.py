"""v6.1's new benchmarks on real logs: our check against the official checker's verdicts,
result by result, and its summary CSV (test_check_variants_csv).

The excerpt is tests/data/real_trees/amd_intel_v6.1 (AMD wan-2.2-t2v-a14b Offline and
SingleStream with TEST04; Intel e2e-rag-qna Offline with TEST09 and e2e-rag-db Offline), as
a public copy stores it. That copy lacks files every result needs (SOURCE.md there), so both
checkers refuse every result of it as it is (test_check_real_trees). Each variant here first
completes it with files of ours, written by `_complete` and saying so in their text:
`user.conf` and `README.md` in each result folder, `accuracy/mlperf_log_summary.txt` (the
official loader never opens it; ours asks that LoadGen's summary be there), the AMD
results' `measurements.json` (the five fields the official check asks for), and the
`accuracy/videos/` folder that wan-2.2-t2v-a14b requires in v6.1 (ten empty `<sample>.mp4`
files and `captions.txt`). Then it changes one thing.

The variants named `endpoints_*` are about tests/data/real_trees/atlas_v6.1, a qwen3.6-27b
result of the MLCommons endpoints harness (no LoadGen logs: config.yaml,
performance/result_summary.json, accuracy/accuracy_results.json): with the README.md its
stored copy lacks, the official checker accepts it, and so does ours, with the same value;
then one thing changes (seeds, duration, failed samples, the data set size, the scores,
the files). The variants named `nvidia_*` are about tests/data/real_trees/nvidia_v6.1,
NVIDIA's qwen3-vl-235b-a22b Offline and Interactive from the same harness (the benchmark
whose score is held to its target), completed with a README.md and measurements.json of
ours; `gb10_completed` is tests/data/real_trees/atlas_gb10_v6.1, the same submitter's
qwen3.6-27b on a DGX Spark, with the README.md it lacks.

The real logs decide the rest: the values and units in the CSV, the accuracy targets
(vbench_score, E2E_ACCURACY), TEST04's and TEST09's verify files, the seeds of v6.1.
tests/data/variants_v61/official_verdicts.json holds what the official checker said of
each variant (recorded by `scripts/record_official_verdicts.py CHECKOUT --variants
test_check_variants_v61`).
"""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path

import pytest

os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")

from mlperf_ops.check import check_tree  # noqa: E402
from tests.support.variants import (  # noqa: E402
    add_file, assert_agrees, assert_every_variant_recorded, copy_excerpt, move, recorded, remove, replace_text,
)

RECORDED = Path(__file__).parent / "data" / "variants_v61" / "official_verdicts.json"
ROUND = "v6.1"
EXCERPT = "amd_intel_v6.1"
ENDPOINTS_EXCERPT = "atlas_v6.1"  # a result of the MLCommons endpoints harness (no LoadGen logs)
NVIDIA_EXCERPT = "nvidia_v6.1"  # qwen3-vl-235b-a22b from the endpoints harness
GB10_EXCERPT = "atlas_gb10_v6.1"  # qwen3.6-27b from the endpoints harness on a DGX Spark

WAN = "closed/AMD/results/8xMI350X_2xEPYC_9655/wan-2.2-t2v-a14b/Offline"
WAN_SS = "closed/AMD/results/8xMI350X_2xEPYC_9655/wan-2.2-t2v-a14b/SingleStream"
QNA = "closed/Intel/results/1-node-2S-Xeon_6787P/e2e-rag-qna/Offline"
DB = "closed/Intel/results/1-node-2S-Xeon_6787P/e2e-rag-db/Offline"
RESULTS = (WAN, WAN_SS, QNA, DB)
QWEN = "closed/Atlas_Inference/results/Strix_Halo/qwen3.6-27b/SingleStream"
QWEN_GB10 = "closed/Atlas_Inference/results/DGX_Spark_GB10/qwen3.6-27b/SingleStream"
QVL = "closed/NVIDIA/results/B300-SXM-270GBx8_TRT/qwen3-vl-235b-a22b"
QVL_OFF, QVL_INT = f"{QVL}/Offline", f"{QVL}/Interactive"
QWEN_PERF, QWEN_ACC, QWEN_CONFIG = (f"{QWEN}/performance/result_summary.json", f"{QWEN}/accuracy/accuracy_results.json",
                                    f"{QWEN}/config.yaml")

# the sample videos v6.1 requires, and the ones v6.0 did (constants.py REQUIRED_ACC_BENCHMARK at b66003e1)
VIDEOS_V61 = ("130", "106", "84", "59", "12", "123", "43", "22", "238", "32")
VIDEOS_V60 = ("130", "106", "84", "59", "12", "31", "86", "122", "233", "96")
OURS = "written by tests/test_check_variants_v61.py: the stored copy of this result lacks it\n"
MEASUREMENTS = ('{"input_data_types": "bf16", "retraining": "No", "starting_weights_filename": "written by this test",'
                ' "weight_data_types": "bf16", "weight_transformations": "none"}\n')
# LoadGen's error event in AMD's TEST04 logs (its harness loaded a second conf file)
CONF_ERROR = '"key": "error_invalid_config"'


def _complete(root: Path, videos: tuple[str, ...] = VIDEOS_V61) -> None:
    for result in RESULTS:
        folder = root / result
        for name in ("user.conf", "README.md", "accuracy/mlperf_log_summary.txt"):
            assert not (folder / name).exists(), folder / name
            (folder / name).write_text(OURS)
    for result in (WAN, WAN_SS):
        (root / result / "measurements.json").write_text(MEASUREMENTS)
        videos_dir = root / result / "accuracy" / "videos"
        videos_dir.mkdir()
        for stem in videos:
            (videos_dir / f"{stem}.mp4").write_bytes(b"")
        (videos_dir / "captions.txt").write_text(OURS)


def _completed(*changes: Callable[[Path], None], videos: tuple[str, ...] = VIDEOS_V61,
               conf_error: tuple[str, ...] = ()) -> Callable[[Path], None]:
    """The excerpt completed, then changed. AMD's TEST04 logs lose their LoadGen error
    event (ours refuses a result for it on purpose, STRICTER), but in the results named in
    `conf_error`."""

    def change(root: Path) -> None:
        _complete(root, videos)
        for result in (WAN, WAN_SS):
            if result not in conf_error:
                _drop_lines(f"{result}/TEST04/performance/run_1/mlperf_log_detail.txt", CONF_ERROR)(root)
        for one in changes:
            one(root)

    return change


def _endpoints(*changes: Callable[[Path], None]) -> Callable[[Path], None]:
    """The endpoints result with the README.md its stored copy lacks, then changed."""

    def change(root: Path) -> None:
        add_file(f"{QWEN}/README.md", OURS)(root)
        for one in changes:
            one(root)

    return change


def _nvidia(*changes: Callable[[Path], None]) -> Callable[[Path], None]:
    """NVIDIA's qwen3-vl results with the README.md and measurements.json their stored
    copy lacks, then changed."""

    def change(root: Path) -> None:
        for result in (QVL_OFF, QVL_INT):
            add_file(f"{result}/README.md", OURS)(root)
            add_file(f"{result}/measurements.json", MEASUREMENTS)(root)
        for one in changes:
            one(root)

    return change


def _offline_score(new: str) -> Callable[[Path], None]:
    """NVIDIA's Offline accuracy score written as `new` (its JSON member, comma included)."""
    return replace_text(f"{QVL_OFF}/accuracy/accuracy_results.json", '"score": 0.788067250804375,', new)


def _drop_lines(where: str, holding: str) -> Callable[[Path], None]:
    def change(root: Path) -> None:
        path = root / where
        lines = path.read_text().splitlines(keepends=True)
        kept = [line for line in lines if holding not in line]
        assert len(kept) < len(lines), path
        path.write_text("".join(kept))

    return change


# variant -> (the result it is about, the change of the excerpt given its root)
CHANGES: dict[str, tuple[str, Callable[[Path], None]]] = {
    # the completed excerpt: every result passes both
    "completed": (WAN, _completed()),
    # AMD's TEST04 log as published, with LoadGen's error event: ours refuses, on purpose
    "wan_test04_conf_error": (WAN, _completed(conf_error=(WAN,))),
    # wan-2.2's sample videos: none, one missing, v6.0's list, no captions.txt
    "no_videos": (WAN, _completed(remove(f"{WAN}/accuracy/videos"))),
    "one_video_missing": (WAN, _completed(remove(f"{WAN}/accuracy/videos/84.mp4"))),
    "videos_of_v6_0": (WAN, _completed(videos=VIDEOS_V60)),
    "no_captions": (WAN, _completed(remove(f"{WAN}/accuracy/videos/captions.txt"))),
    # accuracy below the round's targets (E2E_ACCURACY 33.95 and 98; vbench_score 70.48 x 0.99)
    "qna_accuracy_below": (QNA, _completed(replace_text(f"{QNA}/accuracy/accuracy.txt", "Accuracy: 35.9223", "Accuracy: 33.9"))),
    "db_accuracy_below": (DB, _completed(replace_text(f"{DB}/accuracy/accuracy.txt", "Accuracy: 98.1952", "Accuracy: 97.99"))),
    "wan_vbench_below": (WAN_SS, _completed(replace_text(
        f"{WAN_SS}/accuracy/accuracy.txt", "'vbench_score': 70.1582", "'vbench_score': 69.7"))),
    # the compliance tests: TEST09 of e2e-rag-qna, TEST04 of wan-2.2
    "qna_without_test09": (QNA, _completed(remove(f"{QNA}/TEST09"))),
    "qna_test09_fails": (QNA, _completed(replace_text(f"{QNA}/TEST09/verify_output_len.txt", "TEST PASS", "TEST FAIL"))),
    "wan_ss_without_test04": (WAN_SS, _completed(remove(f"{WAN_SS}/TEST04"))),
    "wan_test04_fails": (WAN, _completed(replace_text(
        f"{WAN}/TEST04/verify_performance.txt", "TEST PASS", "TEST FAIL"))),
    # the endpoints harness's qwen3.6-27b result with the README.md the stored copy lacks,
    # then changed one thing at a time
    "endpoints_result_with_readme": (QWEN, _endpoints()),
    "endpoints_perf_failed_samples": (QWEN, _endpoints(replace_text(QWEN_PERF, '"n_samples_failed": 0,', '"n_samples_failed": 3,'))),
    "endpoints_accuracy_failed_samples": (QWEN, _endpoints(replace_text(
        QWEN_ACC, '"average_accuracy": 0.8623115577889447,', '"average_accuracy": 0.8623115577889447,\n  "n_samples_failed": 2,'))),
    "endpoints_schedule_seed_wrong": (QWEN, _endpoints(replace_text(
        QWEN_CONFIG, "scheduler_random_seed: 16159082839903944936", "scheduler_random_seed: 16159082839903944937"))),
    # the sample index seed of v6.0
    "endpoints_sample_index_seed_of_v6_0": (QWEN, _endpoints(replace_text(
        QWEN_CONFIG, "dataloader_random_seed: 2747215439041700203", "dataloader_random_seed: 14276810075590677512"))),
    "endpoints_min_duration_short": (QWEN, _endpoints(replace_text(QWEN_CONFIG, "min_duration_ms: 600000", "min_duration_ms: 60000"))),
    "endpoints_accuracy_samples_short": (QWEN, _endpoints(replace_text(
        QWEN_ACC, '"total_samples": 995,\n      "duration_s"', '"total_samples": 994,\n      "duration_s"'))),
    # no score left but the performance data set's (0.6272): the official checker takes it
    "endpoints_only_performance_score": (QWEN, _endpoints(replace_text(QWEN_ACC, '"score": 0.8623115577889447,', ""))),
    "endpoints_no_measurements": (QWEN, _endpoints(remove(f"{QWEN}/measurements.json"))),
    "endpoints_no_config": (QWEN, _endpoints(remove(QWEN_CONFIG))),
    "endpoints_config_yml": (QWEN, _endpoints(move(QWEN_CONFIG, f"{QWEN}/config.yml"))),
    # the harness's type does not decide a SingleStream folder's scenario
    "endpoints_type_offline": (QWEN, _endpoints(replace_text(QWEN_CONFIG, "type: online", "type: offline"))),
    # NVIDIA's qwen3-vl-235b-a22b Offline and Interactive, the endpoints results whose score
    # is held to the target (F1 0.782397 Offline, 0.779922 Interactive)
    "gb10_completed": (QWEN_GB10, add_file(f"{QWEN_GB10}/README.md", OURS)),
    "nvidia_completed": (QVL_OFF, _nvidia()),
    "nvidia_offline_score_below": (QVL_OFF, _nvidia(_offline_score('"score": 0.78,'))),
    "nvidia_interactive_score_below": (QVL_INT, _nvidia(replace_text(
        f"{QVL_INT}/accuracy/accuracy_results.json", '"score": 0.7863529411764706,', '"score": 0.7799,'))),
    "nvidia_offline_score_as_text": (QVL_OFF, _nvidia(_offline_score('"score": "0.788067250804375",'))),
    "nvidia_offline_score_as_mapping": (QVL_OFF, _nvidia(_offline_score('"score": {"f1": 0.788067250804375},'))),
    "nvidia_offline_score_mapping_below": (QVL_OFF, _nvidia(_offline_score('"score": {"hierarchical": 0.7},'))),
    # the 99th-percentile latency of the Interactive run just above its bound of 1500 ms
    "nvidia_interactive_latency_above_bound": (QVL_INT, _nvidia(replace_text(
        f"{QVL_INT}/performance/result_summary.json", '"99.0": 1438804937.0,', '"99.0": 1500000001.0,'))),
    "nvidia_interactive_accuracy_samples_short": (QVL_INT, _nvidia(replace_text(
        f"{QVL_INT}/accuracy/accuracy_results.json", '"total_samples": 8000,', '"total_samples": 7999,'))),
    "nvidia_without_interactive": (QVL_OFF, _nvidia(remove(QVL_INT))),
}
EXCERPT_OF = {name: {"endpoints": ENDPOINTS_EXCERPT, "nvidia": NVIDIA_EXCERPT, "gb10": GB10_EXCERPT}.get(
    name.split("_")[0], EXCERPT)
              for name in CHANGES}
VARIANTS: dict[str, Callable[[Path], None]] = {name: change for name, (_, change) in CHANGES.items()}
CHANGED_RESULT = {name: result for name, (result, _) in CHANGES.items()}

# the rule of ours that must refuse the changed result (None: it stays valid)
EXPECTED_RULE: dict[str, str | None] = {
    "completed": None,
    "wan_test04_conf_error": "perf.loadgen-error",  # STRICTER
    "no_videos": "acc.extra-files",
    "one_video_missing": "acc.extra-files",
    "videos_of_v6_0": "acc.extra-files",
    "no_captions": None,
    "qna_accuracy_below": "acc.target",
    "db_accuracy_below": "acc.target",
    "wan_vbench_below": "acc.target",
    "qna_without_test09": "compliance.missing",
    "qna_test09_fails": "compliance.test-fail",
    "wan_ss_without_test04": "compliance.missing",
    "wan_test04_fails": "compliance.test04-fail",
    "endpoints_result_with_readme": None,
    "endpoints_perf_failed_samples": "perf.endpoints-failed",  # STRICTER
    "endpoints_accuracy_failed_samples": "acc.invalid",
    "endpoints_schedule_seed_wrong": "perf.seed-mismatch",
    "endpoints_sample_index_seed_of_v6_0": "perf.seed-mismatch",
    "endpoints_min_duration_short": "perf.min-duration",
    "endpoints_accuracy_samples_short": "acc.dataset-size",
    "endpoints_only_performance_score": "acc.missing",  # STRICTER
    "endpoints_no_measurements": "files.missing",
    "endpoints_no_config": "files.missing",
    "endpoints_config_yml": None,
    "endpoints_type_offline": None,
    "gb10_completed": None,
    "nvidia_completed": None,
    "nvidia_offline_score_below": "acc.target",
    "nvidia_interactive_score_below": "acc.target",
    "nvidia_offline_score_as_text": None,
    "nvidia_offline_score_as_mapping": None,
    "nvidia_offline_score_mapping_below": "acc.target",
    "nvidia_interactive_latency_above_bound": "perf.latency-bound",
    "nvidia_interactive_accuracy_samples_short": "acc.dataset-size",
    "nvidia_without_interactive": "scenario.missing",
}

# Where ours refuses on purpose what the official checker accepts: variant -> why.
STRICTER: dict[str, str] = {
    # LoadGen's own words: "Multiple conf files are used. This is not valid for official
    # submission." An error_* event is a LoadGen error, which the README lists as an error.
    "wan_test04_conf_error": "a LoadGen error event (error_invalid_config) in the TEST04 run",
    # Samples that failed are the endpoints harness's errors; the official checker reads
    # them (n_samples_failed -> num_errors) but refuses them only in the accuracy run.
    "endpoints_perf_failed_samples": "3 samples failed in the endpoints performance run",
    # The official checker reports the first score listed, here the performance data
    # set's, as the result's accuracy; ours asks for a score of an accuracy data set.
    "endpoints_only_performance_score": "no score of an accuracy data set (only the performance data set's)",
}


def build(variant: str, root: Path) -> Path:
    return copy_excerpt(EXCERPT_OF[variant], root, VARIANTS[variant])


def test_every_variant_was_recorded() -> None:
    assert_every_variant_recorded(recorded(RECORDED), VARIANTS, EXPECTED_RULE, CHANGED_RESULT.__getitem__)
    assert set(STRICTER) <= set(VARIANTS)


@pytest.mark.parametrize("variant", sorted(VARIANTS))
def test_agrees_with_the_official_checker_on_v6_1_benchmarks(variant: str, tmp_path: Path) -> None:
    official = recorded(RECORDED)["variants"][variant]
    report = check_tree(build(variant, tmp_path / "tree"), round=ROUND)
    assert_agrees(report, official, CHANGED_RESULT[variant], EXPECTED_RULE[variant], variant in STRICTER)


def test_the_completed_excerpt_reads_the_real_values(tmp_path: Path) -> None:
    """The values of the real logs, in the official unit (the CSV test holds them to the
    official checker's CSV too)."""
    report = check_tree(build("completed", tmp_path / "tree"), round=ROUND)
    values = {r.path: (r.official_value, r.unit) for r in report.results}
    assert values[QNA][1] == "Tasks/s" and values[DB][1] == "Samples/s"
    assert values[WAN_SS][1] == "Latency (s)"
    assert all(r.valid for r in report.results), [r.reasons for r in report.results if not r.valid]
