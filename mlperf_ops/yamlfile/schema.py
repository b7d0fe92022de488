"""JSON Schema problems a person can act on: positioned, with did-you-mean, values shortened."""

from __future__ import annotations

import difflib
import json
from functools import cache
from importlib import resources
from typing import TYPE_CHECKING, Any

from mlperf_ops.core.errors import Problem
from mlperf_ops.core.shorten import shorten
from mlperf_ops.yamlfile.source import SourceDoc
from mlperf_ops.yamlfile import validmemo

if TYPE_CHECKING:
    from jsonschema.exceptions import ValidationError

# difflib compares every pair of characters; a misspelt key is never this long.
_MAX_GUESS = 100


@cache
def packaged_schema(package: str, name: str) -> dict[str, Any]:
    """A JSON Schema shipped inside the package (read once per process)."""
    schema: dict[str, Any] = json.loads(resources.files(package).joinpath(name).read_text("utf-8"))
    return schema


def did_you_mean(word: str, choices: list[str] | tuple[str, ...]) -> str | None:
    if not isinstance(word, str) or len(word) > _MAX_GUESS:
        return None
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
        # Same depth: the branch whose type matched says what is wrong ("at least 1, got 0")
        # better than "is not any of the allowed forms".
        typed = [e for e in error.context if e.validator != "type"]
        if len(typed) == 1:
            return _leaf_errors(typed[0])
    return [error]


def _describe(error: ValidationError, doc: SourceDoc, example: str | None) -> Problem:
    path = tuple(error.absolute_path)
    validator = error.validator
    schema = error.schema if isinstance(error.schema, dict) else {}
    value = error.instance
    if validator == "additionalProperties" and isinstance(value, dict):
        allowed = sorted((schema.get("properties") or {}).keys())
        extras = [k for k in value if k not in allowed]
        key = str(extras[0]) if extras else "?"
        hint = did_you_mean(key, allowed) or (f"allowed keys: {', '.join(allowed)}" if allowed else None)
        return doc.problem((*path, key), f"unknown key {shorten(key)}", hint, key=True)
    if validator == "required":
        missing = str(error.message).split("'")[1] if "'" in error.message else "?"
        where = f" (see {example})" if example else ""
        return doc.problem(path, f"missing required key {missing!r}", f"add '{missing}:' here{where}")
    if validator == "enum":
        raw_options: Any = error.validator_value
        options = [str(o) for o in (raw_options if isinstance(raw_options, list) else [])]
        hint = did_you_mean(str(value), options) if isinstance(value, str) else None
        return doc.problem(path, f"{shorten(value)} is not one of {', '.join(options)}",
                           hint or f"one of: {', '.join(options)}")
    if validator == "const":
        return doc.problem(path, f"must be {error.validator_value!r}, got {shorten(value)}", schema.get("description"))
    if validator == "type":
        expected = error.validator_value
        expected_text = " or ".join(expected) if isinstance(expected, list) else str(expected)
        got = type(value).__name__ if value is not None else "null"
        return doc.problem(path, f"must be {expected_text}, got {got}", schema.get("description"))
    if validator == "pattern":
        return doc.problem(path, f"{shorten(value)} does not match the expected form {error.validator_value}",
                           schema.get("description"))
    if validator in ("minItems", "minProperties", "minLength"):
        return doc.problem(path, "must not be empty", schema.get("description"))
    if validator == "maxLength":
        return doc.problem(path, f"{shorten(value)} is longer than {error.validator_value} characters",
                           schema.get("description"))
    if validator == "minimum":
        return doc.problem(path, f"must be at least {error.validator_value}, got {shorten(value)}",
                           schema.get("description"))
    if validator == "exclusiveMinimum":
        return doc.problem(path, f"must be more than {error.validator_value}, got {shorten(value)}",
                           schema.get("description"))
    if validator == "maximum":
        return doc.problem(path, f"must be at most {error.validator_value}, got {shorten(value)}",
                           schema.get("description"))
    if validator == "maxProperties":
        return doc.problem(path, f"has more than {error.validator_value} key(s)", schema.get("description"))
    if validator == "uniqueItems":
        return doc.problem(path, "has duplicate entries")
    if validator in ("oneOf", "anyOf"):
        return doc.problem(path, f"{shorten(value)} is not any of the allowed forms", schema.get("description"))
    # jsonschema's own text quotes the whole instance: never print it.
    return doc.problem(path, f"fails the schema's {validator!r} rule", schema.get("description"))


def schema_problems(doc: SourceDoc, schema: dict[str, Any], *, example: str | None = None) -> list[Problem]:
    """Every schema violation in `doc`, each once, in document order of discovery."""
    memo = validmemo.key(schema, doc.data)
    if validmemo.known_valid(memo):  # accepted before: skip importing jsonschema at all
        return []
    import jsonschema

    validator = jsonschema.Draft202012Validator(schema)
    problems: list[Problem] = []
    seen: set[tuple[int, int, str, str]] = set()
    for error in validator.iter_errors(doc.data):
        for leaf in _leaf_errors(error):
            problem = _describe(leaf, doc, example)
            marker = (problem.line, problem.col, problem.path, problem.message)
            if marker not in seen:
                seen.add(marker)
                problems.append(problem)
    if not problems:
        validmemo.remember_valid(memo)
    return problems
