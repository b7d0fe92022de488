"""accuracy.txt read as the official checker reads it (and TEST01's accuracy files, which
its fallback reads otherwise: last_values).

The official checker reads the file's lines (Python's text lines, each with its line
break) and tries every target's pattern and the `hash=` pattern on each line in turn. Every
value a pattern captures counts, not only the first: one below its target refuses the
result, and the summary shows the last. The reading stops after the first line at which
every target has been met and a hash seen, so what follows that line is never judged.

An LLM's accuracy.txt is its evaluation's console output: with its progress bars (broken
at "\r") ~15,000 lines, each tried against five patterns that open with `.*`, which was
a third of `check`'s time on a published tree. A line that holds none of the text some
pattern cannot match without (its needles: `required_text`) is skipped: it captures
nothing and is no hash line, so the reading is the same.
"""

from __future__ import annotations

import re
from functools import cache
from typing import Any, Sequence

from msgspec import Struct

from mlperf_ops.core.loadgen_log import log_lines
from mlperf_ops.rules import AccuracyTarget

_HASH = re.compile(r"^hash=([\w\d]+)$")  # the official pattern: `$` allows the line's own break


class AccuracyReading(Struct, frozen=True):
    # per target (in the order given): the texts its pattern captured, in file order, up
    # to the line where the reading stops
    values: tuple[tuple[str, ...], ...]
    hashed: bool  # a hash= line was read
    # the targets that captured a value, in the order the lines first named them (the
    # order of the official summary's accuracy column)
    order: tuple[int, ...] = ()


def number(text: str) -> float | None:
    try:
        return float(text)
    except ValueError:
        return None


def _lines_with_breaks(text: str, needles: re.Pattern[str] | None = None) -> list[str]:
    """The text's lines as a text file gives them in Python: each with its "\n" (the
    official patterns are matched against that), the last one only if the text ends in one.
    `needles`: only the lines in which it finds something."""
    lines = [line + "\n" for line in log_lines(text)] if needles is None else [
        line + "\n" for line in filter(needles.search, log_lines(text))]
    if lines and not text.endswith(("\n", "\r")) and text.endswith(lines[-1][:-1]):
        # the text's last line has no break, and it was kept: whether a line is kept
        # depends on its text alone, and a kept line that only ended the text would
        # have kept the last line too (being a piece of it) or held a line break
        lines[-1] = lines[-1][:-1]
    return lines


def _literal_run(items: Any) -> list[str]:
    """The runs of plain characters among the items of one sequence of a parsed pattern."""
    from re import _constants as sre  # type: ignore[attr-defined]

    runs: list[str] = []
    run: list[str] = []
    for op, arg in items:
        if op is sre.LITERAL:
            run.append(chr(arg))
            continue
        if run:
            runs.append("".join(run))
        run = []
    if run:
        runs.append("".join(run))
    return runs


@cache
def required_text(pattern: str) -> tuple[str, ...] | None:
    """Texts of which every line the pattern matches holds at least one; None when the
    pattern has no such text that can be told without running it.

    Read from the pattern's parse (the `re` module's own parser): a character that the
    pattern's top level must match in sequence, outside any group, repetition or class,
    is in every match; so is one text of each alternative of a top-level `(?:a|b)` when
    each alternative has one. The longest such text (or set) is taken. A pattern that
    ignores case, or that the parser cannot read, has none.
    """
    try:
        from re import _constants as sre, _parser  # type: ignore[attr-defined]

        parsed = _parser.parse(pattern)
        if parsed.state.flags & (sre.SRE_FLAG_IGNORECASE | sre.SRE_FLAG_LOCALE):
            return None
        choices: list[tuple[str, ...]] = [(run,) for run in _literal_run(parsed.data)]
        for op, arg in parsed.data:
            if op is sre.SUBPATTERN and arg[1] == 0 and arg[2] == 0:  # (?:...) or (...), no flags
                inner = list(arg[3])
                if len(inner) == 1 and inner[0][0] is sre.BRANCH:
                    per_branch = [max(_literal_run(alt), key=len, default="") for alt in inner[0][1][1]]
                    if all(per_branch):
                        choices.append(tuple(per_branch))
            elif op is sre.BRANCH:
                per_branch = [max(_literal_run(alt), key=len, default="") for alt in arg[1]]
                if all(per_branch):
                    choices.append(tuple(per_branch))
    except Exception:  # a private parser of this Python: the reading is then line by line
        return None
    return max(choices, key=lambda texts: min(map(len, texts)), default=None)


@cache
def _needles(patterns: tuple[str, ...]) -> re.Pattern[str] | None:
    """One search for every pattern's required text and the hash line's; None when some
    pattern has none (every line is then read)."""
    texts = [required_text(p) for p in patterns]
    if any(t is None or any("\n" in x or "\r" in x for x in t) for t in texts):
        return None  # no text to look for, or one that a line without its break cannot hold
    every = sorted({text for ts in texts if ts is not None for text in ts} | {"hash="}, key=len, reverse=True)
    return re.compile("|".join(map(re.escape, every)))


def read_accuracy_txt(text: str, targets: Sequence[AccuracyTarget]) -> AccuracyReading:
    found: list[list[str]] = [[] for _ in targets]
    met = [False] * len(targets)
    hashed = False
    order: list[int] = []
    for line in _lines_with_breaks(text, _needles(tuple(target.pattern for target in targets))):
        for i, target in enumerate(targets):
            captured = target.find_text(line)
            if captured:
                if not found[i]:
                    order.append(i)
                found[i].append(captured)
                value = number(captured)
                met[i] = met[i] or (value is not None and value >= target.target)
        hashed = hashed or _HASH.match(line) is not None
        if hashed and all(met):
            break
    return AccuracyReading(tuple(map(tuple, found)), hashed, tuple(order))


def last_values(text: str, targets: Sequence[AccuracyTarget]) -> list[float | None]:
    """TEST01's fallback reading of baseline_accuracy.txt and compliance_accuracy.txt: every
    line to the end, and per target the last value its pattern captured (None: none, or
    not a number)."""
    last: list[float | None] = [None] * len(targets)
    for line in _lines_with_breaks(text, _needles(tuple(target.pattern for target in targets))):
        for i, target in enumerate(targets):
            captured = target.find_text(line)
            if captured:
                last[i] = number(captured)
    return last
