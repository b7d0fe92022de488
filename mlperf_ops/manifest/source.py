"""Read a YAML manifest and remember where every value came from.

PyYAML's composer gives each node a start mark; we keep a map from JSON path
(tuple of keys/indices) to (line, column) so every later problem — from the schema
or from the round's rules — can point at `file:line:col`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from mlperf_ops.errors import Problem

PathKey = tuple[str | int, ...]


@dataclass
class SourceDoc:
    """A parsed manifest plus the position of each path in its file."""

    file: str
    data: Any
    positions: dict[PathKey, tuple[int, int]] = field(default_factory=dict)
    key_positions: dict[PathKey, tuple[int, int]] = field(default_factory=dict)

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


def _index(
    node: yaml.Node, path: PathKey, doc: SourceDoc, problems: list[Problem]
) -> None:
    doc.positions[path] = _mark(node)
    if isinstance(node, yaml.MappingNode):
        seen: dict[str, int] = {}
        for key_node, value_node in node.value:
            key = str(key_node.value) if isinstance(key_node, yaml.ScalarNode) else "?"
            child = (*path, key)
            if key in seen:
                line, col = _mark(key_node)
                problems.append(
                    Problem(
                        doc.file, line, col, render_path(child),
                        f"duplicate key {key!r} (first at line {seen[key]})",
                        "YAML keeps only the last value; remove one of them",
                    )
                )
            else:
                seen[key] = _mark(key_node)[0]
            doc.key_positions[child] = _mark(key_node)
            _index(value_node, child, doc, problems)
    elif isinstance(node, yaml.SequenceNode):
        for i, item in enumerate(node.value):
            _index(item, (*path, i), doc, problems)


def read_source(path: Path, display: str | None = None) -> tuple[SourceDoc | None, list[Problem]]:
    """Parse `path`; return the document or the problems that stopped parsing."""
    name = display or str(path)

    def fail(message: str, hint: str | None = None, line: int = 1, col: int = 1) -> tuple[None, list[Problem]]:
        return None, [Problem(name, line, col, "", message, hint)]

    if path.is_dir():
        return fail("is a directory, not a manifest file", "pass a .yaml file, e.g. manifests/demo.yaml")
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        return fail("file not found", "check the path; manifests live under manifests/")
    except OSError as error:
        return fail(f"cannot read file: {error.strerror}")
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as error:
        line = raw[: error.start].count(b"\n") + 1
        return fail(f"not UTF-8 text (byte 0x{raw[error.start]:02x} at offset {error.start})",
                    "save the manifest as UTF-8", line=line)
    if not text.strip() or all(l.strip().startswith("#") or not l.strip() for l in text.splitlines()):
        return fail("the file is empty", "start from manifests/demo.yaml")
    loader = yaml.SafeLoader(text)
    try:
        node = loader.get_single_node()
        if node is None:
            return fail("the file holds no YAML document", "start from manifests/demo.yaml")
        doc = SourceDoc(file=name, data=None)
        problems: list[Problem] = []
        _index(node, (), doc, problems)
        doc.data = loader.construct_document(node)
    except yaml.MarkedYAMLError as error:
        mark = error.problem_mark or error.context_mark
        line, col = (mark.line + 1, mark.column + 1) if mark else (1, 1)
        message = f"YAML syntax error: {error.problem or error.context}"
        return fail(message, "check indentation and quoting near this line", line, col)
    except yaml.YAMLError as error:
        return fail(f"YAML error: {error}")
    finally:
        loader.dispose()
    if not isinstance(doc.data, dict):
        kind = type(doc.data).__name__
        return None, problems + [Problem(name, 1, 1, "", f"the top level must be a mapping, not {kind}",
                                         "a manifest starts with keys like 'version: 1' and 'round: v6.1'")]
    return doc, problems
