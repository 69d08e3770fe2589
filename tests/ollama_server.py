"""A real HTTP server that speaks Ollama's /api/chat and /api/tags, serving our embedded model.

No Ollama can be installed here, so the Ollama backend is tested against this:
the official `ollama` client talks HTTP to it exactly as it would to Ollama.
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


class OllamaProtocolServer:
    """Serves `generator` on 127.0.0.1:<free port> until `close()`."""

    def __init__(self, generator: Generator) -> None:
        handler = _handler_for(generator)
        self._httpd = ThreadingHTTPServer(("127.0.0.1", 0), handler)
        self.url = f"http://127.0.0.1:{self._httpd.server_address[1]}"
        self._thread = threading.Thread(target=self._httpd.serve_forever, daemon=True)
        self._thread.start()

    def close(self) -> None:
        self._httpd.shutdown()
        self._httpd.server_close()


def _handler_for(generator: Generator) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
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
            if body.get("model") != MODEL_NAME:
                self._json(404, {"error": f"model '{body.get('model')}' not found"})
                return
            schema = body.get("format") if isinstance(body.get("format"), dict) else {"type": "object"}
            max_tokens = int((body.get("options") or {}).get("num_predict", 128))
            if body.get("stream", True):
                self._stream(body["messages"], schema, max_tokens)
            else:
                text = generator.generate(body["messages"], schema, max_tokens)
                self._json(200, self._message(text, done=True))

        def _stream(self, messages: list[dict[str, str]], schema: dict[str, Any], max_tokens: int) -> None:
            self.send_response(200)
            self.send_header("Content-Type", "application/x-ndjson")
            self.end_headers()

            def send(piece: str) -> None:
                self.wfile.write(json.dumps(self._message(piece, done=False)).encode() + b"\n")
                self.wfile.flush()

            generator.generate(messages, schema, max_tokens, on_text=send)
            self.wfile.write(json.dumps(self._message("", done=True)).encode() + b"\n")

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

    return Handler
