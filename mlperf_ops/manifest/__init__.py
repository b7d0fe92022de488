"""Manifests: read YAML with positions, validate in tiers, build the typed model.

Tier 1 is the JSON Schema, tier 2 the round's rules and the project (crosscheck), tier 3
the documents the manifest will put in the tree: systems/<id>.json and measurements.json
(documents). Each tier runs only when the one before found nothing: later tiers need
what earlier ones establish.
"""

from __future__ import annotations

from pathlib import Path

from mlperf_ops import secretscan
from mlperf_ops.core.errors import ManifestInvalid, Problem
from mlperf_ops.manifest.crosscheck import crosscheck
from mlperf_ops.manifest.model import Manifest, build_manifest
from mlperf_ops.manifest.schema import schema_problems
from mlperf_ops.manifest.source import read_source
from mlperf_ops.manifest.documents import HostFacts, document_problems
from mlperf_ops.core.project import find_project_root
from mlperf_ops.rules import load_rules

__all__ = ["HostFacts", "Manifest", "check_manifest", "load_manifest"]


def check_manifest(
    path: Path, project_root: Path | None = None, *, host_facts: HostFacts | None = None
) -> tuple[Manifest | None, list[Problem]]:
    """Validate one manifest; return the model (when the schema passed) and every problem.

    With `host_facts`, the tree's documents (system descriptions, measurements) are validated too.
    """
    display = str(path)
    doc, problems = read_source(path, display)
    if doc is None:
        return None, problems
    # Secrets are looked for whatever else is wrong: a token must not survive a typo elsewhere.
    leaks = secretscan.document_problems(doc)
    problems = problems + schema_problems(doc)
    if problems:
        return None, sorted(problems + leaks, key=lambda p: (p.line, p.col))
    manifest = build_manifest(doc.data, display)
    root = project_root or find_project_root(path)
    problems = leaks + crosscheck(doc, manifest, root)
    if host_facts is not None and not problems:
        problems.extend(document_problems(doc, manifest, load_rules(manifest.round), root / "images", host_facts))
    return manifest, problems


def load_manifest(path: Path, project_root: Path | None = None, *, host_facts: HostFacts | None = None) -> Manifest:
    """The validated manifest, or `ManifestInvalid` carrying every problem at once."""
    manifest, problems = check_manifest(path, project_root, host_facts=host_facts)
    if problems or manifest is None:
        raise ManifestInvalid(problems)
    return manifest
