"""apply's live row (rich.progress): `[k of N] run  ━━━━╺━━  6.2 s / 10 s min  about 1 min left`.

Imported only on a terminal (rich costs ~25 ms); CI and pipes get the plain lines of
progress.py. The columns read the task's own clock, so the row moves between LoadGen's
output lines, which a quiet SUT may not print for minutes.
"""

from __future__ import annotations

from rich.console import Console
from rich.progress import Progress, ProgressColumn, SpinnerColumn, Task, TextColumn
from rich.progress_bar import ProgressBar
from rich.text import Text

from mlperf_ops.core.units import human_duration


class _ElapsedBar(ProgressColumn):
    """Elapsed time against the run's minimum duration (a pulse when it has none: accuracy)."""

    def render(self, task: Task) -> ProgressBar:
        minimum = task.fields.get("min_s")
        elapsed = task.elapsed or 0.0
        if not minimum:
            return ProgressBar(total=None, completed=0, width=24, pulse=True, animation_time=task.get_time())
        return ProgressBar(total=float(minimum), completed=min(elapsed, float(minimum)), width=24)


class _Timing(ProgressColumn):
    def render(self, task: Task) -> Text:
        elapsed = human_duration(task.elapsed or 0.0)
        minimum = task.fields.get("min_s")
        return Text(f"{elapsed} / {human_duration(float(minimum))} min" if minimum else elapsed)


class _Left(ProgressColumn):
    """What is left of this run's estimate, plus every pending run after it."""

    def render(self, task: Task) -> Text:
        after = task.fields.get("after_s")
        if after is None:
            return Text("")
        own = task.fields.get("own_s") or 0.0
        left = float(after) + max(float(own) - (task.elapsed or 0.0), 0.0)
        text = f"about {human_duration(left)} left"
        unknown = int(task.fields.get("unknown") or 0)
        if unknown:
            text += f" +{unknown} unknown"
        return Text(text, style="dim")


def live_progress(console: Console) -> Progress:
    return Progress(
        SpinnerColumn(), TextColumn("{task.fields[k]}", markup=False), _ElapsedBar(), _Timing(), _Left(),
        TextColumn("{task.description}", markup=False), console=console, transient=True,
        refresh_per_second=4,
    )
