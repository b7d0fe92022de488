"""accuracy.txt's lines skipped by their needles: the same reading as trying every line.

read_accuracy_txt tries a target's pattern only on lines that hold a text the pattern
cannot match without (required_text, read from the pattern's parse). These tests hold that
shortcut to the plain reading, line by line, on every accuracy.txt of the real excerpts
and on texts built around each round's patterns; and they hold each needle to `re` itself
(every line a pattern matches holds one of its needles).
"""

from __future__ import annotations

import os
import re
from pathlib import Path

import pytest

os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")

from mlperf_ops.check import accuracy_txt  # noqa: E402
from mlperf_ops.check.accuracy_txt import last_values, read_accuracy_txt, required_text  # noqa: E402
from mlperf_ops.rules import AccuracyTarget, available_rounds, load_rules  # noqa: E402

REAL_TREES = Path(__file__).parent / "data" / "real_trees"


def _every_target() -> list[AccuracyTarget]:
    seen: dict[str, AccuracyTarget] = {}
    for round_name in available_rounds():
        for bench in load_rules(round_name).benchmarks.values():
            for target in (*bench.accuracy, *(t for ts in bench.accuracy_by_scenario.values() for t in ts)):
                seen.setdefault(target.pattern, target)
    return list(seen.values())


TARGETS = _every_target()
REAL_TEXTS = sorted(REAL_TREES.rglob("*accuracy.txt"))


@pytest.mark.parametrize(("pattern", "needles"), [
    (r".*'rouge1':\s+'?([\d.]+)'?.*", ("'rouge1':",)),
    (r".*(?:mAP=|'Total':)\s*([\d.]+)", ("mAP=", "'Total':")),
    (r"Word Error Rate\:.*, accuracy=([0-9\.]+)%", ("Word Error Rate:",)),
    (r"a|bc", ("a", "bc")),
    (r"x*(abc)d", ("d",)),  # inside a group is not looked at: only what the top level must match
    (r"(?i)accuracy=([\d.]+)", None),  # the line may spell it in any case
    (r"(?i:acc)uracy=([\d.]+)", ("uracy=",)),
    (r"[ab]+([\d.]+)", None),
    (r"(?:ab|c*)d", ("d",)),  # one alternative needs no text: the alternation gives no needle
])
def test_needles_are_what_the_top_level_of_a_pattern_must_match(pattern: str, needles: tuple[str, ...] | None) -> None:
    assert required_text(pattern) == needles


def test_every_round_pattern_has_needles() -> None:
    """Otherwise every line of its benchmark's accuracy.txt is tried (still right, slower)."""
    assert TARGETS
    assert [t.pattern for t in TARGETS if required_text(t.pattern) is None] == []


def _near_misses(target: AccuracyTarget) -> list[str]:
    """Lines around the pattern: ones real files hold and ones with each needle cut."""
    lines: list[str] = []
    for text in REAL_TEXTS:
        lines.extend(accuracy_txt._lines_with_breaks(text.read_text(encoding="utf-8", errors="replace")))
    needles = required_text(target.pattern) or ()
    for needle in needles:
        for cut in range(len(needle)):
            lines.append(f"{needle[:cut]}{needle[cut + 1:]} 80.5\n")
        lines += [f"{needle} 80.5\n", f"{needle}\t80.5\n", f"x{needle}  80.5 y\n", f"{needle}80.5"]
    return lines


@pytest.mark.parametrize("target", TARGETS, ids=lambda t: t.pattern[:40])
def test_every_line_a_pattern_matches_holds_a_needle(target: AccuracyTarget) -> None:
    needles = required_text(target.pattern)
    assert needles is not None
    matched = [line for line in _near_misses(target) if re.match(target.pattern, line)]
    for line in matched:
        assert any(n in line for n in needles), (target.pattern, line)


def _plain(text: str, targets: list[AccuracyTarget]) -> tuple[object, object]:
    """Both readings with every line tried (no needles)."""
    saved = accuracy_txt._needles
    accuracy_txt._needles = lambda patterns: None  # type: ignore[assignment]
    try:
        return read_accuracy_txt(text, targets), last_values(text, targets)
    finally:
        accuracy_txt._needles = saved


def _texts(targets: list[AccuracyTarget]) -> list[str]:
    """Texts that move the reading's stop: values under and over each target, before and
    after a hash line, progress bars broken at "\r", the last line with no line break."""
    out: list[str] = []
    for target in targets:
        needle = (required_text(target.pattern) or ("",))[0]
        out += [
            f"{needle} 1.0\nhash=abc\n{needle} 99999.0\n",
            f"progress\r{needle} 99999.0\rmore\r\nhash=abc",
            f"hash=abc\r\n{needle} 99999.0",
            f"{needle} 99999.0\n{needle} 1.0",
            f"{needle} 1.0\n{needle} 1.0",
            f"noise\n{needle} 99999.0\nhash=abc\nhash=abc",
        ]
    return out


@pytest.mark.parametrize("target", TARGETS, ids=lambda t: t.pattern[:40])
def test_needles_read_as_every_line_does(target: AccuracyTarget) -> None:
    texts = [p.read_text(encoding="utf-8", errors="replace") for p in REAL_TEXTS] + _texts([target])
    for text in texts:
        assert (read_accuracy_txt(text, [target]), last_values(text, [target])) == _plain(text, [target]), text[:200]


def test_needles_read_as_every_line_does_with_a_benchmark_s_targets() -> None:
    """Several targets at once (an LLM's five ROUGE and length metrics): the reading stops
    at the first line by which every one is met, needles or not."""
    llm = next(b for b in load_rules(available_rounds()[-1]).benchmarks.values() if len(b.accuracy) >= 4)
    targets = list(llm.accuracy)
    for text in [p.read_text(encoding="utf-8", errors="replace") for p in REAL_TEXTS] + _texts(targets):
        assert read_accuracy_txt(text, targets) == _plain(text, targets)[0]


def test_a_pattern_of_this_python_s_parser_that_fails_is_read_line_by_line(monkeypatch: pytest.MonkeyPatch) -> None:
    import re._parser as parser  # type: ignore[import-not-found]

    required_text.cache_clear()
    monkeypatch.setattr(parser, "parse", lambda *a, **k: (_ for _ in ()).throw(RuntimeError("changed")))
    try:
        assert required_text(r".*'rouge1':\s+([\d.]+)") is None
    finally:
        required_text.cache_clear()


@pytest.mark.parametrize("text", [
    "acc= 5", "acc= 5\n", "x\nacc= 5", "acc= 5\nacc= 5", "acc= 5\nx", "acc= 5\racc= 5", "acc= 5\r\n",
    "acc= 5\nhash=1\nacc= 5",
])
def test_only_the_last_line_of_a_text_without_a_final_break_lacks_one(text: str) -> None:
    """A pattern that needs the line's break (`\\s` after the value): the text's last line
    has none unless the text ends in one; every other kept line has its own."""
    target = AccuracyTarget("m", r"acc=\s([\d.]+)\s", 1.0)
    assert required_text(target.pattern) == ("acc=",)
    assert (read_accuracy_txt(text, [target]), last_values(text, [target])) == _plain(text, [target])
    expected = text.replace("\r\n", "\n").replace("\r", "\n").count("acc= 5\n")
    assert len(read_accuracy_txt(text, [target]).values[0]) == expected
