"""Bench figures you can trust: alternating pairs, a median with its spread, the machine's
noise while measuring, and dist/bench.json.

Every figure is the median of at least five pairs (baseline, subject) measured in
alternating order (AB, BA, AB, ...) so a drift of the machine during the run falls on
both sides alike. Its spread is [min, max] of the pair values. When the spread is wider
than the figure's tolerance the bench says it cannot judge, and why it thinks so: steal
time (a hypervisor taking the vCPUs) and other load from /proc (the load average, and per
pair the CPU used outside the bench's own process tree), CPU frequency changes
from /sys or /proc/cpuinfo — or, when none of those moved, that the measured thing
itself varies. A wide spread on a disturbed machine is never judged (`"judged": false` in
bench.json), even when every pair falls on one side of the bar: other load does not slow
both sides of a ratio alike. A steady spread is judged, and the verdict names any
disturbance it was measured beside.

`make bench` (bench/run.py) starts dist/bench.json afresh; each bench script merges
its figures into it as {"name": {"ratio": r, "spread": [lo, hi], "bar": b, ...}}.
"""

from __future__ import annotations

import json
import os
import statistics
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
BENCH_JSON_ENV = "MLPERF_OPS_BENCH_JSON"
MIN_PAIRS = 5
STEAL_LIMIT = 0.02  # share of CPU time stolen above which timings are suspect
LOAD_LIMIT = 0.5  # other runnable tasks per core (load average beyond our own work)
FREQ_LIMIT = 0.05  # relative change of the mean CPU frequency between samples
OTHER_CPU_LIMIT = 0.25  # share of the machine's CPU that processes outside the bench used in a pair


def bench_json_path() -> Path:
    return Path(os.environ.get(BENCH_JSON_ENV) or REPO / "dist" / "bench.json")


def pair_count(default: int = MIN_PAIRS) -> int:
    """Pairs per figure: MLPERF_OPS_BENCH_PAIRS, never below five."""
    return max(MIN_PAIRS, int(os.environ.get("MLPERF_OPS_BENCH_PAIRS") or default))


# ---------------------------------------------------------------------------
# The machine's noise.


def _cpu_times() -> tuple[int, int]:
    """(steal jiffies, total jiffies) of all CPUs from /proc/stat; (0, 0) where absent."""
    try:
        fields = Path("/proc/stat").read_text().splitlines()[0].split()[1:]
    except (OSError, IndexError):
        return 0, 0
    values = [int(v) for v in fields]
    steal = values[7] if len(values) > 7 else 0
    return steal, sum(values[:8])


def _cpu_mhz() -> float | None:
    """Mean current frequency of the CPUs (cpufreq, else /proc/cpuinfo); None if unknown."""
    found = []
    for path in Path("/sys/devices/system/cpu").glob("cpu[0-9]*/cpufreq/scaling_cur_freq"):
        try:
            found.append(int(path.read_text()) / 1000)
        except (OSError, ValueError):
            pass
    if not found:
        try:
            for line in Path("/proc/cpuinfo").read_text().splitlines():
                if line.startswith("cpu MHz"):
                    found.append(float(line.split(":")[1]))
        except (OSError, ValueError):
            pass
    return statistics.fmean(found) if found else None


def _busy_total() -> tuple[float, float]:
    """(busy, total) CPU seconds of all CPUs since boot from /proc/stat (idle and iowait
    are not busy; steal is not ours either); (0, 0) where absent."""
    try:
        values = [int(v) for v in Path("/proc/stat").read_text().splitlines()[0].split()[1:9]]
    except (OSError, IndexError, ValueError):
        return 0.0, 0.0
    values += [0] * (8 - len(values))
    user, nice, system, idle, iowait, irq, softirq, _steal = values
    tick = os.sysconf("SC_CLK_TCK")
    return (user + nice + system + irq + softirq) / tick, sum(values) / tick


def _own_cpu() -> float:
    """CPU seconds used so far by this process and every process below it, live ones
    (their utime+stime from /proc) and reaped ones (their parents' cutime+cstime)."""
    tick = os.sysconf("SC_CLK_TCK")
    parents: dict[int, int] = {}
    used: dict[int, float] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            text = (entry / "stat").read_text()
        except OSError:
            continue  # gone meanwhile
        rest = text[text.rindex(")") + 2:].split()
        parents[int(entry.name)] = int(rest[1])
        used[int(entry.name)] = sum(int(v) for v in rest[11:15]) / tick
    mine = {os.getpid()}
    grew = True
    while grew:  # the process tree below us, by parent links
        found = {pid for pid, parent in parents.items() if parent in mine} - mine
        grew = bool(found)
        mine |= found
    return sum(used.get(pid, 0.0) for pid in mine)


def _load1() -> float:
    try:
        return float(Path("/proc/loadavg").read_text().split()[0])
    except (OSError, ValueError, IndexError):
        return 0.0


