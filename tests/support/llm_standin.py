"""A stdlib stand-in for an OpenAI-compatible server, for fault cases and a deliberately slow
server only (the harness's real-server tests use llama.cpp's server).

`Standin(fault=...)` serves /v1/models and streaming /v1/completions on 127.0.0.1 with
vLLM's `token_id:N` tokens. Faults: `slow_first` (sleeps before the first token), `drop`
(closes the connection mid-stream), `http500`, `wrong_count` (usage disagrees with the
stream); `ttft_s`/`tpot_s` make an otherwise correct but slow server.
"""

from __future__ import annotations

import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

MODEL = "standin-model"


class Standin:
    def __init__(self, fault: str = "", tokens: int = 8, ttft_s: float = 0.0, tpot_s: float = 0.0) -> None:
        self.fault, self.tokens, self.ttft_s, self.tpot_s = fault, tokens, ttft_s, tpot_s
        self.requests: list[dict[str, Any]] = []
        standin = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"
            # Many small writes per answer: without TCP_NODELAY each one after the first waits
            # for the client's delayed ACK (~40 ms), which real servers (uvicorn) do not do.
            disable_nagle_algorithm = True

            def log_message(self, *args: Any) -> None:
                pass

            def do_GET(self) -> None:
                if self.path != "/v1/models":
                    self.send_error(404)
                    return
                self._json(200, {"object": "list", "data": [{"id": MODEL, "owned_by": "standin"}]})

            def do_POST(self) -> None:
                body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                standin.requests.append(body)
                if standin.fault == "http500":
                    self._json(500, {"error": {"message": "model crashed"}})
                    return
                self.send_response(200)
                self.send_header("Content-Type", "text/event-stream")
                self.send_header("Transfer-Encoding", "chunked")
                self.end_headers()
                if standin.fault == "slow_first":
                    time.sleep(3.0)
                time.sleep(standin.ttft_s)
                n = standin.tokens
                for i in range(n):
                    if i:
                        time.sleep(standin.tpot_s)
                    if standin.fault == "drop" and i == n // 2:
                        self.wfile.write(b"5\r\ndata:")  # half a chunk, then the connection goes
                        self.wfile.flush()
                        self.close_connection = True
                        return
                    last = i == n - 1
                    self._event({"choices": [{"index": 0, "text": f"t{i} ",
                                              "logprobs": {"tokens": [f"token_id:{100 + i}"]},
                                              "finish_reason": "stop" if last else None}]})
                reported = n + 3 if standin.fault == "wrong_count" else n
                self._event({"choices": [], "usage": {"completion_tokens": reported}})
                self._chunk(b"data: [DONE]\n\n")
                self._chunk(b"")

            def _event(self, event: dict[str, Any]) -> None:
                self._chunk(b"data: " + json.dumps(event).encode() + b"\n\n")

            def _chunk(self, data: bytes) -> None:
                self.wfile.write(b"%x\r\n%s\r\n" % (len(data), data))
                self.wfile.flush()

            def _json(self, code: int, payload: dict[str, Any]) -> None:
                data = json.dumps(payload).encode()
                self.send_response(code)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        # A client that stops reading at [DONE] closes the connection under the handler: expected.
        self.httpd.handle_error = lambda request, client_address: None  # type: ignore[method-assign]
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}"
        self._thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)

    def __enter__(self) -> "Standin":
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()
