"""Bearer-token access control.

When `settings.api_token` (QA_API_TOKEN) is set, every route requires
`Authorization: Bearer <token>` and answers 401 otherwise, including the
OpenAPI schema. Three routes stay open on purpose, because they return
nothing from the index and a browser or a probe cannot send the header:
`GET /health` (readiness probes; status and counts only), `GET /` and the static
files under `/web/` (the chat page itself, which then asks for the token and
sends it with every API call). Routes opt out with `opt={"public": True}`.
"""

from __future__ import annotations

import hmac
from typing import Any

from litestar.connection import ASGIConnection
from litestar.exceptions import NotAuthorizedException
from litestar.handlers.base import BaseRouteHandler
from litestar.types import Guard

PUBLIC = {"public": True}


def token_guard(token: str) -> Guard:
    """A guard that lets a request through only with the right bearer token."""
    expected = token.encode()

    def guard(connection: ASGIConnection[Any, Any, Any, Any], handler: BaseRouteHandler) -> None:
        if handler.opt.get("public"):
            return
        scheme, _, given = connection.headers.get("authorization", "").partition(" ")
        if scheme.lower() != "bearer" or not hmac.compare_digest(given.strip().encode(), expected):
            raise NotAuthorizedException(
                "this server requires Authorization: Bearer <token> (QA_API_TOKEN)",
                headers={"WWW-Authenticate": 'Bearer realm="qa"'},
            )

    return guard
