"""The OpenAI-compatible endpoints, driven by the official `openai` client.

Fast tests run the client over litestar's test client (fake pipeline); the slow
test starts a real `qa serve` process with the default model and talks to it
over HTTP. `running_server` is shared with the browser test.
"""

from __future__ import annotations

import contextlib
import os
import re
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import openai
import pytest
from litestar import Litestar
from litestar.testing import TestClient
from openai import OpenAI

from qa.api import create_app
from tests.conftest import REPO, SEEDS
from tests.test_api import QUESTION, REPLACED_QUESTION, ConversationGenerator, DownGenerator, make_pipeline, sse_events

Messages = list[Any]


@pytest.fixture
def test_client(isolated_home: Path) -> Iterator[TestClient[Litestar]]:
    with TestClient(create_app(make_pipeline(isolated_home))) as client:
        yield client


def openai_over(client: TestClient[Litestar]) -> OpenAI:
    """The official client, sending its requests through the in-process test client."""
    return OpenAI(base_url=f"{client.base_url}/v1", api_key="x", http_client=client, max_retries=0)


def user(content: str) -> dict[str, str]:
    return {"role": "user", "content": content}


def assert_exact_citations(content: str, citations: list[dict[str, Any]]) -> None:
    assert citations, content
    markers = {int(n) for n in re.findall(r"\[(\d+)\]", content)}
    assert markers == set(range(1, len(citations) + 1)), content
    for cite in citations:
        text = (SEEDS / cite["source"]).read_text(encoding="utf-8")
        assert cite["quote"] == text[cite["start"] : cite["end"]]


def streamed(client: OpenAI, messages: Messages) -> tuple[str, Any]:
    """The streamed content, joined, and the last chunk."""
    chunks = list(client.chat.completions.create(model="qa", messages=messages, stream=True))
    content = "".join(chunk.choices[0].delta.content or "" for chunk in chunks if chunk.choices)
    assert chunks[0].choices[0].delta.role == "assistant"
    return content, chunks[-1]


# --- fast: the official client over the test client --------------------------------------------


def test_models_lists_the_one_model(test_client: TestClient[Litestar]) -> None:
    assert [model.id for model in openai_over(test_client).models.list()] == ["qa"]


def test_completion_carries_markers_and_citations_on_the_message(test_client: TestClient[Litestar]) -> None:
    completion = openai_over(test_client).chat.completions.create(model="qa", messages=[user(QUESTION)])
    message = completion.choices[0].message
    assert completion.object == "chat.completion" and completion.choices[0].finish_reason == "stop"
    assert message.role == "assistant" and message.content
    assert_exact_citations(message.content, (message.model_extra or {})["citations"])


def test_stream_carries_citations_on_the_final_chunk(test_client: TestClient[Litestar]) -> None:
    client = openai_over(test_client)
    whole = client.chat.completions.create(model="qa", messages=[user(QUESTION)]).choices[0].message
    content, last = streamed(client, [user(QUESTION)])
    assert content == whole.content
    assert last.choices[0].finish_reason == "stop"
    citations = (last.model_extra or {})["citations"]
    assert citations == (last.choices[0].delta.model_extra or {})["citations"]
    assert_exact_citations(content, citations)


def test_stream_sends_only_the_verified_answer_never_the_draft(test_client: TestClient[Litestar]) -> None:
    content, last = streamed(openai_over(test_client), [user(REPLACED_QUESTION)])
    assert content.startswith("No supported answer")  # replaced the unverified draft
    assert_exact_citations(content, (last.model_extra or {})["citations"])


def test_raw_stream_is_openai_sse_ending_with_done(test_client: TestClient[Litestar]) -> None:
    body = {"model": "x", "messages": [user(QUESTION)], "stream": True}
    response = test_client.post("/v1/chat/completions", json=body)
    assert response.status_code == 200 and response.headers["content-type"].startswith("text/event-stream")
    assert "retrieve;dur=" in response.headers["server-timing"]
    lines = [line for line in response.text.split("\n") if line]
    assert all(line.startswith("data: ") for line in lines)
    assert lines[-1] == "data: [DONE]"


