"""bench/figures.py's judging rules: a wide spread on a disturbed machine is never a pass
(nor a miss), and every verdict names the disturbance it was measured beside."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "bench"))
from figures import Figure, Noise  # noqa: E402


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
