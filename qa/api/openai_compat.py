"""OpenAI-compatible `/v1/chat/completions` and `/v1/models`, for existing clients.

The last user message is the question, earlier messages are the history, as in
`/api/chat`. The message content is the answer text with inline `[n]` markers;
`citations` (Citation objects, `[n]` is `citations[n-1]`) sits on the message,
and on the final chunk (top level and in its delta) when streaming.

Streaming sends only verified text. The OpenAI protocol has no way to take back
text already streamed, and a draft can fail verification, so the first content
chunk leaves once the answer is final; `/api/chat` with `stream: true` is the
endpoint that streams the draft as it is written.
"""

from __future__ import annotations

import json
import re
import time
import uuid
from collections.abc import AsyncIterator, Iterator
from typing import Any

from litestar import Request, Response, get, post
from litestar.response import Stream
from pydantic import BaseModel, ConfigDict, Field, StrictBool

from qa.api import service
from qa.api.errors import BadRequest
from qa.api.openapi_docs import ANSWER_ERRORS, READ_ERRORS, CompletionOperation
from qa.api.runtime import Runtime
from qa.types import Answer, Turn, with_markers

MODEL_ID = "qa"
ROLE_MAP = {"user": "user", "assistant": "assistant", "system": "system", "developer": "system"}


class ContentPart(BaseModel):
    model_config = ConfigDict(extra="allow")
    type: str
    text: str | None = None


class OpenAIMessage(BaseModel):
    model_config = ConfigDict(extra="allow")
    role: str
    content: str | list[ContentPart] | None = None

    def text(self) -> str:
        if isinstance(self.content, list):
            return "".join(part.text or "" for part in self.content if part.type == "text")
        return self.content or ""


class CompletionRequest(BaseModel):
    """The fields of an OpenAI chat completion request that matter here; others are accepted and ignored."""

    model_config = ConfigDict(extra="allow")
    model: str = MODEL_ID
    messages: list[OpenAIMessage] = Field(min_length=1)
    stream: StrictBool = False

    def split(self) -> tuple[str, list[Turn]]:
        *earlier, last = self.messages
        if last.role != "user":
            raise BadRequest("the last message must have role 'user'")
        history = [Turn(ROLE_MAP[m.role], m.text()) for m in earlier if m.role in ROLE_MAP]  # type: ignore[arg-type]
        return last.text(), history


@get("/v1/models", tags=["openai"], responses=READ_ERRORS)
async def models() -> dict[str, Any]:
    """The one model this server offers (any model name is accepted in requests)."""
    return {"object": "list", "data": [{"id": MODEL_ID, "object": "model", "created": 0, "owned_by": "qa"}]}


@post(
    "/v1/chat/completions",
    status_code=200,
    tags=["openai"],
    responses=ANSWER_ERRORS,
    operation_class=CompletionOperation,
)
async def chat_completions(
    data: CompletionRequest, runtime: Runtime, request: Request[Any, Any, Any]
) -> Response[dict[str, Any]] | Stream:
    """OpenAI chat completion, whole or streamed; the message carries `citations`."""
    question, history = data.split()
    completion_id = f"chatcmpl-{uuid.uuid4().hex}"
    if data.stream:
        stream = await service.AnswerStream.start(runtime, question, history, request, drafts=False)
        chunks = _streamed_chunks(stream, completion_id, data.model)
        headers = {**stream.timing(), "Cache-Control": "no-cache"}
        return Stream(chunks, media_type="text/event-stream", headers=headers)
    result, served = await service.answer(runtime, question, history, request)
    headers = {"Server-Timing": service.server_timing(result, served)}
    return Response(_completion(result, completion_id, data.model), headers=headers)


async def _streamed_chunks(stream: service.AnswerStream, completion_id: str, model: str) -> AsyncIterator[bytes]:
    """Keep-alive comments while the answer waits, then its chunks (or one error object, as OpenAI streams do)."""
    async for kind, value in stream.events():
        if kind == "keepalive":
            yield service.SSE_KEEPALIVE
        elif kind == "answer":
            for chunk in _chunks(value, completion_id, model):
                yield chunk
        elif kind == "error":
            yield f"data: {json.dumps({'error': {'message': service.stream_error(value)['error']}})}\n\n".encode()


def _citations(answer: Answer) -> list[dict[str, Any]]:
    return [c.model_dump() for c in answer.citations]


def _completion(answer: Answer, completion_id: str, model: str) -> dict[str, Any]:
    message = {"role": "assistant", "content": with_markers(answer), "refusal": None, "citations": _citations(answer)}
    return {
        "id": completion_id,
        "object": "chat.completion",
        "created": int(time.time()),
        "model": model,
        "choices": [{"index": 0, "message": message, "finish_reason": "stop", "logprobs": None}],
        "usage": _usage(answer),
    }


def _usage(answer: Answer) -> dict[str, int]:
    """Tokens the model read and wrote for this answer, over all its passes (0 when it was not called)."""
    prompt, completion = answer.usage.prompt_tokens, answer.usage.completion_tokens
    return {"prompt_tokens": prompt, "completion_tokens": completion, "total_tokens": prompt + completion}


def _chunks(answer: Answer, completion_id: str, model: str) -> Iterator[bytes]:
    base = {"id": completion_id, "object": "chat.completion.chunk", "created": int(time.time()), "model": model}

    def chunk(delta: dict[str, Any], finish: str | None = None, **extra: Any) -> bytes:
        body = {**base, "choices": [{"index": 0, "delta": delta, "finish_reason": finish}], **extra}
        return f"data: {json.dumps(body, ensure_ascii=False)}\n\n".encode()

    yield chunk({"role": "assistant", "content": ""})
    for piece in re.findall(r"\S+\s*", with_markers(answer)):
        yield chunk({"content": piece})
    citations = _citations(answer)
    yield chunk({"citations": citations}, "stop", citations=citations, usage=_usage(answer))
    yield b"data: [DONE]\n\n"
