"""A round's rules data parsed once per content, not once per command.

Parsing v6.0.yaml costs ~20 ms with libyaml's parser and importing PyYAML ~15 ms more:
most of what `check` spends on a small tree. The parsed data is plain JSON (strings,
numbers, lists, mappings with string keys), which Python reads back in under 1 ms. So
the first command to read a rules file keeps its parsed form as JSON in the cache
directory, under the sha256 of the file's bytes and of this package's version: an edited
file, or another mlperf-ops, never reads another's. Data that does not survive the trip
through JSON unchanged (a date, an integer key) is never cached, and any trouble with the
cache (a read-only home, a damaged file) only means parsing the file again.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

from mlperf_ops import __version__
from mlperf_ops.core.cachedir import cache_root

SUBDIR = "rules"


def cache_path_for(name: str, text: bytes) -> Path:
    digest = hashlib.sha256(__version__.encode() + b"\0" + text).hexdigest()[:32]
    return cache_root() / SUBDIR / f"{name}-{digest}.json"


def parsed(name: str, text: bytes, parse: Callable[[bytes], Any]) -> Any:
    """`parse(text)`, or the cached result of an earlier `parse` of the same bytes."""
    path = cache_path_for(name, text)
    try:
        return json.loads(path.read_bytes())
    except (OSError, ValueError):
        pass  # not cached yet, or unreadable: parse
    data = parse(text)
    try:
        encoded = json.dumps(data, separators=(",", ":"), allow_nan=False).encode()
        if json.loads(encoded) == data:
            from mlperf_ops.core.atomic import write_bytes  # tempfile and shutil: only when writing

            write_bytes(path, encoded)
    except (TypeError, ValueError, OSError):
        pass
    return data
