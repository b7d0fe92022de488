"""Spread independent work over forked processes: `check` on a tree of hundreds of results.

A forked child starts with everything the parent has loaded (rules, imports, the jobs),
so only the answers cross a pipe, pickled. The answers come back in the order of the
items, whoever computed them, so a parallel check reports exactly what a serial one does.
Anything unusual (no fork on this platform, a process that already runs threads, a child
that fails or dies) computes the work in this process instead: slower, never different.
"""

from __future__ import annotations

import os
import threading
from typing import Callable, Sequence, TypeVar

T = TypeVar("T")
R = TypeVar("R")


def worker_count() -> int:
    """The processors this process may run on (2 on the bench machine)."""
    try:
        return len(os.sched_getaffinity(0))
    except (AttributeError, OSError):
        return os.cpu_count() or 1


def _shares(weights: Sequence[float], workers: int) -> list[list[int]]:
    """Item indexes per worker, heaviest first onto the least loaded (each share in order)."""
    loads = [0.0] * workers
    shares: list[list[int]] = [[] for _ in range(workers)]
    for index in sorted(range(len(weights)), key=lambda i: -weights[i]):
        least = loads.index(min(loads))
        shares[least].append(index)
        loads[least] += weights[index]
    return [sorted(share) for share in shares]


def fork_map(fn: Callable[[T], R], items: Sequence[T], weights: Sequence[float] | None = None,
             workers: int | None = None) -> list[R]:
    """[fn(item) for item in items], computed by up to `workers` processes.

    `fn` must not raise (catch and return what went wrong) and its results must pickle.
    """
    workers = min(worker_count() if workers is None else workers, len(items))
    if workers < 2 or not hasattr(os, "fork") or threading.active_count() > 1:
        return [fn(item) for item in items]  # forking a threaded process can deadlock the child
    import pickle  # only when forking

    shares = _shares(weights if weights is not None else [1.0] * len(items), workers)
    children: list[tuple[int, int, list[int]]] = []
    for share in shares[1:]:
        read_fd, write_fd = os.pipe()
        pid = os.fork()
        if pid == 0:  # the child: compute its share, send it, leave without cleanup
            os.close(read_fd)
            code = 0
            try:
                payload = pickle.dumps([fn(items[i]) for i in share], protocol=pickle.HIGHEST_PROTOCOL)
                with os.fdopen(write_fd, "wb") as pipe:
                    pipe.write(payload)
            except BaseException:
                code = 1
            finally:
                os._exit(code)
        os.close(write_fd)
        children.append((pid, read_fd, share))
    results: list[R | None] = [None] * len(items)
    for i in shares[0]:
        results[i] = fn(items[i])
    for pid, read_fd, share in children:
        with os.fdopen(read_fd, "rb") as pipe:
            payload = pipe.read()
        _, status = os.waitpid(pid, 0)
        answers: list[R] | None = None
        if os.WIFEXITED(status) and os.WEXITSTATUS(status) == 0:
            try:
                answers = pickle.loads(payload)
            except Exception:
                answers = None
        if answers is None or len(answers) != len(share):
            answers = [fn(items[i]) for i in share]  # the child failed: do its share here
        for i, answer in zip(share, answers):
            results[i] = answer
    return results  # type: ignore[return-value]
