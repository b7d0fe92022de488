"""A power result's value as the official summary CSV reports it (its second row).

The power analyser's samples (performance/run_1/spl.txt, `Time,<timestamp>,Watts,<value>,...`
lines) taken strictly between LoadGen's power_begin and power_end are averaged (only
positive readings count). Offline, Server and Interactive report that average in watts;
SingleStream and MultiStream report energy per query in millijoules (a MultiStream folder
inferred from a SingleStream run counts 8 samples per query). The system's design power
(the round's nameplate file, where it has one) is reported alongside.
"""

from __future__ import annotations

import datetime
from pathlib import Path
from typing import Any

from mlperf_ops.check.official_value import canonical_scenario
from mlperf_ops.core.tree_files import read_tree_text

TIME_FORMAT = "%m-%d-%Y %H:%M:%S.%f"
POWER_UNITS = {
    "SingleStream": "millijoules",
    "MultiStream": "millijoules",
    "Offline": "Watts",
    "Server": "Watts",
    "Interactive": "Watts",
}
MULTISTREAM_SAMPLES = 8


def _time(value: Any) -> datetime.datetime | None:
    try:
        return datetime.datetime.strptime(str(value), TIME_FORMAT)
    except ValueError:
        return None


def average_power(spl: Path, begin: datetime.datetime, end: datetime.datetime) -> float | None:
    """The mean of the positive readings strictly inside (begin, end), None without any."""
    try:
        lines = read_tree_text(spl, errors="replace").splitlines()
    except OSError:
        return None
    readings = []
    for line in lines:
        if not line.startswith("Time"):
            continue
        fields = line.split(",")
        try:
            stamp, watts = datetime.datetime.strptime(fields[1], TIME_FORMAT), float(fields[3])
        except (IndexError, ValueError):
            continue
        if begin < stamp < end and watts > 0:
            readings.append(watts)
    return sum(readings) / len(readings) if readings else None


def power_metric(run_dir: Path, folder_scenario: str, values: dict[str, Any]) -> float | None:
    """The power row's value for a result whose performance detail log holds `values`."""
    begin, end = _time(values.get("power_begin")), _time(values.get("power_end"))
    scenario = canonical_scenario(folder_scenario)
    if begin is None or end is None or scenario is None:
        return None
    watts = average_power(run_dir / "spl.txt", begin, end)
    if watts is None:
        return None
    if scenario in ("Offline", "Server", "Interactive"):
        return watts
    try:
        queries = int(values["result_query_count"])
    except (KeyError, TypeError, ValueError):
        return None
    seconds = (end - begin).total_seconds()
    if scenario == "MultiStream" and values.get("effective_scenario") == "SingleStream":
        return watts * seconds * MULTISTREAM_SAMPLES * 1000 / queries
    return watts * seconds * 1000 / queries


def design_power_watts(nameplate: Any) -> float:
    """The design power of a nameplate description: for each component that lists its
    power supplies, the capacities of the supplies it needs at least (the largest ones;
    redundant supplies do not count); components nest freely."""
    if isinstance(nameplate, list):
        return sum(design_power_watts(item) for item in nameplate)
    if not isinstance(nameplate, dict):
        return 0
    keys = {str(k).lower(): k for k in nameplate}
    if "psus" in keys and "min psus needed" in keys:
        needed = nameplate[keys["min psus needed"]]
        supplies = nameplate[keys["psus"]] or []
        capacities: list[float] = sorted(
            (s.get("PowerCapacityWatts", 0) for s in supplies if isinstance(s, dict)), reverse=True)
        return sum(capacities[: int(needed)])
    return sum(design_power_watts(v) for v in nameplate.values() if isinstance(v, (dict, list)))
