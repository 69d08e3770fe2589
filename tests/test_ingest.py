"""Ingest: cleaning keeps offsets, sentences, language tags, stable ids, idempotent indexing."""

from __future__ import annotations

import html
from pathlib import Path

import pytest

from qa.language import detect_language
from qa.pipeline import Pipeline
from qa.sources import (
    SkipFile,
    chunk_id,
    clean,
    is_boilerplate,
    read_source,
    split_into_chunks,
)
from qa.text import split_sentences
from tests.conftest import SEEDS


def seed(name_prefix: str) -> tuple[str, str]:
    path = next(SEEDS.glob(f"{name_prefix}*.txt"))
    return path.name, path.read_text(encoding="utf-8")


def test_clean_drops_boilerplate_and_decodes_entities_keeping_offsets() -> None:
    original = "Home\nNews\nKim liked Russia&#x27;s car very much, said the Kremlin.\nLeave a Reply\n"
    cleaned = clean(original)
    assert cleaned.text == "Kim liked Russia's car very much, said the Kremlin."
    span = cleaned.to_source(0, len(cleaned.text))
    assert html.unescape(original[span.start : span.end]) == cleaned.text


@pytest.mark.parametrize(
    "line",
    ["Leave a Reply", "Your email address will not be published. Required fields are marked *", "Defence",
     "Published March 16th, 2024 at 18:39 IST", "  • Listen to this article", "About Author", "0 51"],
)  # fmt: skip
def test_boilerplate_lines(line: str) -> None:
    assert is_boilerplate(line)


def test_article_sentence_is_not_boilerplate() -> None:
    assert not is_boilerplate("Putin gifted a high-end Aurus Senat limousine to Kim in February.")


def test_sentences_split_on_devanagari_danda_and_keep_abbreviations() -> None:
    text = "पुतिन ने किम को कार दी। यह दूसरी कार है। The U.N. banned it. Done!"
    sentences = [text[s:e] for s, e in split_sentences(text)]
    assert sentences == ["पुतिन ने किम को कार दी।", "यह दूसरी कार है।", "The U.N. banned it.", "Done!"]


@pytest.mark.parametrize(
    ("prefix", "language"), [("000", "mr"), ("001", "hi"), ("002", "en"), ("003", "en"), ("004", "en")]
)
def test_every_seed_chunk_gets_its_articles_language(prefix: str, language: str) -> None:
    name, text = seed(prefix)
    chunks = split_into_chunks(name, text, 60, 0)
    assert chunks
    assert {c.language for c in chunks} == {language}


def test_language_of_short_questions() -> None:
    assert detect_language("How many Aurus cars has Kim received?") == "en"
    assert detect_language("किम को कितनी ऑरस कारें मिली हैं?") == "hi"
    assert detect_language("किमला किती ऑरस गाड्या मिळाल्या आहेत?") == "mr"


def test_chunk_and_sentence_offsets_point_into_the_original_file() -> None:
    for path in sorted(SEEDS.glob("*.txt")):
        text = path.read_text(encoding="utf-8")
        for chunk in split_into_chunks(path.name, text, 60, 0):
            assert " ".join(html.unescape(text[chunk.start : chunk.end]).split()) == " ".join(chunk.text.split())
            for sentence in chunk.sentences:
                assert chunk.start <= sentence.start < sentence.end <= chunk.end
                assert html.unescape(text[sentence.start : sentence.end]).strip()


def test_chunk_ids_are_stable_and_content_derived() -> None:
    name, text = seed("002")
    first = [c.id for c in split_into_chunks(name, text, 60, 0)]
    again = [c.id for c in split_into_chunks(name, text, 60, 0)]
    assert first == again
    assert len(set(first)) == len(first)
    assert chunk_id(name, 0, "a") != chunk_id(name, 0, "b")
    assert chunk_id("x.txt", 0, "a") != chunk_id("y.txt", 0, "a")


def test_unreadable_files_are_skipped_with_a_reason(tmp_path: Path) -> None:
    (tmp_path / "bin.txt").write_bytes(b"abc\x00def")
    (tmp_path / "latin1.txt").write_bytes("café".encode("latin-1"))
    (tmp_path / "empty.txt").write_text("  \n", encoding="utf-8")
    for name, reason in [("bin.txt", "binary"), ("latin1.txt", "not UTF-8"), ("empty.txt", "empty")]:
        with pytest.raises(SkipFile, match=reason):
            read_source(tmp_path / name)


def test_reingest_is_idempotent_and_mirrors_changes(fake_pipeline: Pipeline, tmp_path: Path) -> None:
    store = fake_pipeline.store
    total = store.count()
    again = fake_pipeline.ingest([SEEDS])
    assert again.chunks_written == 0 and len(again.unchanged) == 5
    assert store.count() == total

    corpus = tmp_path / "corpus"
    corpus.mkdir()
    for path in SEEDS.glob("*.txt"):
        (corpus / path.name).write_text(path.read_text(encoding="utf-8"), encoding="utf-8")
    fake_pipeline.ingest([corpus])
    assert store.count() == total  # same names, same text: nothing duplicated

    changed = next(corpus.glob("002*"))
    changed.write_text("Kim Jong Un received a brand new bicycle from Putin, the agency said.\n", encoding="utf-8")
    removed = next(corpus.glob("004*"))
    removed.unlink()
    report = fake_pipeline.ingest([corpus])
    assert report.updated == [changed.name] and report.removed == [removed.name]
    sources = store.sources()
    assert removed.name not in sources
    assert sources[changed.name].present_chunks == 1
    assert all(state.complete for state in sources.values())


def test_a_half_written_file_is_redone(fake_pipeline: Pipeline) -> None:
    store = fake_pipeline.store
    name = next(SEEDS.glob("000*")).name
    before = store.count()
    victim = store.chunks([c.id for c, _ in store.query(fake_pipeline.embedder.embed(["x"], "query")[0], 50)
                           if c.source == name][:1])  # fmt: skip
    store.delete_chunks([victim[0].id])  # simulate a crash mid-write
    assert not store.sources()[name].complete
    report = fake_pipeline.ingest([SEEDS])
    assert report.updated == [name]
    assert store.count() == before


def test_changing_chunk_settings_uses_another_collection(isolated_home: Path) -> None:
    from qa.wiring import build_pipeline
    from tests.conftest import fake_settings

    a = build_pipeline(fake_settings(isolated_home))
    b = build_pipeline(fake_settings(isolated_home, chunk={"chunk_size": 40}))
    assert a.store.name != b.store.name


def test_rows_and_sources_read_every_page_of_every_language(fake_pipeline: Pipeline) -> None:
    store = fake_pipeline.store
    by_language = {lang: store.count(lang) for lang in ("en", "hi", "mr")}
    assert all(by_language.values()), by_language
    rows = store.rows(page=2)
    assert len(rows) == store.count() == sum(by_language.values())
    assert len({row.chunk.id for row in rows}) == len(rows)
    assert sum(state.present_chunks for state in store.sources().values()) == store.count()
    assert all(state.complete for state in store.sources().values())
