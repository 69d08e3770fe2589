"""The bounded answer queue: how many questions run at once, how many may wait.

The server has two (see `qa.api.service`): the model queue described here, and the fast
lane (`settings.server.fast_workers`, `fast_max_queue`) that answers, without the model,
what needs none, so that off-topic refusals and quoted evidence never wait behind it.

Model calls are CPU-bound. On the reference machine (2 cores) llama.cpp already
uses both cores for one generation, so two generations at once take twice as
long each and neither finishes sooner: the default is one answer at a time
(`settings.server.workers = 1`). Bursts wait in a short FIFO queue
(`settings.server.max_queue`, default 8) and only while the expected wait, from
recent answer times, stays under `settings.server.max_wait_s` (default 60 s):
model answers took 4-68 s each under load on 2 cores (answer, judge, a streamed
follow-up's rewrite), so eight in line meant waits of up to 227 s (measured,
docs/performance.md). Beyond either bound a request is refused at once with 429
and a `Retry-After` estimated from those times, instead of piling up work that
clients will have given up on.

The pipeline runs in this module's own worker threads, never on the event
loop; a worker keeps its slot until the pipeline returns, even if the client
went away, so the CPU bound holds. A question still waiting when its client
disconnects is dropped without running.
"""

from __future__ import annotations

import asyncio
import contextlib
import math
import threading
import time
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

from qa.types import Answer

# Until the first answer is timed, Retry-After assumes this many seconds per answer.
DEFAULT_ANSWER_SECONDS = 10.0


class QueueFull(Exception):
    """Every worker is busy and the waiting queue is full; retry after `retry_after` seconds."""

    def __init__(self, retry_after: int) -> None:
        super().__init__(f"the server is busy answering other questions; retry in {retry_after} s")
        self.retry_after = retry_after


@dataclass
class Job:
    """One submitted question: its future, and when a worker started on it."""

    future: Future[Answer] = field(default_factory=Future)
    submitted: float = field(default_factory=time.perf_counter)
    started: float | None = None

    @property
    def waited_ms(self) -> float:
        """Time spent in the queue before a worker picked the question up."""
        return round(((self.started or self.submitted) - self.submitted) * 1000, 1)


class AnswerQueue:
    """At most `workers` answers run at once and at most `max_queue` more wait; see the module doc."""

    def __init__(self, workers: int, max_queue: int, max_wait_s: float | None = None) -> None:
        self.workers = workers
        self.max_queue = max_queue
        self.max_wait_s = max_wait_s
        self._executor = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="qa-answer")
        self._lock = threading.Lock()
        self._pending = 0  # running + waiting
        self._running = 0
        self._answer_s = DEFAULT_ANSWER_SECONDS
        self.closed = False

    def submit(self, work: Callable[[], Answer]) -> Job:
        """Queue `work`; raise `QueueFull` when the queue is full or the expected wait too long."""
        with self._lock:
            if self._pending >= self.workers + self.max_queue or self._wait_too_long():
                raise QueueFull(self._retry_after())
            self._pending += 1
        job = Job()
        try:
            job.future = self._executor.submit(self._run, job, work)
        except RuntimeError:  # shut down
            self._finished()
            raise
        # Also runs when a waiting job is cancelled, so the slot is always given back.
        job.future.add_done_callback(lambda _: self._finished())
        return job

    def _run(self, job: Job, work: Callable[[], Answer]) -> Answer:
        job.started = time.perf_counter()
        with self._lock:
            self._running += 1
        try:
            return work()
        finally:
            elapsed = time.perf_counter() - job.started
            with self._lock:
                self._running -= 1
                self._answer_s = 0.7 * self._answer_s + 0.3 * elapsed

    def _finished(self) -> None:
        with self._lock:
            self._pending -= 1

    def _expected_wait_s(self, ahead: int) -> float:
        """Seconds until `ahead` questions have finished, from recent answer times, spread over the workers."""
        return self._answer_s * ahead / self.workers

    def _wait_too_long(self) -> bool:
        """Whether a new question would wait more than `max_wait_s` before a worker is free for it."""
        ahead = self._pending - self.workers + 1  # questions that must finish first
        return self.max_wait_s is not None and ahead > 0 and self._expected_wait_s(ahead) > self.max_wait_s

    def _retry_after(self) -> int:
        """Seconds until a slot is likely free: the queue ahead, divided among the workers."""
        ahead = max(1, self._pending - self.workers + 1)
        return max(1, min(600, math.ceil(self._expected_wait_s(ahead))))

    def stats(self) -> dict[str, int]:
        with self._lock:
            return {
                "running": self._running,
                "waiting": self._pending - self._running,
                "workers": self.workers,
                "max_queue": self.max_queue,
            }

    def shutdown(self) -> None:
        """Drop waiting questions; a running one finishes in its thread."""
        self.closed = True
        self._executor.shutdown(wait=False, cancel_futures=True)


async def wait(job: Job) -> Answer:
    """Await a job from the event loop; cancelling the await cancels the job if it has not started."""
    return await asyncio.wrap_future(job.future)


def call_soon(loop: asyncio.AbstractEventLoop, callback: Callable[..., Any], *args: Any) -> None:
    """Schedule `callback` on `loop` from a worker thread; a closed loop (client gone) is ignored."""
    with contextlib.suppress(RuntimeError):
        loop.call_soon_threadsafe(callback, *args)
