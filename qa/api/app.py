"""The app factory: routes, errors, security, CORS, body limit, OpenAPI."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import anyio.to_thread
from litestar import Litestar
from litestar.config.cors import CORSConfig
from litestar.datastructures import ResponseHeader
from litestar.di import Provide
from litestar.openapi import OpenAPIConfig
from litestar.openapi.plugins import JsonRenderPlugin
from litestar.openapi.spec import Components, Reference, SecurityScheme
from litestar.plugins.pydantic import PydanticPlugin
from litestar.static_files import create_static_files_router

from qa.api import openai_compat, routes
from qa.api.errors import EXCEPTION_HANDLERS
from qa.api.runtime import Runtime
from qa.api.security import PUBLIC, token_guard
from qa.config import Settings, get_settings
from qa.pipeline import Pipeline


def create_app(
    pipeline: Pipeline | None = None,
    settings: Settings | None = None,
    build: Callable[[], Pipeline] | None = None,
) -> Litestar:
    """The app over `pipeline`, or over one built at startup (in the background) from `settings`.

    Tests pass a pipeline wired with fakes (`build_pipeline(fake_settings(home))`);
    `build` replaces `build_pipeline(settings)` for the background build.
    """
    if settings is None:
        settings = pipeline.settings if pipeline is not None else get_settings()
    runtime = Runtime(settings, pipeline, build or _builder(settings))

    async def startup() -> None:
        runtime.open()
        if runtime.status == "ok":
            return  # restarted (same app object started again): already loaded
        if pipeline is not None:
            await anyio.to_thread.run_sync(runtime.load)
        else:
            runtime.load_in_background()

    return Litestar(
        route_handlers=_handlers(),
        dependencies={"runtime": Provide(lambda: runtime, use_cache=True, sync_to_thread=False)},
        on_startup=[startup],
        on_shutdown=[runtime.shutdown],
        exception_handlers=EXCEPTION_HANDLERS,
        guards=[token_guard(settings.api_token)] if settings.api_token else [],
        request_max_body_size=settings.server.max_body_bytes,
        cors_config=_cors(settings),
        openapi_config=_openapi(settings),
        response_headers=[ResponseHeader(name="X-Content-Type-Options", value="nosniff")],
        logging_config=None,
        # Strict: a JSON string is not a boolean, a number is not a question.
        plugins=[PydanticPlugin(validate_strict=True)],
    )


def _builder(settings: Settings) -> Callable[[], Pipeline]:
    def build() -> Pipeline:
        from qa.wiring import build_pipeline

        return build_pipeline(settings)

    return build


def _handlers() -> list[Any]:
    static = create_static_files_router(path="/web", directories=[routes.WEB_DIR], opt=PUBLIC, include_in_schema=False)
    return [
        routes.health,
        routes.ask,
        routes.chat,
        routes.list_sources,
        routes.source,
        routes.index_page,
        openai_compat.models,
        openai_compat.chat_completions,
        static,
    ]


def _cors(settings: Settings) -> CORSConfig | None:
    """CORS stays off (same-origin only) unless origins are configured."""
    origins = settings.server.cors_origins
    if not origins:
        return None
    headers = ["Authorization", "Content-Type"]
    return CORSConfig(allow_origins=origins, allow_methods=["GET", "POST"], allow_headers=headers)


def _openapi(settings: Settings) -> OpenAPIConfig:
    """The schema as JSON at /schema (and /schema/openapi.json); no HTML viewer, which would need a CDN."""
    bearer: dict[str, SecurityScheme | Reference] = {}
    if settings.api_token:
        bearer["bearer"] = SecurityScheme(type="http", scheme="bearer")
    return OpenAPIConfig(
        title="qa",
        version="0.1.0",
        description="Questions answered from the indexed articles, with checkable citations.",
        render_plugins=[JsonRenderPlugin(path=["/", "/openapi.json"])],
        components=Components(security_schemes=bearer) if bearer else [],
        security=[{"bearer": []}] if bearer else None,
    )
