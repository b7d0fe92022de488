"""Where the project's folders are: manifests/, images/, pipelines/."""

from __future__ import annotations

import os
from pathlib import Path


def find_project_root(start: Path | None = None) -> Path:
    """The nearest ancestor of `start` (a manifest or a directory) holding `pipelines/` and `images/`.

    `MLPERF_OPS_PROJECT` overrides; the current directory is the fallback.
    """
    env = os.environ.get("MLPERF_OPS_PROJECT")
    if env:
        return Path(env).resolve()
    probe = (start or Path.cwd()).resolve()
    if probe.is_file() or not probe.exists():
        probe = probe.parent
    for candidate in (probe, *probe.parents):
        if (candidate / "pipelines").is_dir() and (candidate / "images").is_dir():
            return candidate
    return Path.cwd().resolve()
