"""Quote a user's value back in a message without printing all of it.

A value can be a megabyte (hostile or pasted by mistake); messages quote at most a
short head of it, and say how long it was, so the terminal and CI logs stay readable.
"""

from __future__ import annotations

LIMIT = 60


def shorten(value: object, limit: int = LIMIT) -> str:
    """`repr(value)`, cut to about `limit` characters with the full length noted."""
    if isinstance(value, str) and len(value) > limit:
        # Cut before repr: repr of a huge string is itself a huge allocation.
        return f"{value[:limit]!r}… ({len(value)} characters)"
    if isinstance(value, (dict, list, tuple, set)):
        kind = type(value).__name__
        return f"<{kind} of {len(value)}>"
    text = repr(value)
    return text if len(text) <= limit else f"{text[:limit]}… ({len(text)} characters)"


def clip(text: str, limit: int = 400) -> str:
    """A whole message kept readable: the last line of defence when a value slipped through."""
    return text if len(text) <= limit else f"{text[:limit]}… ({len(text)} characters in all)"