def other_share(busy: tuple[float, float], total: tuple[float, float], own: tuple[float, float]) -> float:
    """Share of the machine's CPU capacity that others used between two samples:
    (busy seconds - our own seconds) / all CPUs' seconds, each a (before, after) pair."""
    capacity = total[1] - total[0]
    if capacity <= 0:
        return 0.0
    return max(0.0, (busy[1] - busy[0]) - (own[1] - own[0])) / capacity


@dataclass
class Noise:
    """What the machine did while a figure was measured (sampled by `sample()`).

    Two measures of other load: the 1-minute load average (smoothed over a minute, so it
    lags a short measurement), and, exactly over each pair, the CPU time that processes
    outside the bench's own process tree used (/proc/stat minus our tree). A bench whose
    own work runs outside its tree (containers, children of the Docker daemon) sets
    `own_cpu_visible=False`: their CPU would read as others'."""

    steal_start: tuple[int, int] = field(default_factory=_cpu_times)
    mhz: list[float] = field(default_factory=list)
    loads: list[float] = field(default_factory=list)
    steal_share: float = 0.0
    own_cpu_visible: bool = True
    other_shares: list[float] = field(default_factory=list)  # per pair
    _last: tuple[float, float, float] = field(default=(0.0, 0.0, 0.0), repr=False)

    def __post_init__(self) -> None:
        self._last = (*_busy_total(), _own_cpu() if self.own_cpu_visible else 0.0)

    def sample(self) -> None:
        mhz = _cpu_mhz()
        if mhz is not None:
            self.mhz.append(mhz)
        self.loads.append(_load1())
        steal, total = _cpu_times()
        d_total = total - self.steal_start[1]
        self.steal_share = (steal - self.steal_start[0]) / d_total if d_total > 0 else 0.0
        if self.own_cpu_visible:
            now = (*_busy_total(), _own_cpu())
            before = self._last
            self.other_shares.append(other_share((before[0], now[0]), (before[1], now[1]), (before[2], now[2])))
            self._last = now

    def causes(self, own_load: float = 1.0) -> list[str]:
        """Why timings may be off; empty when nothing outside was seen."""
        out = []
        if self.steal_share > STEAL_LIMIT:
            out.append(f"steal time {self.steal_share:.1%} of CPU time (/proc/stat): the hypervisor took the vCPUs")
        cores = os.cpu_count() or 1
        if self.loads:
            other = max(self.loads) - own_load
            if other > LOAD_LIMIT * cores:
                out.append(f"other load: load average up to {max(self.loads):.1f} on {cores} cores "
                           f"(~{other:.1f} runnable tasks besides the bench)")
        if self.other_shares and max(self.other_shares) > OTHER_CPU_LIMIT:
            out.append(f"other processes used up to {max(self.other_shares):.0%} of the machine's CPU "
                       f"during a pair ({cores} cores; /proc/stat minus the bench's own process tree)")
        if len(self.mhz) >= 2:
            low, high = min(self.mhz), max(self.mhz)
            if high > 0 and (high - low) / high > FREQ_LIMIT:
                out.append(f"CPU frequency moved {low:.0f}-{high:.0f} MHz")
        return out

    def as_dict(self) -> dict[str, Any]:
        return {"steal_share": round(self.steal_share, 4),
                "load_max": max(self.loads) if self.loads else None,
                "other_cpu_share_max": round(max(self.other_shares), 3) if self.other_shares else None,
                "mhz": [round(min(self.mhz)), round(max(self.mhz))] if self.mhz else None}


# ---------------------------------------------------------------------------
# Pairs and figures.


