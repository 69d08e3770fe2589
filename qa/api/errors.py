"""Every error is JSON `{"error": "<one readable sentence>"}` with a fitting status.

400 bad input (empty or too long question, wrong types, invalid JSON), 401 missing
token, 404 unknown source, 413 body too large, 429 queue full (+ Retry-After),
503 model unavailable or still starting (+ Retry-After while starting), 500 otherwise.
"""

from __future__ import annotations

import logging
from typing import Any

from litestar import Request, Response
from litestar.exceptions import HTTPException, ValidationException
from litestar.types import ExceptionHandlersMap

from qa.api.jobs import QueueFull
from qa.api.runtime import NotReady
from qa.api.service import ClientGone
from qa.llm import GeneratorUnavailable
from qa.pipeline import InvalidQuestion
from qa.store import IndexUnavailable

log = logging.getLogger("qa.api")

STARTING_RETRY_AFTER_S = 5


class BadRequest(HTTPException):
    status_code = 400


def error_response(status: int, message: str, headers: dict[str, str] | None = None) -> Response[dict[str, Any]]:
    return Response({"error": message}, status_code=status, headers=headers or {}, media_type="application/json")


def _invalid_question(_: Request[Any, Any, Any], exc: InvalidQuestion) -> Response[dict[str, Any]]:
    return error_response(400, str(exc))


# How long a client should wait before retrying when a backend is down.
UNAVAILABLE_RETRY_AFTER_S = 10


def _unavailable(_: Request[Any, Any, Any], exc: GeneratorUnavailable) -> Response[dict[str, Any]]:
    log.warning("qa: generator unavailable: %s", exc)
    return error_response(
        503, f"the language model is unavailable: {exc}", {"Retry-After": str(UNAVAILABLE_RETRY_AFTER_S)}
    )


def _index_unavailable(_: Request[Any, Any, Any], exc: IndexUnavailable) -> Response[dict[str, Any]]:
    log.warning("qa: index unavailable: %s", exc)
    return error_response(503, f"the index is unavailable: {exc}", {"Retry-After": str(UNAVAILABLE_RETRY_AFTER_S)})


def _queue_full(_: Request[Any, Any, Any], exc: QueueFull) -> Response[dict[str, Any]]:
    return error_response(429, str(exc), {"Retry-After": str(exc.retry_after)})


def _not_ready(_: Request[Any, Any, Any], exc: NotReady) -> Response[dict[str, Any]]:
    return error_response(503, str(exc), {"Retry-After": str(STARTING_RETRY_AFTER_S)})


def _http(_: Request[Any, Any, Any], exc: HTTPException) -> Response[dict[str, Any]]:
    message = exc.detail
    if isinstance(exc, ValidationException):
        message = _validation_message(exc)
    elif exc.status_code == 413:
        message = "the request body is too large"
    return error_response(exc.status_code, message, exc.headers)


def _validation_message(exc: ValidationException) -> str:
    """'invalid request: question: Input should be a valid string' from litestar's detail list."""
    problems = exc.extra if isinstance(exc.extra, list) else []
    parts = []
    for problem in problems[:3]:
        if isinstance(problem, dict):
            key = problem.get("key")
            parts.append(f"{key}: {problem.get('message')}" if key else str(problem.get("message")))
    detail = exc.detail if exc.detail and not exc.detail.startswith("Validation failed") else "invalid request"
    return f"{detail}: {'; '.join(parts)}" if parts else detail


def _client_gone(request: Request[Any, Any, Any], _: ClientGone) -> Response[dict[str, Any]]:
    log.info("qa: client left before its answer to %s was ready", request.url.path)
    return error_response(499, "the client closed the request")


def _internal(request: Request[Any, Any, Any], exc: Exception) -> Response[dict[str, Any]]:
    log.error("qa: %s %s failed", request.method, request.url.path, exc_info=exc)
    return error_response(500, "internal server error")


EXCEPTION_HANDLERS: ExceptionHandlersMap = {
    InvalidQuestion: _invalid_question,
    GeneratorUnavailable: _unavailable,
    IndexUnavailable: _index_unavailable,
    QueueFull: _queue_full,
    NotReady: _not_ready,
    ClientGone: _client_gone,
    HTTPException: _http,
    Exception: _internal,
}
