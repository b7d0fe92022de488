"""A benchmark's declared LLM server (`server:`), checked before anything runs.

The endpoint harness reaches the server over the network, and a harness container has no
network unless the system says so (`container.network`, default `none`): without this
check the run would wait out its health timeout and only then fail. Only the benchmarks
the endpoint harness has the official generation settings for can use it, unless the
benchmark runs a harness of its own (`command:`), which then reads the MLPERF_LLM_*
variables as it likes.
"""

from __future__ import annotations

from urllib.parse import urlsplit

from mlperf_ops.errors import Problem
from mlperf_ops.harness.llm.settings import GENERATION
from mlperf_ops.manifest.model import Manifest
from mlperf_ops.manifest.source import SourceDoc

LOOPBACK_HOSTS = ("127.0.0.1", "localhost", "::1", "[::1]")


def server_problems(doc: SourceDoc, manifest: Manifest, system_index: int, bench_index: int) -> list[Problem]:
    system = manifest.systems[system_index]
    bench = system.benchmarks[bench_index]
    if bench.server is None:
        return []
    where: tuple[str | int, ...] = ("systems", system_index, "benchmarks", bench_index, "server")
    problems: list[Problem] = []
    network = system.container.network
    host = urlsplit(bench.server.url).hostname or ""
    if network == "none":
        problems.append(doc.problem(
            (*where, "url"), f"the harness container has no network (container.network: none), so it cannot "
            f"reach {bench.server.url}",
            "set 'container.network: host' for a server on this machine (or 'bridge' for one elsewhere)"))
    elif network == "bridge" and host in LOOPBACK_HOSTS:
        problems.append(doc.problem(
            (*where, "url"), f"{bench.server.url} is the container's own loopback on a bridge network, not this "
            "machine's", "set 'container.network: host' to reach a server on this machine"))
    if not bench.command and bench.official not in GENERATION:
        problems.append(doc.problem(
            where, f"the LLM endpoint harness does not serve {bench.official!r}",
            f"it serves {', '.join(GENERATION)}; run your own harness with 'command:' for others", key=True))
    return problems
