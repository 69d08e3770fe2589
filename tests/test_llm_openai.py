"""The openai backend: any OpenAI-compatible server through the official `openai` client.

Fast tests fake the server with httpx's MockTransport (named `fake_server`) or point
at a closed port. Slow tests start llama.cpp's own HTTP server (shipped by xllamacpp)
as a separate process with the packaged Qwen model, and run the unchanged pipeline
against it.
"""

from __future__ import annotations

import json
import os
import re
import socket
import subprocess
import sys
import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from litestar.testing import TestClient

from qa.api import create_app
from qa.config import Settings, get_settings
from qa.llm import GeneratorUnavailable, OpenAIGenerator, assemble_qwen, checked_json, metered_usage, schema_problems
from qa.pipeline import Pipeline
from qa.reply import JUDGE_SCHEMA, answer_schema
from qa.types import Answer
from qa.wiring import build_generator, build_pipeline
from tests.conftest import REPO, SEEDS, fake_settings

SCHEMA = answer_schema(3)
GOOD = {"evidence": [2], "answer": "275 million roubles"}
MESSAGES = [{"role": "system", "content": "Answer from the evidence."}, {"role": "user", "content": "How much?"}]
EN_QUESTION = "How much does an Aurus Senat cost?"


# --- the schema check used when a server cannot enforce the schema -------------------------


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        (json.dumps(GOOD), GOOD),
        ("Sure! Here it is:\n```json\n" + json.dumps(GOOD) + "\n```", GOOD),
        ('{"evidence": [4], "answer": "x"}', None),  # not one of the sentences offered
        ('{"evidence": [], "answer": "x"}', None),  # minItems
        ('{"evidence": [1], "answer": 275}', None),  # wrong type
        ('{"evidence": [true], "answer": "x"}', None),  # a boolean is not an integer
        ('{"answer": "x"}', None),  # required
        ('{"evidence": [1], "answer": "x", "why": "because"}', None),  # additionalProperties
        ('{"evidence": [1], "answer": "' + "x" * 161 + '"}', None),  # maxLength
        ("I cannot answer that.", None),
        ('{"evidence": [1], "answer": "x"', None),
    ],
)
def test_checked_json_keeps_only_replies_that_follow_the_schema(raw: str, expected: dict[str, Any] | None) -> None:
    checked = checked_json(raw, SCHEMA)
    assert (json.loads(checked) if checked else None) == expected


def test_schema_problems_name_the_field() -> None:
    assert schema_problems({"supported": "yes"}, JUDGE_SCHEMA) == ["$.supported is not of type boolean"]
    assert schema_problems({"supported": True}, JUDGE_SCHEMA) == []


# --- a fake server (httpx MockTransport), for the protocol details ------------------------------


def completion(content: str, prompt_tokens: int = 11, completion_tokens: int = 7) -> dict[str, Any]:
    return {
        "id": "chatcmpl-1", "object": "chat.completion", "created": 0, "model": "m",
        "choices": [{"index": 0, "message": {"role": "assistant", "content": content}, "finish_reason": "stop"}],
        "usage": {"prompt_tokens": prompt_tokens, "completion_tokens": completion_tokens,
                  "total_tokens": prompt_tokens + completion_tokens},
    }  # fmt: skip


class FakeServer:
    """Scripted OpenAI-compatible replies (not a server): records each request body."""

    def __init__(self, reply: Callable[[dict[str, Any]], httpx.Response]) -> None:
        self.requests: list[dict[str, Any]] = []
        self._reply = reply

    def handle(self, request: httpx.Request) -> httpx.Response:
        body = json.loads(request.content)
        self.requests.append(body)
        return self._reply(body)

    def generator(self, structured: Any = "auto") -> OpenAIGenerator:
        client = httpx.Client(transport=httpx.MockTransport(self.handle))
        return OpenAIGenerator("m", "http://fake.invalid/v1", None, 5.0, structured, http_client=client)


def without_json_schema(body: dict[str, Any]) -> httpx.Response:
    """A server that rejects `response_format` and wraps its JSON in prose."""
    if "response_format" in body:
        return httpx.Response(400, json={"error": {"message": "response_format is not supported"}})
    return httpx.Response(200, json=completion("Here you go: " + json.dumps(GOOD)))


def test_fake_server_json_schema_is_sent_and_usage_recorded() -> None:
    fake_server = FakeServer(lambda body: httpx.Response(200, json=completion(json.dumps(GOOD))))
    with metered_usage() as usage:
        raw = fake_server.generator().generate(MESSAGES, SCHEMA, 64)
    assert json.loads(raw) == GOOD
    sent = fake_server.requests[0]
    assert sent["response_format"]["json_schema"]["schema"] == SCHEMA
    assert sent["max_tokens"] == 64 and sent["temperature"] == 0.0
    assert (usage.prompt_tokens, usage.completion_tokens) == (11, 7)


