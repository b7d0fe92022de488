"""accuracy.txt read as the official checker reads it (and TEST01's accuracy files, which
its fallback reads otherwise: last_values).

The official checker reads the file's lines (Python's text lines, each with its line
break) and tries every target's pattern and the `hash=` pattern on each line in turn. Every
value a pattern captures counts, not only the first: one below its target refuses the
result, and the summary shows the last. The reading stops after the first line at which
every target has been met and a hash seen, so what follows that line is never judged.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Sequence

from mlperf_ops.core.loadgen_log import log_lines
from mlperf_ops.rules import AccuracyTarget

_HASH = re.compile(r"^hash=([\w\d]+)$")  # the official pattern: `$` allows the line's own break


@dataclass(frozen=True)
class AccuracyReading:
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


def _lines_with_breaks(text: str) -> list[str]:
    """The text's lines as a text file gives them in Python: each with its "\n" (the
    official patterns are matched against that), the last one only if the text ends in one."""
    lines = log_lines(text)
    if lines and not text.endswith(("\n", "\r")):
        return [line + "\n" for line in lines[:-1]] + [lines[-1]]
    return [line + "\n" for line in lines]


def read_accuracy_txt(text: str, targets: Sequence[AccuracyTarget]) -> AccuracyReading:
    found: list[list[str]] = [[] for _ in targets]
    met = [False] * len(targets)
    hashed = False
    order: list[int] = []
    for line in _lines_with_breaks(text):
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
    for line in _lines_with_breaks(text):
        for i, target in enumerate(targets):
            captured = target.find_text(line)
            if captured:
                last[i] = number(captured)
    return last
