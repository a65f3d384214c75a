"""Background threads of the video pipeline: the detector beside the first pass's decoding,
the encoder beside the second pass's hiding.

Both sides spend their time in code that releases the GIL (FFmpeg in PyAV, LiteRT, OpenCV,
NumPy), so on two cores the detector runs while the next frames are decoded and their cut
thumbnails computed, and x264 is fed from its own thread while the next frame's faces are
hidden. Order is kept by the caller: results are taken from the futures in submission
order, and the encoder's tasks run on one thread, in order. At most ``depth`` tasks wait,
so memory stays a few frames.

The detector threads are shared by every run in the process (two of them: a LiteRT
interpreter belongs to one thread, so reusing threads reuses interpreters); a run's
detector may therefore be called from two threads at once, on different frames.
"""
from __future__ import annotations

import threading
import time
from collections import deque
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Callable

__all__ = ["Ordered", "detect_pool", "DETECT_THREADS"]

DETECT_THREADS = 2
_pool: ThreadPoolExecutor | None = None
_pool_lock = threading.Lock()


def detect_pool() -> ThreadPoolExecutor:
    """The process's detector threads (created on first use)."""
    global _pool
    with _pool_lock:
        if _pool is None:
            _pool = ThreadPoolExecutor(DETECT_THREADS, thread_name_prefix="video-detect")
        return _pool


class Ordered:
    """Tasks run on ``pool``; :meth:`submit` keeps at most ``depth`` unfinished ones, handing
    each finished one's ``(tag, result)`` to ``done`` in submission order; the time the caller
    spends waiting is charged by ``wait`` (a callable taking no argument, called after each
    wait). Leaving the ``with`` block by an exception cancels what has not started and waits
    for what has; a task's exception is raised in the caller at its turn."""

    def __init__(self, pool: ThreadPoolExecutor, depth: int,
                 done: Callable[[object, object], None] = lambda tag, result: None,
                 own_pool: bool = False):
        self.pool, self.depth, self.done, self.own_pool = pool, depth, done, own_pool
        self.pending: deque[tuple[object, Future]] = deque()

    def submit(self, tag, fn, *args) -> None:
        self.pending.append((tag, self.pool.submit(fn, *args)))
        self.settle(self.depth)

    def settle(self, limit: int = 0) -> None:
        """Hand over finished tasks in order, waiting while more than ``limit`` are
        unfinished."""
        while self.pending and (len(self.pending) > limit or self.pending[0][1].done()):
            tag, future = self.pending.popleft()
            self.done(tag, future.result())

    def __enter__(self):
        return self

    def __exit__(self, exc_type, exc, tb):
        if exc_type is not None:
            for _, future in self.pending:
                future.cancel()
            for _, future in self.pending:
                if not future.cancelled():
                    try:
                        future.result()
                    except BaseException:  # noqa: BLE001 - the first error is being raised
                        pass
            self.pending.clear()
        if self.own_pool:
            self.pool.shutdown(wait=True)


class Timed:
    """``Timed(fn, stages, cpu, stage)``: ``fn`` whose calls' wall-clock and thread CPU
    seconds add up in ``stages[stage]`` and ``cpu[stage]`` (from any thread)."""

    _lock = threading.Lock()

    def __init__(self, fn, stages: dict, cpu: dict, stage: str):
        self.fn, self.stages, self.cpu, self.stage = fn, stages, cpu, stage

    def __call__(self, *args):
        t, c = time.perf_counter(), time.thread_time()
        try:
            return self.fn(*args)
        finally:
            dt, dc = time.perf_counter() - t, time.thread_time() - c
            with self._lock:
                self.stages[self.stage] = self.stages.get(self.stage, 0.0) + dt
                self.cpu[self.stage] = self.cpu.get(self.stage, 0.0) + dc
