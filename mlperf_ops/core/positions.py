"""Line and column of a character, the way every `file:line:col` message counts them.

Kept apart from the YAML reader so that code which reports positions in logs (the secret
scan under `check`) does not import YAML to count lines.
"""

from __future__ import annotations


def position(text: str, index: int) -> tuple[int, int]:
    """1-based line and column of character `index` in `text`."""
    line = text.count("\n", 0, index) + 1
    start = text.rfind("\n", 0, index) + 1
    return line, index - start + 1
