"""Desired vs observed per run, as a few named states with a reason."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from mlperf_ops.controller import Context, make_plan
from mlperf_ops.state.ledger import Ledger


def record_result(data: dict[str, Any]) -> str:
    """A finished record's headline: accuracy, calibrated settings, or the LoadGen metric."""
    if data.get("accuracy"):
        return ", ".join(f"{k}={v}" for k, v in data["accuracy"].items())
    if data.get("calibrated"):
        # user.conf's latencies are in ms: say so, a bare 0.1697 reads as seconds as easily.
        return ", ".join(f"{k}={v}{' ms' if k.endswith('latency') else ''}" for k, v in data["calibrated"].items())
    summary = data.get("summary") or {}
    if summary.get("value") is not None:
        from mlperf_ops.estimate import human_metric

        return human_metric(str(summary.get("metric")), float(summary["value"]))
    return ""


@dataclass(frozen=True)
class StatusRow:
    run_id: str
    state: str  # up-to-date | pending | waiting | failed | invalid
    reason: str
    result: str
    key: str


def status_rows(ctx: Context, ledger: Ledger, *, system: str | None = None) -> list[StatusRow]:
    current = make_plan(ctx, ledger, system=system)
    snapshot = ledger.snapshot()
    rows = []
    for planned in current.runs:
        spec = planned.spec
        done = snapshot.done.get(spec.key)
        latest = snapshot.latest.get(spec.run_id)
        if done is not None:
            record = ledger.done(spec.key)
            data = record.data if record else {}
            validity = (data.get("summary") or {}).get("result_validity") if not data.get("accuracy") else None
            result = " ".join(x for x in (validity if spec.mode != "calibration" else None,
                                          record_result(data)) if x)
            rows.append(StatusRow(spec.run_id, "up-to-date", "done", result, spec.key))
        elif latest is not None and latest.key == spec.key and latest.status in ("failed", "invalid"):
            rows.append(StatusRow(spec.run_id, latest.status, latest.reason, "", spec.key))
        elif planned.action == "wait":
            rows.append(StatusRow(spec.run_id, "waiting", planned.reason, "", spec.key))
        else:
            rows.append(StatusRow(spec.run_id, "pending", planned.reason, "", spec.key))
    return rows
