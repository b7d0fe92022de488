"""Progress events: the library reports through these; only the CLI renders them."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class Event:
    # apply: image | run-start | run-line | run-end | verify | info | warning
    # upload: hash | noop | guard | check | dry-run | step | slot | retry | refresh-url | progress | done
    kind: str
    message: str
    run_id: str | None = None
    data: dict[str, Any] = field(default_factory=dict)


EventSink = Callable[[Event], None]


def ignore(_: Event) -> None:
    return None
