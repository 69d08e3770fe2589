"""Running one question for any endpoint: the answer cache, then two lanes, whole or streamed.

1. Cache: an answer verified earlier for the same normalised question and history, against
   the same index and answering version (`qa.cache`), is returned at once.
2. Fast lane: the pipeline runs under `without_model()` in a small pool of its own
   (`settings.server.fast_workers`). Off-topic refusals and quoted evidence need no model and
   finish here in milliseconds, whatever the model queue holds.
3. Model lane: a question that raised `ModelNeeded` goes to the bounded model queue
   (`qa.api.jobs`), the only place that answers 429 for being busy.

Streaming bridges two worlds: the pipeline runs in a worker thread and calls `on_text` with
pieces of the draft answer; each piece is handed to the event loop with
`call_soon_threadsafe` into an `asyncio.Queue`, which the response's async generator drains.
The job's completion is queued the same way, after the last piece, so the consumer sees:
delta*, then exactly one answer or error. While nothing arrives for
`settings.server.sse_keepalive_s` seconds (a question waiting in the queue), the consumer
gets a keep-alive instead, which the endpoints send as an SSE comment.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import AsyncIterator, Awaitable
from concurrent.futures import Future
from dataclasses import dataclass
from typing import Any, Literal, TypeVar

import anyio.to_thread
from litestar.connection import ASGIConnection

from qa.api.jobs import Job, call_soon, wait
from qa.api.runtime import Runtime
from qa.cache import CacheKey, cache_key
from qa.llm import GeneratorUnavailable
from qa.pipeline import ModelNeeded, Pipeline, without_model
from qa.store import IndexUnavailable
from qa.types import Answer, OnText, Timings, Turn

log = logging.getLogger("qa.api")

T = TypeVar("T")
Connection = ASGIConnection[Any, Any, Any, Any]
EventKind = Literal["delta", "answer", "error", "keepalive"]
Event = tuple[EventKind, Any]
Lane = Literal["cache", "fast", "model"]
KEEPALIVE: Event = ("keepalive", None)
# An SSE comment: clients ignore it; proxies with idle timeouts see traffic while an answer waits.
SSE_KEEPALIVE = b": keep-alive\n\n"


class ClientGone(Exception):
    """The client disconnected while its question was waiting or running."""


@dataclass
class Served:
    """How an answer was served: from the cache, the fast lane or the model queue."""

    lane: Lane
    job: Job | None = None
    cache_ms: float = 0.0


def _prepare(runtime: Runtime, question: str) -> tuple[Pipeline, str]:
    """The ready pipeline and the checked question (400 before taking a queue slot)."""
    pipeline = runtime.ready_pipeline()
    return pipeline, pipeline.check_question(question)


async def answer(
    runtime: Runtime, question: str, history: list[Turn] | None = None, connection: Connection | None = None
) -> tuple[Answer, Served]:
    """The whole answer, once verified."""
    pending = await Pending.start(runtime, question, history, connection)
    if pending.hit is not None:
        return pending.hit, pending.served
    job = pending.served.job
    assert job is not None
    result = await until_done_or_gone(wait(job), job, connection)
    log_answer(runtime, result, pending.served)
    return result, pending.served


class Pending:
    """One question on its way: a cache hit or fast answer (done), or a job in the model queue."""

    def __init__(self, runtime: Runtime, served: Served, events: asyncio.Queue[Event], hit: Answer | None) -> None:
        self.runtime = runtime
        self.served = served
        self.hit = hit
        self._events = events

    @classmethod
    async def start(
        cls,
        runtime: Runtime,
        question: str,
        history: list[Turn] | None = None,
        connection: Connection | None = None,
        stream: bool = False,
    ) -> Pending:
        """Look the question up, try the fast lane, else queue it for the model (`QueueFull` → 429).

        With `stream`, the model's draft comes as delta events (see `events()`).
        """
        pipeline, question = _prepare(runtime, question)
        events: asyncio.Queue[Event] = asyncio.Queue()
        key, cached, cache_ms = await _look_up(runtime, pipeline, question, history)
        if cached is not None:
            log_answer(runtime, cached, Served("cache", cache_ms=cache_ms))
            return cls(runtime, Served("cache", cache_ms=cache_ms), events, cached)
        if key is None or runtime.cache is None or not runtime.cache.needs_model(key):
            fast = runtime.fast_lane.submit(lambda: _answer_and_file(runtime, pipeline, key, question, history))
            try:
                result = await until_done_or_gone(wait(fast), fast, connection)
            except ModelNeeded:
                if key is not None and runtime.cache is not None:
                    runtime.cache.mark_needs_model(key)
            else:
                served = Served("fast", fast, cache_ms)
                log_answer(runtime, result, served)
                return cls(runtime, served, events, result)
        loop = asyncio.get_running_loop()

        def on_text(piece: str) -> None:
            call_soon(loop, events.put_nowait, ("delta", piece))

        job = runtime.queue.submit(
            lambda: _answer_and_file(runtime, pipeline, key, question, history, on_text if stream else None, True)
        )
        job.future.add_done_callback(lambda done: call_soon(loop, events.put_nowait, _final_event(done)))
        return cls(runtime, Served("model", job, cache_ms), events, None)

    async def next_event(self, keepalive_s: float) -> Event:
        """The next event, or `KEEPALIVE` after `keepalive_s` seconds without one."""
        if self.hit is not None:
            return ("answer", self.hit)
        try:
            return await asyncio.wait_for(self._events.get(), keepalive_s)
        except TimeoutError:
            return KEEPALIVE

    def cancel(self) -> None:
        """Drop the job if it still waits (no-op once running or done)."""
        if self.served.job is not None:
            self.served.job.future.cancel()


async def _look_up(
    runtime: Runtime, pipeline: Pipeline, question: str, history: list[Turn] | None
) -> tuple[CacheKey | None, Answer | None, float]:
    """The question's cache key, the cached answer if any, and how long the lookup took (ms)."""
    cache = runtime.cache
    if cache is None:
        return None, None, 0.0
    begun = time.perf_counter()
    # The fingerprint reads the store: off the event loop.
    fingerprint = await anyio.to_thread.run_sync(runtime.index_watch.fingerprint, pipeline)
    key = cache_key(fingerprint, runtime.answering_version(), question, history)
    found = cache.get(key)
    took = round((time.perf_counter() - begun) * 1000, 1)
    if found is None:
        return key, None, took
    timings = Timings(total_ms=took, cached=True)
    return key, found.model_copy(update={"question": question, "timings": timings}), took