@dataclass
class Figure:
    """One bench figure: per-pair values, their median against a bar."""

    name: str
    values: list[float]
    bar: float
    higher_is_better: bool
    what: str  # one line: what the number is
    tolerance: float = 0.10  # spread allowed around the median (relative, each side)
    noise: Noise | None = None
    extra: dict[str, Any] = field(default_factory=dict)
    judge_spread: bool = True  # False when the figure is itself a spread
    # For a figure that is not the median of its values (a run-to-run spread, say).
    fixed_ratio: float | None = None
    fixed_spread: tuple[float, float] | None = None
    blocker: str | None = None  # why the figure cannot be judged at all (an INVALID run, say)
    # A/A control: the baseline against itself (same program, same inputs), measured in
    # the same pairs. Its spread is the finest difference this machine can resolve.
    control: list[float] | None = None

    @property
    def ratio(self) -> float:
        return self.fixed_ratio if self.fixed_ratio is not None else statistics.median(self.values)

    @property
    def spread(self) -> tuple[float, float]:
        return self.fixed_spread if self.fixed_spread is not None else (min(self.values), max(self.values))

    def spread_too_wide(self) -> bool:
        if not self.judge_spread or self.ratio == 0:
            return False
        lo, hi = self.spread
        return lo < self.ratio * (1 - self.tolerance) or hi > self.ratio * (1 + self.tolerance)

    def meets_bar(self) -> bool:
        return self.ratio >= self.bar if self.higher_is_better else self.ratio <= self.bar

    def _passes(self, value: float) -> bool:
        return value >= self.bar if self.higher_is_better else value <= self.bar

    def _causes(self) -> list[str]:
        return self.noise.causes() if self.noise else []

    def control_too_wide(self) -> bool:
        """True when the A/A control itself spreads beyond the tolerance around 1."""
        if not self.control:
            return False
        return min(self.control) < 1 - self.tolerance or max(self.control) > 1 + self.tolerance

    def _control_note(self) -> str:
        assert self.control
        return (f"the baseline against itself (A/A, same inputs, same pairs) spreads "
                f"{min(self.control):.3f}..{max(self.control):.3f}, median {statistics.median(self.control):.3f}: "
                f"this machine cannot resolve ±{self.tolerance:.0%} for this figure")

    def judgeable(self) -> bool:
        """False when the bench cannot say pass or miss: a blocker, or a spread wider than
        the tolerance while the machine was disturbed (steal time, other load, frequency).
        Other load does not shift both sides of a ratio alike (it slows the CPU-heavy side
        more, or makes a shared server the bottleneck of both), so even pairs that all fall
        on one side of the bar prove nothing then. On an undisturbed machine a wide spread
        still judges when every pair falls on the same side."""
        if self.blocker:
            return False
        if not self.spread_too_wide():
            return True
        if self._causes():
            return False
        lo, hi = self.spread
        return self._passes(lo) == self._passes(hi)

    def verdict(self) -> str:
        if self.blocker:
            return f"cannot be judged: {self.blocker}"
        causes = self._causes()
        if self.spread_too_wide():
            lo, hi = self.spread
            side = ("every pair met the bar" if self._passes(lo) and self._passes(hi) else
                    "every pair missed the bar" if not self._passes(lo) and not self._passes(hi) else
                    "the pairs fall on both sides of the bar")
            if causes:
                return (f"spread too wide to judge (beyond ±{self.tolerance:.0%}; {side}): "
                        + "; ".join(causes))
            why = "no steal time, extra load or frequency change seen: the measured thing itself varies"
            if self.control_too_wide():
                why += "; " + self._control_note()
            if self._passes(lo) and self._passes(hi):
                return f"meets the bar in every pair, though the spread is wide (beyond ±{self.tolerance:.0%}): {why}"
            if not self._passes(lo) and not self._passes(hi):
                return f"MISSES the bar in every pair; the spread is wide (beyond ±{self.tolerance:.0%}): {why}"
            return f"spread too wide to judge (beyond ±{self.tolerance:.0%}): {why}"
        # A steady spread beside other load is a verdict, but one that names the load.
        beside = f" (measured beside: {'; '.join(causes)})" if causes else ""
        if self.meets_bar():
            return "meets the bar" + beside
        if not self.judge_spread and self.noise is not None:  # the figure is itself a spread: say why
            return "MISSES the bar: " + ("; ".join(causes) if causes else
                                         "no steal time, extra load or frequency change seen: it varies by itself")
        return "MISSES the bar" + beside

    def as_dict(self) -> dict[str, Any]:
        lo, hi = self.spread
        return {"ratio": round(self.ratio, 4), "spread": [round(lo, 4), round(hi, 4)], "bar": self.bar,
                "higher_is_better": self.higher_is_better, "pairs": len(self.values),
                "values": [round(v, 4) for v in self.values], "verdict": self.verdict(),
                "judged": self.judgeable(), "what": self.what,
                **({"noise": self.noise.as_dict()} if self.noise else {}),
                **({"control": {"ratio": round(statistics.median(self.control), 4),
                                "spread": [round(min(self.control), 4), round(max(self.control), 4)],
                                "values": [round(v, 4) for v in self.control]}} if self.control else {}),
                **self.extra}


def alternating_pairs(
    baseline: Callable[[], float], subject: Callable[[], float], pairs: int, noise: Noise | None = None
) -> list[tuple[float, float]]:
    """(baseline, subject) measurements, the order swapped every other pair."""
    out = []
    for i in range(pairs):
        if i % 2 == 0:
            b = baseline()
            s = subject()
        else:
            s = subject()
            b = baseline()
        out.append((b, s))
        if noise is not None:
            noise.sample()
    return out


def timed(call: Callable[[], object]) -> float:
    start = time.perf_counter()
    call()
    return time.perf_counter() - start


def report(figure: Figure) -> None:
    """Print the figure with its spread and verdict, and merge it into bench.json."""
    lo, hi = figure.spread
    bar = (">=" if figure.higher_is_better else "<=") + f" {figure.bar:g}"
    count = f"{len(figure.values)} {'pairs' if figure.judge_spread else 'values'}"
    print(f"FIGURE {figure.name}: {figure.ratio:.3f} (spread {lo:.3f}..{hi:.3f}, {count}; "
          f"bar {bar}) -> {figure.verdict()}", flush=True)
    print(f"       {figure.what}", flush=True)
    path = bench_json_path()
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        data = json.loads(path.read_text()) if path.is_file() else {}
    except ValueError:
        data = {}
    data[figure.name] = figure.as_dict()
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(json.dumps(data, indent=2, sort_keys=True) + "\n")
    os.replace(tmp, path)
