"""The LLM endpoint SUT's own cost, against an instant-answer OpenAI-compatible server.

    python bench/bench_llm_sut.py [--samples 400] [--concurrency 4]

The server is the stdlib stand-in of the tests (tests/support/llm_standin.py) answering every
request at once with 2 tokens, so what is measured is the client path: LoadGen, the SUT's
queue and threads, HTTP, SSE parsing, FirstTokenComplete/QuerySamplesComplete.
Figures (alternating pairs, dist/bench.json):
  llm_sut_offline   Offline queries/s of the harness / queries/s of a bare `requests` loop with
                    the same concurrency streaming the same answers (bar >= 0.8: LoadGen and the
                    SUT's bookkeeping cost at most ~20 % over the HTTP client itself). LoadGen's
                    null SUT (every sample answered at once, no HTTP) is reported beside it.
                    The SUT stops reading at [DONE] and so opens a new connection per request
                    (harness/llm/client.py says why), which the keep-alive loop does not: on an
                    instant server that alone costs ~20 % (measured 0.76-0.95 here); against an
                    LLM's hundreds of milliseconds per answer it is noise.
  llm_sut_ttft_ms   Server at a low fixed QPS: LoadGen's median TTFT in ms, i.e. the latency the
                    client path adds before the first token (bar <= 10 ms).
"""

from __future__ import annotations

import argparse
import re
import statistics
import sys
import tempfile
from pathlib import Path

from figures import Figure, Noise, alternating_pairs, pair_count, report
from streaming_client import requests_per_second

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from tests.support.llm_harness_run import run_harness, write_dataset  # noqa: E402
from tests.support.llm_standin import Standin  # noqa: E402

SERVER_QPS = 20


def client_floor(url: str, samples: int, concurrency: int) -> float:
    """Requests/s of `concurrency` threads streaming `samples` completions with requests, in a
    process of its own like the harness (sharing the stand-in server's GIL would slow it ~10x)."""
    return requests_per_second(url, samples, concurrency, {"max_tokens": 128}, "p")


def harness_offline(url: str, data: Path, samples: int, concurrency: int) -> float:
    with tempfile.TemporaryDirectory(prefix="bench-llm-") as tmp:
        run = run_harness(Path(tmp) / "Offline", url=url, dataset=data, scenario="Offline",
                          conf={"min_duration": 0, "min_query_count": samples, "offline_expected_qps": 1,
                                "performance_sample_count_override": 64},
                          extra_env={"MLPERF_LLM_CONCURRENCY": str(concurrency)})
        if run.code != 0:
            raise RuntimeError(run.stderr)
        return _value(run.summary(), r"Samples per second\s*:\s*([\d.]+)")


def harness_server_ttft_ms(url: str, data: Path, concurrency: int) -> float:
    with tempfile.TemporaryDirectory(prefix="bench-llm-") as tmp:
        run = run_harness(Path(tmp) / "Server", url=url, dataset=data, scenario="Server",
                          conf={"target_qps": SERVER_QPS, "min_duration": 3000, "min_query_count": 50,
                                "performance_sample_count_override": 64},
                          extra_env={"MLPERF_LLM_CONCURRENCY": str(concurrency)})
        if run.code != 0:
            raise RuntimeError(run.stderr)
        return _value(run.summary(), r"50\.00 percentile first token latency \(ns\)\s*:\s*(\d+)") / 1e6


def _value(summary: str, pattern: str) -> float:
    found = re.search(pattern, summary)
    if not found:
        raise RuntimeError(f"no {pattern!r} in the summary")
    return float(found.group(1))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--samples", type=int, default=400)
    parser.add_argument("--concurrency", type=int, default=4)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="bench-llm-data-") as tmp, Standin(tokens=2) as server:
        data = write_dataset(Path(tmp) / "dataset.json", [f"prompt {i}" for i in range(64)])
        noise = Noise()
        offline = alternating_pairs(lambda: client_floor(server.url, args.samples, args.concurrency),
                                    lambda: harness_offline(server.url, data, args.samples, args.concurrency),
                                    pair_count(), noise)
        ttft_noise = Noise()
        ttft = []
        for _ in range(pair_count()):
            ttft.append(harness_server_ttft_ms(server.url, data, args.concurrency))
            ttft_noise.sample()
    from bench_harness import measure_minimal

    null_sps = measure_minimal(min_duration_ms=1000)
    sut = statistics.median(s for _, s in offline)
    floor = statistics.median(b for b, _ in offline)
    print(f"endpoint SUT, instant server  Offline : {sut:10.0f} queries/s (median)")
    print(f"bare requests loop, same server        : {floor:10.0f} queries/s (median)")
    print(f"LoadGen null SUT (no HTTP)             : {null_sps:10.0f} queries/s")
    print(f"Server at {SERVER_QPS} QPS, median TTFT     : {statistics.median(ttft):10.2f} ms (median of runs)")
    report(Figure("llm_sut_offline", [s / b for b, s in offline], bar=0.8, higher_is_better=True, noise=noise,
                  what="Offline queries/s of the LLM endpoint SUT / a bare requests loop, instant stand-in server",
                  extra={"sut_qps": round(sut), "client_floor_qps": round(floor), "loadgen_null_qps": round(null_sps),
                         "sut_share_of_null": round(sut / null_sps, 5), "concurrency": args.concurrency}))
    report(Figure("llm_sut_ttft_ms", ttft, bar=10.0, higher_is_better=False, noise=ttft_noise,
                  what=f"Server at {SERVER_QPS} QPS, instant stand-in server: LoadGen's median TTFT (ms)"))
    return 0


if __name__ == "__main__":
    sys.exit(main())
