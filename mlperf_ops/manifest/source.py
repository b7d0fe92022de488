"""Read a YAML manifest and remember where every value came from.

The reading itself is `mlperf_ops.yamlfile`, shared with the pipeline profiles and
image specs so every file a person edits gets the same hardened treatment; this module
only names the manifest's own wording (what the file is, which example to start from).
"""

from __future__ import annotations

from pathlib import Path

from mlperf_ops.core.errors import Problem
from mlperf_ops.yamlfile import PathKey, SourceDoc, read_yaml, render_path

__all__ = ["PathKey", "SourceDoc", "read_source", "render_path"]

EXAMPLE = "manifests/demo.yaml"


def read_source(path: Path, display: str | None = None) -> tuple[SourceDoc | None, list[Problem]]:
    """Parse `path`; return the document or the problems that stopped parsing."""
    return read_yaml(path, display, kind="manifest", example=EXAMPLE)
