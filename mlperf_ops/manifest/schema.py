"""Tier 1 of manifest validation: the JSON Schema, with messages a person can act on."""

from __future__ import annotations

import difflib
import json
from functools import cache
from importlib import resources
from typing import Any

import jsonschema
from jsonschema.exceptions import ValidationError

from mlperf_ops.errors import Problem
from mlperf_ops.manifest.source import SourceDoc


@cache
def manifest_schema() -> dict[str, Any]:
    text = resources.files("mlperf_ops.manifest").joinpath("schema.json").read_text("utf-8")
    schema: dict[str, Any] = json.loads(text)
    return schema


def did_you_mean(word: str, choices: list[str] | tuple[str, ...]) -> str | None:
    match = difflib.get_close_matches(word, list(choices), n=1, cutoff=0.6)
    if not match:
        lowered = {c.lower(): c for c in choices}
        if word.lower() in lowered:
            match = [lowered[word.lower()]]
    return f"did you mean {match[0]!r}?" if match else None


def _leaf_errors(error: ValidationError) -> list[ValidationError]:
    """anyOf/oneOf errors hide the useful ones in `context`; pick the deepest branch."""
    if error.validator in ("anyOf", "oneOf") and error.context:
        best = max(error.context, key=lambda e: len(e.absolute_path))
        if any(len(e.absolute_path) > len(error.absolute_path) for e in error.context):
            return _leaf_errors(best)
    return [error]


def _describe(error: ValidationError, doc: SourceDoc) -> Problem:
    path = tuple(error.absolute_path)
    validator = error.validator
    schema = error.schema if isinstance(error.schema, dict) else {}
    if validator == "additionalProperties" and isinstance(error.instance, dict):
        allowed = sorted((schema.get("properties") or {}).keys())
        extras = [k for k in error.instance if k not in allowed]
        key = str(extras[0]) if extras else "?"
        hint = did_you_mean(key, allowed) or (f"allowed keys: {', '.join(allowed)}" if allowed else None)
        return doc.problem((*path, key), f"unknown key {key!r}", hint, key=True)
    if validator == "required":
        missing = str(error.message).split("'")[1] if "'" in error.message else "?"
        return doc.problem(path, f"missing required key {missing!r}",
                           f"add '{missing}:' here (see manifests/demo.yaml)")
    if validator == "enum":
        raw_options: Any = error.validator_value
        options = [str(o) for o in (raw_options if isinstance(raw_options, list) else [])]
        hint = did_you_mean(str(error.instance), options) or f"one of: {', '.join(options)}"
        return doc.problem(path, f"{error.instance!r} is not one of {', '.join(options)}", hint)
    if validator == "const":
        return doc.problem(path, f"must be {error.validator_value!r}, got {error.instance!r}",
                           "this tool reads manifest format version 1")
    if validator == "type":
        expected = error.validator_value
        expected_text = " or ".join(expected) if isinstance(expected, list) else str(expected)
        got = type(error.instance).__name__ if error.instance is not None else "null"
        return doc.problem(path, f"must be {expected_text}, got {got}", None)
    if validator == "pattern":
        return doc.problem(path, f"{error.instance!r} does not match the expected form {error.validator_value}",
                           schema.get("description"))
    if validator in ("minItems", "minProperties"):
        return doc.problem(path, "must not be empty", schema.get("description"))
    if validator == "minimum":
        return doc.problem(path, f"must be at least {error.validator_value}, got {error.instance}")
    if validator == "uniqueItems":
        return doc.problem(path, "has duplicate entries")
    return doc.problem(path, error.message)


def schema_problems(doc: SourceDoc) -> list[Problem]:
    validator = jsonschema.Draft202012Validator(manifest_schema())
    problems: list[Problem] = []
    seen: set[tuple[int, int, str, str]] = set()
    for error in validator.iter_errors(doc.data):
        for leaf in _leaf_errors(error):
            problem = _describe(leaf, doc)
            marker = (problem.line, problem.col, problem.path, problem.message)
            if marker not in seen:
                seen.add(marker)
                problems.append(problem)
    return problems
