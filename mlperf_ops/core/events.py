"""Progress events: the library reports through these; only the CLI renders them."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Literal, TypedDict

ApplyKind = Literal["image", "run-start", "run-line", "run-end", "verify", "info", "warning"]
UploadKind = Literal["hash", "noop", "guard", "check", "dry-run", "step", "slot", "retry", "refresh-url",
                     "progress", "done"]
EventKind = ApplyKind | UploadKind


class RunStartData(TypedDict, total=False):
    """`run-start`: where this run stands in the apply, and how long is left (estimate.run_start_data)."""

    index: int
    pending: int
    min_duration_s: float | None
    estimate_s: float | None
    remaining_s: float
    remaining_unknown: int


class RunEndData(TypedDict):
    """`run-end`: how the run ended and where its log is."""

    status: str
    duration_s: float
    log: str


class ImageData(TypedDict):
    """`image`: which image target, and the build stage it reached."""

    target: str
    stage: str


@dataclass(frozen=True)
class Event:
    kind: EventKind
    message: str
    run_id: str | None = None
    data: dict[str, Any] = field(default_factory=dict)


EventSink = Callable[[Event], None]


def ignore(_: Event) -> None:
    return None
