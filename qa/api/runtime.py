"""What the request handlers share: the settings, the pipeline once loaded, the two lanes, the cache.

The pipeline is built once per process. `qa serve` builds it in a background
thread at startup (embedder, index, first-run indexing, model load), so the port
opens at once and `/health` says "loading" until it is ready; answer endpoints
answer 503 with `Retry-After` meanwhile. A pipeline injected by a test is only
checked (`ensure_index`) during startup, before the first request is served.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from typing import Literal

from qa.api.jobs import AnswerQueue
from qa.cache import AnswerCache, IndexWatch, answering_version
from qa.config import Settings
from qa.llm import GeneratorUnavailable
from qa.pipeline import Pipeline

log = logging.getLogger("qa.api")

Status = Literal["loading", "ok", "failed"]


class NotReady(Exception):
    """The pipeline is still loading (or failed to load); the server answers 503."""


class Runtime:
    def __init__(self, settings: Settings, pipeline: Pipeline | None, build: Callable[[], Pipeline]) -> None:
        self.settings = settings
        self.pipeline = pipeline
        self.status: Status = "loading"
        self.stage = "starting"
        self.error: str | None = None
        self.generator_error: str | None = None
        server = settings.server
        self.queue = AnswerQueue(server.workers, server.max_queue, server.max_wait_s)
        self.fast_lane = AnswerQueue(server.fast_workers, server.fast_max_queue)
        self.cache = AnswerCache(server.cache_entries, int(server.cache_mb * 1024 * 1024)) if server.cache else None
        self.index_watch = IndexWatch()
        self._version: str | None = None
        self._build = build
        self._loader: threading.Thread | None = None

    def open(self) -> None:
        """Called at every app startup: fresh lanes if a previous shutdown closed them."""
        server = self.settings.server
        if self.queue.closed:
            self.queue = AnswerQueue(server.workers, server.max_queue, server.max_wait_s)
        if self.fast_lane.closed:
            self.fast_lane = AnswerQueue(server.fast_workers, server.fast_max_queue)

    def answering_version(self) -> str:
        """The cache's model/prompt/settings version, computed once the model is loaded."""
        if self._version is None:
            self._version = answering_version(self.ready_pipeline())
        return self._version

    def load(self) -> None:
        """Build the pipeline if needed, index the corpus on first run, load the model."""
        try:
            if self.pipeline is None:
                self.stage = "loading the embedder and the index"
                self.pipeline = self._build()
            self.stage = "indexing the corpus"
            self.pipeline.ensure_index()
            self.stage = "loading the model"
            self._warm_generator(self.pipeline)
        except Exception as exc:
            log.exception("qa: startup failed while %s", self.stage)
            self.error = f"startup failed while {self.stage}: {exc}"
            self.status = "failed"
            return
        self.stage = "ready"
        self.status = "ok"
        log.info("qa: ready, %d chunks indexed", self.pipeline.store.count())

    def load_in_background(self) -> None:
        if self._loader is not None and self._loader.is_alive():
            return
        self._loader = threading.Thread(target=self.load, name="qa-startup", daemon=True)
        self._loader.start()

    def _warm_generator(self, pipeline: Pipeline) -> None:
        # A missing model is not fatal: refusals and quoted answers need none, and
        # every answer that does need it gets a 503 saying why.
        try:
            pipeline.load_model()
            self.generator_error = None
        except GeneratorUnavailable as exc:
            self.generator_error = str(exc)
            log.warning("qa: the generator is unavailable: %s", exc)

    def ready_pipeline(self) -> Pipeline:
        """The pipeline, or `NotReady` while it loads."""
        if self.status != "ok" or self.pipeline is None:
            raise NotReady(self.error or f"the service is starting ({self.stage}); retry shortly")
        return self.pipeline

    def shutdown(self) -> None:
        self.queue.shutdown()
        self.fast_lane.shutdown()
