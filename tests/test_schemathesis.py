"""Schemathesis against the app's own OpenAPI schema: any input, valid or not, gets no server error.

The app runs in-process (ASGI) over the real pipeline wired with the fake embedder and
generator. Every operation gets up to `EXAMPLES` positive and `EXAMPLES` negative
(schema-violating) requests per test. The first test allows no 5xx and checks that every
answer it gets back, whole or streamed, quotes its sources exactly; the second holds the
responses to the documented status codes, content types and response schemas.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import schemathesis
from hypothesis import HealthCheck, settings
from litestar import Litestar
from schemathesis import checks
from schemathesis.generation import GenerationMode

from qa.api import create_app
from qa.pipeline import Pipeline
from qa.wiring import build_pipeline
from tests.conftest import SEEDS, fake_settings

# Examples per operation and generation mode (see docs/reliability.md for the totals).
EXAMPLES = 150

SOURCES = {path.name: path.read_text(encoding="utf-8") for path in SEEDS.iterdir()}


class LazyApp:
    """The ASGI app over a fake-wired pipeline, built on first use (not at import time).

    Schemathesis ends the app's lifespan after each test item and starts it again for
    the next; each lifespan gets a fresh app over the same pipeline (a restarted app
    keeps a shut-down answer queue: see test_faults.py::test_app_survives_a_lifespan_restart).
    """

    def __init__(self) -> None:
        self.home: Path | None = None
        self._pipeline: Pipeline | None = None
        self._app: Litestar | None = None
        self.requests: Counter[str] = Counter()

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if self._pipeline is None:
            assert self.home is not None, "the module fixture sets the home first"
            self._pipeline = build_pipeline(fake_settings(self.home, max_question_chars=200))
            self._pipeline.ingest([SEEDS])
        if self._app is None or scope["type"] == "lifespan":
            self._app = create_app(self._pipeline)
        if scope["type"] == "http":
            self.requests[f"{scope['method']} {scope['path'].split('/')[1]}"] += 1
        await self._app(scope, receive, send)


# The schema comes from an app that is never started (the schema does not depend on the
# pipeline; its generated examples are pydantic objects, dumped as the served schema does).
_UNSTARTED = create_app(settings=fake_settings(Path("unused")))
RAW_SCHEMA = json.loads(json.dumps(_UNSTARTED.openapi_schema.to_schema(), default=lambda o: o.model_dump(mode="json")))
LAZY = LazyApp()
schema = schemathesis.openapi.from_dict(RAW_SCHEMA)
schema.app = LAZY
schema.config.generation.update(
    modes=[GenerationMode.POSITIVE, GenerationMode.NEGATIVE], max_examples=EXAMPLES, database="none"
)


@pytest.fixture(scope="module", autouse=True)
def lazy_home(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    LAZY.home = LAZY.home or tmp_path_factory.mktemp("schemathesis-home")
    yield LAZY.home
    # The figure quoted in docs/reliability.md (shown with `pytest -s`).
    print(f"\nschemathesis sent {sum(LAZY.requests.values())} requests: {dict(LAZY.requests)}")


def answers_in(response: Any) -> list[dict[str, Any]]:
    """Every Answer-like object in a response: JSON bodies, /api/chat SSE `answer` events, /v1 chunks."""
    content_type = (response.headers.get("content-type") or [""])[0]
    if "json" in content_type:
        bodies = [response.json()]
    elif "event-stream" in content_type:
        bodies = []
        for block in response.text.replace("\r\n", "\n").split("\n\n"):
            data = [line[6:] for line in block.split("\n") if line.startswith("data: ")]
            if data and data[0] != "[DONE]":
                bodies.append(json.loads(data[0]))
    else:
        return []
    found: list[dict[str, Any]] = []
    for body in bodies:
        if isinstance(body, dict) and isinstance(body.get("citations"), list):
            found.append(body)
        for choice in body.get("choices", []) if isinstance(body, dict) else []:
            for part in (choice.get("message"), choice.get("delta")):
                if isinstance(part, dict) and isinstance(part.get("citations"), list):
                    found.append(part)
    return found


@schema.parametrize()
@settings(deadline=None, suppress_health_check=list(HealthCheck), derandomize=True)
def test_no_input_makes_a_server_error(case: Any) -> None:
    response = case.call()
    case.validate_response(response, checks=[checks.not_a_server_error])
    assert response.status_code < 500, f"{case.method} {case.formatted_path}: {response.status_code} {response.text}"
    if response.status_code == 200:
        for answer in answers_in(response):
            for cite in answer["citations"]:
                assert SOURCES[cite["source"]][cite["start"] : cite["end"]] == cite["quote"]


@schema.parametrize()
@settings(deadline=None, suppress_health_check=list(HealthCheck), derandomize=True)
def test_responses_match_the_documented_schema(case: Any) -> None:
    # All default checks but "schema-valid data is accepted": the schema does not spell out
    # every rule (an empty or over-long question is schema-valid and rightly gets 400).
    case.call_and_validate(excluded_checks=[checks.positive_data_acceptance])


def test_schema_covers_every_endpoint() -> None:
    paths = set(RAW_SCHEMA["paths"])
    assert {"/api/ask", "/api/chat", "/v1/chat/completions", "/v1/models", "/health"} <= paths
    assert any(p.startswith("/api/sources/") for p in paths)
