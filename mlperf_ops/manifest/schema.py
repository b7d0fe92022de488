"""Tier 1 of manifest validation: the JSON Schema, with messages a person can act on."""

from __future__ import annotations

from typing import Any

from mlperf_ops.core.errors import Problem
from mlperf_ops.manifest.source import EXAMPLE, SourceDoc
from mlperf_ops.yamlfile.schema import did_you_mean, packaged_schema
from mlperf_ops.yamlfile.schema import schema_problems as _schema_problems

__all__ = ["did_you_mean", "manifest_schema", "schema_problems"]


def manifest_schema() -> dict[str, Any]:
    return packaged_schema("mlperf_ops.manifest", "schema.json")


def schema_problems(doc: SourceDoc) -> list[Problem]:
    return _schema_problems(doc, manifest_schema(), example=EXAMPLE)