def test_fake_server_without_json_schema_gets_the_schema_in_the_prompt_and_a_checked_reply() -> None:
    fake_server = FakeServer(without_json_schema)
    generator = fake_server.generator()
    assert json.loads(generator.generate(MESSAGES, SCHEMA, 64)) == GOOD
    assert json.loads(generator.generate(MESSAGES, SCHEMA, 64)) == GOOD
    # One rejected try, then the fallback for this call and every later one.
    assert ["response_format" in r for r in fake_server.requests] == [True, False, False]
    system = fake_server.requests[1]["messages"][0]
    assert system["role"] == "system" and json.dumps(SCHEMA) in system["content"]
    assert system["content"].startswith(MESSAGES[0]["content"])


def test_fake_server_reply_that_breaks_the_schema_becomes_empty_text() -> None:
    fake_server = FakeServer(lambda body: httpx.Response(200, json=completion('{"evidence": [9], "answer": "x"}')))
    assert fake_server.generator("prompt").generate(MESSAGES, SCHEMA, 64) == ""


def test_fake_server_json_schema_mode_does_not_fall_back() -> None:
    fake_server = FakeServer(without_json_schema)
    with pytest.raises(GeneratorUnavailable, match="answered 400"):
        fake_server.generator("json_schema").generate(MESSAGES, SCHEMA, 64)


def test_fake_server_streaming_passes_pieces_on_and_records_usage() -> None:
    text = json.dumps(GOOD)
    pieces = [text[i : i + 5] for i in range(0, len(text), 5)]

    def stream(body: dict[str, Any]) -> httpx.Response:
        assert body["stream"] is True and body["stream_options"] == {"include_usage": True}
        base = {"id": "c", "object": "chat.completion.chunk", "created": 0, "model": "m"}
        events = [{**base, "choices": [{"index": 0, "delta": {"content": p}, "finish_reason": None}]} for p in pieces]
        usage = {"prompt_tokens": 5, "completion_tokens": 9, "total_tokens": 14}
        events.append({**base, "choices": [], "usage": usage})
        sse = "".join(f"data: {json.dumps(e)}\n\n" for e in events) + "data: [DONE]\n\n"
        return httpx.Response(200, text=sse, headers={"content-type": "text/event-stream"})

    seen: list[str] = []
    with metered_usage() as usage:
        raw = FakeServer(stream).generator().generate(MESSAGES, SCHEMA, 64, seen.append)
    assert raw == text and seen == pieces
    assert (usage.prompt_tokens, usage.completion_tokens) == (5, 9)