def test_history_and_content_parts_are_understood(isolated_home: Path) -> None:
    generator = ConversationGenerator()
    messages: Messages = [
        {"role": "system", "content": "You are helpful."},
        user(QUESTION),
        {"role": "assistant", "content": "She praised the car."},
        {"role": "user", "content": [{"type": "text", "text": "What else did she say?"}]},
    ]
    with TestClient(create_app(make_pipeline(isolated_home, generator=generator))) as client:
        completion = openai_over(client).chat.completions.create(model="qa", messages=messages)
    assert completion.choices[0].message.content
    assert f"user: {QUESTION}" in generator.condense_prompts[-1]
    assert "assistant: She praised the car." in generator.condense_prompts[-1]


@pytest.mark.parametrize(
    "messages",
    [
        [user("")],
        [user("q" * 1001)],
        [user(QUESTION), {"role": "assistant", "content": "An answer."}],
        [],
    ],
)
def test_bad_requests_raise_bad_request_error(test_client: TestClient[Litestar], messages: Messages) -> None:
    with pytest.raises(openai.BadRequestError):
        openai_over(test_client).chat.completions.create(model="qa", messages=messages)


def test_unreachable_model_is_a_503_for_the_client(isolated_home: Path) -> None:
    with TestClient(create_app(make_pipeline(isolated_home, generator=DownGenerator()))) as client:
        with pytest.raises(openai.InternalServerError) as raised:
            openai_over(client).chat.completions.create(model="qa", messages=[user(QUESTION)])
        assert raised.value.status_code == 503
        assert client.get("/health").status_code == 200


# --- slow: a real `qa serve` process with the default model ---------------------------------------


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@contextlib.contextmanager
def running_server(home: Path, log: Path, startup_timeout: float = 600) -> Iterator[str]:
    """`qa serve` on a free loopback port, with its own data home; yields its base URL, then kills it."""
    port = free_port()
    env = {**os.environ, "QA_HOME": str(home), "QA_MODELS_DIR": str(REPO / ".qa-home" / "models")}
    env.pop("QA_API_TOKEN", None)
    qa = Path(sys.executable).with_name("qa")
    with log.open("wb") as out:
        command = [str(qa), "serve", "--host", "127.0.0.1", "--port", str(port)]
        process = subprocess.Popen(command, env=env, stdout=out, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    try:
        _wait_ready(url, process, log, startup_timeout)
        yield url
    finally:
        process.terminate()
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=20)


def _wait_ready(url: str, process: subprocess.Popen[bytes], log: Path, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            pytest.fail(f"qa serve exited with {process.returncode}:\n{log.read_text(errors='replace')[-3000:]}")
        with contextlib.suppress(httpx.HTTPError):
            if httpx.get(f"{url}/health", timeout=5).status_code == 200:
                return
        time.sleep(0.5)
    pytest.fail(f"qa serve was not ready after {timeout} s:\n{log.read_text(errors='replace')[-3000:]}")


def first_delta_seconds(url: str, question: str) -> tuple[float, dict[str, Any]]:
    """Seconds from sending a streamed /api/chat request to its first delta event, and the final answer."""
    started = time.perf_counter()
    first = -1.0
    body = {"messages": [user(question)], "stream": True}
    with httpx.stream("POST", f"{url}/api/chat", json=body, timeout=300) as response:
        text = ""
        for chunk in response.iter_text():
            if first < 0 and "event: delta" in chunk:
                first = time.perf_counter() - started
            text += chunk
    events = sse_events(text)
    return first, next(data for name, data in events if name == "answer")


@pytest.mark.slow
def test_official_client_against_a_real_qa_serve(tmp_path: Path) -> None:
    with running_server(tmp_path / "home", tmp_path / "serve.log") as url:
        client = OpenAI(base_url=f"{url}/v1", api_key="x", timeout=300, max_retries=0)
        assert [model.id for model in client.models.list()] == ["qa"]

        completion = client.chat.completions.create(model="qa", messages=[user(QUESTION)])
        message = completion.choices[0].message
        assert message.content
        assert_exact_citations(message.content, (message.model_extra or {})["citations"])

        content, last = streamed(client, [user(QUESTION)])
        assert last.choices[0].finish_reason == "stop"
        assert_exact_citations(content, (last.model_extra or {})["citations"])

        seconds, answer = first_delta_seconds(url, "When did Putin arrive in Pyongyang?")
        print(f"\nfirst SSE delta after {seconds:.2f} s; answer in {answer['timings']['total_ms'] / 1000:.2f} s")
        assert answer["citations"] or answer["refused"]
