"""Connect the executor the environment chooses (executor.executor_from_env).

Apart from executor.py because both implementations import that contract: the one place
that names them both sits beside it, not inside it.
"""

from __future__ import annotations

from collections.abc import Mapping

from mlperf_ops.execute.executor import Executor, executor_from_env


def connect_from_env(environ: Mapping[str, str] | None = None) -> Executor:
    """The chosen executor, connected. Its module is imported here, on the first connection:
    `apply` connects only when a run is pending, so a no-op `apply` never loads the engine."""
    if executor_from_env(environ) == "local":
        from mlperf_ops.execute.local import LocalEngine

        return LocalEngine.connect()
    from mlperf_ops.execute.engine import Engine

    return Engine.connect()
