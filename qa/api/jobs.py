"""The bounded answer queue: how many questions run at once, how many may wait.

The server has two (see `qa.api.service`): the model queue described here, and the fast
lane (`settings.server.fast_workers`, `fast_max_queue`) that answers, without the model,
what needs none, so that off-topic refusals and quoted evidence never wait behind it.

Model calls are CPU-bound. On the reference machine (2 cores) llama.cpp already
uses both cores for one generation, so two generations at once take twice as
long each and neither finishes sooner: the default is one answer at a time
(`settings.server.workers = 1`). Bursts wait in a short FIFO queue
(`settings.server.max_queue`, default 8) and only while the expected wait stays
under `settings.server.max_wait_s` (default 60 s): model answers took 4-68 s each
under load on 2 cores (answer, judge, a streamed follow-up's rewrite), so eight in line meant
waits of up to 227 s (measured, docs/performance.md). The expected wait is
cautious because answer times swing that much: each answer ahead is taken to be as
slow as the slowest of the last few, less what the running one has already spent.
(An average of recent times lagged: after a run of short answers it admitted
questions that then waited up to 150 s.) Beyond either bound a request is refused at
once with 429 and a `Retry-After` from the same estimate, instead of piling up work
that clients will have given up on.

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
from collections import deque
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

from qa.types import Answer

# Until the first answer is timed, each is assumed to take this long: cautious, since a model answer's
# p95 was 22 s on 2 cores (full bench, 2026-12-01) and with a first guess of 10 s a cold server admitted
# questions that then waited over 60 s (load test, docs/performance.md, "The wait estimate").
DEFAULT_ANSWER_SECONDS = 30.0
# The wait estimate takes each answer ahead to be as slow as the slowest of this many recent ones.
RECENT_ANSWERS = 8


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

    def __init__(
        self,
        workers: int,
        max_queue: int,
        max_wait_s: float | None = None,
        clock: Callable[[], float] = time.perf_counter,
    ) -> None:
        self.workers = workers
        self.max_queue = max_queue
        self.max_wait_s = max_wait_s
        self._clock = clock
        self._executor = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="qa-answer")
        self._lock = threading.Lock()
        self._pending = 0  # running + waiting
        self._running_since: dict[int, float] = {}  # id(job) -> when a worker started it
        self._recent_s: deque[float] = deque(maxlen=RECENT_ANSWERS)
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
        began = self._clock()
        with self._lock:
            self._running_since[id(job)] = began
        try:
            return work()
        finally:
            with self._lock:
                del self._running_since[id(job)]
                self._recent_s.append(self._clock() - began)

    def _finished(self) -> None:
        with self._lock:
            self._pending -= 1

    def _slow_answer_s(self) -> float:
        """How long an answer ahead is taken to run: the slowest recent one (a guess until one is timed)."""
        return max(self._recent_s, default=DEFAULT_ANSWER_SECONDS)

    def _expected_wait_s(self) -> float:
        """Seconds before a worker is free for a new question: the work ahead, spread over the workers."""
        if self._pending < self.workers:
            return 0.0
        answer_s, now = self._slow_answer_s(), self._clock()
        running = sum(max(0.0, answer_s - (now - began)) for began in self._running_since.values())
        waiting = self._pending - len(self._running_since)
        return (running + waiting * answer_s) / self.workers

    def _wait_too_long(self) -> bool:
        """Whether a new question would wait more than `max_wait_s` before a worker is free for it."""
        return self.max_wait_s is not None and self._expected_wait_s() > self.max_wait_s

    def _retry_after(self) -> int:
        """Seconds until a slot is likely free (at least one)."""
        return max(1, min(600, math.ceil(self._expected_wait_s())))

    def stats(self) -> dict[str, int]:
        with self._lock:
            running = len(self._running_since)
            return {
                "running": running,
                "waiting": self._pending - running,
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
