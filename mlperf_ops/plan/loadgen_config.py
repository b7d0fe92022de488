"""Render LoadGen's inputs: `user.conf` lines and a compliance test's `audit.config`.

`user.conf` uses LoadGen's model key (resnet50), not the checker's benchmark name
(resnet). LoadGen applies `audit.config` from the working directory last, so the
controller writes it only into a compliance run's own config directory.
"""

from __future__ import annotations

from collections.abc import Mapping

from mlperf_ops.rules import AuditTest
from mlperf_ops.core.loadgen import LoadGenValue


def _format(value: LoadGenValue) -> str:
    if isinstance(value, bool):
        return "1" if value else "0"
    if isinstance(value, float):
        text = f"{value:.6f}".rstrip("0").rstrip(".")
        return text or "0"
    return str(value)


def render_user_conf(
    loadgen_model: str,
    scenario: str,
    settings: Mapping[str, LoadGenValue],
    *,
    min_duration_ms: int | None = None,
) -> str:
    """`<model>.<scenario>.<key> = <value>` lines, sorted, for one scenario."""
    merged = dict(settings)
    if min_duration_ms is not None:
        merged["min_duration"] = min_duration_ms
    lines = [f"{loadgen_model}.{scenario}.{key} = {_format(merged[key])}" for key in sorted(merged)]
    return "\n".join(lines) + ("\n" if lines else "")


def render_audit_config(test: AuditTest, benchmark: str) -> str:
    """The audit.config of one compliance test for one benchmark (official settings)."""
    settings = test.audit_config_for(benchmark)
    header = f"# {test.name} for {benchmark}; settings from mlcommons/inference {test.source}\n"
    return header + "".join(f"*.*.{key} = {settings[key]}\n" for key in sorted(settings))
