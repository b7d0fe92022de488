"""The QSL (samples rendered per query into one reused buffer) and the SUT for every scenario.

LoadGen's "fast" SUT hands IssueQuery two plain lists (response ids, sample indices),
so no QuerySample objects are made per sample. SingleStream and MultiStream answer
inside IssueQuery (one backend call per query: lowest latency, no thread hop).
Offline and Server hand work to one worker thread that batches: Offline's single big
query is cut into chunks of `max_batch`; Server drains whatever has queued up, up to
`max_batch`, so batches grow only when the SUT falls behind.
"""

from __future__ import annotations

import queue
import threading
from typing import Any, Protocol

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

    def gather(self, indices: list[int]) -> np.ndarray | None:
        """The rendered batch for a query's samples (None when the backend reads no inputs).

        A Server query is one sample: checked with a scalar lookup, since each numpy call on
        a thread that has just woken up cost microseconds a minimal LoadGen loop does not pay."""
        mask = self.loaded_mask
        if len(indices) == 1:
            if not mask[indices[0]]:
                raise RuntimeError(f"LoadGen issued samples that are not loaded: {indices}")
            if not self.render:
                return None
            idx = np.asarray(indices, dtype=np.int64)
        else:
            idx = np.asarray(indices, dtype=np.int64)
            if len(idx) and not mask[idx].all():
                missing = idx[~mask[idx]][:5].tolist()
                raise RuntimeError(f"LoadGen issued samples that are not loaded: {missing}")
            if not self.render:
                return None
        assert self.eval_set is not None
        out = self.scratch[: len(idx)] if len(idx) <= len(self.scratch) else None
        return self.eval_set.render(idx, out=out)


class Sut:
    """Runs backend calls and completes responses; the scenario decides direct or queued issue.

    The issue thread (LoadGen's) only puts the query's two lists on a queue: no numpy there,
    so LoadGen's schedule is not held up. Responses point into one label buffer whose address
    is taken once; every batch is copied into it (one worker, and LoadGen copies the bytes it
    logs inside QuerySamplesComplete, so the buffer is free again when that returns).
    """

    def __init__(self, lg: Any, backend: Backend, store: SampleStore, max_batch: int, queued: bool) -> None:
        self.lg = lg
        self.backend = backend
        self.store = store
        self.max_batch = max(1, max_batch)
        self.completed = 0
        self.queued = queued
        self._queue: queue.SimpleQueue[tuple[list[int], list[int]] | None] = queue.SimpleQueue()
        self._worker: threading.Thread | None = None
        self._response = lg.QuerySampleResponse
        # One class index per sample, in the backend's type: int64 for the demo, float32 for
        # ResNet50 as the reference logs it.
        self._labels = np.zeros(self.max_batch, dtype=backend.response_dtype)
        self._base = self._labels.ctypes.data
        self._size = self._labels.itemsize
        if queued:
            self._worker = threading.Thread(target=self._work, name="harness-sut", daemon=True)
            self._worker.start()

    # LoadGen callbacks -------------------------------------------------------
    def issue(self, ids: list[int], indices: list[int]) -> None:
        if self.queued:
            self._queue.put((ids, indices))
        else:
            self._run_chunks(ids, indices)

    def flush(self) -> None:
        pass

    # --------------------------------------------------------------------------
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
        for start in range(0, len(ids), step):
            self._run(ids[start : start + step], indices[start : start + step])

    def _run(self, ids: list[int], indices: list[int]) -> None:
        count = len(ids)
        batch = self.store.gather(indices)
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
            # Server: take what else is already waiting (one consumer: not empty means a
            # get will not block), never wait for more.
            if len(ids) < self.max_batch and not work.empty():
                ids, indices = list(ids), list(indices)
                while len(ids) < self.max_batch and not work.empty():
                    more = work.get()
                    if more is None:
                        self._run_chunks(ids, indices)
                        return
                    ids += more[0]
                    indices += more[1]
            self._run_chunks(ids, indices)
