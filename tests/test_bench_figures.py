"""bench/figures.py's judging rules: a wide spread on a disturbed machine is never a pass
(nor a miss), and every verdict names the disturbance it was measured beside."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "bench"))
from figures import Figure, Noise, other_share  # noqa: E402


def _noise(load: float, steal: float = 0.0, mhz: tuple[float, float] = (2000.0, 2000.0)) -> Noise:
    noise = Noise()
    noise.loads, noise.mhz, noise.steal_share = [load], list(mhz), steal
    return noise


BUSY = 1.0 + 4 * (os.cpu_count() or 1)  # a load average far beyond the bench's own, on any machine
WIDE_PASSING = [0.9, 1.0, 1.2, 1.0, 0.95]
WIDE_MISSING = [0.5, 0.55, 0.7, 0.52, 0.5]
STEADY = [0.85, 0.9, 0.86, 0.87, 0.88]


def _figure(values: list[float], noise: Noise) -> Figure:
    return Figure("x", values, bar=0.8, higher_is_better=True, what="x", noise=noise)


@pytest.mark.parametrize(
    ("noise", "cause"),
    [(_noise(BUSY), "other load"), (_noise(0.1, steal=0.05), "steal time"),
     (_noise(0.1, mhz=(1200.0, 2400.0)), "CPU frequency")],
)
@pytest.mark.parametrize("values", [WIDE_PASSING, WIDE_MISSING])
def test_wide_spread_on_a_disturbed_machine_is_not_judged(noise: Noise, cause: str, values: list[float]) -> None:
    figure = _figure(values, noise)
    verdict = figure.verdict()
    assert not figure.judgeable() and figure.as_dict()["judged"] is False
    assert verdict.startswith("spread too wide to judge") and cause in verdict
    assert "meets the bar" not in verdict and "MISSES" not in verdict


def test_wide_spread_on_a_quiet_machine_judges_when_every_pair_agrees() -> None:
    assert _figure(WIDE_PASSING, _noise(0.1)).verdict().startswith("meets the bar in every pair")
    assert _figure(WIDE_MISSING, _noise(0.1)).verdict().startswith("MISSES the bar in every pair")
    mixed = _figure([0.4, 0.9, 0.8, 0.85, 1.2], _noise(0.1))
    assert not mixed.judgeable() and mixed.verdict().startswith("spread too wide to judge")


def test_steady_spread_is_judged_and_names_the_load_it_was_measured_beside() -> None:
    busy = _figure(STEADY, _noise(BUSY))
    assert busy.judgeable() and busy.verdict().startswith("meets the bar (measured beside: other load")
    assert _figure(STEADY, _noise(0.1)).verdict() == "meets the bar"


def test_a_wide_a_a_control_is_named_as_the_limit_of_what_the_machine_resolves() -> None:
    mixed = [0.4, 0.9, 0.8, 0.85, 1.2]
    wide = Figure("x", mixed, bar=0.8, higher_is_better=True, what="x", noise=_noise(0.1),
                  control=[0.8, 1.1, 1.0, 0.9, 1.2])
    assert "A/A" in wide.verdict() and "0.800..1.200" in wide.verdict()
    assert wide.as_dict()["control"]["spread"] == [0.8, 1.2]
    # A steady control is no excuse: the verdict is about the figure alone.
    steady = Figure("x", mixed, bar=0.8, higher_is_better=True, what="x", noise=_noise(0.1),
                    control=[0.99, 1.01, 1.0, 1.02, 0.98])
    assert "A/A" not in steady.verdict() and not steady.judgeable()


def test_other_share_is_the_cpu_others_used_over_the_pair() -> None:
    # 2 cores for 10 s = 20 CPU-seconds; 15 busy, 5 of them ours: others used half the machine
    assert other_share((100.0, 115.0), (1000.0, 1020.0), (3.0, 8.0)) == pytest.approx(0.5)
    assert other_share((100.0, 105.0), (1000.0, 1020.0), (3.0, 8.0)) == 0.0  # all the busy time was ours
    noise = _noise(0.1)
    noise.other_shares = [0.1, 0.6]
    assert any("other processes used up to 60%" in c for c in noise.causes())


def test_own_cpu_counts_live_children() -> None:
    import subprocess

    from figures import _own_cpu

    before = _own_cpu()
    # A child that burns 0.5 s of CPU, says so, then stays alive: its CPU is not yet in
    # our rusage (it is not reaped), only in /proc, and must count as the bench's own.
    spin = ("import sys, time\nend = time.process_time() + 0.5\nwhile time.process_time() < end: pass\n"
            "print('done', flush=True)\ntime.sleep(30)")
    child = subprocess.Popen([sys.executable, "-c", spin], stdout=subprocess.PIPE, text=True)
    try:
        assert child.stdout is not None and child.stdout.readline().strip() == "done"
        assert _own_cpu() - before >= 0.45
    finally:
        child.kill()
        child.wait()
    blind = Noise(own_cpu_visible=False)
    blind.sample()
    assert blind.other_shares == []
