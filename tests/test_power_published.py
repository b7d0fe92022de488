"""The power value of a result against the one MLCommons published for it.

tests/data/power_v5.1/ holds two real power runs (LoadGen's detail log and the analyser's
spl.txt) and the values the published v5.1 results table gives for the four results they
stand for (see its SOURCE.md): a datacenter Offline in watts, an edge SingleStream in
millijoules per query, and the MultiStream and Offline results inferred from that run.
"""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest

from mlperf_ops.check.power_value import POWER_UNITS, power_metric
from mlperf_ops.core.loadgen_log import parse_detail

DATA = Path(__file__).parent / "data" / "power_v5.1"
PUBLISHED = json.loads((DATA / "published_power.json").read_text())["results"]


def test_the_data_covers_each_formula() -> None:
    assert {(r["scenario"], r["inferred"]) for r in PUBLISHED} == {
        ("Offline", 0), ("SingleStream", 0), ("MultiStream", 1), ("Offline", 1)}


@pytest.mark.parametrize("row", PUBLISHED, ids=lambda r: f"{r['run']}-{r['folder']}")
def test_our_power_value_is_the_published_one(row: dict[str, object]) -> None:
    run = DATA / str(row["run"])
    values = parse_detail(run / "mlperf_log_detail.txt").values
    ours = power_metric(run, str(row["folder"]), values)
    assert ours is not None
    # the table prints 10 decimals
    assert math.isclose(ours, float(row["power_result"]), rel_tol=1e-10, abs_tol=1e-9), (ours, row)
    assert POWER_UNITS[str(row["scenario"])].lower() == str(row["power_units"]).lower()
