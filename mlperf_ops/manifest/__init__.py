"""Manifests: read YAML with positions, validate in two tiers, build the typed model."""

from __future__ import annotations

from pathlib import Path

from mlperf_ops.errors import ManifestInvalid, Problem
from mlperf_ops.manifest.crosscheck import crosscheck
from mlperf_ops.manifest.model import Manifest, build_manifest
from mlperf_ops.manifest.schema import schema_problems
from mlperf_ops.manifest.source import read_source
from mlperf_ops.project import find_project_root

__all__ = ["Manifest", "check_manifest", "load_manifest"]


def check_manifest(path: Path, project_root: Path | None = None) -> tuple[Manifest | None, list[Problem]]:
    """Validate one manifest; return the model (when the schema passed) and every problem."""
    display = str(path)
    doc, problems = read_source(path, display)
    if doc is None:
        return None, problems
    problems = problems + schema_problems(doc)
    if problems:
        return None, problems
    manifest = build_manifest(doc.data, display)
    root = project_root or find_project_root(path)
    problems.extend(crosscheck(doc, manifest, root))
    return manifest, problems


def load_manifest(path: Path, project_root: Path | None = None) -> Manifest:
    """The validated manifest, or `ManifestInvalid` carrying every problem at once."""
    manifest, problems = check_manifest(path, project_root)
    if problems or manifest is None:
        raise ManifestInvalid(problems)
    return manifest
