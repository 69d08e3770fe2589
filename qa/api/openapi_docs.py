"""OpenAPI details litestar cannot infer: error responses per route, and the streamed variants."""

from __future__ import annotations

from dataclasses import dataclass

from litestar.openapi import ResponseSpec
from litestar.openapi.spec import OpenAPIMediaType, OpenAPIResponse, OpenAPIType, Operation, Reference, Schema

from qa.api.schemas import ErrorBody

_ERRORS = {
    400: "Bad input: empty or too long question, wrong types, invalid JSON, bad range",
    401: "Missing or wrong bearer token (only when QA_API_TOKEN is set)",
    404: "No indexed source has this name",
    413: "Request body larger than settings.server.max_body_bytes",
    429: "Answer queue full; see Retry-After",
    503: "Language model unavailable, or the service is still starting (see Retry-After)",
}


def error_responses(*statuses: int) -> dict[int, ResponseSpec]:
    """The `{"error": ...}` responses a route can give, for its `responses=`."""
    return {s: ResponseSpec(data_container=ErrorBody, description=_ERRORS[s]) for s in statuses}


ANSWER_ERRORS = error_responses(400, 401, 413, 429, 503)
SOURCE_ERRORS = error_responses(400, 401, 404, 503)
READ_ERRORS = error_responses(401, 503)

_SSE = 'Server-Sent Events, when the request has `"stream": true`'


def _add_stream(operation: Operation, json_schema: str | None, events: str) -> None:
    ok = (operation.responses or {}).get("200")
    if not isinstance(ok, OpenAPIResponse):
        return
    ok.content = dict(ok.content or {})
    if json_schema:
        ok.content["application/json"] = OpenAPIMediaType(schema=Reference(ref=f"#/components/schemas/{json_schema}"))
    # One Server-Sent Event, as clients (and schemathesis) parse it: its fields.
    event = Schema(
        type=OpenAPIType.OBJECT,
        description=f"{_SSE}: {events}",
        properties={
            "event": Schema(type=OpenAPIType.STRING, description="Event name (absent on /v1 chunks)."),
            "data": Schema(type=OpenAPIType.STRING, description="JSON text of the event body, or [DONE]."),
            "id": Schema(type=OpenAPIType.STRING),
            "retry": Schema(type=OpenAPIType.INTEGER),
        },
    )
    ok.content["text/event-stream"] = OpenAPIMediaType(schema=event)


@dataclass
class ChatOperation(Operation):
    """/api/chat: the Answer JSON, or its SSE stream."""

    def __post_init__(self) -> None:
        _add_stream(self, "Answer", "`delta` {text}*, one `answer` (the Answer JSON), `done`.")


@dataclass
class CompletionOperation(Operation):
    """/v1/chat/completions: a chat.completion, or chat.completion.chunk events."""

    def __post_init__(self) -> None:
        _add_stream(self, None, "`data:` chat.completion.chunk objects, then `data: [DONE]`.")
