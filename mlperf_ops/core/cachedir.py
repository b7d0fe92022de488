"""Where mlperf-ops keeps what it can compute again: one directory for every cache.

$MLPERF_OPS_CACHE_DIR, else $XDG_CACHE_HOME/mlperf-ops, else ~/.cache/mlperf-ops. Nothing
in it is ever the only copy of anything: deleting it costs time, not results.
"""

from __future__ import annotations

import os
from pathlib import Path

CACHE_ENV = "MLPERF_OPS_CACHE_DIR"


def cache_root() -> Path:
    explicit = os.environ.get(CACHE_ENV)
    if explicit:
        return Path(explicit)
    xdg = os.environ.get("XDG_CACHE_HOME")
    return (Path(xdg) if xdg else Path(os.path.expanduser("~")) / ".cache") / "mlperf-ops"
