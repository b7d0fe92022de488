"""The QSL (samples rendered per query into one reused buffer) and the SUT for every scenario.

LoadGen's "fast" SUT hands IssueQuery two plain lists (response ids, sample indices),
so no QuerySample objects are made per sample. How a query is answered (`IssueMode`):

- SingleStream, MultiStream: inside IssueQuery (one backend call per query: lowest
  latency, no thread hop).
- Offline: on one worker thread, its single big query cut into chunks of `max_batch`.
- Server: inside IssueQuery while the SUT keeps up (nothing in flight, nothing queued,
  and the query did not arrive sooner after the last answer than that answer took);
  otherwise on the worker thread, which drains whatever has queued up, up to
  `max_batch`. So batches form only when the SUT falls behind, and a SUT that keeps up
  pays no thread hop: handing each query to a worker cost ~20 % of LoadGen's own p99
  at 500 QPS with a no-op model (a minimal LoadGen loop, with and without the hop).
"""

from __future__ import annotations

import queue
import threading
import time
from collections.abc import Callable
from typing import Any, Literal, Protocol

import numpy as np

from .backends import Backend
from .dataset import CHANNELS, IMAGE_SIDE


class SampleSource(Protocol):
    """Where samples come from: the demo's digits (dataset.EvalSet) or ImageNet (imagenet.ImagenetSet)."""

    def load(self, indices: list[int]) -> None: ...

    def unload(self, indices: list[int]) -> None: ...

    def render(self, indices: np.ndarray, out: np.ndarray | None = None) -> np.ndarray: ...



class SampleStore:
    """Tracks what LoadGen has loaded; renders the NCHW input of a query into one reused buffer.

    The samples stay in their compact form (an 8x8 digit plus its augmentation) and are
    expanded to 3x224x224 when issued, into a scratch buffer that is reused for every
    query and so stays in cache. Holding 1,024 rendered samples instead (600 MB) made
    each run's speed depend on where the kernel placed those pages: the same run
    differed by up to 40 % from one process to the next, more than TEST01's tolerance.
    """

    def __init__(self, eval_set: SampleSource | None, total: int, capacity: int, render: bool, max_batch: int) -> None:
        self.eval_set = eval_set
        self.render = render and eval_set is not None
        self.total = total
        self.loaded_mask = np.zeros(total, dtype=bool)
        self.loaded = 0
        shape = (CHANNELS, IMAGE_SIDE, IMAGE_SIDE)
        self.scratch = np.empty((max_batch if self.render else 0, *shape), dtype=np.float32)

    def load(self, indices: list[int]) -> None:
        idx = np.asarray(indices, dtype=np.int64)
        if self.render:
            assert self.eval_set is not None
            self.eval_set.load(indices)  # ImageNet: decode now, outside the timed section
        self.loaded_mask[idx] = True
        self.loaded = int(self.loaded_mask.sum())

    def unload(self, indices: list[int]) -> None:
        idx = np.asarray(indices, dtype=np.int64)
        if self.eval_set is not None:
            self.eval_set.unload(indices)
        self.loaded_mask[idx] = False
        self.loaded = int(self.loaded_mask.sum())

    def check_loaded(self, idx: np.ndarray) -> None:
        """Raise if LoadGen issued a sample it has not loaded (one vectorised look-up)."""
        mask = self.loaded_mask
        if len(idx) and not mask[idx].all():
            missing = idx[~mask[idx]][:5].tolist()
            raise RuntimeError(f"LoadGen issued samples that are not loaded: {missing}")

    def gather(self, indices: list[int] | np.ndarray, checked: bool = False) -> np.ndarray | None:
        """The rendered batch for a query's samples (None when the backend reads no inputs).

        A Server query is one sample: checked with a scalar lookup, since each numpy call on
        a thread that has just woken up cost microseconds a minimal LoadGen loop does not pay.
        `checked`: the caller has already checked these indices (an Offline query is checked
        once as a whole, not once per chunk of `max_batch`)."""
        if len(indices) == 1 and not checked:
            if not self.loaded_mask[indices[0]]:
                raise RuntimeError(f"LoadGen issued samples that are not loaded: {list(indices)}")
            if not self.render:
                return None
            idx = np.asarray(indices, dtype=np.int64)
        else:
            idx = np.asarray(indices, dtype=np.int64)  # no copy for an int64 array
            if not checked:
                self.check_loaded(idx)
            if not self.render:
                return None
        assert self.eval_set is not None
        out = self.scratch[: len(idx)] if len(idx) <= len(self.scratch) else None
        return self.eval_set.render(idx, out=out)


IssueMode = Literal["direct", "queued", "server"]
ISSUE_MODES: dict[str, IssueMode] = {"SingleStream": "direct", "MultiStream": "direct", "Offline": "queued",
                                     "Server": "server"}


