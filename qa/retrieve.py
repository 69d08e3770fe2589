"""Cross-lingual retrieval with per-language score normalisation.

e5 scores a chunk higher when it shares the question's script, so raw cosine
ranks a same-language chunk about the wrong thing above the other-language
chunk that holds the answer. We fetch candidates from each language separately
and turn each score into a z-score against that language's score distribution
(estimated from a fixed sample of the language's chunks), then merge.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass

import numpy as np

from qa.config import RetrieveSettings
from qa.embed import Embedder, Vectors
from qa.store import ChromaStore
from qa.types import Language, Passage

SAMPLE_SIZE = 256


@dataclass(frozen=True)
class Retrieval:
    passages: list[Passage]
    best_z: float
    # Highest raw cosine over all candidates: z-scores are relative, so an off-topic
    # question still gets high z; the raw similarity tells whether anything is close.
    best_similarity: float


class Retriever:
    def __init__(self, store: ChromaStore, embedder: Embedder, settings: RetrieveSettings) -> None:
        self._store = store
        self._embedder = embedder
        self._settings = settings
        self._samples: dict[Language, Vectors] | None = None
        self._lock = threading.Lock()

    def refresh(self) -> None:
        """Forget the per-language samples (call after the index changed)."""
        with self._lock:
            self._samples = None

    def retrieve(self, question: str, top_k: int | None = None) -> Retrieval:
        """The best `top_k` passages over all languages, ranked by per-language z-score."""
        k = top_k or self._settings.top_k
        query = self._embedder.embed([question], "query")[0]
        candidates: list[tuple[float, Passage]] = []
        best_similarity = float("-inf")
        for language, sample in self._language_samples().items():
            mean, std = _score_stats(sample, query)
            for chunk, score in self._store.query(query, self._settings.per_language_k, language):
                z = (score - mean) / std
                best_similarity = max(best_similarity, score)
                candidates.append((z, Passage(chunk=chunk, score=z, rank=0)))
        candidates.sort(key=lambda item: item[0], reverse=True)
        passages = [Passage(p.chunk, p.score, rank) for rank, (_, p) in enumerate(candidates[:k], start=1)]
        best = candidates[0][0] if candidates else float("-inf")
        return Retrieval(passages=passages, best_z=best, best_similarity=best_similarity)

    def _language_samples(self) -> dict[Language, Vectors]:
        with self._lock:
            if self._samples is None:
                self._samples = {
                    lang: self._store.sample_vectors(lang, SAMPLE_SIZE) for lang in self._store.languages()
                }
            return self._samples


def _score_stats(sample: Vectors, query: Vectors) -> tuple[float, float]:
    if sample.size == 0:
        return 0.0, 1.0
    scores = sample @ query
    # A floor on the spread keeps a language with one or two chunks from exploding.
    return float(scores.mean()), max(float(scores.std()), 0.02)


def cosine(a: Vectors, b: Vectors) -> float:
    return float(np.dot(a, b))
