"""The harness's one error type (it runs inside images and cannot import mlperf_ops.core.errors)."""

from __future__ import annotations

import sys
from collections.abc import Callable


class HarnessError(Exception):
    """Bad input (exit 2 by default) or an operational failure (exit_code=1); printed, never a traceback."""

    def __init__(self, message: str, hint: str | None = None, exit_code: int = 2) -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint
        self.exit_code = exit_code


def run_reporting(command: Callable[[], int]) -> int:
    """Run a harness command the way the contract promises: its exit code; a HarnessError
    as one `error:` line (and a `hint:` line) on stderr with its code; Ctrl-C as 130."""
    try:
        return command()
    except HarnessError as exc:
        print(f"error: {exc.message}", file=sys.stderr, flush=True)
        if exc.hint:
            print(f"hint: {exc.hint}", file=sys.stderr, flush=True)
        return exc.exit_code
    except KeyboardInterrupt:
        return 130
