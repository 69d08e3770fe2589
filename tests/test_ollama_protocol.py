"""Our Ollama backend's requests and error handling, checked against Ollama's published API document.

Reference: github.com/ollama/ollama `docs/api.md` (read at commit fb30760996871fa9460115c753afd2c60d4ab0f7),
section "Generate a chat completion" (`POST /api/chat`): parameters `model`, `messages`, `tools`, `think`,
and the advanced `format` ("`json` or a JSON schema"), `options` ("additional model parameters listed in
the documentation for the Modelfile", `docs/modelfile.mdx` "Valid Parameters and Values"), `stream`
(ndjson by default, one object when false) and `keep_alive` ("default: `5m`"); message roles `system`,
`user`, `assistant`, `tool`. Errors (`docs/api/errors.mdx`): a JSON body `{"error": "..."}` with the
status (400, 404 model not found, 429, 500, 502), or an `{"error": ...}` line mid-stream.

No Ollama server can be installed here, so the requests are recorded by our Ollama-protocol
stand-in (`tests/support/ollama_standin.py`, NOT Ollama), which the official `ollama` client talks
HTTP to. The stand-in serves the fake generator (not a model): these tests are about the wire.
The day a real Ollama is reachable, `test_e2e.py` runs the same backend against it by `OLLAMA_HOST`.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from litestar.testing import TestClient

from qa.api.app import create_app
from qa.llm import FakeGenerator, GeneratorUnavailable, OllamaGenerator
from qa.wiring import build_pipeline
from tests.conftest import SEEDS, fake_settings
from tests.support.ollama_standin import MODEL_NAME, OllamaStandIn

# docs/api.md, "Generate a chat completion" → Parameters and Advanced parameters.
CHAT_PARAMETERS = {"model", "messages", "tools", "think", "format", "options", "stream", "keep_alive"}
MESSAGE_ROLES = {"system", "user", "assistant", "tool"}
# docs/modelfile.mdx, "Valid Parameters and Values": name → value type.
MODELFILE_OPTIONS: dict[str, type | tuple[type, ...]] = {
    "num_ctx": int, "repeat_last_n": int, "repeat_penalty": (int, float), "temperature": (int, float),
    "seed": int, "stop": (str, list), "num_predict": int, "draft_num_predict": int, "top_k": int,
    "top_p": (int, float), "min_p": (int, float),
}  # fmt: skip
# docs/api.md: durations like "5m"; a number is seconds, 0 unloads, negative keeps loaded.
KEEP_ALIVE = re.compile(r"^-?\d+(\.\d+)?(ns|us|µs|ms|s|m|h)?$")

SCHEMA = {
    "type": "object",
    "properties": {"answer": {"type": "string", "maxLength": 40}, "citations": {"type": "array"}},
    "required": ["answer", "citations"],
}
MESSAGES = [{"role": "system", "content": "Answer in JSON."}, {"role": "user", "content": "[1] Kim got a car."}]


@pytest.fixture
def standin() -> Iterator[OllamaStandIn]:
    server = OllamaStandIn(FakeGenerator())
    yield server
    server.close()


def generator_for(standin: OllamaStandIn, model: str = MODEL_NAME) -> OllamaGenerator:
    return OllamaGenerator(model, standin.url, timeout_s=10)


def assert_documented_chat_request(body: dict[str, Any], streamed: bool, max_tokens: int) -> None:
    """One `POST /api/chat` body, field by field, against docs/api.md."""
    assert set(body) <= CHAT_PARAMETERS, f"undocumented fields: {set(body) - CHAT_PARAMETERS}"
    assert body["model"] == MODEL_NAME
    assert body["messages"] == MESSAGES
    assert all(m["role"] in MESSAGE_ROLES and isinstance(m["content"], str) for m in body["messages"])
    # Structured outputs: `format` carries the JSON schema itself, not the string "json".
    assert body["format"] == SCHEMA
    options = body["options"]
    assert set(options) <= set(MODELFILE_OPTIONS), f"not Modelfile parameters: {set(options) - set(MODELFILE_OPTIONS)}"
    assert all(isinstance(value, MODELFILE_OPTIONS[name]) for name, value in options.items())
    assert options["num_predict"] == max_tokens and options["temperature"] == 0
    # `stream` defaults to true on the server, so a non-streamed call must say false.
    assert body.get("stream", True) is streamed
    # We do not send keep_alive (the server's documented default of 5m applies); if it is ever sent,
    # it must be one of the documented forms.
    if "keep_alive" in body:
        assert isinstance(body["keep_alive"], int | float) or KEEP_ALIVE.match(str(body["keep_alive"]))


def test_a_plain_chat_request_has_only_documented_fields(standin: OllamaStandIn) -> None:
    text = generator_for(standin).generate(MESSAGES, SCHEMA, max_tokens=64)
    assert text  # the stand-in's fake generator replied through the protocol
    assert len(standin.requests) == 1
    assert_documented_chat_request(standin.requests[0], streamed=False, max_tokens=64)


def test_a_streamed_chat_request_has_only_documented_fields_and_reassembles(standin: OllamaStandIn) -> None:
    pieces: list[str] = []
    text = generator_for(standin).generate(MESSAGES, SCHEMA, max_tokens=32, on_text=pieces.append)
    assert len(pieces) > 1 and "".join(pieces) == text  # ndjson lines, in order
    assert_documented_chat_request(standin.requests[0], streamed=True, max_tokens=32)


@pytest.mark.parametrize("streamed", [False, True])
@pytest.mark.parametrize(
    ("status", "message"),
    [(404, "model 'qwen2.5-coder:1.5b' not found, try pulling it first"),
     (500, "llama runner process has terminated: signal: killed"),
     (400, "invalid format: expected \"json\" or a JSON schema")],
)  # fmt: skip
def test_an_ollama_error_body_becomes_our_clear_error(
    standin: OllamaStandIn, status: int, message: str, streamed: bool
) -> None:
    standin.fail_with = (status, message)
    on_text = (lambda _piece: None) if streamed else None
    with pytest.raises(GeneratorUnavailable) as raised:
        generator_for(standin).generate(MESSAGES, SCHEMA, 16, on_text=on_text)
    assert str(raised.value) == f"Ollama at {standin.url} answered {status}: {message}"


def test_a_model_the_server_does_not_have_is_a_clear_404_error(standin: OllamaStandIn) -> None:
    with pytest.raises(GeneratorUnavailable, match=r"answered 404: model 'llama3:70b' not found"):
        generator_for(standin, model="llama3:70b").generate(MESSAGES, SCHEMA, 16)


def test_an_error_line_in_the_middle_of_a_stream_is_a_clear_error(standin: OllamaStandIn) -> None:
    standin.fail_with = (200, "an error was encountered while running the model")
    pieces: list[str] = []
    with pytest.raises(GeneratorUnavailable, match="an error was encountered while running the model"):
        generator_for(standin).generate(MESSAGES, SCHEMA, 16, on_text=pieces.append)
    assert pieces == ["{"]  # what arrived before the error was passed on, nothing invented after it


def test_an_ollama_500_is_a_503_with_its_message_over_http(standin: OllamaStandIn, isolated_home: Path) -> None:
    standin.fail_with = (500, "llama runner process has terminated")
    settings = fake_settings(isolated_home, llm={"backend": "ollama", "ollama_host": standin.url, "timeout_s": 10})
    pipeline = build_pipeline(settings)
    pipeline.ingest([SEEDS])
    with TestClient(create_app(pipeline)) as client:
        response = client.post("/api/ask", json={"question": "What did Kim Yo Jong say about the car?"})
    assert response.status_code == 503 and response.headers["Retry-After"]
    assert response.json()["error"] == (
        f"the language model is unavailable: Ollama at {standin.url} answered 500: llama runner process has terminated"
    )
