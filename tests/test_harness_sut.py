"""Where the harness's SUT answers a query (issue thread or worker), and that every query
is answered exactly once whichever it is. LoadGen's side is recorded here (its two calls
the SUT makes); the real LoadGen runs of each scenario are in test_harness_runs.py.

No wall clock decides a test: the SUT reads a `ManualClock` that only the test and the
backend move, and the worker's first batch waits at a gate until the backlog is queued,
so a busy machine sees the same arrivals and the same batches as a quiet one."""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field

import numpy as np
import pytest

from mlperf_ops.harness.sut import ISSUE_MODES, SampleStore, Sut


@dataclass
class RecordingLoadGen:
    """The two LoadGen calls the SUT makes; each completion with the thread that made it."""

    completed: list[tuple[int, str]] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    @staticmethod
    def QuerySampleResponse(rid: int, address: int, size: int) -> int:  # noqa: N802 (LoadGen's name)
        return rid

    def QuerySamplesComplete(self, responses: list[int]) -> None:  # noqa: N802
        with self.lock:
            self.completed += [(rid, threading.current_thread().name) for rid in responses]


class ManualClock:
    """The SUT's clock (seconds): it moves only when `advance` is called."""

    def __init__(self) -> None:
        self.now = 1000.0
        self._lock = threading.Lock()

    def __call__(self) -> float:
        with self._lock:
            return self.now

    def advance(self, seconds: float) -> None:
        with self._lock:
            self.now += seconds


class TimedBackend:
    """Answers class 0, `seconds` later by the clock; records batch sizes and the most calls
    ever in flight. With a `gate`, a call on the worker thread waits for it first."""

    name = "timed"
    needs_inputs = False
    response_dtype = np.dtype(np.int64)

    def __init__(self, seconds: float, clock: ManualClock | None = None, gate: threading.Event | None = None) -> None:
        self.seconds = seconds
        self.clock = clock or ManualClock()
        self.gate = gate
        self.batches: list[int] = []
        self.in_flight = 0
        self.most_in_flight = 0
        self._lock = threading.Lock()

    def predict(self, batch: np.ndarray | None, count: int) -> np.ndarray:
        with self._lock:
            self.in_flight += 1
            self.most_in_flight = max(self.most_in_flight, self.in_flight)
            self.batches.append(count)
        if self.gate is not None and threading.current_thread().name == "harness-sut":
            assert self.gate.wait(timeout=60), "the test never opened the gate"
        self.clock.advance(self.seconds)
        time.sleep(0)  # let other threads in, as a real backend call would
        with self._lock:
            self.in_flight -= 1
        return np.zeros(count, dtype=np.int64)


def _sut(scenario: str, backend: TimedBackend, max_batch: int = 8) -> tuple[Sut, RecordingLoadGen]:
    lg = RecordingLoadGen()
    store = SampleStore(None, total=64, capacity=64, render=False, max_batch=max_batch)
    store.load(list(range(64)))
    return Sut(lg, backend, store, max_batch, ISSUE_MODES[scenario], clock=backend.clock), lg


def test_server_that_keeps_up_answers_on_the_issue_thread() -> None:
    backend = TimedBackend(0.0005)
    sut, lg = _sut("Server", backend)
    try:
        for rid in range(20):
            sut.issue([rid], [rid % 64])
            backend.clock.advance(0.005)  # 10x the answer's time between arrivals: the SUT keeps up
    finally:
        sut.stop()
    assert sorted(rid for rid, _ in lg.completed) == list(range(20))
    assert {thread for _, thread in lg.completed} == {threading.current_thread().name}
    assert sut.answered_inline == 20 and backend.batches == [1] * 20


def test_server_that_falls_behind_batches_on_the_worker_and_loses_nothing() -> None:
    gate = threading.Event()
    backend = TimedBackend(0.01, gate=gate)
    sut, lg = _sut("Server", backend, max_batch=8)
    try:
        for rid in range(60):  # back to back: the clock does not move between arrivals
            sut.issue([rid], [rid % 64])
        gate.set()  # the worker's first batch was held until the whole backlog had queued
    finally:
        sut.stop()
    assert sorted(rid for rid, _ in lg.completed) == list(range(60))  # each exactly once
    assert "harness-sut" in {thread for _, thread in lg.completed}
    assert max(backend.batches) > 1 and max(backend.batches) <= 8  # a backlog formed and was batched
    assert sut.answered_inline < 60
    assert backend.most_in_flight == 1  # the issue thread and the worker never predict at once


def test_server_with_several_issue_threads_runs_one_batch_at_a_time() -> None:
    # LoadGen's server_num_issue_query_threads: IssueQuery called from several threads at once
    backend = TimedBackend(0.001)
    sut, lg = _sut("Server", backend)
    barrier = threading.Barrier(4)

    def issuer(first: int) -> None:
        barrier.wait()
        for rid in range(first, first + 25):
            sut.issue([rid], [rid % 64])

    threads = [threading.Thread(target=issuer, args=(25 * i,)) for i in range(4)]
    try:
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
    finally:
        sut.stop()
    assert sorted(rid for rid, _ in lg.completed) == list(range(100))
    assert backend.most_in_flight == 1


@pytest.mark.parametrize("scenario, where", [("Offline", "harness-sut"), ("SingleStream", "MainThread"),
                                             ("MultiStream", "MainThread")])
def test_other_scenarios_answer_where_they_always_did(scenario: str, where: str) -> None:
    backend = TimedBackend(0.0)
    sut, lg = _sut(scenario, backend, max_batch=16)
    try:
        sut.issue(list(range(40)), list(range(40)))
    finally:
        sut.stop()
    assert sorted(rid for rid, _ in lg.completed) == list(range(40))
    assert {thread for _, thread in lg.completed} == {where}
    assert backend.batches == [16, 16, 8] and sut.answered_inline == 0


def test_a_query_with_a_sample_loadgen_did_not_load_is_refused_before_any_answer() -> None:
    backend = TimedBackend(0.0)
    lg = RecordingLoadGen()
    store = SampleStore(None, total=64, capacity=64, render=False, max_batch=16)
    store.load(list(range(40)))
    sut = Sut(lg, backend, store, 16, ISSUE_MODES["MultiStream"])  # answered in the caller: the error surfaces here
    with pytest.raises(RuntimeError, match=r"not loaded: \[45\]"):
        sut.issue(list(range(40)), [*range(39), 45])  # the bad sample sits in the last chunk
    assert lg.completed == [] and backend.batches == []
    with pytest.raises(RuntimeError, match=r"not loaded: \[50\]"):
        sut.issue([0], [50])  # one sample: the scalar look-up
