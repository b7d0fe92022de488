"""A benchmark's declared LLM server (`server:`), checked before anything runs.

The endpoint harness reaches the server over the network, and a harness container has no
network unless the system says so (`container.network`, default `none`): without this
check the run would wait out its health timeout and only then fail. Only the benchmarks
the endpoint harness has the official generation settings for can use it, unless the
benchmark runs a harness of its own (`command:`), which then reads the MLPERF_LLM_*
variables as it likes.

A `sidecar:` server is started by `apply` on a private network the harness joins instead of
`container.network`, so none of the URL's reachability rules apply to it; what must hold is
that exactly one of `url` and `sidecar` is given, and that a GPU request has GPUs to ask for.
"""

from __future__ import annotations

from urllib.parse import urlsplit

from mlperf_ops.core.errors import Problem
from mlperf_ops.harness.llm.settings import GENERATION
from mlperf_ops.manifest.model import LlmServer, Manifest, SystemSpec
from mlperf_ops.manifest.source import SourceDoc

LOOPBACK_HOSTS = ("127.0.0.1", "localhost", "::1", "[::1]")


def server_problems(doc: SourceDoc, manifest: Manifest, system_index: int, bench_index: int) -> list[Problem]:
    system = manifest.systems[system_index]
    bench = system.benchmarks[bench_index]
    if bench.server is None:
        return []
    where: tuple[str | int, ...] = ("systems", system_index, "benchmarks", bench_index, "server")
    problems: list[Problem] = []
    if bench.server.sidecar is not None or not bench.server.declared_url:
        problems.extend(_sidecar_problems(doc, system, bench.server, where))
    else:
        problems.extend(_url_problems(doc, system, bench.server.url, where))
    if not bench.command and bench.official not in GENERATION:
        problems.append(doc.problem(
            where, f"the LLM endpoint harness does not serve {bench.official!r}",
            f"it serves {', '.join(GENERATION)}; run your own harness with 'command:' for others", key=True))
    return problems


def _sidecar_problems(doc: SourceDoc, system: SystemSpec, server: LlmServer,
                      where: tuple[str | int, ...]) -> list[Problem]:
    sidecar = server.sidecar
    if sidecar is None:
        return [doc.problem(where, "the server needs either 'url' (a server that is already running) or "
                                   "'sidecar' (a server container apply starts)",
                            "e.g. sidecar: {image: vllm/vllm-openai:v0.8.5, port: 8000, command: [...]}",
                            key=True)]
    problems: list[Problem] = []
    if server.declared_url:
        problems.append(doc.problem(
            (*where, "url"), "give either 'url' or 'sidecar', not both: the harness reaches a sidecar at "
            f"{sidecar.url} on its private network", "remove 'url'", key=True))
    acc = system.accelerator
    if sidecar.gpus is not None and (acc is None or acc.vendor not in ("nvidia", "amd")):
        problems.append(doc.problem(
            (*where, "sidecar", "gpus"), "the sidecar asks for GPUs but the system declares no NVIDIA or AMD "
            "accelerator to take them from", "declare the system's 'accelerator:' (vendor nvidia or amd) "
            "or remove 'gpus'"))
    elif isinstance(sidecar.gpus, int) and acc is not None and sidecar.gpus > acc.count:
        problems.append(doc.problem(
            (*where, "sidecar", "gpus"), f"the sidecar asks for {sidecar.gpus} GPUs but the system has "
            f"{acc.count}", f"ask for at most {acc.count} (or 'all')"))
    return problems


def _url_problems(doc: SourceDoc, system: SystemSpec, url: str, where: tuple[str | int, ...]) -> list[Problem]:
    problems: list[Problem] = []
    network = system.container.network
    host = urlsplit(url).hostname or ""
    if network == "none":
        problems.append(doc.problem(
            (*where, "url"), f"the harness container has no network (container.network: none), so it cannot "
            f"reach {url}",
            "set 'container.network: host' for a server on this machine (or 'bridge' for one elsewhere), "
            "or let apply start the server as a 'sidecar'"))
    elif network == "bridge" and host in LOOPBACK_HOSTS:
        problems.append(doc.problem(
            (*where, "url"), f"{url} is the container's own loopback on a bridge network, not this "
            "machine's", "set 'container.network: host' to reach a server on this machine"))
    return problems