def test_settings_pick_the_openai_backend(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("QA_LLM__BACKEND", "openai")
    monkeypatch.setenv("QA_LLM__BASE_URL", "http://127.0.0.1:9/v1")
    monkeypatch.setenv("QA_LLM__API_KEY", "sk-test")
    monkeypatch.setenv("QA_LLM__OPENAI_MODEL", "some-model")
    settings = get_settings()
    assert "sk-test" not in repr(settings)  # a secret: never printed with the settings
    generator = build_generator(settings)
    assert isinstance(generator, OpenAIGenerator) and generator.name == "openai:some-model"


# --- a server that is down or silent: the same clear 503 as the Ollama backend -----------------


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def test_unreachable_server_is_a_clear_error() -> None:
    generator = OpenAIGenerator("m", f"http://127.0.0.1:{free_port()}/v1", None, 2.0)
    with pytest.raises(GeneratorUnavailable, match="unreachable"):
        generator.generate(MESSAGES, SCHEMA, 8)


@pytest.fixture
def silent_server() -> Iterator[str]:
    """Accepts connections and never answers."""
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    sock.listen(8)
    accepted: list[socket.socket] = []
    stop = threading.Event()

    def accept() -> None:
        sock.settimeout(0.2)
        while not stop.is_set():
            try:
                accepted.append(sock.accept()[0])
            except TimeoutError:
                continue
            except OSError:
                return

    thread = threading.Thread(target=accept, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{sock.getsockname()[1]}/v1"
    stop.set()
    thread.join(timeout=5)
    for conn in accepted:
        conn.close()
    sock.close()


def assert_clear_503(response: Any, needle: str) -> None:
    assert response.status_code == 503, response.text
    message = response.json()["error"]
    assert "language model is unavailable" in message and "127.0.0.1" in message and needle in message
    assert "\n" not in message and "Traceback" not in message


def openai_app(home: Path, base_url: str, timeout_s: float = 5.0) -> Any:
    settings = fake_settings(home, llm={"backend": "openai", "base_url": base_url, "timeout_s": timeout_s})
    pipeline = build_pipeline(settings)
    pipeline.ingest([SEEDS])
    return TestClient(create_app(pipeline))


def test_server_down_is_a_503_on_every_answering_route(isolated_home: Path) -> None:
    question = "What did Kim Yo Jong say about the car?"
    chat = {"messages": [{"role": "user", "content": question}]}
    with openai_app(isolated_home, f"http://127.0.0.1:{free_port()}/v1") as client:
        assert_clear_503(client.post("/api/ask", json={"question": question}), "unreachable")
        assert_clear_503(client.post("/api/chat", json={**chat, "stream": True}), "unreachable")
        assert_clear_503(client.post("/v1/chat/completions", json=chat), "unreachable")
        assert client.get("/health").status_code == 200


def test_silent_server_times_out_as_a_503(isolated_home: Path, silent_server: str) -> None:
    with openai_app(isolated_home, silent_server, timeout_s=1.0) as client:
        response = client.post("/api/ask", json={"question": "What did Kim Yo Jong say about the car?"})
        assert_clear_503(response, "timed out")


# --- usage in /v1/chat/completions (fake generator: it reports word counts) ----------------------


def test_chat_completions_report_the_generators_token_usage(isolated_home: Path) -> None:
    pipeline = build_pipeline(fake_settings(isolated_home))
    pipeline.ingest([SEEDS])
    chat = {"messages": [{"role": "user", "content": "What did Kim Yo Jong say about the car?"}]}
    with TestClient(create_app(pipeline)) as client:
        body = client.post("/v1/chat/completions", json=chat).json()
        usage = body["usage"]
        assert usage["prompt_tokens"] > 0 and usage["completion_tokens"] > 0
        assert usage["total_tokens"] == usage["prompt_tokens"] + usage["completion_tokens"]
        streamed = client.post("/v1/chat/completions", json={**chat, "stream": True}).text
        events = [json.loads(line[6:]) for line in streamed.splitlines() if line.startswith("data: {")]
        assert events[-1]["usage"] == usage  # same question, same fake: same counts


# --- the real thing: llama.cpp's own server in a separate process --------------------------------


@pytest.fixture(scope="module")
def llama_server() -> Iterator[str]:
    """llama.cpp's OpenAI-compatible HTTP server (xllamacpp's) on a loopback port, packaged Qwen model."""
    model = assemble_qwen(REPO / ".qa-home" / "models")
    launcher = REPO / "tests" / "support" / "llama_server.py"
    process = subprocess.Popen(
        [sys.executable, str(launcher), str(model), os.environ.get("QA_LLM__THREADS", "2")],
        stdout=subprocess.PIPE, text=True,
    )  # fmt: skip
    try:
        line = process.stdout.readline() if process.stdout else ""
        match = re.match(r"listening (http://127\.0\.0\.1:\d+)", line)
        assert match, f"llama.cpp server did not start: {line!r} (exit {process.poll()})"
        yield f"{match.group(1)}/v1"
    finally:
        process.terminate()
        process.wait(timeout=30)


@pytest.mark.slow
def test_real_server_lists_its_model_and_honours_the_json_schema(llama_server: str) -> None:
    import openai

    client = openai.OpenAI(base_url=llama_server, api_key="none")
    assert "qwen2.5-coder-1.5b" in [m.id for m in client.models.list().data]
    generator = OpenAIGenerator("qwen2.5-coder-1.5b", llama_server, None, 120.0, "json_schema")
    with metered_usage() as usage:
        raw = generator.generate(MESSAGES, JUDGE_SCHEMA, 16)
    assert schema_problems(json.loads(raw), JUDGE_SCHEMA) == []
    assert usage.prompt_tokens > 0 and usage.completion_tokens > 0


@pytest.mark.slow
def test_real_server_in_prompt_mode_gives_checked_json(llama_server: str) -> None:
    generator = OpenAIGenerator("qwen2.5-coder-1.5b", llama_server, None, 120.0, "prompt")
    messages = [{"role": "user", "content": "Is the sky blue on a clear day?"}]
    raw = generator.generate(messages, JUDGE_SCHEMA, 32)
    assert raw == "" or schema_problems(json.loads(raw), JUDGE_SCHEMA) == []


@pytest.mark.slow
def test_seed_question_through_qa_llm_backend_openai_is_verified_and_cited(
    llama_server: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("QA_LLM__BACKEND", "openai")
    monkeypatch.setenv("QA_LLM__BASE_URL", llama_server)
    monkeypatch.setenv("QA_CORPUS", str(SEEDS))
    settings = get_settings()
    assert isinstance(settings, Settings) and settings.llm.backend == "openai"
    pipeline = build_pipeline(settings)
    pipeline.ingest([SEEDS])
    pieces: list[str] = []
    answer = pipeline.answer(EN_QUESTION, on_text=pieces.append)
    assert answer.backend.llm == "openai:qwen2.5-coder-1.5b"
    assert answer.mode == "generated", answer.notes
    assert "275" in answer.answer and "".join(pieces) == answer.answer
    assert answer.citations and any("275" in c.quote for c in answer.citations)
    for cite in answer.citations:
        assert (SEEDS / cite.source).read_text(encoding="utf-8")[cite.start : cite.end] == cite.quote
    assert answer.usage.prompt_tokens > 0 and answer.usage.completion_tokens > 0
    Answer.model_validate(answer.model_dump())


@pytest.mark.slow
def test_embedded_backend_reports_token_usage_streamed_or_not(real_pipeline: Pipeline) -> None:
    whole = real_pipeline.answer(EN_QUESTION)
    streamed = real_pipeline.answer(EN_QUESTION, on_text=lambda piece: None)
    for answer in (whole, streamed):
        assert answer.usage.prompt_tokens > 0 and answer.usage.completion_tokens > 0, answer.usage
