"""Content keys: sha256 over canonical JSON of everything that determines a result."""

from __future__ import annotations

import hashlib
import json
from typing import Any

KEY_SCHEMA = 1  # bump when the set of inputs that make up a run key changes


def canonical_json(value: Any) -> str:
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False)


def content_key(inputs: dict[str, Any]) -> str:
    return hashlib.sha256(canonical_json({"key_schema": KEY_SCHEMA, **inputs}).encode("utf-8")).hexdigest()
