"""YAML events to nodes, refusing what would make later steps run away.

PyYAML's own composer recurses once per nesting level (5,000 brackets are a
RecursionError), happily builds an alias that points into itself (every walk of the
data then recurses forever), and shares aliased nodes — so `a: &a [*b, *b, …]` ten
levels deep is a few hundred bytes of nodes and billions of values once anything walks
it as a tree, which validation does. This composer is a loop over the parser's events
(libyaml's when available: the parse is most of the time) that keeps, for every node,
the number of values it stands for once aliases are expanded, and stops at the first
node that goes over a limit — before a single Python object is constructed.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable, cast

import yaml
from yaml.resolver import Resolver

# A manifest is about eight levels deep and a few thousand values; these limits are far
# above any real file and far below what makes validation slow.
MAX_DEPTH = 64
MAX_VALUES = 50_000  # after alias expansion

try:  # libyaml parses about ten times faster; the pure-Python parser gives the same events
    from yaml._yaml import CParser as _Parser
except ImportError:  # pragma: no cover - depends on how PyYAML was built
    from yaml.loader import BaseLoader as _Parser  # type: ignore[assignment]


@dataclass
class Refused(Exception):
    """The document cannot be read safely; `line`/`col` are 1-based."""

    message: str
    hint: str
    line: int
    col: int


def _where(mark: Any) -> tuple[int, int]:
    # libyaml's marks and PyYAML's have the same line/column attributes, not the same type.
    return (mark.line + 1, mark.column + 1) if mark is not None else (1, 1)


class _Frame:
    """A collection being composed, with the values it holds so far."""

    __slots__ = ("node", "anchor", "size")

    def __init__(self, node: yaml.Node, anchor: str | None) -> None:
        self.node = node
        self.anchor = anchor
        self.size = 1


def compose(text: str) -> yaml.Node | None:
    """The single document in `text` as a node tree, or None for an empty stream.

    Raises `Refused` for limits and YAML's own `MarkedYAMLError` for syntax errors.
    """
    parser = _Parser(text)
    resolve = cast(Callable[[type[yaml.Node], str | None, Any], str], Resolver().resolve)
    anchors: dict[str, yaml.Node] = {}
    sizes: dict[int, int] = {}  # id(node) -> values it stands for, aliases expanded
    open_anchors: set[str] = set()
    stack: list[_Frame] = []
    pending_key: list[yaml.Node | None] = []  # per mapping frame: the key awaiting its value
    root: yaml.Node | None = None
    total = 0
    try:
        parser.get_event()  # StreamStart
        if parser.check_event(yaml.StreamEndEvent):
            return None
        parser.get_event()  # DocumentStart

        def attach(node: yaml.Node, size: int, mark: Any, *, alias: bool = False) -> None:
            nonlocal root, total
            total += size
            if total > MAX_VALUES:
                line, col = _where(mark)
                if alias:
                    raise Refused(f"aliases expand the document to more than {MAX_VALUES:,} values",
                                  "repeat fewer or smaller anchored values (&name … *name)", line, col)
                raise Refused(f"the document holds more than {MAX_VALUES:,} values",
                              "no file this tool reads needs that many; split it or remove what is unused",
                              line, col)
            if not stack:
                root = node
                return
            frame = stack[-1]
            frame.size += size
            if isinstance(frame.node, yaml.SequenceNode):
                frame.node.value.append(node)
                return
            assert isinstance(frame.node, yaml.MappingNode)
            key = pending_key[-1]
            if key is None:
                if not isinstance(node, yaml.ScalarNode):
                    line, col = _where(node.start_mark)
                    raise Refused("a mapping key must be plain text, not a list or mapping",
                                  "write the key as text, e.g. name:", line, col)
                pending_key[-1] = node
            else:
                frame.node.value.append((key, node))
                pending_key[-1] = None

        while not parser.check_event(yaml.DocumentEndEvent):
            event = parser.get_event()
            if isinstance(event, yaml.AliasEvent):
                if event.anchor in open_anchors:
                    line, col = _where(event.start_mark)
                    raise Refused(f"alias *{event.anchor} refers to a value that contains it (a recursive alias)",
                                  "an alias may only repeat a value defined before it, not one it is inside", line, col)
                if event.anchor not in anchors:
                    line, col = _where(event.start_mark)
                    raise Refused(f"alias *{event.anchor} names no anchor defined before it",
                                  f"define it first with &{event.anchor}", line, col)
                target = anchors[event.anchor]
                attach(target, sizes[id(target)], event.start_mark, alias=True)
            elif isinstance(event, yaml.ScalarEvent):
                tag = event.tag
                if tag is None or tag == "!":
                    tag = resolve(yaml.ScalarNode, event.value, event.implicit)
                scalar = yaml.ScalarNode(tag, event.value, cast(Any, event.start_mark), cast(Any, event.end_mark),
                                        style=event.style)
                sizes[id(scalar)] = 1
                if event.anchor is not None:
                    anchors[event.anchor] = scalar
                attach(scalar, 1, event.start_mark)
            elif isinstance(event, (yaml.SequenceStartEvent, yaml.MappingStartEvent)):
                if len(stack) >= MAX_DEPTH:
                    line, col = _where(event.start_mark)
                    raise Refused(f"nested more than {MAX_DEPTH} levels deep",
                                  "flatten the structure; no file this tool reads needs that depth", line, col)
                kind: type[yaml.SequenceNode] | type[yaml.MappingNode] = (
                    yaml.SequenceNode if isinstance(event, yaml.SequenceStartEvent) else yaml.MappingNode)
                tag = event.tag
                if tag is None or tag == "!":
                    tag = resolve(kind, None, event.implicit)
                node = kind(tag, [], cast(Any, event.start_mark), None, flow_style=event.flow_style)
                if event.anchor is not None:
                    anchors[event.anchor] = node
                    open_anchors.add(event.anchor)
                stack.append(_Frame(node, event.anchor))
                pending_key.append(None)
            elif isinstance(event, (yaml.SequenceEndEvent, yaml.MappingEndEvent)):
                frame = stack.pop()
                pending_key.pop()
                frame.node.end_mark = event.end_mark
                sizes[id(frame.node)] = frame.size
                if frame.anchor is not None:
                    open_anchors.discard(frame.anchor)
                # Its values were counted as they arrived; only the collection itself is new.
                total -= frame.size - 1
                attach(frame.node, frame.size, frame.node.start_mark)
        parser.get_event()  # DocumentEnd
        if not parser.check_event(yaml.StreamEndEvent):
            line, col = _where(getattr(parser.get_event(), "start_mark", None))
            raise Refused("the file holds more than one YAML document (a second '---')",
                          "keep one document per file", line, col)
        return root
    finally:
        parser.dispose()
