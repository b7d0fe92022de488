"""What the chain model buys the llama3.1-8b tree test: requests/s of llama.cpp's real server.

    python bench/bench_llm_chain.py [--chain 400] [--random 40] [--concurrency 2]

Two llama.cpp servers (llama-cpp-python[server], one thread each, `--interrupt_requests
False`, as tests/test_llm_llama31_tree.py starts them) serve the tests' tiny models
(tests/support/llm_tiny_model.py): `write`'s random weights, which answer every request with
max_tokens=128 tokens, and `write_chain`'s, which answers `Done.` and `</s>` (five tokens).
Each request is the harness's: the official llama3.1-8b settings (max_tokens 128, greedy),
streamed, logprobs 1, usage in the stream, from `concurrency` threads in a process of their own.
Figure (alternating pairs, dist/bench.json):
  llm_chain_requests  requests/s on the chain model / requests/s on the random model (bar >= 5:
                      the tree's 13,368-sample runs must take minutes, not half an hour each).
                      Both absolute rates are kept beside it: the chain model's is the server's
                      own per-request cost, about 10 ms on 2 cores, which sets how long the
                      round's counts take with this server.
Without llama-cpp-python installed (scripts/build-llm-test-server.sh) it says so and exits 0.
"""

from __future__ import annotations

import argparse
import contextlib
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path

from figures import Figure, Noise, alternating_pairs, pair_count, report
from streaming_client import requests_per_second

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from tests.support import llm_tiny_model  # noqa: E402
from tests.support.llamacpp_server import llama_cpp_installed  # noqa: E402

# The official llama3.1-8b generation settings, as the harness sends them.
_BODY = {"model": "m", "max_tokens": 128, "temperature": 0.0, "top_p": 1.0, "min_tokens": 1, "top_k": 1,
         "seed": 42, "logprobs": 1, "stream_options": {"include_usage": True}}


def rate(url: str, count: int, concurrency: int) -> float:
    return requests_per_second(url, count, concurrency, _BODY, "Summarize article {i}: the quick brown fox")


@contextlib.contextmanager
def serving(home: Path, model: Path) -> Iterator[str]:
    from tests.support.llamacpp_server import serving as llama_serving

    with llama_serving(home, model, "--interrupt_requests", "False") as url:
        yield url


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--chain", type=int, default=400, help="requests per measurement, chain model")
    parser.add_argument("--random", type=int, default=40, help="requests per measurement, random model")
    parser.add_argument("--concurrency", type=int, default=2)
    args = parser.parse_args()
    if not llama_cpp_installed():
        print("bench_llm_chain: skipped: llama-cpp-python[server] is not installed "
              "(bash scripts/build-llm-test-server.sh .venv)")
        return 0
    with tempfile.TemporaryDirectory(prefix="bench-llm-chain-") as tmp:
        home = Path(tmp)
        chain = llm_tiny_model.write_chain(home / "chain.gguf")
        random = llm_tiny_model.write(home / "random.gguf")
        with serving(home, random) as random_url, serving(home, chain) as chain_url:
            noise = Noise()
            pairs = alternating_pairs(lambda: rate(random_url, args.random, args.concurrency),
                                      lambda: rate(chain_url, args.chain, args.concurrency), pair_count(), noise)
    chain_rates = sorted(c for _, c in pairs)
    random_rates = sorted(r for r, _ in pairs)
    chain_rate, random_rate = chain_rates[len(pairs) // 2], random_rates[len(pairs) // 2]
    print(f"llama.cpp server, chain model (5 tokens)    : {chain_rate:8.1f} requests/s ({1000 / chain_rate:.1f} ms)")
    print(f"llama.cpp server, random model (128 tokens) : {random_rate:8.1f} requests/s ({1000 / random_rate:.1f} ms)")
    report(Figure("llm_chain_requests", [c / r for r, c in pairs], bar=5.0, higher_is_better=True, noise=noise,
                  what="llama.cpp server requests/s: chain model (5 tokens) / random model (128 tokens)",
                  extra={"chain_rps": round(chain_rate, 1), "random_rps": round(random_rate, 1),
                         "concurrency": args.concurrency}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
