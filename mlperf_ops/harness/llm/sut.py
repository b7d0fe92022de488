"""The endpoint SUT: LoadGen queries become streamed requests, `concurrency` at a time.

Every sample goes into one queue that `concurrency` worker threads drain, each with its own
HTTP session (kept-alive connection). Offline's single query of every sample and Server's
queries one by one take the same path, so the number of requests the server sees in flight
never exceeds `concurrency` in either scenario.

TTFT and TPOT are LoadGen's own measurements: `FirstTokenComplete` is called the moment the
first token's event is parsed, `QuerySamplesComplete` with the token count when the stream
ends. Responses carry the token ids as int32 bytes, as the reference's SUT_VLLM.py and
SUT_API.py write them, so the accuracy log is what the official evaluation reads.

The first server fault stops the traffic: the rest of the samples are completed at once
without a request, so a broken server fails the run in seconds instead of timing out every
query in turn. The run is then failed by the runner with that first fault's reason.
"""

from __future__ import annotations

import array
import queue
import threading
import time
from dataclasses import dataclass, field
from typing import Any

from .client import API_PATHS, ServerFault, TokenDecoder, stream_completion
from .dataset import Prompts

# A faulted sample is still completed (LoadGen waits for every sample), with a token count
# LoadGen accepts: it logs an error for a count below 2, and its TPOT divides by count - 1.
_FAULT_TOKENS = [0, 0]


@dataclass
class Endpoint:
    url: str  # the server's base URL, e.g. http://127.0.0.1:8000
    model: str
    body: dict[str, Any]  # generation settings (settings.Generation.body()) and any extras
    decoder: TokenDecoder
    connect_timeout_s: float = 10.0
    read_timeout_s: float = 600.0
    api: str = "completions"  # client.API_MODES

    @property
    def completions_url(self) -> str:
        return self.url.rstrip("/") + API_PATHS[self.api]

    def request(self, prompt: str | list[int]) -> dict[str, Any]:
        if self.api == "chat":
            return {"model": self.model, "messages": [{"role": "user", "content": prompt}], **self.body}
        return {"model": self.model, "prompt": prompt, **self.body}


@dataclass
class Tally:
    completed: int = 0
    tokens: int = 0
    faults: int = 0
    first_fault: str | None = None
    first_fault_sample: int | None = None
    seconds_in_requests: float = 0.0
    lock: threading.Lock = field(default_factory=threading.Lock)


class EndpointSut:
    def __init__(self, lg: Any, endpoint: Endpoint, prompts: Prompts, concurrency: int) -> None:
        import requests

        self.lg = lg
        self.endpoint = endpoint
        self.prompts = prompts
        self.concurrency = max(1, concurrency)
        self.tally = Tally()
        self._queue: queue.SimpleQueue[tuple[int, int] | None] = queue.SimpleQueue()
        self._stopped = threading.Event()
        self._workers = [
            threading.Thread(target=self._work, args=(requests.Session(),), name=f"llm-sut-{i}", daemon=True)
            for i in range(self.concurrency)
        ]
        for worker in self._workers:
            worker.start()

    # LoadGen callbacks -------------------------------------------------------
    def issue(self, samples: list[Any]) -> None:
        for sample in samples:
            self._queue.put((sample.id, sample.index))

    def flush(self) -> None:
        pass

    # --------------------------------------------------------------------------
    def stop(self) -> None:
        for _ in self._workers:
            self._queue.put(None)
        for worker in self._workers:
            worker.join()

    def _work(self, session: Any) -> None:
        try:
            while True:
                item = self._queue.get()
                if item is None:
                    return
                self._serve(session, *item)
        finally:
            session.close()

    def _serve(self, session: Any, response_id: int, index: int) -> None:
        first_sent = False

        def first_token(ids: list[int]) -> None:
            nonlocal first_sent
            data = array.array("i", ids[:1])
            address, _ = data.buffer_info()
            # LoadGen copies the bytes before returning, so `data` may go after the call.
            self.lg.FirstTokenComplete([self.lg.QuerySampleResponse(response_id, address, data.itemsize)])
            first_sent = True

        if self.tally.first_fault is not None:
            self._complete_faulted(response_id, first_sent)
            return
        body = self.endpoint.request(self.prompts.prompt(index))
        started = time.monotonic()
        try:
            completion = stream_completion(
                session, self.endpoint.completions_url, body, self.endpoint.decoder, first_token,
                connect_timeout_s=self.endpoint.connect_timeout_s, read_timeout_s=self.endpoint.read_timeout_s,
                api=self.endpoint.api)
        except ServerFault as fault:
            with self.tally.lock:
                self.tally.faults += 1
                if self.tally.first_fault is None:
                    self.tally.first_fault = fault.reason
                    self.tally.first_fault_sample = index
            self._complete_faulted(response_id, first_sent)
            return
        data = array.array("i", completion.token_ids)
        address, length = data.buffer_info()
        self.lg.QuerySamplesComplete(
            [self.lg.QuerySampleResponse(response_id, address, length * data.itemsize, len(data))])
        with self.tally.lock:
            self.tally.completed += 1
            self.tally.tokens += len(data)
            self.tally.seconds_in_requests += time.monotonic() - started

    def _complete_faulted(self, response_id: int, first_sent: bool) -> None:
        data = array.array("i", _FAULT_TOKENS)
        address, length = data.buffer_info()
        if not first_sent:
            # Completing a sample before its first token makes LoadGen read past its table.
            self.lg.FirstTokenComplete([self.lg.QuerySampleResponse(response_id, address, data.itemsize)])
        self.lg.QuerySamplesComplete(
            [self.lg.QuerySampleResponse(response_id, address, length * data.itemsize, len(data))])
        with self.tally.lock:
            self.tally.completed += 1
