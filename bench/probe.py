"""Records llama.cpp's own `timings` for every model call, for both pipelines.

`instrument` puts this proxy between a `LlamaCppGenerator` and its `xllamacpp.Server` (through
the public `LlamaCppGenerator.wrap_server`). It passes every call through unchanged and keeps
the `timings` object the server attaches to a response (the last chunk, when streaming):
prompt_n/prompt_ms (prompt evaluation), predicted_n/predicted_ms (generation) and cache_n
(prompt tokens reused from the KV cache).
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any

from qa.llm import Generator, LlamaCppGenerator


class TimingServer:
    def __init__(self, server: Any) -> None:
        self.server = server
        self.calls: list[dict[str, float]] = []
        self.requests: list[dict[str, Any]] = []  # qa's real requests, replayed by bench.experiments
        self.keep_requests = 0
        self.lock = threading.Lock()  # same role as LlamaCppGenerator._lock, for callers that bypass it

    def handle_chat_completions(self, request: dict[str, Any], callback: Callable[[Any], None] | None = None) -> Any:
        if len(self.requests) < self.keep_requests:
            self.requests.append({k: v for k, v in request.items() if k != "stream"})
        if callback is None:
            result = self.server.handle_chat_completions(request)
            self._record(result)
            return result

        def forward(chunk: Any) -> None:
            self._record(chunk)
            callback(chunk)

        return self.server.handle_chat_completions(request, forward)

    def _record(self, payload: Any) -> None:
        if isinstance(payload, dict) and isinstance(payload.get("timings"), dict):
            t = payload["timings"]
            keys = ("cache_n", "prompt_n", "prompt_ms", "predicted_n", "predicted_ms")
            self.calls.append({k: float(t.get(k, 0.0)) for k in keys})

    def take(self) -> list[dict[str, float]]:
        """The timings recorded since the last call."""
        calls, self.calls = self.calls, []
        return calls

    def __getattr__(self, name: str) -> Any:
        return getattr(self.server, name)


def instrument(generator: Generator) -> TimingServer | None:
    """Record the timings of a loaded LlamaCppGenerator's model calls (None for other backends)."""
    if not isinstance(generator, LlamaCppGenerator):
        return None
    proxy = generator.wrap_server(lambda server: server if isinstance(server, TimingServer) else TimingServer(server))
    assert isinstance(proxy, TimingServer)
    return proxy


def total(calls: list[dict[str, float]]) -> dict[str, float]:
    keys = ("cache_n", "prompt_n", "prompt_ms", "predicted_n", "predicted_ms")
    out = {k: round(sum(c[k] for c in calls), 1) for k in keys}
    out["calls"] = len(calls)
    return out
