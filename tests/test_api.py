"""The HTTP API through litestar's test clients, over the real pipeline wired with fakes (fast)."""

from __future__ import annotations

import asyncio
import json
import logging
import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest
from litestar import Litestar
from litestar.testing import TestClient

from qa.api import create_app, service
from qa.api.runtime import Runtime
from qa.llm import FakeGenerator, GeneratorUnavailable, Message
from qa.pipeline import Pipeline
from qa.types import Answer, OnText
from qa.wiring import build_pipeline
from tests.conftest import SEEDS, fake_settings

QUESTION = "What did Kim Yo Jong say about the car?"
# The fake generator's draft for this one fails verification: the final answer quotes the sources.
REPLACED_QUESTION = "How old is Kim Jong Un?"
SOURCE = "003_35e64f3a5f04986d.txt"


# --- helpers ------------------------------------------------------------------------------


def make_pipeline(home: Path, generator: Any = None, **overrides: object) -> Pipeline:
    return build_pipeline(fake_settings(home, **overrides), generator=generator)


@pytest.fixture
def client(isolated_home: Path) -> Iterator[TestClient[Litestar]]:
    with TestClient(create_app(make_pipeline(isolated_home))) as test_client:
        yield test_client


def client_for(pipeline: Pipeline) -> TestClient[Litestar]:
    return TestClient(create_app(pipeline))


def ask(client: TestClient[Litestar], question: str, **headers: str) -> Any:
    return client.post("/api/ask", json={"question": question}, headers=headers)


def chat(messages: list[dict[str, str]], stream: bool = False) -> dict[str, Any]:
    return {"messages": messages, "stream": stream}


def sse_events(text: str) -> list[tuple[str, Any]]:
    """(event, data) pairs of a Server-Sent Events body."""
    events = []
    for block in text.replace("\r\n", "\n").strip().split("\n\n"):
        if block.startswith(":"):  # a comment: the keep-alive sent while the answer waits
            continue
        lines = dict(line.split(": ", 1) for line in block.split("\n"))
        events.append((lines["event"], json.loads(lines["data"])))
    return events


def assert_error(response: Any, status: int, fragment: str = "") -> None:
    assert response.status_code == status, response.text
    body = response.json()
    assert set(body) == {"error"} and isinstance(body["error"], str) and body["error"]
    assert fragment.lower() in body["error"].lower()


def server_timing(response: Any) -> dict[str, float]:
    """Each Server-Timing metric's `dur`, by name (`desc` parameters are skipped)."""
    parts = [p.strip().split(";") for p in response.headers["server-timing"].split(",")]
    return {name: float(dict(q.split("=", 1) for q in params)["dur"]) for name, *params in parts}


class BlockingGenerator:
    """The fake generator, held at the door until released (fills the answer queue)."""

    name = "blocking"

    def __init__(self) -> None:
        self.inner = FakeGenerator()
        self.release = threading.Event()
        self.entered = threading.Event()

    def generate(
        self, messages: list[Message], schema: dict[str, Any], max_tokens: int, on_text: OnText | None = None
    ) -> str:
        self.entered.set()
        self.release.wait(timeout=30)
        return self.inner.generate(messages, schema, max_tokens, on_text)


class DownGenerator:
    """A model backend that cannot be reached."""

    name = "down"

    def generate(
        self, messages: list[Message], schema: dict[str, Any], max_tokens: int, on_text: OnText | None = None
    ) -> str:
        raise GeneratorUnavailable("Ollama at http://127.0.0.1:9 is unreachable")


# --- health, page, schema -------------------------------------------------------------------


def test_health_reports_ready_with_counts(client: TestClient[Litestar]) -> None:
    response = client.get("/health")
    assert response.status_code == 200
    body = response.json()
    assert body["status"] == "ok" and body["generator"] == "ready"
    assert body["sources"] == 5 and body["chunks"] > 5
    assert body["queue"] == {"running": 0, "waiting": 0, "workers": 1, "max_queue": 8}