def _answer_and_file(
    runtime: Runtime,
    pipeline: Pipeline,
    key: CacheKey | None,
    question: str,
    history: list[Turn] | None,
    on_text: OnText | None = None,
    model: bool = False,
) -> Answer:
    """Answer (in a lane's worker thread) and file the answer under `key`, unless the index changed meanwhile.

    Without `model` (the fast lane) the pipeline raises `ModelNeeded` when the question needs the model.
    """
    if model:
        result = pipeline.answer(question, history, on_text)
    else:
        with without_model():
            result = pipeline.answer(question, history)
    if key is not None and runtime.cache is not None and runtime.index_watch.fingerprint(pipeline) == key.fingerprint:
        runtime.cache.put(key, result)
    return result


async def until_done_or_gone(awaitable: Awaitable[T], job: Job, connection: Connection | None) -> T:
    """Await `awaitable`, but give up (and drop the job if it still waits) when the client disconnects.

    Without this a client that timed out would keep its place in the queue, and
    a burst of impatient retries would fill it with answers nobody reads.
    """
    task = asyncio.ensure_future(awaitable)
    if connection is None:
        return await task
    watcher = asyncio.ensure_future(_disconnected(connection))
    try:
        await asyncio.wait({task, watcher}, return_when=asyncio.FIRST_COMPLETED)
    finally:
        watcher.cancel()
    if task.done():
        return task.result()
    task.cancel()
    job.future.cancel()
    raise ClientGone


async def _disconnected(connection: Connection) -> None:
    # The body has been read, so the next ASGI message is the disconnect.
    while (await connection.receive())["type"] != "http.disconnect":
        pass


