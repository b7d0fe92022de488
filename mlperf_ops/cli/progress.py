"""Render library events: a live status line on a terminal, plain lines in CI and pipes."""

from __future__ import annotations

import sys
import time
from types import TracebackType

from typing import TYPE_CHECKING

import click

from mlperf_ops.cli.render import fancy
from mlperf_ops.events import Event

if TYPE_CHECKING:
    from rich.console import Console
    from rich.status import Status


class Progress:
    """An EventSink. Container output goes to its log file; only a tail shows here."""

    def __init__(self, *, verbose: bool = False) -> None:
        self.verbose = verbose
        self.live = fancy() and sys.stderr.isatty()
        self.console: Console | None = None
        if self.live:  # rich costs ~25 ms to import; CI, pipes and no-op runs print plain lines
            from rich.console import Console

            self.console = Console(stderr=True)
        self._status: Status | None = None
        self._current: str | None = None
        self._started = 0.0

    def __enter__(self) -> Progress:
        if self.console is not None:
            self._status = self.console.status("starting", spinner="dots")
            self._status.start()
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        if self._status is not None:
            self._status.stop()

    def _line(self, text: str) -> None:
        if self.console is not None:
            self.console.print(text, markup=False, highlight=False)
        else:
            click.echo(text, err=True)

    def __call__(self, event: Event) -> None:
        if event.kind == "run-start":
            self._current = event.run_id
            self._started = time.monotonic()
            index = event.data.get("index", "?")
            self._line(f"==> [{index}] {event.run_id} ({event.message})")
            self._update(f"{event.run_id}: starting")
        elif event.kind == "run-line":
            if self.verbose:
                self._line(f"    {event.message}")
            self._update(f"{event.run_id} [{time.monotonic() - self._started:5.1f} s] {event.message[:80]}")
        elif event.kind == "run-end":
            status = event.data.get("status", "?")
            seconds = event.data.get("duration_s")
            mark = "ok" if status == "done" else status.upper()
            self._line(f"    {mark}: {event.message} ({seconds} s)")
            if status != "done":
                self._line(f"    log: {event.data.get('log')}")
        elif event.kind == "image":
            stage = event.data.get("stage")
            if stage == "build" and not self.verbose:
                self._update(f"image {event.data.get('target')}: {event.message[:100]}")
                if event.message.startswith("building"):
                    self._line(f"==> {event.message}")
            else:
                self._line(f"==> image {event.data.get('target')}: {event.message}")
        elif event.kind == "verify":
            self._line(f"    verification: {event.message}")
        elif event.kind == "warning":
            self._line(f"WARNING: {event.message}")
        else:
            self._line(event.message)

    def _update(self, text: str) -> None:
        if self._status is not None:
            self._status.update(text)
