"""Running one question through the queue, whole or streamed, for any endpoint.

Streaming bridges two worlds: the pipeline runs in a worker thread and calls
`on_text` with pieces of the draft answer; each piece is handed to the event
loop with `call_soon_threadsafe` into an `asyncio.Queue`, which the response's
async generator drains. The job's completion is queued the same way, after the
last piece, so the consumer sees: delta*, then exactly one answer or error.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Awaitable
from concurrent.futures import Future
from typing import Any, Literal, TypeVar

from litestar.connection import ASGIConnection

from qa.api.jobs import Job, call_soon, wait
from qa.api.runtime import Runtime
from qa.pipeline import Pipeline
from qa.types import Answer, Turn

log = logging.getLogger("qa.api")

T = TypeVar("T")
Connection = ASGIConnection[Any, Any, Any, Any]
EventKind = Literal["delta", "answer", "error"]
Event = tuple[EventKind, Any]


def _prepare(runtime: Runtime, question: str) -> tuple[Pipeline, str]:
    """The ready pipeline and the checked question (400 before taking a queue slot)."""
    pipeline = runtime.ready_pipeline()
    return pipeline, pipeline.check_question(question)


class ClientGone(Exception):
    """The client disconnected while its question was waiting or running."""


async def answer(
    runtime: Runtime, question: str, history: list[Turn] | None = None, connection: Connection | None = None
) -> tuple[Answer, Job]:
    """The whole answer, once verified."""
    pipeline, question = _prepare(runtime, question)
    job = runtime.queue.submit(lambda: pipeline.answer(question, history))
    result = await until_done_or_gone(wait(job), job, connection)
    log_answer(runtime, result, job)
    return result, job


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
    """An answer in progress: draft text pieces, then the authoritative final `Answer`."""

    def __init__(self, runtime: Runtime, job: Job, events: asyncio.Queue[Event]) -> None:
        self.runtime = runtime
        self.job = job
        self._events = events
        self._first: Event | None = None

    @classmethod
    async def start(
        cls, runtime: Runtime, question: str, history: list[Turn] | None = None, connection: Connection | None = None
    ) -> AnswerStream:
        """Queue the question and wait for its first event.

        Waiting for the first event means a queue-full, unavailable-model or bad
        question error still becomes an HTTP status, not an event in a 200 stream.
        """
        pipeline, question = _prepare(runtime, question)
        loop = asyncio.get_running_loop()
        events: asyncio.Queue[Event] = asyncio.Queue()

        def on_text(piece: str) -> None:
            call_soon(loop, events.put_nowait, ("delta", piece))

        job = runtime.queue.submit(lambda: pipeline.answer(question, history, on_text))
        job.future.add_done_callback(lambda done: call_soon(loop, events.put_nowait, _final_event(done)))
        stream = cls(runtime, job, events)
        await stream._peek(connection)
        return stream

    async def _peek(self, connection: Connection | None) -> None:
        try:
            self._first = await until_done_or_gone(self._events.get(), self.job, connection)
        except asyncio.CancelledError:
            self.job.future.cancel()
            raise
        kind, value = self._first
        if kind == "error":
            raise value

    async def events(self) -> AsyncIterator[Event]:
        """Every event, the first included, up to and including the answer or error."""
        try:
            event = self._first or await self._events.get()
            while True:
                yield event
                if event[0] != "delta":
                    if event[0] == "answer":
                        log_answer(self.runtime, event[1], self.job)
                    return
                event = await self._events.get()
        finally:
            self.job.future.cancel()  # no-op once running or done


def _final_event(done: Future[Answer]) -> Event:
    if done.cancelled():
        return ("error", asyncio.CancelledError())
    error = done.exception()
    return ("error", error) if error is not None else ("answer", done.result())


def server_timing(result: Answer, job: Job) -> str:
    """The `Server-Timing` header value: queue wait, retrieval, generation and total, in ms."""
    t = result.timings
    return (
        f"queue;dur={job.waited_ms}, retrieve;dur={t.retrieve_ms}, generate;dur={t.generate_ms}, total;dur={t.total_ms}"
    )


def log_answer(runtime: Runtime, result: Answer, job: Job) -> None:
    """One INFO line per answer; the texts only when `settings.server.log_text` is on."""
    log.info(
        "answer: mode=%s language=%s citations=%d queue_ms=%.0f total_ms=%.0f",
        result.mode, result.language, len(result.citations), job.waited_ms, result.timings.total_ms,
    )  # fmt: skip
    if runtime.settings.server.log_text:
        log.info("question=%r answer=%r", result.question, result.answer)
