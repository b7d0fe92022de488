"""llama.cpp's OpenAI-compatible server (`llama-cpp-python[server]`) for the LLM tests and benches.

The server's wheel is built once (scripts/build-llm-test-server.sh, ~6.5 min on 2 cores)
into ~/.cache/mlperf-ops/wheelhouse-llm and installed from there into this interpreter.
"""

from __future__ import annotations

import contextlib
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import requests

REPO = Path(__file__).resolve().parents[2]
# Tiny tokenizers and the reference's scores on fixed predictions (tests/data/llm_scoring/NOTE.md).
SCORING_DATA = REPO / "tests" / "data" / "llm_scoring"


def llama_cpp_installed() -> bool:
    probe = [sys.executable, "-c", "import llama_cpp.server, gguf"]
    return subprocess.run(probe, capture_output=True).returncode == 0


def ensure_llama_cpp() -> None:
    """Install the server into this interpreter's venv unless it is there already."""
    if llama_cpp_installed():
        return
    venv = Path(sys.executable).parents[1]
    subprocess.run(["bash", str(REPO / "scripts/build-llm-test-server.sh"), str(venv)], check=True, timeout=1800)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


@contextlib.contextmanager
def serving(home: Path, model: Path, *extra: str) -> Iterator[str]:
    """llama.cpp's server on a free loopback port, until the block ends."""
    port = _free_port()
    log_path = home / f"server-{port}.log"
    with log_path.open("w") as log:
        proc = subprocess.Popen([sys.executable, "-m", "llama_cpp.server", "--model", str(model),
                                 "--host", "127.0.0.1", "--port", str(port), "--n_ctx", "2048", "--n_threads", "1",
                                 *extra], stdout=log, stderr=subprocess.STDOUT)
        url = f"http://127.0.0.1:{port}"
        try:
            deadline = time.monotonic() + 60
            while True:
                assert proc.poll() is None, log_path.read_text()[-2000:]
                try:
                    if requests.get(url + "/v1/models", timeout=2).status_code == 200:
                        break
                except requests.exceptions.ConnectionError:
                    pass
                assert time.monotonic() < deadline, "llama.cpp's server did not come up in 60 s"
                time.sleep(0.2)
            yield url
        finally:
            proc.terminate()
            try:
                proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
