"""Exception types shared by the library; the CLI maps each to an exit code.

The library never prints: it raises one of these (or yields events) and the CLI
renders them. The exit codes are listed in the README ("The verbs").
"""

from __future__ import annotations

from dataclasses import dataclass

EXIT_OK = 0
EXIT_OPERATIONAL = 1
EXIT_USAGE = 2
EXIT_CHECK_FAILED = 3
EXIT_PENDING = 4


class MlperfOpsError(Exception):
    """Base class. `hint` is a one-line tip shown under the message."""

    exit_code = EXIT_OPERATIONAL

    def __init__(self, message: str, hint: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint


class UsageError(MlperfOpsError):
    exit_code = EXIT_USAGE


class OperationalError(MlperfOpsError):
    """Build, run, engine or upload failed; retrying later may help."""

    exit_code = EXIT_OPERATIONAL


class EngineUnavailable(OperationalError):
    """The Docker engine does not answer."""


class CheckFailed(MlperfOpsError):
    exit_code = EXIT_CHECK_FAILED


@dataclass(frozen=True)
class Problem:
    """One finding in a manifest: rendered as `file:line:col: path: message` + hint."""

    file: str
    line: int
    col: int
    path: str
    message: str
    hint: str | None = None

    def __post_init__(self) -> None:
        # The last line of defence against printing a megabyte a user wrote: every message
        # that quotes a value shortens it, and no message or hint is longer than this.
        from mlperf_ops.core.shorten import clip

        object.__setattr__(self, "message", clip(self.message))
        if self.hint is not None:
            object.__setattr__(self, "hint", clip(self.hint))

    def render(self) -> str:
        text = f"{self.file}:{self.line}:{self.col}: {self.path or '<root>'}: {self.message}"
        if self.hint:
            text += f"\n    hint: {self.hint}"
        return text


class FileInvalid(UsageError):
    """Every problem found in a file a person edits (manifest, profile, image spec), reported together."""

    def __init__(self, problems: list[Problem], what: str = "file") -> None:
        super().__init__(f"{len(problems)} problem(s) in {what}")
        self.problems = problems


class ManifestInvalid(FileInvalid):
    """Every problem found in one or more manifests, reported together."""

    def __init__(self, problems: list[Problem]) -> None:
        super().__init__(problems, "manifest")
