"""Read a YAML file a person edits and remember where every value came from.

The read never raises for bad input: whatever the bytes, the result is either the
document or positioned problems (`file:line:col`). The composer keeps a map from JSON
path (tuple of keys/indices) to (line, column) so every later problem — from a schema,
the round's rules or the secret detector — can point at its line.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from mlperf_ops.core.errors import Problem
from mlperf_ops.yamlfile.compose import Refused, compose
from mlperf_ops.yamlfile.construct import construct
from mlperf_ops.core.shorten import shorten
from mlperf_ops.yamlfile.text import decode, forbidden_character

PathKey = tuple[str | int, ...]

# Larger than any file this tool reads by a wide margin; reading stops here so that a
# wrong path (a dataset, a log) costs no time or memory.
MAX_BYTES = 4 * 1024 * 1024


@dataclass
class SourceDoc:
    """A parsed file plus the position of each path in it."""

    file: str
    data: Any
    positions: dict[PathKey, tuple[int, int]] = field(default_factory=dict)
    key_positions: dict[PathKey, tuple[int, int]] = field(default_factory=dict)
    text: str = ""

    def where(self, path: PathKey, *, key: bool = False) -> tuple[int, int]:
        """Closest known position of `path` (walking up to a parent when needed)."""
        table = self.key_positions if key else self.positions
        probe = tuple(path)
        while probe:
            if probe in table:
                return table[probe]
            if probe in self.positions:
                return self.positions[probe]
            probe = probe[:-1]
        return self.positions.get((), (1, 1))

    def problem(
        self, path: PathKey, message: str, hint: str | None = None, *, key: bool = False
    ) -> Problem:
        line, col = self.where(path, key=key)
        return Problem(self.file, line, col, render_path(path), message, hint)


def render_path(path: PathKey) -> str:
    out = ""
    for part in path:
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            out += ("." if out else "") + str(part)
    return out


def _mark(node: yaml.Node) -> tuple[int, int]:
    return node.start_mark.line + 1, node.start_mark.column + 1


def _index(node: yaml.Node, path: PathKey, doc: SourceDoc, problems: list[Problem]) -> None:
    """Record positions; recursion is bounded by the composer's depth limit."""
    doc.positions[path] = _mark(node)
    if isinstance(node, yaml.MappingNode):
        seen: dict[str, int] = {}
        for key_node, value_node in node.value:
            key = str(key_node.value)
            if key == "<<" and key_node.tag == "tag:yaml.org,2002:merge":
                continue  # merged keys are positioned where the anchor defined them
            child = (*path, key)
            if key in seen:
                line, col = _mark(key_node)
                problems.append(Problem(doc.file, line, col, render_path(child),
                                        f"duplicate key {shorten(key)} (first at line {seen[key]})",
                                        "YAML keeps only the last value; remove one of them"))
            else:
                seen[key] = _mark(key_node)[0]
            doc.key_positions[child] = _mark(key_node)
            _index(value_node, child, doc, problems)
        for key_node, value_node in node.value:
            if key_node.tag == "tag:yaml.org,2002:merge" and isinstance(value_node, yaml.MappingNode):
                _index_merged(value_node, path, doc, problems, seen)
    elif isinstance(node, yaml.SequenceNode):
        for i, item in enumerate(node.value):
            _index(item, (*path, i), doc, problems)


def _index_merged(node: yaml.MappingNode, path: PathKey, doc: SourceDoc, problems: list[Problem],
                  seen: dict[str, int]) -> None:
    """Keys a merge (<<: *base) brings in, unless the mapping sets them itself."""
    for key_node, value_node in node.value:
        key = str(key_node.value)
        if key not in seen:
            seen[key] = _mark(key_node)[0]
            doc.key_positions[(*path, key)] = _mark(key_node)
            _index(value_node, (*path, key), doc, problems)


def _syntax_message(problem: str, text: str, line: int, col: int) -> tuple[str, str]:
    """libyaml's wording, with the offending character named as PyYAML's own parser does."""
    hint = "check indentation and quoting near this line"
    if problem == "found character that cannot start any token":
        lines = text.splitlines()
        char = lines[line - 1][col - 1: col] if 0 < line <= len(lines) else ""
        if char:
            problem = f"found character {char!r} that cannot start any token"
            if char == "\t":
                hint = "indent with spaces; YAML does not allow tabs for indentation"
    return problem, hint


def read_yaml(path: Path, display: str | None = None, *, kind: str = "YAML file",
              example: str | None = None) -> tuple[SourceDoc | None, list[Problem]]:
    """Parse `path`; return the document (a mapping) or the problems that stopped reading.

    `kind` names the file in messages ("manifest", "pipeline profile"); `example` is a
    file to start from, for hints.
    """
    name = display or str(path)
    start_from = f"start from {example}" if example else None

    def fail(message: str, hint: str | None = None, line: int = 1, col: int = 1) -> tuple[None, list[Problem]]:
        return None, [Problem(name, line, col, "", message, hint)]

    if path.is_dir():
        return fail(f"is a directory, not a {kind}", f"pass a .yaml file{', e.g. ' + example if example else ''}")
    try:
        with path.open("rb") as handle:
            raw = handle.read(MAX_BYTES + 1)
    except FileNotFoundError:
        return fail("file not found", "check the path")
    except OSError as error:
        return fail(f"cannot read file: {error.strerror}")
    if len(raw) > MAX_BYTES:
        return fail(f"larger than {MAX_BYTES // (1024 * 1024)} MB; not a {kind}", "check the path")
    text, bad = decode(raw)
    if bad is not None or text is None:
        assert bad is not None
        return fail(bad.message, bad.hint, bad.line, bad.col)
    bad = forbidden_character(text)
    if bad is not None:
        return fail(bad.message, bad.hint, bad.line, bad.col)
    if all(not line.strip() or line.lstrip().startswith("#") for line in text.splitlines()):
        return fail("the file is empty", start_from)
    try:
        node = compose(text)
        if node is None:
            return fail("the file holds no YAML document", start_from)
        doc = SourceDoc(file=name, data=None, text=text)
        problems: list[Problem] = []
        _index(node, (), doc, problems)
        doc.data = construct(node)
    except Refused as refused:
        return fail(refused.message, refused.hint, refused.line, refused.col)
    except yaml.MarkedYAMLError as error:
        mark = error.problem_mark or error.context_mark
        line, col = (mark.line + 1, mark.column + 1) if mark else (1, 1)
        if isinstance(error, yaml.constructor.ConstructorError):
            return fail(f"cannot read this value: {error.problem or error.context}",
                        "these files hold plain text, numbers, lists and mappings (no !!tags; merge only mappings)", line, col)
        message, hint = _syntax_message(str(error.problem or error.context), text, line, col)
        return fail(f"YAML syntax error: {message}", hint, line, col)
    except yaml.YAMLError as error:  # unmarked: only reader errors, which text.py pre-empts
        return fail(f"YAML error: {error}")
    if not isinstance(doc.data, dict):
        kind_name = "nothing" if doc.data is None else type(doc.data).__name__
        return None, problems + [Problem(name, 1, 1, "", f"the top level must be a mapping, not {kind_name}",
                                         f"a {kind} is a mapping of keys to values" + (f"; see {example}" if example else ""))]
    return doc, problems