def test_pipeline_is_built_once_in_the_background_and_health_says_loading(isolated_home: Path) -> None:
    settings = fake_settings(isolated_home)
    gate = threading.Event()
    builds: list[Pipeline] = []

    def build() -> Pipeline:
        gate.wait(timeout=30)
        builds.append(build_pipeline(settings))
        return builds[-1]

    with TestClient(create_app(settings=settings, build=build)) as test_client:
        assert test_client.get("/health").json()["status"] == "loading"
        assert test_client.get("/health").status_code == 503
        busy = ask(test_client, QUESTION)
        assert_error(busy, 503, "starting")
        assert busy.headers["retry-after"] == "5"
        gate.set()
        deadline = time.monotonic() + 30
        while test_client.get("/health").status_code != 200 and time.monotonic() < deadline:
            time.sleep(0.05)
        health = test_client.get("/health").json()
        assert health["status"] == "ok" and health["sources"] == 5  # ensure_index ran on the empty home
        assert ask(test_client, QUESTION).status_code == 200
        assert ask(test_client, "Who gifted the limousine?").status_code == 200
    assert len(builds) == 1


def test_the_same_app_can_be_started_again(client: TestClient[Litestar], isolated_home: Path) -> None:
    app = create_app(make_pipeline(isolated_home))
    for _ in range(2):
        with TestClient(app) as again:
            assert ask(again, QUESTION).status_code == 200
            assert again.get("/health").json()["status"] == "ok"


def test_index_page_and_its_assets_are_served_without_any_cdn(client: TestClient[Litestar]) -> None:
    page = client.get("/")
    assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
    assert "default-src 'self'" in page.headers["content-security-policy"]
    for asset, kind in [("/web/app.js", "javascript"), ("/web/style.css", "css")]:
        response = client.get(asset)
        assert response.status_code == 200 and kind in response.headers["content-type"]
    web = Path(__file__).resolve().parent.parent / "qa" / "web"
    for file in web.iterdir():
        text = file.read_text(encoding="utf-8")
        assert "http://" not in text and "https://" not in text, file.name


def test_openapi_schema_lists_every_endpoint(client: TestClient[Litestar]) -> None:
    schema = client.get("/schema").json()
    assert set(schema["paths"]) >= {
        "/health", "/api/ask", "/api/chat", "/api/sources", "/api/sources/{name}", "/v1/models", "/v1/chat/completions"
    }  # fmt: skip
    assert "429" in schema["paths"]["/api/ask"]["post"]["responses"]
    assert "404" in schema["paths"]["/api/sources/{name}"]["get"]["responses"]
    for path in ["/api/chat", "/v1/chat/completions"]:
        assert set(schema["paths"][path]["post"]["responses"]["200"]["content"]) == {
            "application/json", "text/event-stream"
        }  # fmt: skip


def test_unknown_route_is_a_json_404(client: TestClient[Litestar]) -> None:
    assert_error(client.get("/nope"), 404)


# --- /api/ask ----------------------------------------------------------------------------------


def test_ask_returns_the_same_answer_json_as_the_cli(client: TestClient[Litestar], isolated_home: Path) -> None:
    response = ask(client, QUESTION)
    assert response.status_code == 200
    body = response.json()
    answer = Answer.model_validate(body)
    assert answer.mode == "generated" and answer.citations
    expected = json.loads(make_pipeline(isolated_home).answer(QUESTION).model_dump_json())
    assert {k: v for k, v in body.items() if k != "timings"} == {k: v for k, v in expected.items() if k != "timings"}
    timing = server_timing(response)
    assert set(timing) == {"cache", "lane", "queue", "retrieve", "generate", "total"}
    assert timing["total"] == answer.timings.total_ms and timing["retrieve"] == answer.timings.retrieve_ms


