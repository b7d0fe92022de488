"""Nodes to JSON-like data: what every file this tool reads is meant to hold.

PyYAML's SafeConstructor is safe against code execution but not against every value:
`2024-13-45` is a timestamp it raises ValueError on, a 5,000-digit integer trips
Python's int-parsing limit, and `1:2:3:…` over a megabyte is a base-60 number that takes
minutes to compute. Keys such as `on:` or `1:` become booleans and ints that later code
cannot sort or match. So: keys stay the text written, timestamps stay text, numbers
longer than any real setting are refused, and every failure carries the node's mark.
"""

from __future__ import annotations

from typing import Any

import yaml
from yaml.constructor import ConstructorError, SafeConstructor

# Longer than any real number (a float with 17 significant digits and an exponent is ~25).
MAX_NUMBER_TEXT = 100


class JsonConstructor(SafeConstructor):
    """SafeConstructor with string keys, text timestamps and bounded numbers."""

    def construct_mapping(self, node: yaml.MappingNode, deep: bool = False) -> dict[Any, Any]:
        self.flatten_mapping(node)  # merge keys (<<: *base) first, as SafeConstructor does
        mapping: dict[str, Any] = {}
        for key_node, value_node in node.value:
            if not isinstance(key_node, yaml.ScalarNode):
                raise ConstructorError(None, None, "a mapping key must be plain text", key_node.start_mark)
            mapping[str(key_node.value)] = self.construct_object(value_node, deep=deep)
        return mapping

    def construct_yaml_timestamp(self, node: yaml.ScalarNode) -> str:  # type: ignore[override]
        return str(node.value)

    def construct_yaml_int(self, node: yaml.ScalarNode) -> int:
        _check_length(node)
        try:
            return super().construct_yaml_int(node)
        except ValueError as error:
            raise ConstructorError(None, None, f"not a usable integer ({error})", node.start_mark) from None

    def construct_yaml_float(self, node: yaml.ScalarNode) -> float:
        _check_length(node)
        try:
            return super().construct_yaml_float(node)
        except (ValueError, OverflowError) as error:
            raise ConstructorError(None, None, f"not a usable number ({error})", node.start_mark) from None


def _check_length(node: yaml.ScalarNode) -> None:
    if len(node.value) > MAX_NUMBER_TEXT:
        raise ConstructorError(None, None, f"a number written with {len(node.value)} characters",
                               node.start_mark)


for _tag, _method in (("timestamp", JsonConstructor.construct_yaml_timestamp),
                     ("int", JsonConstructor.construct_yaml_int),
                     ("float", JsonConstructor.construct_yaml_float)):
    # add_constructor is a classmethod that copies the table: SafeConstructor is unchanged.
    JsonConstructor.add_constructor(f"tag:yaml.org,2002:{_tag}", _method)  # type: ignore[type-var]


def construct(node: yaml.Node) -> Any:
    """The data `node` stands for; `ConstructorError` (with a mark) when a value cannot be read."""
    return JsonConstructor().construct_document(node)
