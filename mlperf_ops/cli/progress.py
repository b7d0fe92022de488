"""Render library events: a live status line on a terminal, plain lines in CI and pipes."""

from __future__ import annotations

import sys
import time
from types import TracebackType

from typing import TYPE_CHECKING

import click

from mlperf_ops.cli.render import fancy
from mlperf_ops.core.units import human_duration, humanize_ns
from mlperf_ops.core.events import Event

if TYPE_CHECKING:
    from rich.console import Console
    from rich.progress import Progress as RichProgress
    from rich.progress import TaskID


class Progress:
    """An EventSink. Container output goes to its log file; only a tail shows here."""

    def __init__(self, *, verbose: bool = False, live: bool = True) -> None:
        self.verbose = verbose
        # `live=False` (apply --json): plain lines only, nothing redrawn around the JSON.
        self.live = live and fancy() and sys.stderr.isatty()
        self.console: Console | None = None
        if self.live:  # rich costs ~25 ms to import; CI, pipes and no-op runs print plain lines
            from rich.console import Console

            self.console = Console(stderr=True)
        self._bar: RichProgress | None = None
        self._task: TaskID | None = None
        self._current: str | None = None
        self._started = 0.0

    def __enter__(self) -> Progress:
        if self.console is not None:
            from mlperf_ops.cli.progress_bar import live_progress

            self._bar = live_progress(self.console)
            self._task = self._bar.add_task("starting", total=None, k="", min_s=None, own_s=None,
                                            after_s=None, unknown=0)
            self._bar.start()
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        if self._bar is not None:
            self._bar.stop()

    def _line(self, text: str) -> None:
        if self.console is not None:
            self.console.print(text, markup=False, highlight=False)
        else:
            click.echo(text, err=True)

    def __call__(self, event: Event) -> None:
        if event.kind == "run-start":
            self._current = event.run_id
            self._started = time.monotonic()
            self._run_start(event)
        elif event.kind == "run-line":
            if self.verbose:
                self._line(f"    {event.message}")
            if self._bar is None:
                return
            self._update(f"{event.run_id}: {event.message[:60]}")
        elif event.kind == "run-end":
            status = event.data.get("status", "?")
            seconds = event.data.get("duration_s")
            mark = "ok" if status == "done" else status.upper()
            took = human_duration(float(seconds)) if isinstance(seconds, (int, float)) else "?"
            self._line(f"    {mark}: {humanize_ns(event.message)} ({took})")
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
            self._line(f"    verification: {humanize_ns(event.message)}")
        elif event.kind == "warning":
            self._line(f"WARNING: {humanize_ns(event.message)}")
        else:
            self._line(event.message)

    def _run_start(self, event: Event) -> None:
        """`==> [k of N] run (reason)`, then the live row: elapsed against the minimum, time left."""
        data = event.data
        index = int(data.get("index") or 0)
        # Runs started so far (retries count) plus those still pending after this one.
        total = index - 1 + int(data.get("pending") or 1)
        k = f"{index} of {total}"
        min_s, own_s, left_s = data.get("min_duration_s"), data.get("estimate_s"), data.get("remaining_s")
        unknown = int(data.get("remaining_unknown") or 0)
        minimum = f"at least {human_duration(min_s)}" if min_s else "no minimum duration"
        left = f"about {human_duration(left_s)} left" if isinstance(left_s, (int, float)) else ""
        if left and unknown:
            left += f" + {unknown} accuracy run(s) of unknown length"
        self._line(f"==> [{k}] {event.run_id} ({event.message}; {minimum}{'; ' + left if left else ''})")
        if self._bar is not None and self._task is not None:
            after = (left_s - (own_s or 0.0)) if isinstance(left_s, (int, float)) else None
            self._bar.reset(self._task, total=min_s, description=f"{event.run_id}: starting", k=f"[{k}]", min_s=min_s,
                            own_s=own_s, after_s=after, unknown=unknown)

    def _update(self, text: str) -> None:
        if self._bar is not None and self._task is not None:
            self._bar.update(self._task, description=text)
