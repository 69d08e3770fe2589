"""`qa serve`: uvicorn running the app, with defaults from `settings.server`."""

from __future__ import annotations

import logging

log = logging.getLogger("qa.api")

LOOPBACK = {"127.0.0.1", "localhost", "::1"}


def run(host: str | None = None, port: int | None = None) -> None:
    """Serve the API and the chat page until interrupted; the pipeline loads in the background."""
    from qa.config import BadSetting, load_settings, prepare_process

    prepare_process()
    import uvicorn

    from qa.api.app import create_app

    try:
        settings = load_settings()
    except BadSetting as exc:
        raise SystemExit(f"qa: error: {exc}") from exc
    host = host or settings.server.host
    port = settings.server.port if port is None else port
    qa_log = logging.getLogger("qa")
    if qa_log.getEffectiveLevel() > logging.INFO:
        qa_log.setLevel(logging.INFO)
    if host not in LOOPBACK and not settings.api_token:
        log.warning("qa: listening on %s without QA_API_TOKEN: anyone who can reach it can use it", host)
    uvicorn.run(create_app(settings=settings), host=host, port=port, log_level="info", timeout_graceful_shutdown=5)