class AnswerStream:
    """An answer in progress: keep-alives while it waits, draft text pieces, then the final `Answer`."""

    def __init__(self, pending: Pending, keepalive_s: float) -> None:
        self.pending = pending
        self.keepalive_s = keepalive_s
        self._first: Event | None = None

    @property
    def served(self) -> Served:
        return self.pending.served

    @classmethod
    async def start(
        cls,
        runtime: Runtime,
        question: str,
        history: list[Turn] | None = None,
        connection: Connection | None = None,
        drafts: bool = True,
    ) -> AnswerStream:
        """Queue the question and wait for its first event, at most one keep-alive interval.

        A queue-full or bad question error, and one that comes within that interval (the
        model is unavailable), still becomes an HTTP status, not an event in a 200 stream;
        after it the stream starts, with keep-alive comments until the answer.
        `drafts=False` sends no delta events (the OpenAI endpoint sends only final text).
        """
        pending = await Pending.start(runtime, question, history, connection, stream=drafts)
        stream = cls(pending, runtime.settings.server.sse_keepalive_s)
        await stream._peek(connection)
        return stream

    async def _peek(self, connection: Connection | None) -> None:
        job = self.pending.served.job
        if self.pending.hit is not None or job is None:
            return
        try:
            first = await until_done_or_gone(self.pending.next_event(self.keepalive_s), job, connection)
        except asyncio.CancelledError:
            self.pending.cancel()
            raise
        if first[0] == "error":
            raise first[1]
        self._first = None if first == KEEPALIVE else first

    def timing(self) -> dict[str, str]:
        """A `Server-Timing` header when the answer is known before the stream starts, else nothing."""
        first = ("answer", self.pending.hit) if self.pending.hit is not None else self._first
        if first is None or first[0] != "answer":
            return {}
        return {"Server-Timing": server_timing(first[1], self.pending.served)}

    async def events(self) -> AsyncIterator[Event]:
        """Every event up to and including the answer or error, with keep-alives while waiting."""
        try:
            event = self._first or await self.pending.next_event(self.keepalive_s)
            while True:
                yield event
                if event[0] in ("answer", "error"):
                    if event[0] == "answer" and self.pending.served.lane == "model":
                        log_answer(self.pending.runtime, event[1], self.pending.served)
                    return
                event = await self.pending.next_event(self.keepalive_s)
        finally:
            self.pending.cancel()


def _final_event(done: Future[Answer]) -> Event:
    if done.cancelled():
        return ("error", asyncio.CancelledError())
    error = done.exception()
    return ("error", error) if error is not None else ("answer", done.result())


def stream_error(exc: BaseException) -> dict[str, Any]:
    """An error that happened after the stream had started, as an event body."""
    if isinstance(exc, GeneratorUnavailable):
        return {"error": f"the language model is unavailable: {exc}", "status": 503}
    if isinstance(exc, IndexUnavailable):
        return {"error": f"the index is unavailable: {exc}", "status": 503}
    log.error("qa: streamed answer failed", exc_info=exc)
    return {"error": "internal server error", "status": 500}


def server_timing(result: Answer, served: Served) -> str:
    """The `Server-Timing` header value: cache lookup (hit or miss), lane, queue wait, retrieval, generation, total."""
    t = result.timings
    hit = "hit" if served.lane == "cache" else "miss"
    waited = served.job.waited_ms if served.job is not None else 0.0
    return (
        f'cache;desc="{hit}";dur={served.cache_ms}, lane;desc="{served.lane}";dur=0, queue;dur={waited}, '
        f"retrieve;dur={t.retrieve_ms}, generate;dur={t.generate_ms}, total;dur={t.total_ms}"
    )


def log_answer(runtime: Runtime, result: Answer, served: Served) -> None:
    """One INFO line per answer; the texts only when `settings.server.log_text` is on."""
    waited = served.job.waited_ms if served.job is not None else 0.0
    log.info(
        "answer: mode=%s lane=%s language=%s citations=%d queue_ms=%.0f total_ms=%.0f",
        result.mode, served.lane, result.language, len(result.citations), waited, result.timings.total_ms,
    )  # fmt: skip
    if runtime.settings.server.log_text:
        log.info("question=%r answer=%r", result.question, result.answer)
