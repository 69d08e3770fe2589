"""An Ollama-protocol stand-in: NOT Ollama. A small HTTP server of ours that speaks the part of
Ollama's REST API our backend uses (`POST /api/chat`, `GET /api/tags`), serving any `Generator`.

No Ollama server can be installed on this machine (no registry ships one), so the Ollama backend
is tested against this stand-in through the official `ollama` client. The stand-in follows Ollama's
published API document (github.com/ollama/ollama `docs/api.md`, "Generate a chat completion", and
`docs/api/errors.mdx`): ndjson streaming by default, `"stream": false` for one object, errors as
`{"error": "..."}` with 4xx/5xx (or as an `error` line mid-stream). It records every request body
(`requests`) so tests can check what our client sends against that document, and `fail_with`
makes it answer with an Ollama error body instead of a reply.
"""

from __future__ import annotations

import json
import threading
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from qa.llm import Generator

MODEL_NAME = "qwen2.5-coder:1.5b"


def _now() -> str:
    return datetime.now(UTC).isoformat().replace("+00:00", "Z")


class OllamaStandIn:
    """Serves `generator` over Ollama's protocol on 127.0.0.1:<free port> until `close()`.

    `fail_with = (status, message)` answers every chat request with that status and the body
    `{"error": message}`; status 200 sends the error as a line in the middle of a stream,
    which is how Ollama reports a failure after the response has started.
    """

    def __init__(self, generator: Generator) -> None:
        self.requests: list[dict[str, Any]] = []
        self.fail_with: tuple[int, str] | None = None
        self._httpd = ThreadingHTTPServer(("127.0.0.1", 0), _handler_for(generator, self))
        self.url = f"http://127.0.0.1:{self._httpd.server_address[1]}"
        self._thread = threading.Thread(target=self._httpd.serve_forever, daemon=True)
        self._thread.start()

    def close(self) -> None:
        self._httpd.shutdown()
        self._httpd.server_close()
        self._thread.join(timeout=10)


def _handler_for(generator: Generator, standin: OllamaStandIn) -> type[BaseHTTPRequestHandler]:
    """`_OllamaHandler` bound to one generator and stand-in (http.server builds a handler per request)."""
    return type("Handler", (_OllamaHandler,), {"generator": generator, "standin": standin})


class _OllamaHandler(BaseHTTPRequestHandler):
    generator: Generator
    standin: OllamaStandIn

    def log_message(self, format: str, *args: Any) -> None:  # keep test output quiet
        pass

    def do_GET(self) -> None:
        if self.path != "/api/tags":
            self._json(404, {"error": "not found"})
            return
        model = {"name": MODEL_NAME, "model": MODEL_NAME, "modified_at": _now(), "size": 1, "digest": "0" * 64,
                 "details": {"format": "gguf", "family": "qwen2", "parameter_size": "1.5B",
                             "quantization_level": "Q4_K_M"}}  # fmt: skip
        self._json(200, {"models": [model]})

    def do_POST(self) -> None:
        if self.path != "/api/chat":
            self._json(404, {"error": "not found"})
            return
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        self.standin.requests.append(body)
        if self.standin.fail_with is not None:
            self._fail(*self.standin.fail_with)
            return
        if body.get("model") != MODEL_NAME:
            self._json(404, {"error": f"model '{body.get('model')}' not found, try pulling it first"})
            return
        schema = body.get("format") if isinstance(body.get("format"), dict) else {"type": "object"}
        max_tokens = int((body.get("options") or {}).get("num_predict", 128))
        if body.get("stream", True):
            self._stream(body["messages"], schema, max_tokens)
        else:
            text = self.generator.generate(body["messages"], schema, max_tokens)
            self._json(200, self._message(text, done=True))

    def _fail(self, status: int, message: str) -> None:
        if status != 200:
            self._json(status, {"error": message})
            return
        self._start_stream()
        self._line(self._message("{", done=False))
        self._line({"error": message})

    def _stream(self, messages: list[dict[str, str]], schema: dict[str, Any], max_tokens: int) -> None:
        self._start_stream()
        self.generator.generate(
            messages, schema, max_tokens, on_text=lambda piece: self._line(self._message(piece, False))
        )
        self._line(self._message("", done=True))

    def _start_stream(self) -> None:
        self.send_response(200)
        self.send_header("Content-Type", "application/x-ndjson")
        self.end_headers()

    def _line(self, payload: dict[str, Any]) -> None:
        self.wfile.write(json.dumps(payload).encode() + b"\n")
        self.wfile.flush()

    def _message(self, content: str, done: bool) -> dict[str, Any]:
        out: dict[str, Any] = {"model": MODEL_NAME, "created_at": _now(),
                               "message": {"role": "assistant", "content": content}, "done": done}  # fmt: skip
        if done:
            out["done_reason"] = "stop"
        return out

    def _json(self, status: int, payload: dict[str, Any]) -> None:
        data = json.dumps(payload).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)
