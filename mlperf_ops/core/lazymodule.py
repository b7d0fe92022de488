"""Modules imported on first attribute use, for libraries most invocations never call.

`docker` and `requests` cost ~100 ms to import; a no-op `apply` (everything up to date)
never talks to the engine, yet `mlperf_ops.execute.engine` is on its import path. The stdlib's
`importlib.util.LazyLoader` defers executing the module until an attribute is read, so
`except docker.errors.NotFound:` and `docker.from_env()` work unchanged.
"""

from __future__ import annotations

import importlib.util
import sys
from types import ModuleType


def lazy_module(name: str) -> ModuleType:
    """`import name`, executed on first attribute access (top-level packages only:
    finding a submodule's spec would import its parent package at once)."""
    if name in sys.modules:
        return sys.modules[name]
    spec = importlib.util.find_spec(name)
    if spec is None or spec.loader is None:
        raise ModuleNotFoundError(f"No module named {name!r}", name=name)
    loader = importlib.util.LazyLoader(spec.loader)
    spec.loader = loader
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    loader.exec_module(module)
    return module