@pytest.mark.parametrize(
    ("body", "fragment"),
    [
        ({"question": ""}, "empty"),
        ({"question": "   \n "}, "empty"),
        ({"question": "x" * 1001}, "limit is 1000"),
        ({"question": "?!"}, "no words"),
        ({"question": 42}, "question"),
        ({"question": None}, "question"),
        ({"question": ["a", "b"]}, "question"),
        ({}, "question"),
        (["not", "an", "object"], ""),
    ],
)
def test_ask_rejects_bad_input_with_400_and_a_message(client: TestClient[Litestar], body: Any, fragment: str) -> None:
    assert_error(client.post("/api/ask", json=body), 400, fragment)


def test_ask_rejects_invalid_json(client: TestClient[Litestar]) -> None:
    headers = {"content-type": "application/json"}
    response = client.post("/api/ask", content=b'{"question": "unterminated', headers=headers)
    assert_error(response, 400)


def test_body_over_the_limit_is_413(isolated_home: Path) -> None:
    pipeline = make_pipeline(isolated_home, server={"max_body_bytes": 2048})
    with client_for(pipeline) as test_client:
        assert_error(ask(test_client, "y" * 3000), 413, "too large")
        assert ask(test_client, QUESTION).status_code == 200


# --- /api/chat -----------------------------------------------------------------------------------


class ConversationGenerator(FakeGenerator):
    """Rewrites the follow-up "What else did she say?" using the conversation it is shown."""

    def __init__(self) -> None:
        super().__init__(self._reply)
        self.condense_prompts: list[str] = []
        self.fake = FakeGenerator()

    def _reply(self, messages: list[Message]) -> dict[str, Any]:
        user = messages[-1]["content"]
        if "Follow-up question:" not in user:
            return json.loads(self.fake.generate(messages, {}, 100))
        self.condense_prompts.append(user)
        return {"question": "What else did Kim Yo Jong say about the car?" if "Kim Yo Jong" in user else "What?"}


def test_chat_follow_up_is_answered_with_the_history(isolated_home: Path) -> None:
    generator = ConversationGenerator()
    with client_for(make_pipeline(isolated_home, generator=generator)) as test_client:
        first = test_client.post("/api/chat", json=chat([{"role": "user", "content": QUESTION}])).json()
        assert generator.condense_prompts == []  # a first question needs no rewriting
        history = [
            {"role": "user", "content": QUESTION},
            {"role": "assistant", "content": first["answer"]},
            {"role": "user", "content": "What else did she say?"},
        ]
        response = test_client.post("/api/chat", json=chat(history))
    assert response.status_code == 200 and "server-timing" in response.headers
    follow_up = Answer.model_validate(response.json())
    assert follow_up.question == "What else did she say?"
    prompt = generator.condense_prompts[-1]
    assert f"user: {QUESTION}" in prompt and first["answer"][:40] in prompt
    # The standalone rewrite, not the bare follow-up, is what the answer prompt asks.
    answer_prompt = generator.calls[-1][-1]["content"]
    assert "Question: What else did Kim Yo Jong say about the car?" in answer_prompt
    assert follow_up.citations


def test_chat_follow_up_in_marathi_prepends_the_previous_question(isolated_home: Path) -> None:
    generator = ConversationGenerator()
    messages = [
        {"role": "user", "content": "पुतिन यांनी किमला कोणती कार दिली?"},
        {"role": "assistant", "content": "ऑरस"},
        {"role": "user", "content": "किती वेळा?"},
    ]
    with client_for(make_pipeline(isolated_home, generator=generator)) as test_client:
        response = test_client.post("/api/chat", json=chat(messages))
    assert response.status_code == 200
    assert response.json()["language"] == "mr" and response.json()["citations"]
    assert generator.condense_prompts == []  # the model does not write Marathi: no rewrite asked


