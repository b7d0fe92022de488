"""`validate` for any file a person edits: which kind a path is, and its problems.

A pipeline profile is a .yaml file in a `pipelines/` folder, an image spec a file named
`image.yaml`; everything else is a manifest. The three share one YAML reader, so a file
of any kind gets the same positions, limits and secret checks.
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from mlperf_ops.core.errors import FileInvalid, Problem
from mlperf_ops.stacks.images import check_image_spec
from mlperf_ops.manifest import HostFacts, check_manifest
from mlperf_ops.manifest.pipeline import check_profile

FileKind = Literal["manifest", "pipeline", "image"]

# Beyond this, more lines of output help nobody; the count still says how many there were.
MAX_SHOWN = 100


def kind_of(path: Path) -> FileKind:
    if path.name == "image.yaml":
        return "image"
    if path.parent.name == "pipelines" and path.suffix in (".yaml", ".yml"):
        return "pipeline"
    return "manifest"


def file_problems(path: Path, host_facts: HostFacts | None = None) -> list[Problem]:
    """Every problem in `path`; the files a manifest leans on (profiles, image specs) included."""
    kind = kind_of(path)
    try:
        if kind == "image":
            problems = check_image_spec(path, str(path))
        elif kind == "pipeline":
            problems = check_profile(path, str(path))[1]
        else:
            problems = check_manifest(path, host_facts=host_facts)[1]
    except FileInvalid as error:
        # A manifest is fine but an image spec or profile it uses is not: show where.
        problems = error.problems
    return sorted(problems, key=lambda p: (p.file != str(path), p.file, p.line, p.col))


def shown(problems: list[Problem]) -> list[Problem]:
    """The problems to print: all of them, up to MAX_SHOWN."""
    return problems[:MAX_SHOWN]
