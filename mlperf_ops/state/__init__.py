"""Everything that writes the state directory (`--state-dir`, default `.mlperf-ops/`).

No other module writes there. Writes are atomic: content goes to a temporary
sibling first and is renamed into place, so a crash or `kill -9` leaves either the
old state or the new one, never half of it.
"""