def test_chat_stream_sends_deltas_then_an_answer_with_exact_quotes_then_done(
    client: TestClient[Litestar], fake_pipeline: Pipeline
) -> None:
    response = client.post("/api/chat", json=chat([{"role": "user", "content": QUESTION}], stream=True))
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/event-stream")
    events = sse_events(response.text)
    names = [name for name, _ in events]
    assert names[-2:] == ["answer", "done"] and set(names[:-2]) == {"delta"} and len(names) > 3
    answer = Answer.model_validate(events[-2][1])
    assert "".join(data["text"] for _, data in events[:-2]) == answer.answer
    assert answer.mode == "generated" and answer.citations
    for cite in answer.citations:
        text = fake_pipeline.source_text(cite.source)
        assert cite.quote == text[cite.start : cite.end]
        assert cite.quote == (SEEDS / cite.source).read_text(encoding="utf-8")[cite.start : cite.end]
        served = client.get(f"/api/sources/{cite.source}", params={"start": cite.start, "end": cite.end}).json()
        assert served["text"] == cite.quote


def test_chat_stream_final_answer_replaces_a_draft_that_fails_verification(client: TestClient[Litestar]) -> None:
    response = client.post("/api/chat", json=chat([{"role": "user", "content": REPLACED_QUESTION}], stream=True))
    events = sse_events(response.text)
    draft = "".join(data["text"] for name, data in events if name == "delta")
    final = Answer.model_validate(next(data for name, data in events if name == "answer"))
    assert draft and final.mode == "extractive" and final.answer != draft
    assert final.notes and final.citations


def test_chat_stream_refusal_has_no_deltas(isolated_home: Path) -> None:
    refuse = FakeGenerator(lambda _: {"answerable": False, "answer": "", "citations": []})
    with client_for(make_pipeline(isolated_home, generator=refuse)) as test_client:
        response = test_client.post("/api/chat", json=chat([{"role": "user", "content": QUESTION}], stream=True))
    events = sse_events(response.text)
    assert [name for name, _ in events if name != "delta"] == ["answer", "done"]
    assert events[-2][1]["refused"] is True and events[-2][1]["citations"] == []


@pytest.mark.parametrize(
    ("body", "fragment"),
    [
        (chat([]), "messages"),
        (chat([{"role": "assistant", "content": "hello"}]), "role 'user'"),
        (chat([{"role": "robot", "content": "hi"}]), "role"),
        (chat([{"role": "user", "content": 7}]), "content"),  # type: ignore[dict-item]
        ({"messages": [{"role": "user", "content": QUESTION}], "stream": "yes"}, "stream"),
        ({"messages": "What?"}, "messages"),
        (chat([{"role": "user", "content": ""}], stream=True), "empty"),
        (chat([{"role": "user", "content": "z" * 1001}], stream=True), "limit"),
        (chat([{"role": "user", "content": "???"}], stream=True), "no words"),
        (chat([{"role": "user", "content": "…"}]), "no words"),
    ],
)
def test_chat_rejects_bad_input_with_400(client: TestClient[Litestar], body: Any, fragment: str) -> None:
    assert_error(client.post("/api/chat", json=body), 400, fragment)


# --- model unavailable, queue full ----------------------------------------------------------------


def test_unreachable_generator_is_503_and_the_server_stays_up(isolated_home: Path) -> None:
    pipeline = make_pipeline(isolated_home, generator=DownGenerator())
    with client_for(pipeline) as test_client:
        assert_error(ask(test_client, QUESTION), 503, "unreachable")
        streamed = test_client.post("/api/chat", json=chat([{"role": "user", "content": QUESTION}], stream=True))
        assert_error(streamed, 503, "unreachable")
        health = test_client.get("/health")
        assert health.status_code == 200 and health.json()["status"] == "ok"
        # Answers that need no model still work: a question nothing in the index is close to is refused.
        pipeline.relevance_floor = 0.99
        assert ask(test_client, "What is the capital of France?").json()["mode"] == "refused"


