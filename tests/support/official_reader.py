"""What the recorders of the official checker's readers write, for the tests that compare."""

from __future__ import annotations

import math
from typing import Any


def plain(value: Any) -> Any:
    """A value as scripts/record_official_verdicts.py wrote the official one: non-finite
    floats by their repr, keys as text."""
    if isinstance(value, float) and not math.isfinite(value):
        return {"repr": repr(value)}
    if isinstance(value, list):
        return [plain(v) for v in value]
    if isinstance(value, dict):
        return {str(k): plain(v) for k, v in value.items()}
    return value
