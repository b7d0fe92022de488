"""Requests/s of a plain streaming client against an OpenAI-compatible `/v1/completions`.

The LLM benches compare servers and the harness with this floor: `concurrency` threads, each
with its own `requests` session, stream `count` completions and read every event. It runs
in a process of its own (a server in the bench's process would share its GIL: ~10x slower).

    python bench/streaming_client.py URL COUNT CONCURRENCY BODY_JSON PROMPT   # prints requests/s

PROMPT may hold `{i}`, replaced by the request's number so prompts differ (no prompt cache).
"""

from __future__ import annotations

import json
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any


def requests_per_second(url: str, count: int, concurrency: int, body: dict[str, Any], prompt: str) -> float:
    """Run the client below in a fresh interpreter and return its requests/s."""
    proc = subprocess.run([sys.executable, str(Path(__file__).resolve()), url, str(count), str(concurrency),
                           json.dumps(body), prompt], capture_output=True, text=True, check=True)
    return float(proc.stdout.strip())


def _main(url: str, count: int, concurrency: int, body: dict[str, Any], prompt: str) -> float:
    import requests

    left, lock = [count], threading.Lock()

    def worker() -> None:
        with requests.Session() as session:
            while True:
                with lock:
                    if left[0] == 0:
                        return
                    left[0] -= 1
                    i = left[0]
                payload = {**body, "prompt": prompt.replace("{i}", str(i)), "stream": True}
                with session.post(url + "/v1/completions", json=payload, stream=True) as resp:
                    for line in resp.iter_lines():
                        if line == b"data: [DONE]":
                            break

    threads = [threading.Thread(target=worker) for _ in range(concurrency)]
    start = time.perf_counter()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return count / (time.perf_counter() - start)


if __name__ == "__main__":
    print(_main(sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), json.loads(sys.argv[4]), sys.argv[5]))
