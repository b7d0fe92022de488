"""accuracy.txt: our check against the official checker's verdicts, result by result.

The tree is the real Lenovo v6.0 excerpt (closed, resnet50 on an SE100), as published and
with the accuracy.txt of one result changed in each of the ways the official reading of
that file tells apart: a value below the target before or after the one published, before
or after the hash line, a hash line it does not read, other line breaks, a line it does not
match. The `test01_` variants are the real Dell v6.0 excerpt, whose whisper Offline result
passes TEST01 by its fallback (baseline and compliance accuracy within the allowed delta),
with a far-off value written before or after the baseline's own.
tests/data/accuracy_txt/official_verdicts.json holds what the official checker said of
each variant (recorded by `scripts/record_official_verdicts.py CHECKOUT --variants test_check_accuracy_txt`).
"""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path

import pytest

os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")

from mlperf_ops.check import check_tree  # noqa: E402
from mlperf_ops.check.summary_csv import summary_rows  # noqa: E402
from tests.support.variants import assert_agrees, assert_every_variant_recorded, copy_excerpt, recorded  # noqa: E402

RECORDED = Path(__file__).parent / "data" / "accuracy_txt" / "official_verdicts.json"
CHANGED = "closed/Lenovo/results/SE100/resnet50/offline"  # the result each variant changes
LOW = "accuracy=70.000%, good=35000, total=50000"  # below resnet50's 99 % target (75.695 %)


def _lines(path: Path) -> list[str]:
    return path.read_text().splitlines()


def _write(path: Path, lines: list[str], end: str = "\n") -> None:
    path.write_text(end.join(lines) + end)


def _as_published(txt: Path) -> None:
    pass


def _low_value_after(txt: Path) -> None:
    lines = _lines(txt)
    _write(txt, [lines[0], LOW, *lines[1:]])


def _low_value_before(txt: Path) -> None:
    _write(txt, [LOW, *_lines(txt)])


def _low_value_after_the_hash(txt: Path) -> None:
    _write(txt, [*_lines(txt), LOW])


def _published_value_twice(txt: Path) -> None:
    lines = _lines(txt)
    _write(txt, [lines[0], lines[0], *lines[1:]])


def _hash_first(txt: Path) -> None:
    lines = [line for line in _lines(txt) if line]
    _write(txt, [lines[-1], *lines[:-1]])


def _hash_with_trailing_space(txt: Path) -> None:
    _write(txt, [line + " " if line.startswith("hash=") else line for line in _lines(txt)])


def _no_hash(txt: Path) -> None:
    _write(txt, [line for line in _lines(txt) if not line.startswith("hash=")])


def _crlf(txt: Path) -> None:
    _write(txt, _lines(txt), "\r\n")


def _cr(txt: Path) -> None:
    _write(txt, _lines(txt), "\r")


def _value_indented(txt: Path) -> None:
    _write(txt, ["  " + line if line.startswith("accuracy=") else line for line in _lines(txt)])


def _low_value_split_by_a_line_separator(txt: Path) -> None:
    # U+2028 breaks a line for str.splitlines(), not for a text file's lines: the low
    # value is then no line of its own, and no line starts with it
    lines = _lines(txt)
    _write(txt, [lines[0] + "\u2028" + LOW, *lines[1:]])


FALLBACK = "closed/Dell/results/XE7740_H200_NVL_141GBx8_TRT/whisper/Offline"  # TEST01 passes by its fallback
FAR = "Word Error Rate: 20.0%, accuracy=80.0%"  # 18 % from the published 97.8: beyond whisper's 1 %


def _far_value_first(txt: Path) -> None:
    _write(txt, [FAR, *_lines(txt)])


def _far_value_last(txt: Path) -> None:
    _write(txt, [*_lines(txt), FAR])


def _on(file: str, change: Callable[[Path], None]) -> Callable[[Path], None]:
    """A change of one file of the tree, given the tree's root."""
    return lambda root: change(root / file)


