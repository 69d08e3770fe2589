"""Stage 5, retrieval at scale: `Retriever.retrieve` at 1k/10k/100k chunks (see `bench.corpus` for
how the large corpora are made), with raw-search and in-memory numpy references."""

from __future__ import annotations

import random
import time
from collections import defaultdict
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from bench import corpus as synth
from bench.common import WARMUP_QUESTION, log, uncached
from bench.machine import Stopwatch, summarise
from qa.evals.dataset import EvalCase

if TYPE_CHECKING:
    from qa.config import Settings
    from qa.embed import Embedder
    from qa.pipeline import Pipeline
    from qa.store import ChromaStore, StoredChunk


class ScaledStore:
    """A store holding qa's real seed chunks, grown with synthetic sources to each corpus size."""

    def __init__(self, store: ChromaStore, corpus: synth.SyntheticCorpus) -> None:
        self.store = store
        self.corpus = corpus
        self.synthetic_ids: set[str] = set()
        self.vectors_by_language: dict[str, list[np.ndarray]] = defaultdict(list)
        self._next_source = 0

    def copy_seeds(self, seed_store: ChromaStore, stored: list[StoredChunk]) -> None:
        """The real seed chunks, with their real vectors and source texts."""
        by_source: dict[str, list[StoredChunk]] = defaultdict(list)
        for row in stored:
            by_source[row.chunk.source].append(row)
        for source, rows in by_source.items():
            rows.sort(key=lambda r: r.chunk.start)
            chunks = [r.chunk for r in rows]
            vectors = np.vstack([r.vector for r in rows if r.vector is not None])
            text = seed_store.source_text(source) or ""
            self.store.replace_source(source, text, chunks[0].file_hash, chunks, vectors)
            for c, v in zip(chunks, vectors, strict=True):
                self.vectors_by_language[c.language].append(v)

    def grow_to(self, size: int) -> int:
        """Add synthetic sources until the store holds `size` chunks; returns the chunks written."""
        from qa.sources import file_hash

        written = 0
        for source, text, chunks, vectors in self.corpus.sources(max(size - self.store.count(), 0), self._next_source):
            self.store.replace_source(source, text, file_hash(text), chunks, vectors)
            self._next_source += 1
            written += len(chunks)
            self.synthetic_ids.update(c.id for c in chunks)
            for c, v in zip(chunks, vectors, strict=True):
                self.vectors_by_language[c.language].append(v)
        return written


def stage_retrieval(
    pipeline: Pipeline, settings: Settings, sizes: list[int], cases: list[EvalCase], pool_size: int, home: Path
) -> dict[str, Any]:
    from qa.store import ChromaStore

    stored = pipeline.store.rows(with_vectors=True)
    seeds = [(row.chunk.text, row.chunk.language) for row in stored]
    seed_vectors = np.vstack([row.vector for row in stored if row.vector is not None])
    embedder = uncached(pipeline.embedder)
    with Stopwatch() as pool_time:
        pool, to_parent = synth.build_pool(seeds, seed_vectors, embedder, pool_size, random.Random(7))
    log(f"embedded {pool_size} perturbed chunks for the vector pool in {pool_time.wall:.1f}s")
    synthetic = synth.SyntheticCorpus(seeds, pool, to_parent, seed=1234)
    scaled = ScaledStore(ChromaStore(home, pipeline.store.name), synthetic)
    scaled.copy_seeds(pipeline.store, stored)
    questions = [c.question for c in cases]
    results = {str(size): _measure_size(scaled, size, embedder, settings, questions) for size in sizes}
    cos = scaled.corpus.cos_to_parent
    return {
        "method": synth.method(),
        "pool": {
            "real_seed_chunks": len(seeds),
            "embedded_perturbed_chunks": pool_size,
            "embed_s": round(pool_time.wall, 2),
            "cos_perturbed_to_parent_mean": round(float(np.mean(to_parent)), 4) if to_parent else None,
            "cos_synthetic_to_parent_mean": round(float(np.mean(cos)), 4) if cos else None,
        },
        "language_shares": {k: round(v, 3) for k, v in synth.language_shares(seeds).items()},
        "questions": len(questions),
        "sizes": results,
    }


