"""What `preprocess` did, action by action: the tool never changes a tree silently."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any, Literal

Kind = Literal[
    "moved-to-open",  # a failed closed/network benchmark's results now stand in open
    "deleted-failed",  # a failed result removed
    "inferred-scenario",  # an edge scenario's folder copied from the run that stands for it
    "inferred-low-accuracy",  # a -99 benchmark copied from its -99.9 results
    "deleted-unused-system",  # systems/<id>.json of a system left without results
    "deleted-empty-dir",
]


@dataclass(frozen=True)
class Action:
    kind: Kind
    path: str  # relative to the output tree, "/"-separated
    detail: str

    def as_dict(self) -> dict[str, str]:
        return asdict(self)


@dataclass
class PreprocessReport:
    source: str
    output: str
    round: str
    actions: list[Action] = field(default_factory=list)
    # the check of the output: results accepted / refused, and whether it passes
    accepted: int = 0
    refused: int = 0
    ok: bool = False
    # what the check of the output says about the whole tree (e.g. "use --round v6.0")
    notes: list[str] = field(default_factory=list)

    def add(self, kind: Kind, path: str, detail: str) -> None:
        self.actions.append(Action(kind, path, detail))

    def as_dict(self) -> dict[str, Any]:
        return {
            "source": self.source,
            "output": self.output,
            "round": self.round,
            "actions": [a.as_dict() for a in self.actions],
            "check": {"ok": self.ok, "accepted": self.accepted, "refused": self.refused, "notes": self.notes},
        }
