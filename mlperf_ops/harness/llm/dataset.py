"""The prompts: the benchmark's preprocessed data set file, read the way the reference reads it.

The reference loads it with pandas (`pd.read_json` for llama3.1-8b's JSON, a pickled
DataFrame for llama2-70b) and uses `input` (the prompt text) and `tok_input` (its token
ids) for the run, `output` (the reference answer) for scoring the accuracy run. This reads the JSON forms pandas writes and reads — a list of records, or
`{column: {row: value}}` — without pandas; a pickle must be converted to JSON first
(`df[["input", "tok_input", "output"]].to_json(path)`), since unpickling a file runs its code.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..errors import HarnessError

PROMPT_MODES = ("tokens", "text")


@dataclass(frozen=True)
class Prompts:
    """Row i's prompt as the request's `prompt` field: token ids (`tokens`) or text (`text`)."""

    items: list[str] | list[list[int]]
    mode: str

    def __len__(self) -> int:
        return len(self.items)

    def prompt(self, index: int) -> str | list[int]:
        return self.items[index]


def load(path: Path, mode: str) -> Prompts:
    if mode not in PROMPT_MODES:
        raise HarnessError(f"MLPERF_LLM_PROMPT={mode!r}", hint=f"one of {', '.join(PROMPT_MODES)}")
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise HarnessError(f"cannot read the data set {path}: {exc.strerror}") from exc
    except ValueError as exc:
        raise HarnessError(f"the data set {path} is not JSON: {exc}") from exc
    column = "tok_input" if mode == "tokens" else "input"
    values = _column(data, column, path)
    if not values:
        raise HarnessError(f"the data set {path} has no rows")
    if mode == "tokens":
        ids: list[list[int]] = []
        for i, value in enumerate(values):
            if not isinstance(value, list) or not value or not all(isinstance(t, int) for t in value):
                raise HarnessError(f"{path}: row {i}'s tok_input is not a list of token ids")
            ids.append(value)
        return Prompts(ids, mode)
    texts: list[str] = []
    for i, value in enumerate(values):
        if not isinstance(value, str) or not value:
            raise HarnessError(f"{path}: row {i}'s input is not a prompt text")
        texts.append(value)
    return Prompts(texts, mode)


def load_targets(path: Path) -> list[str]:
    """The `output` column: the reference answers the accuracy run is scored against."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise HarnessError(f"cannot read the data set {path}: {exc.strerror}") from exc
    except ValueError as exc:
        raise HarnessError(f"the data set {path} is not JSON: {exc}") from exc
    try:
        values = _column(data, "output", path)
    except HarnessError as exc:
        raise HarnessError(exc.message, hint="an accuracy run scores against the data set's `output` column "
                           "(the reference answers); convert it along with `input` and `tok_input`") from None
    for i, value in enumerate(values):
        if not isinstance(value, str):
            raise HarnessError(f"{path}: row {i}'s output is not a text")
    return list(values)


def _column(data: Any, column: str, path: Path) -> list[Any]:
    if isinstance(data, list):
        rows = [row.get(column) if isinstance(row, dict) else None for row in data]
        if any(value is None for value in rows):
            raise HarnessError(f"{path}: every record needs a {column!r} field")
        return rows
    if isinstance(data, dict) and isinstance(data.get(column), dict):
        cells: dict[str, Any] = data[column]
        try:
            order = sorted(cells, key=int)  # pandas writes row labels as strings: "0", "1", …
        except ValueError:
            raise HarnessError(f"{path}: the {column!r} column's row labels are not row numbers") from None
        return [cells[key] for key in order]
    raise HarnessError(
        f"{path} has no {column!r} column",
        hint="a list of records or pandas' {column: {row: value}} JSON with `input` and `tok_input`")
