"""The server before the run: wait until it answers, and say which server and model it is.

`/v1/models` is the health probe every OpenAI-compatible server has; its answer names the
model being served. The version comes from `/version` (vLLM) where the server has one. The
identity is written to the run's output (`llm_server.json`) so the record says what served it.
"""

from __future__ import annotations

import time
from dataclasses import asdict, dataclass
from typing import Any

from ..errors import HarnessError


@dataclass(frozen=True)
class Identity:
    url: str
    models: list[str]
    owned_by: str | None
    version: str | None
    server_header: str | None

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def wait_healthy(url: str, timeout_s: float, poll_s: float = 0.5) -> Identity:
    import requests

    base = url.rstrip("/")
    deadline = time.monotonic() + timeout_s
    last = "no answer yet"
    while True:
        try:
            resp = requests.get(base + "/v1/models", timeout=5)
            if resp.status_code == 200:
                return _identity(requests, base, resp)
            last = f"HTTP {resp.status_code}"
        except requests.exceptions.RequestException as exc:
            last = type(exc).__name__
        if time.monotonic() >= deadline:
            raise HarnessError(
                f"the LLM server at {base} was not healthy within {timeout_s:g} s ({last} from /v1/models)",
                hint="start the server first (in a container, the harness needs `container.network: host` "
                     "to reach one on this machine), or raise MLPERF_LLM_HEALTH_TIMEOUT_S", exit_code=1)
        time.sleep(poll_s)


def _identity(requests: Any, base: str, resp: Any) -> Identity:
    try:
        data = resp.json().get("data") or []
        models = [str(m.get("id")) for m in data if isinstance(m, dict) and m.get("id")]
        owned = next((str(m["owned_by"]) for m in data if isinstance(m, dict) and m.get("owned_by")), None)
    except (ValueError, AttributeError):
        raise HarnessError(f"{base}/v1/models did not answer an OpenAI model list", exit_code=1) from None
    version = None
    try:
        answer = requests.get(base + "/version", timeout=5)
        if answer.status_code == 200:
            version = str(answer.json().get("version") or "") or None
    except (requests.exceptions.RequestException, ValueError, AttributeError):
        pass  # not every server has /version; the model list is the identity that matters
    return Identity(url=base, models=models, owned_by=owned, version=version,
                    server_header=resp.headers.get("server"))
