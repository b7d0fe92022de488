"""A memo, across processes, of (schema, document) pairs the schema accepted.

Importing jsonschema costs ~90 ms, most of a no-op `apply` (which validates the
manifest, its pipeline profile and each image spec on every run). A document that
passed once passes again: the outcome depends only on the schema, the document's data
and the validator, so the key is the sha256 of exactly those (the data as canonical
JSON, the package version standing for the validator's pin). Only acceptances are
remembered — problems are always computed afresh, with their positions — and data that
is not plain JSON is never memoised (two values must not share a key).

Where: $MLPERF_OPS_CACHE_DIR, else $XDG_CACHE_HOME/mlperf-ops, else ~/.cache/mlperf-ops;
one empty file per key. Any I/O trouble just means validating again.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

from mlperf_ops import __version__
from mlperf_ops.core.cachedir import CACHE_ENV, cache_root

__all__ = ["CACHE_ENV", "key", "known_valid", "remember_valid"]


def _directory() -> Path:
    return cache_root() / "schema-valid"


def _refuse(value: object) -> Any:
    raise TypeError(f"not plain JSON: {type(value).__name__}")


def key(schema: dict[str, Any], data: Any) -> str | None:
    """The memo key, or None when the data is not plain JSON (never memoised)."""
    try:
        text = json.dumps([__version__, schema, data], sort_keys=True, separators=(",", ":"),
                          default=_refuse, allow_nan=False)
    except (TypeError, ValueError):
        return None
    return hashlib.sha256(text.encode()).hexdigest()


def known_valid(memo_key: str | None) -> bool:
    return memo_key is not None and (_directory() / memo_key).is_file()


def remember_valid(memo_key: str | None) -> None:
    if memo_key is None:
        return
    try:
        directory = _directory()
        directory.mkdir(parents=True, exist_ok=True)
        (directory / memo_key).touch()
    except OSError:
        pass  # a read-only home only costs the next run a validation