def test_full_queue_answers_429_with_retry_after(isolated_home: Path) -> None:
    generator = BlockingGenerator()
    pipeline = make_pipeline(isolated_home, generator=generator, server={"workers": 1, "max_queue": 1})
    body = {"question": QUESTION}
    # The test client runs the app on its own event loop thread, so requests sent from
    # several threads are handled concurrently, as by a real server.
    with client_for(pipeline) as test_client, ThreadPoolExecutor(max_workers=2) as pool:
        try:
            running = pool.submit(test_client.post, "/api/ask", json=body)
            _until(generator.entered.is_set)
            waiting = pool.submit(test_client.post, "/api/ask", json=body)
            _until(lambda: test_client.get("/health").json()["queue"]["waiting"] == 1)
            refused = test_client.post("/api/ask", json=body)
            assert_error(refused, 429, "busy")
            assert int(refused.headers["retry-after"]) >= 1
            streamed = test_client.post("/api/chat", json=chat([{"role": "user", "content": QUESTION}], True))
            assert streamed.status_code == 429 and "retry-after" in streamed.headers
            queue = test_client.get("/health").json()["queue"]
            assert queue == {"running": 1, "waiting": 1, "workers": 1, "max_queue": 1}
        finally:
            generator.release.set()
        assert running.result(timeout=30).status_code == 200
        assert waiting.result(timeout=30).status_code == 200
    with client_for(pipeline) as test_client:
        assert ask(test_client, QUESTION).status_code == 200


def test_a_question_whose_client_left_is_dropped_from_the_queue(isolated_home: Path) -> None:
    generator = BlockingGenerator()
    pipeline = make_pipeline(isolated_home, generator=generator)
    runtime = Runtime(pipeline.settings, pipeline, lambda: pipeline)
    runtime.load()

    class GoneClient:
        async def receive(self) -> dict[str, str]:
            await asyncio.sleep(0.05)
            return {"type": "http.disconnect"}

    async def scenario() -> None:
        running = asyncio.ensure_future(service.answer(runtime, QUESTION))
        await asyncio.to_thread(_until, generator.entered.is_set)
        with pytest.raises(service.ClientGone):
            await service.answer(runtime, QUESTION, connection=GoneClient())  # type: ignore[arg-type]
        assert runtime.queue.stats()["waiting"] == 0
        generator.release.set()
        assert (await running)[0].citations

    try:
        asyncio.run(scenario())
    finally:
        generator.release.set()
        runtime.shutdown()
    answered = [c for c in generator.inner.calls if "Proposed answer:" not in c[-1]["content"]]  # not the judge
    assert len(answered) == 1  # the abandoned question never reached the model


def _until(condition: Callable[[], bool], timeout: float = 10) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.01)


# --- security ---------------------------------------------------------------------------------------


def test_token_is_required_everywhere_but_health_and_the_page(isolated_home: Path) -> None:
    pipeline = make_pipeline(isolated_home, api_token="s3cret-token")
    protected = [
        ("POST", "/api/ask", {"question": QUESTION}),
        ("POST", "/api/chat", chat([{"role": "user", "content": QUESTION}])),
        ("GET", "/api/sources", None),
        ("GET", f"/api/sources/{SOURCE}", None),
        ("GET", "/v1/models", None),
        ("POST", "/v1/chat/completions", chat([{"role": "user", "content": QUESTION}])),
        ("GET", "/schema", None),
    ]
    with client_for(pipeline) as test_client:
        for method, path, body in protected:
            for headers in [{}, {"Authorization": "Bearer wrong"}, {"Authorization": "s3cret-token"}]:
                response = test_client.request(method, path, json=body, headers=headers)
                assert_error(response, 401, "bearer")
                assert response.headers["www-authenticate"].startswith("Bearer")
            good = test_client.request(method, path, json=body, headers={"Authorization": "Bearer s3cret-token"})
            assert good.status_code == 200, (path, good.text)
        for path in ["/health", "/", "/web/app.js"]:
            assert test_client.get(path).status_code == 200
        # A large body without the token is refused as unauthorised, before it is read.
        assert test_client.post("/api/ask", content=b"x" * 100_000).status_code == 401


