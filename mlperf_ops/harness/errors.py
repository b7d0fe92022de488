"""The harness's one error type (it runs inside images and cannot import mlperf_ops.errors)."""

from __future__ import annotations


class HarnessError(Exception):
    """Bad input (exit 2 by default) or an operational failure (exit_code=1); printed, never a traceback."""

    def __init__(self, message: str, hint: str | None = None, exit_code: int = 2) -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint
        self.exit_code = exit_code
