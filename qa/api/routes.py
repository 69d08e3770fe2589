"""The `/api` endpoints, `/health` and the chat page."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import anyio.to_thread
from litestar import MediaType, Request, Response, get, post
from litestar.exceptions import NotFoundException
from litestar.openapi import ResponseSpec
from litestar.response import Stream

from qa.api import service
from qa.api.errors import BadRequest
from qa.api.openapi_docs import ANSWER_ERRORS, READ_ERRORS, SOURCE_ERRORS, ChatOperation
from qa.api.runtime import Runtime
from qa.api.schemas import AskRequest, ChatRequest, Health, QueueStats, SourceList, SourceText
from qa.api.security import PUBLIC
from qa.pipeline import Pipeline
from qa.types import Answer

WEB_DIR = Path(__file__).resolve().parent.parent / "web"
SSE_HEADERS = {"Cache-Control": "no-cache", "X-Accel-Buffering": "no"}

PAGE_CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "connect-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'"
)


@get("/health", opt=PUBLIC, tags=["service"], responses={503: ResponseSpec(Health, description="Loading, or failed")})
async def health(runtime: Runtime) -> Response[Health]:
    """Readiness: 200 with status "ok" once the index and model are loaded, 503 with "loading" before."""
    body = await anyio.to_thread.run_sync(_health, runtime)
    return Response(body, status_code=200 if body.status == "ok" else 503)


def _health(runtime: Runtime) -> Health:
    pipeline = runtime.pipeline if runtime.status == "ok" else None
    return Health(
        status=runtime.status,
        stage=runtime.stage,
        chunks=pipeline.store.count() if pipeline else 0,
        sources=len(pipeline.store.sources()) if pipeline else 0,
        generator="ready" if runtime.generator_error is None else runtime.generator_error,
        queue=QueueStats(**runtime.queue.stats()),
        error=runtime.error,
    )


@post("/api/ask", status_code=200, tags=["answers"], responses=ANSWER_ERRORS)
async def ask(data: AskRequest, runtime: Runtime, request: Request[Any, Any, Any]) -> Response[Answer]:
    """Answer one question; the body is the same JSON as `qa ask --json`."""
    result, job = await service.answer(runtime, data.question, connection=request)
    return Response(result, headers={"Server-Timing": service.server_timing(result, job)})


@post("/api/chat", status_code=200, tags=["answers"], responses=ANSWER_ERRORS, operation_class=ChatOperation)
async def chat(data: ChatRequest, runtime: Runtime, request: Request[Any, Any, Any]) -> Response[Answer] | Stream:
    """Answer the last user message, with the earlier messages as context for follow-ups.

    With `"stream": true` the answer comes as Server-Sent Events: `delta` events
    with `{"text": ...}` pieces of the draft, then one `answer` event with the final
    Answer JSON, then `done`. The final answer is authoritative: verification may
    replace the draft with quoted evidence or a refusal. While the question waits,
    a `: keep-alive` comment comes every few seconds.
    """
    try:
        question, history = data.split()
    except ValueError as exc:
        raise BadRequest(str(exc)) from exc
    if not data.stream:
        result, job = await service.answer(runtime, question, history, request)
        return Response(result, headers={"Server-Timing": service.server_timing(result, job)})
    stream = await service.AnswerStream.start(runtime, question, history, request)
    return Stream(_sse(stream), media_type="text/event-stream", headers=SSE_HEADERS)


async def _sse(stream: service.AnswerStream) -> AsyncIterator[bytes]:
    async for kind, value in stream.events():
        if kind == "keepalive":
            yield service.SSE_KEEPALIVE
        elif kind == "delta":
            yield sse_event("delta", {"text": value})
        elif kind == "answer":
            yield sse_event("answer", value.model_dump(mode="json"))
        else:
            yield sse_event("error", service.stream_error(value))
    yield sse_event("done", {})


def sse_event(name: str, data: dict[str, Any]) -> bytes:
    return f"event: {name}\ndata: {json.dumps(data, ensure_ascii=False)}\n\n".encode()


@get("/api/sources", tags=["sources"], sync_to_thread=True, responses=READ_ERRORS)
def list_sources(runtime: Runtime) -> SourceList:
    """The names of the indexed files."""
    return SourceList(sources=sorted(runtime.ready_pipeline().store.sources()))


@get("/api/sources/{name:path}", tags=["sources"], sync_to_thread=True, responses=SOURCE_ERRORS)
def source(name: Path, runtime: Runtime, start: int | None = None, end: int | None = None) -> SourceText:
    """The text of one indexed file (names may contain "/"), whole or `[start, end)`; only indexed names are served."""
    pipeline = runtime.ready_pipeline()
    key = name.as_posix().lstrip("/")
    text = _source_text(pipeline, key)
    lo = 0 if start is None else start
    hi = len(text) if end is None else end
    if not 0 <= lo <= hi <= len(text):
        raise BadRequest(f"bad range [{lo}, {hi}): the text has {len(text)} characters")
    return SourceText(source=key, start=lo, end=hi, length=len(text), text=text[lo:hi])


def _source_text(pipeline: Pipeline, name: str) -> str:
    # Looked up by exact name among the indexed sources, never joined to a path,
    # so "../x", "/etc/passwd" and their encodings can only miss.
    if name not in pipeline.store.sources():
        raise NotFoundException(f"no indexed source named {name!r}")
    return pipeline.source_text(name)


@get("/", opt=PUBLIC, include_in_schema=False, media_type=MediaType.HTML)
async def index_page() -> Response[bytes]:
    """The web chat page."""
    page = await anyio.Path(WEB_DIR / "index.html").read_bytes()
    return Response(page, media_type=MediaType.HTML, headers={"Content-Security-Policy": PAGE_CSP})