def test_without_a_token_no_authorization_is_needed(client: TestClient[Litestar]) -> None:
    assert ask(client, QUESTION).status_code == 200
    assert client.get("/v1/models").status_code == 200


def test_cors_is_off_unless_origins_are_configured(client: TestClient[Litestar], tmp_path: Path) -> None:
    preflight = {"Origin": "http://example.test", "Access-Control-Request-Method": "POST"}
    assert "access-control-allow-origin" not in client.options("/api/ask", headers=preflight).headers
    assert "access-control-allow-origin" not in client.get("/health", headers={"Origin": "http://example.test"}).headers
    pipeline = make_pipeline(tmp_path / "cors-home", server={"cors_origins": ["http://example.test"]})
    with client_for(pipeline) as cors_client:
        allowed = cors_client.options("/api/ask", headers=preflight)
        assert allowed.headers["access-control-allow-origin"] == "http://example.test"
        other = cors_client.get("/health", headers={"Origin": "http://evil.test"})
        assert "access-control-allow-origin" not in other.headers


def test_question_and_answer_text_are_logged_only_when_enabled(
    isolated_home: Path, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="qa.api")
    with client_for(make_pipeline(isolated_home)) as test_client:
        answer = ask(test_client, QUESTION).json()
    assert any("mode=generated" in r.getMessage() for r in caplog.records)
    assert QUESTION not in caplog.text and answer["answer"] not in caplog.text
    caplog.clear()
    with client_for(make_pipeline(tmp_path / "log-home", server={"log_text": True})) as test_client:
        test_client.post("/api/chat", json=chat([{"role": "user", "content": QUESTION}], stream=True))
    assert QUESTION in caplog.text


# --- /api/sources -----------------------------------------------------------------------------------


def test_sources_lists_and_serves_indexed_texts(client: TestClient[Litestar], fake_pipeline: Pipeline) -> None:
    names = client.get("/api/sources").json()["sources"]
    assert names == sorted(p.name for p in SEEDS.iterdir())
    whole = client.get(f"/api/sources/{SOURCE}").json()
    text = fake_pipeline.source_text(SOURCE)
    assert whole == {"source": SOURCE, "start": 0, "end": len(text), "length": len(text), "text": text}
    part = client.get(f"/api/sources/{SOURCE}?start=10&end=25").json()
    assert part["text"] == text[10:25] and (part["start"], part["end"]) == (10, 25)
    assert client.get(f"/api/sources/{SOURCE}?start=5").json()["text"] == text[5:]
    assert client.get(f"/api/sources/{SOURCE}?end={len(text)}").status_code == 200


@pytest.mark.parametrize("query", ["start=20&end=10", "start=-1", "end=999999", "start=abc", "end=1.5"])
def test_sources_rejects_bad_ranges_with_400(client: TestClient[Litestar], query: str) -> None:
    assert_error(client.get(f"/api/sources/{SOURCE}?{query}"), 400)


@pytest.mark.parametrize(
    "path",
    [
        "../../../../etc/passwd",
        "..%2F..%2F..%2Fetc%2Fpasswd",
        "%2e%2e/%2e%2e/etc/passwd",
        "..%252F..%252Fetc%252Fpasswd",
        "/etc/passwd",
        "%2Fetc%2Fpasswd",
        "..\\..\\etc\\passwd",
        f"../seeds/{SOURCE}",
        f"seeds/{SOURCE}",
        f"{SOURCE}%00.png",
        "pyproject.toml",
        "not-indexed.txt",
    ],
)
def test_sources_serves_only_indexed_names_never_paths(client: TestClient[Litestar], path: str) -> None:
    response = client.get(f"/api/sources/{path}")
    assert response.status_code in {400, 404}, response.text
    assert "error" in response.json()
    assert "root:" not in response.text and "[project]" not in response.text