ACCURACY_TXT = CHANGED + "/accuracy/accuracy.txt"
BASELINE_TXT = FALLBACK + "/TEST01/accuracy/baseline_accuracy.txt"
VARIANTS: dict[str, Callable[[Path], None]] = {
    "test01_as_published": _on(BASELINE_TXT, _as_published),
    "test01_far_value_first": _on(BASELINE_TXT, _far_value_first),
    "test01_far_value_last": _on(BASELINE_TXT, _far_value_last),
    "as_published": _on(ACCURACY_TXT, _as_published),
    "low_value_after": _on(ACCURACY_TXT, _low_value_after),
    "low_value_before": _on(ACCURACY_TXT, _low_value_before),
    "low_value_after_the_hash": _on(ACCURACY_TXT, _low_value_after_the_hash),
    "published_value_twice": _on(ACCURACY_TXT, _published_value_twice),
    "hash_first": _on(ACCURACY_TXT, _hash_first),
    "hash_with_trailing_space": _on(ACCURACY_TXT, _hash_with_trailing_space),
    "no_hash": _on(ACCURACY_TXT, _no_hash),
    "crlf": _on(ACCURACY_TXT, _crlf),
    "cr": _on(ACCURACY_TXT, _cr),
    "value_indented": _on(ACCURACY_TXT, _value_indented),
    "low_value_split_by_a_line_separator": _on(ACCURACY_TXT, _low_value_split_by_a_line_separator),
}
# the rule of ours that must refuse the changed result (None: it stays valid)
EXPECTED_RULE = {
    "test01_as_published": None,
    "test01_far_value_first": None,
    "test01_far_value_last": "compliance.test01-fail",
    "as_published": None,
    "low_value_after": "acc.target",
    "low_value_before": "acc.target",
    "low_value_after_the_hash": None,
    "published_value_twice": None,
    "hash_first": None,
    "hash_with_trailing_space": "acc.hash-missing",
    "no_hash": "acc.hash-missing",
    "crlf": None,
    "cr": None,
    "value_indented": "acc.pattern",
    "low_value_split_by_a_line_separator": None,
}


def build(variant: str, root: Path) -> Path:
    """The Lenovo excerpt at `root`, its CHANGED result's accuracy.txt changed as `variant`
    says; for a test01_ variant, the Dell excerpt, its FALLBACK result's baseline changed."""
    return copy_excerpt("dell_v6.0" if variant.startswith("test01_") else "lenovo_v6.0", root, VARIANTS[variant])


def _changed(variant: str) -> str:
    return FALLBACK if variant.startswith("test01_") else CHANGED


def test_every_variant_was_recorded() -> None:
    # both verdicts occur for the changed result of the accuracy.txt and of the test01_ variants
    assert_every_variant_recorded(recorded(RECORDED), VARIANTS, EXPECTED_RULE, _changed,
                                  group=lambda variant: variant.startswith("test01_"))


@pytest.mark.parametrize("variant", sorted(VARIANTS))
def test_agrees_with_the_official_checker_on_accuracy_txt(variant: str, tmp_path: Path) -> None:
    report = check_tree(build(variant, tmp_path / "tree"), round="v6.0")
    assert_agrees(report, recorded(RECORDED)["variants"][variant], _changed(variant), EXPECTED_RULE[variant])


def _csv_variants() -> list[str]:
    return sorted(recorded(RECORDED).get("accuracy_column", {}))


@pytest.mark.parametrize("variant", _csv_variants())
def test_the_summary_shows_the_value_the_official_reading_ends_with(variant: str, tmp_path: Path) -> None:
    # the official summary CSV's accuracy column of the changed result, where it has a row
    official = recorded(RECORDED)["accuracy_column"][variant]
    report = check_tree(build(variant, tmp_path / "tree"), round="v6.0")
    ours = next(row["Accuracy"] for row in summary_rows(report)
                if row["Platform"] == "SE100" and row["Scenario"] == "offline")
    assert ours == official
