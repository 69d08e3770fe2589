"""Cross-lingual retrieval with per-language score normalisation.

e5 gives every chunk of the question's own language a similarity bonus, so raw
cosine ranks a same-language chunk about the wrong thing above the
other-language chunk that holds the answer. We fetch candidates from each
language separately and subtract that language's mean similarity to the
question (estimated on a fixed sample of the language's chunks), then merge.

Measured on the 92 answerable eval cases (`qa eval --retrieval-only`, chunks of
60 words): raw cosine recall@5 0.89 (cross-lingual 0.79), MRR 0.754; z-scores
(also dividing by the spread) 0.84 (0.84), MRR 0.669; mean-centred 0.88 (0.89),
MRR 0.737. Centring keeps raw cosine's ranking within a language and fixes the
cross-language offset; dividing by the spread distorted both.

The small embedder also ranks a passage that names the question's rarer words below
passages that are only about the topic. BM25 over the same dense candidates (no second
index, so the cost does not grow with the corpus) picks the one that shares the most of
them; it joins the evidence pool. `qa eval --retrieval-only --split dev`: evidence recall
0.804 -> 0.880 (docs/performance.md).
"""

from __future__ import annotations

import functools
import math
import threading
from collections import Counter
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from types import MappingProxyType

from qa.config import RetrieveSettings
from qa.embed import Embedder, Vectors
from qa.matching import is_content_word, stem
from qa.store import ChromaStore
from qa.text import digits_value, tokens
from qa.types import Language, Passage

SAMPLE_SIZE = 256


@dataclass(frozen=True)
class Retrieval:
    passages: list[Passage]
    best_score: float
    # Highest raw cosine over all candidates: centred scores are relative, so an off-topic
    # question still ranks something first; the raw similarity tells whether anything is close.
    best_similarity: float
    # The best-ranked candidate of each language, whether or not it made the top k.
    best_by_language: tuple[Passage, ...] = ()
    # Every candidate, best first (`passages` is its head): the eval scores recall@k on it.
    ranked: tuple[Passage, ...] = ()
    # The candidates sharing the most of the question's rarer words, best first (`lexical_best`).
    lexical: tuple[Passage, ...] = ()

    def evidence_pool(self) -> list[Passage]:
        """The top passages plus the best one of every other language and the best by shared words.

        A fact one article holds (in its language) often ranks below several passages in the
        question's language that are merely about the topic; its language's best passage gives
        it a chance to reach the model, which then picks sentences from all of them. The small
        embedder also ranks a passage that names the question's rarer words ("Vladivostok
        station", "2019") below ones that are only about the topic: the lexical leaders join too.
        """
        chosen = list(self.passages)
        ids = {p.chunk.id for p in chosen}
        for extra in (*self.best_by_language, *self.lexical):
            if extra.chunk.id not in ids:
                chosen.append(Passage(extra.chunk, extra.score, len(chosen) + 1))
                ids.add(extra.chunk.id)
        return chosen


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
        """The best `top_k` passages over all languages, ranked by language-centred similarity."""
        k = top_k or self._settings.top_k
        query = self._embedder.embed([question], "query")[0]
        candidates: list[tuple[float, Passage]] = []
        best_similarity = float("-inf")
        for language, sample in self._language_samples().items():
            offset = _language_offset(sample, query)
            for chunk, score in self._store.query(query, self._settings.per_language_k, language):
                centred = score - offset
                best_similarity = max(best_similarity, score)
                candidates.append((centred, Passage(chunk=chunk, score=centred, rank=0)))
        candidates.sort(key=lambda item: item[0], reverse=True)
        ranked = tuple(Passage(p.chunk, p.score, rank) for rank, (_, p) in enumerate(candidates, start=1))
        best = candidates[0][0] if candidates else float("-inf")
        leaders: dict[str, Passage] = {}
        for passage in ranked:
            leaders.setdefault(passage.chunk.language, passage)
        lexical = lexical_best(question, ranked, self._settings.lexical_extra)
        return Retrieval(list(ranked[:k]), best, best_similarity, tuple(leaders.values()), ranked, lexical)

    def _language_samples(self) -> dict[Language, Vectors]:
        with self._lock:
            if self._samples is None:
                self._samples = {
                    lang: self._store.sample_vectors(lang, SAMPLE_SIZE) for lang in self._store.languages()
                }
            return self._samples


def lexical_best(question: str, candidates: Sequence[Passage], limit: int) -> tuple[Passage, ...]:
    """The `limit` candidates that share the most of the question's words, weighted by rarity (BM25).

    Scored among the dense candidates only, so it costs the same at any index size; words
    are compared by stem within a script, digits as values ("2019", "२०१९").
    """
    if limit <= 0 or not candidates:
        return ()
    asked = set(_lexical_keys(question))
    docs = [_lexical_keys_counted(p.chunk.text) for p in candidates]
    scores = bm25(asked, docs)
    order = sorted((i for i, score in enumerate(scores) if score > 0), key=lambda i: -scores[i])
    return tuple(candidates[i] for i in order[:limit])


def bm25(query: set[str], docs: Sequence[Mapping[str, int]], k1: float = 1.2, b: float = 0.75) -> list[float]:
    """Okapi BM25 of each document (term counts) for the query's terms, idf from `docs` themselves."""
    if not docs:
        return []
    n = len(docs)
    lengths = [sum(d.values()) for d in docs]
    average = sum(lengths) / n or 1.0
    df = Counter(term for d in docs for term in query if term in d)
    idf = {term: math.log(1 + (n - df[term] + 0.5) / (df[term] + 0.5)) for term in query}
    scores = []
    for d, length in zip(docs, lengths, strict=True):
        score = 0.0
        for term in query:
            tf = d.get(term, 0)
            if tf:
                score += idf[term] * tf * (k1 + 1) / (tf + k1 * (1 - b + b * length / average))
        scores.append(score)
    return scores


def _lexical_keys(text: str) -> Iterator[str]:
    """The keys of a text's content words (stems) and numbers (values: "1,500" is "1500")."""
    for token in tokens(text):
        value = digits_value(token)
        if value is not None:
            yield value
        elif is_content_word(token):
            yield stem(token)


@functools.lru_cache(maxsize=4096)  # a chunk is a candidate for many questions; ~0.16 ms to read one
def _lexical_keys_counted(text: str) -> Mapping[str, int]:
    """`_lexical_keys` of a passage, counted (read-only: the cache shares it)."""
    return MappingProxyType(Counter(_lexical_keys(text)))


def _language_offset(sample: Vectors, query: Vectors) -> float:
    """Mean similarity of the question to this language's chunks: the bonus to take away."""
    return float((sample @ query).mean()) if sample.size else 0.0