class Sut:
    """Runs backend calls and completes responses; the scenario's `IssueMode` decides where.

    A queued query costs LoadGen's issue thread only a put of its two lists: no numpy
    there, so LoadGen's schedule is not held up. Responses point into one label buffer
    whose address is taken once; every batch is copied into it. `_busy` lets one batch
    run at a time (the issue thread's or the worker's), and LoadGen copies the bytes it
    logs inside QuerySamplesComplete, so the buffer is free again when that returns.
    """

    def __init__(self, lg: Any, backend: Backend, store: SampleStore, max_batch: int, mode: IssueMode,
                 clock: Callable[[], float] = time.perf_counter) -> None:
        self.lg = lg
        self.backend = backend
        self.store = store
        self.max_batch = max(1, max_batch)
        self.completed = 0
        self.mode: IssueMode = mode
        self.queued = mode != "direct"
        self.answered_inline = 0  # Server queries answered on the issue thread (the rest were queued)
        self._busy = threading.Lock()
        # When the last batch finished and how long it took (`clock` seconds): a query that
        # arrives sooner after an answer than that answer took means a backlog is forming.
        self._clock = clock
        self._last_done = 0.0
        self._last_cost = 0.0
        self._queue: queue.SimpleQueue[tuple[list[int], list[int]] | None] = queue.SimpleQueue()
        self._worker: threading.Thread | None = None
        self._response = lg.QuerySampleResponse
        # One class index per sample, in the backend's type: int64 for the demo, float32 for
        # ResNet50 as the reference logs it.
        self._labels = np.zeros(self.max_batch, dtype=backend.response_dtype)
        self._base = self._labels.ctypes.data
        self._size = self._labels.itemsize
        if self.queued:
            self._worker = threading.Thread(target=self._work, name="harness-sut", daemon=True)
            self._worker.start()

    # LoadGen callbacks -------------------------------------------------------
    def issue(self, ids: list[int], indices: list[int]) -> None:
        if not self.queued:
            self._run_chunks(ids, indices)
        elif self.mode != "server" or not self._answered_inline(ids, indices):
            self._queue.put((ids, indices))

    def flush(self) -> None:
        pass

    # --------------------------------------------------------------------------
    def _answered_inline(self, ids: list[int], indices: list[int]) -> bool:
        """Server: answer on the issue thread if the SUT keeps up; False = queue it."""
        if not self._queue.empty() or not self._busy.acquire(blocking=False):
            return False  # a batch is in flight or waiting: join the queue, it may batch
        try:
            start = self._clock()
            if start - self._last_done < self._last_cost:
                return False  # arriving faster than answered: let the worker batch what piles up
            self._run_chunks(ids, indices)
            self._last_done = self._clock()
            self._last_cost = self._last_done - start
            self.answered_inline += 1
            return True
        finally:
            self._busy.release()

    def stop(self) -> None:
        if self._worker is not None:
            self._queue.put(None)
            self._worker.join()
            self._worker = None

    def _run_chunks(self, ids: list[int], indices: list[int]) -> None:
        step = self.max_batch
        if len(ids) <= step:
            self._run(ids, indices)
            return
        # Offline's one query: converted and checked once, then cut into views of `max_batch`
        # (per chunk, the conversion and the check cost as much as LoadGen's own completion).
        idx = np.asarray(indices, dtype=np.int64)
        self.store.check_loaded(idx)
        for start in range(0, len(ids), step):
            self._run(ids[start : start + step], idx[start : start + step], checked=True)

    def _run(self, ids: list[int], indices: list[int] | np.ndarray, checked: bool = False) -> None:
        count = len(ids)
        batch = self.store.gather(indices, checked)
        labels = self.backend.predict(batch, count)
        self._labels[:count] = labels if labels.ndim == 1 else labels.reshape(count)
        make, base, size = self._response, self._base, self._size
        self.lg.QuerySamplesComplete([make(rid, base + size * j, size) for j, rid in enumerate(ids)])
        self.completed += count

    def _work(self) -> None:
        work = self._queue
        while True:
            item = work.get()
            if item is None:
                return
            ids, indices = item
            with self._busy:
                start = self._clock()
                # Server: take what else is already waiting (one consumer: not empty means a
                # get will not block), never wait for more.
                stopping = False
                if len(ids) < self.max_batch and not work.empty():
                    ids, indices = list(ids), list(indices)
                    while len(ids) < self.max_batch and not work.empty():
                        more = work.get()
                        if more is None:
                            stopping = True
                            break
                        ids += more[0]
                        indices += more[1]
                self._run_chunks(ids, indices)
                self._last_done = self._clock()
                self._last_cost = self._last_done - start
            if stopping:
                return