def _measure_size(
    scaled: ScaledStore, size: int, embedder: Embedder, settings: Settings, questions: list[str]
) -> dict[str, Any]:
    with Stopwatch() as ins:
        written = scaled.grow_to(size)
    log(f"corpus {size}: inserted {written} synthetic chunks in {ins.wall:.1f}s; timing retrieval")
    result = {
        "chunks": scaled.store.count(),
        "inserted": written,
        "insert_s": round(ins.wall, 2),
        "insert_chunks_per_s": round(written / ins.wall, 1) if ins.wall and written else None,
        **_time_retrieval(scaled, embedder, settings, questions),
    }
    log(f"corpus {size}: retrieve p50 {result['p50_ms']} ms, search-only p50 {result['search_only_p50_ms']} ms")
    return result


def _time_retrieval(
    scaled: ScaledStore, embedder: Embedder, settings: Settings, questions: list[str]
) -> dict[str, Any]:
    from qa.embed import CachedEmbedder
    from qa.retrieve import Retriever

    # qa's own ChromaStore.languages(), as the Retriever calls it on its first query.
    started = time.perf_counter()
    scaled.store.languages()
    store_languages_ms = round((time.perf_counter() - started) * 1000, 1)

    cache = CachedEmbedder(embedder)
    retriever = Retriever(scaled.store, cache, settings.retrieve)
    with Stopwatch() as first:  # loads the per-language score samples; not one of the timed questions
        retriever.retrieve(WARMUP_QUESTION)
    # Pass 1 embeds each question (cache miss), pass 2 finds it cached: search only.
    cold, synthetic_share, best = [], [], []
    for q in questions:
        started = time.perf_counter()
        result = retriever.retrieve(q)
        cold.append((time.perf_counter() - started) * 1000)
        hits = [p.chunk.id in scaled.synthetic_ids for p in result.passages]
        synthetic_share.append(float(np.mean(hits)) if hits else 0.0)
        best.append(result.best_similarity)
    warm = _each_ms(questions, retriever.retrieve)
    cold_s, warm_s = summarise(cold), summarise(warm)
    fresh = CachedEmbedder(embedder)
    return {
        "store_languages_ms": store_languages_ms,
        "first_query_ms": round(first.wall * 1000, 1),
        "p50_ms": cold_s["p50"],
        "p95_ms": cold_s["p95"],
        "search_only_p50_ms": warm_s["p50"],
        "search_only_p95_ms": warm_s["p95"],
        "query_embed_p50_ms": summarise(_each_ms(questions, lambda q: fresh.embed([q], "query")))["p50"],
        "numpy_exact_3_languages_p50_ms": summarise(_numpy_exact_ms(scaled, cache, settings, questions))["p50"],
        "synthetic_share_of_top_k": round(float(np.mean(synthetic_share)), 3),
        "best_similarity_mean": round(float(np.mean(best)), 4),
    }


def _each_ms(questions: list[str], call: Callable[[str], object]) -> list[float]:
    """Milliseconds of `call(q)` for each question."""
    out = []
    for q in questions:
        started = time.perf_counter()
        call(q)
        out.append((time.perf_counter() - started) * 1000)
    return out


def _numpy_exact_ms(scaled: ScaledStore, cache: Embedder, settings: Settings, questions: list[str]) -> list[float]:
    """Reference: exact per-language search in numpy over the same vectors (query vectors cached)."""
    matrices = {lang: np.vstack(vs) for lang, vs in scaled.vectors_by_language.items()}
    k = settings.retrieve.per_language_k
    out = []
    for q in questions:
        vector = cache.embed([q], "query")[0]
        started = time.perf_counter()
        for matrix in matrices.values():
            scores = matrix @ vector
            top = np.argpartition(-scores, min(k, len(scores) - 1))[:k]
            top[np.argsort(-scores[top])]
        out.append((time.perf_counter() - started) * 1000)
    return out
