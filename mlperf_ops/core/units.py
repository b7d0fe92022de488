"""Times and LoadGen figures in the units people read (ms, s, min), never raw ns."""

from __future__ import annotations

import re


def human_duration(seconds: float) -> str:
    """A duration as people read it: 0.355 ms, 850 ms, 3.5 s, 12 s, 10 min 5 s, 2 h 30 min."""
    if seconds < 1:
        return f"{seconds * 1000:.3g} ms"  # LoadGen latencies: 0.355 ms, 12.3 ms, 850 ms
    if seconds < 60:
        return f"{seconds:.1f} s" if seconds < 10 else f"{seconds:.0f} s"
    minutes, secs = divmod(round(seconds), 60)
    if minutes < 60:
        return f"{minutes} min {secs} s" if secs else f"{minutes} min"
    hours, minutes = divmod(minutes, 60)
    return f"{hours} h {minutes} min" if minutes else f"{hours} h"


def human_metric(metric: str, value: float) -> str:
    """A LoadGen result for people: `90.0th percentile latency = 0.355 ms`, never raw ns.

    The summary's names say `(ns)`; the detail log's keys (`early_stopping_latency_ss`, and
    `early_stopping_latency_ms` for MultiStream, not milliseconds) hold every latency in ns.
    """
    if metric.endswith("(ns)"):
        return f"{metric[:-4].rstrip()} = {human_duration(value / 1e9)}"
    if "latency" in metric and "(" not in metric:
        return f"{metric} = {human_duration(value / 1e9)}"
    return f"{metric} = {value:g}"


_NS_VALUE = re.compile(r"(\w[\w .%-]*?) \(ns\)( ?[=:] ?)([0-9][0-9.eE+]*)")


def humanize_ns(text: str) -> str:
    """Every `NAME (ns) = N` in a message (LoadGen's own wording) as `NAME = 0.355 ms`."""
    def one(match: re.Match[str]) -> str:
        try:
            seconds = float(match.group(3)) / 1e9
        except ValueError:
            return match.group(0)
        return f"{match.group(1)}{match.group(2)}{human_duration(seconds)}"

    return _NS_VALUE.sub(one, text)
