"""A result's accuracy run (`<scenario>/accuracy/`): our check against the official checker's
verdicts, result by result.

Each variant is a real published excerpt with one file (or one value of one line) of the
accuracy folder changed: the Lenovo v6.0 excerpt (closed edge resnet50 `offline`) for the
accuracy run's detail log (test mode, LoadGen errors and warnings, the sample count against
the data set: the official dataset_check), mlperf_log_accuracy.json (missing, empty, at and
over the 10 KiB truncation limit: accuracy_json_check), its summary log and the files beside
them; the Nebius v6.0 excerpt (gpt-oss-120b, whose accuracy run covers 4395 of the data
set's 6396 samples); the Krai v6.0 excerpt (closed and open wan-2.2-t2v-a14b `offline`,
published without the videos/ folder the round requires: extra_files_check); the NVIDIA v6.0
open excerpt (llama3.1-8b-edge `Offline`) for the open division (not held to targets, but
held to the data set size and the truncation limit).
tests/data/variants_accuracy_run/official_verdicts.json holds what the official checker said
of each variant (recorded by `scripts/record_official_verdicts.py CHECKOUT --variants
test_check_variants_accuracy_run`); NOTE.md there says what each variant changes.

Two inputs are no variant here, since the official checker crashes on them (TypeError at
checks/accuracy_check.py:71, `self.mlperf_log["effective_scenario"]` on a log it could not
load): an accuracy folder without mlperf_log_detail.txt, and an accuracy "folder" that is a file.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path

import pytest

os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")

from mlperf_ops.check import check_tree  # noqa: E402
from tests.support.variants import (  # noqa: E402
    assert_agrees, assert_every_variant_recorded, copy_excerpt, delete, empty,
    new_file, recorded,
)

RECORDED = Path(__file__).parent / "data" / "variants_accuracy_run" / "official_verdicts.json"

LENOVO = "closed/Lenovo/results/SE100/resnet50/offline"
NEBIUS = "closed/Nebius/results/nebius_b300_n1/gpt-oss-120b/offline"
KRAI = "closed/Krai/results/h200_n1-kissv/wan-2.2-t2v-a14b/offline"
KRAI_OPEN = "open/Krai/results/h200_n1-kissv/wan-2.2-t2v-a14b/offline"
NVIDIA = "open/NVIDIA/results/Jetson-Thor/llama3.1-8b-edge/Offline"
TREE_OF = {LENOVO: "lenovo_v6.0", NEBIUS: "nebius_v6.0", KRAI: "krai_v6.0", KRAI_OPEN: "krai_v6.0",
           NVIDIA: "nvidia_open_v6.0"}

DETAIL = "accuracy/mlperf_log_detail.txt"
SUMMARY = "accuracy/mlperf_log_summary.txt"
ACC_JSON = "accuracy/mlperf_log_accuracy.json"
# the ten sample videos v6.0 requires of wan-2.2-t2v-a14b (constants.py REQUIRED_ACC_BENCHMARK at b66003e1)
WAN_VIDEOS = ("130", "106", "84", "59", "12", "31", "86", "122", "233", "96")


def _log_text(key: str, old: str, new: str) -> Callable[[Path], None]:
    """In the first MLLOG line of `key` of a detail log, the JSON text `old` -> `new`
    (one value of that line: its `"value": ...,` or a metadata flag); the rest byte-identical."""

    def change(path: Path) -> None:
        data = path.read_bytes()
        lines = data.split(b"\n")
        i = next(i for i, line in enumerate(lines) if f'"key": "{key}"'.encode() in line)
        assert old.encode() in lines[i], lines[i]
        lines[i] = lines[i].replace(old.encode(), new.encode(), 1)
        path.write_bytes(b"\n".join(lines))

    return change


def _log_value(key: str, old: str, new: str) -> Callable[[Path], None]:
    return _log_text(key, f'"value": {old},', f'"value": {new},')


def _replace_line(old: str, new: str) -> Callable[[Path], None]:
    def change(path: Path) -> None:
        lines = path.read_text().split("\n")
        assert old in lines, (path, old)
        path.write_text("\n".join(new if line == old else line for line in lines))

    return change


def _sized(size: int) -> Callable[[Path], None]:
    """The (truncated) accuracy log padded with spaces before its closing `]` to `size` bytes."""

    def change(path: Path) -> None:
        data = path.read_bytes()
        assert data.endswith(b"\n]\n") and len(data) < size, len(data)
        path.write_bytes(data[:-2] + b" " * (size - len(data)) + data[-2:])
        assert path.stat().st_size == size

    return change


def _into_dir(path: Path) -> None:
    """The file replaced by a directory of that name holding it."""
    data = path.read_bytes()
    path.unlink()
    path.mkdir()
    (path / path.name).write_bytes(data)


def _new_dir(name: str, text: str) -> Callable[[Path], None]:
    def change(path: Path) -> None:
        assert not path.exists(), path
        path.mkdir()
        (path / name).write_text(text)

    return change


def _videos(names: tuple[str, ...]) -> Callable[[Path], None]:
    """accuracy/videos/ added, with one small file per name."""

    def change(path: Path) -> None:
        assert not path.exists(), path
        path.mkdir()
        for name in names:
            (path / name).write_bytes(b"\x00\x00\x00\x18ftypmp42")

    return change


def _on(result: str, file: str, change: Callable[[Path], None]) -> tuple[str, Callable[[Path], None]]:
    """(the result changed, the change of one file of it, given the tree's root)."""
    return result, lambda root: change(root / result / file)


MP4 = tuple(f"{n}.mp4" for n in WAN_VIDEOS)

CHANGES: dict[str, tuple[str, Callable[[Path], None]]] = {
    "as_published": (LENOVO, lambda root: None),
    # the accuracy run's detail log
    "acc_mode_performance": _on(LENOVO, DETAIL, _log_value("effective_test_mode", '"AccuracyOnly"',
                                                           '"PerformanceOnly"')),
    "acc_loadgen_error": _on(LENOVO, DETAIL, _log_text("generic_message", '"is_error": false', '"is_error": true')),
    "acc_detail_empty": _on(LENOVO, DETAIL, empty),
    # dataset_check: effective_accuracy_sample_count (else qsl_reported_total_count) == the data set's
    "acc_count_one_less": _on(LENOVO, DETAIL, _log_value("effective_accuracy_sample_count", "50000", "49999")),
    "acc_count_one_more": _on(LENOVO, DETAIL, _log_value("effective_accuracy_sample_count", "50000", "50001")),
    "acc_count_float": _on(LENOVO, DETAIL, _log_value("effective_accuracy_sample_count", "50000", "50000.0")),
    "acc_count_text": _on(LENOVO, DETAIL, _log_value("effective_accuracy_sample_count", "50000", '"50000"')),
    "acc_qsl_total_short": _on(LENOVO, DETAIL, _log_value("qsl_reported_total_count", "50000", "1024")),
    "acc_effective_count_renamed": _on(LENOVO, DETAIL, _log_text("effective_accuracy_sample_count",
                                                                 '"key": "effective_accuracy_sample_count"',
                                                                 '"key": "effective_accuracy_sample_count_x"')),
    "gptoss_count_dataset_size": _on(NEBIUS, DETAIL, _log_value("effective_accuracy_sample_count", "4395", "6396")),
    # accuracy_json_check: present, at most 10 KiB
    "acc_json_missing": _on(LENOVO, ACC_JSON, delete),
    "acc_json_empty": _on(LENOVO, ACC_JSON, empty),
    "acc_json_at_limit": _on(LENOVO, ACC_JSON, _sized(10 * 1024)),
    "acc_json_one_over": _on(LENOVO, ACC_JSON, _sized(10 * 1024 + 1)),
    "acc_json_is_a_dir": _on(LENOVO, ACC_JSON, _into_dir),
    # the other files of accuracy/
    "acc_summary_missing": _on(LENOVO, SUMMARY, delete),
    "acc_summary_empty": _on(LENOVO, SUMMARY, empty),
    "acc_txt_missing": _on(LENOVO, "accuracy/accuracy.txt", delete),
    "acc_extra_file": _on(LENOVO, "accuracy/notes.txt", new_file("accuracy run of 2026-01-12\n")),
    "acc_extra_dir": _on(LENOVO, "accuracy/logs", _new_dir("run.log", "accuracy run of 2026-01-12\n")),
    # extra_files_check: wan-2.2-t2v-a14b's videos/ (the excerpt has none)
    "wan_videos_complete": _on(KRAI, "accuracy/videos", _videos(MP4)),
    "wan_videos_one_missing": _on(KRAI, "accuracy/videos", _videos(MP4[:-1])),
    "wan_videos_no_extension": _on(KRAI, "accuracy/videos", _videos(WAN_VIDEOS)),
    "wan_open_videos_complete": _on(KRAI_OPEN, "accuracy/videos", _videos(MP4)),
    # the open division: not held to targets, held to the data set and the truncation limit
    "open_below_target": _on(NVIDIA, "accuracy/accuracy.txt", _replace_line(
        "{'rouge1': '38.5299', 'rouge2': '16.2005', 'rougeL': '24.5013', 'rougeLsum': '35.6685', "
        "'gen_len': 3089315, 'gen_num': 5000}",
        "{'rouge1': '3.5299', 'rouge2': '1.2005', 'rougeL': '2.5013', 'rougeLsum': '3.6685', "
        "'gen_len': 3089315, 'gen_num': 5000}")),
    "open_hash_missing": _on(NVIDIA, "accuracy/accuracy.txt", _replace_line(
        "hash=5c1fb2ada02a2053019dc9f469db30e55913e0a16dd8df9b52d512357e0f0b5e", "")),
    "open_count_one_less": _on(NVIDIA, DETAIL, _log_value("effective_accuracy_sample_count", "5000", "4999")),
    "open_json_one_over": _on(NVIDIA, ACC_JSON, _sized(10 * 1024 + 1)),
}
VARIANTS: dict[str, Callable[[Path], None]] = {name: change for name, (_, change) in CHANGES.items()}
CHANGED_RESULT = {name: result for name, (result, _) in CHANGES.items()}

# the rule of ours that must refuse the changed result (None: it stays valid)
EXPECTED_RULE: dict[str, str | None] = {
    "as_published": None,
    "acc_mode_performance": "perf.mode-mismatch",  # STRICTER
    "acc_loadgen_error": "acc.invalid",
    "acc_detail_empty": "perf.unparsable",
    "acc_count_one_less": "acc.dataset-size",
    "acc_count_one_more": "acc.dataset-size",
    "acc_count_float": None,
    "acc_count_text": "acc.dataset-size",
    "acc_qsl_total_short": None,
    "acc_effective_count_renamed": None,
    "gptoss_count_dataset_size": "acc.dataset-size",
    "acc_json_missing": "acc.missing",
    "acc_json_empty": None,
    "acc_json_at_limit": None,
    "acc_json_one_over": "acc.untruncated",
    "acc_json_is_a_dir": "acc.missing",  # STRICTER
    "acc_summary_missing": "acc.missing",  # STRICTER
    "acc_summary_empty": None,
    "acc_txt_missing": "acc.missing",
    "acc_extra_file": None,
    "acc_extra_dir": None,
    "wan_videos_complete": None,
    "wan_videos_one_missing": "acc.extra-files",
    "wan_videos_no_extension": None,
    "wan_open_videos_complete": None,
    "open_below_target": None,
    "open_hash_missing": None,
    "open_count_one_less": "acc.dataset-size",
    "open_json_one_over": "acc.untruncated",
}


# Where ours refuses on purpose what the official checker accepts (README, "Checker rules":
# a result that is not what it claims): variant -> why. The test holds ours to refusing
# it with EXPECTED_RULE alone, and to the official verdict on every other result.
STRICTER: dict[str, str] = {
    # The official checker never reads the accuracy run's effective_test_mode: a performance
    # run's logs in accuracy/ pass there (their accuracy.txt and sample count permitting).
    "acc_mode_performance": "the accuracy run is not in the mode it claims (AccuracyOnly)",
    # The official loader never opens accuracy/mlperf_log_summary.txt.
    "acc_summary_missing": "a run without its summary",
    # The official check only asks that the path exists and is at most 10 KiB: a folder so
    # named passes. There is no accuracy log to verify the accuracy run by.
    "acc_json_is_a_dir": "an accuracy run without its accuracy log",
}


def build(variant: str, root: Path) -> Path:
    """The excerpt that holds the variant's result, copied to `root`, with one file changed."""
    return copy_excerpt(TREE_OF[CHANGED_RESULT[variant]], root, VARIANTS[variant])


def test_every_variant_was_recorded() -> None:
    assert_every_variant_recorded(recorded(RECORDED), VARIANTS, EXPECTED_RULE, CHANGED_RESULT.__getitem__)
    assert set(STRICTER) <= set(VARIANTS)


@pytest.mark.parametrize("variant", sorted(VARIANTS))
def test_agrees_with_the_official_checker_on_the_accuracy_run(variant: str, tmp_path: Path) -> None:
    report = check_tree(build(variant, tmp_path / "tree"), round="v6.0")
    assert_agrees(report, recorded(RECORDED)["variants"][variant], CHANGED_RESULT[variant], EXPECTED_RULE[variant],
                  variant in STRICTER)
