"""The vector store: Chroma, imported here and nowhere else.

Chunks go in with vectors we computed ourselves (Chroma's own embedding
function downloads a model, so it must never run). Chroma results are turned
into our `Chunk`s before they leave this module. Original file texts are kept
content-addressed under the data home so citations can always be quoted.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import tempfile
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import Any, TypeVar

import numpy as np

from qa.embed import Vectors
from qa.types import Chunk, Language, Span

log = logging.getLogger(__name__)

T = TypeVar("T")

# Bump when the index layout changes, so old collections are not mixed with new ones.
# 2: one collection per language (was one collection filtered with `where`).
INDEX_FORMAT = 2

LANGUAGES: tuple[Language, ...] = ("en", "hi", "mr")
HNSW = {"hnsw": {"space": "cosine"}}


class IndexUnavailable(RuntimeError):
    """The index cannot be opened or read; the message says what to do."""


class StaleIndex(RuntimeError):
    """This process's view of the index is out of date (another process re-indexed)."""


@dataclass(frozen=True)
class SourceState:
    file_hash: str
    expected_chunks: int
    present_chunks: int

    @property
    def complete(self) -> bool:
        return self.expected_chunks == self.present_chunks


@dataclass(frozen=True)
class StoredChunk:
    """One row of the index: the chunk, how many chunks its file has, and (if asked) its vector."""

    chunk: Chunk
    n_chunks: int
    vector: Vectors | None = None


def collection_name(embedder_name: str, chunk_size: int, chunk_overlap: int) -> str:
    """Fingerprint the embedder and chunking so changing either re-indexes instead of mixing vectors."""
    key = f"{INDEX_FORMAT}|{embedder_name}|{chunk_size}|{chunk_overlap}"
    return "qa_" + hashlib.sha256(key.encode()).hexdigest()[:16]


class ChromaStore:
    """Chunks, their vectors and the original texts of the files they came from.

    Each language has its own Chroma collection (`<name>_en`, `<name>_hi`, `<name>_mr`):
    the retriever searches every language separately, and a `where` filter on one shared
    collection made Chroma scan the filtered rows instead of using its HNSW graph
    (three searches at 100k chunks: 709 ms filtered, 12 ms per-language; `python -m bench`).
    """

    def __init__(self, home: Path, name: str, host: str | None = None, port: int = 8000, rebuild: bool = False) -> None:
        self.home = home
        self.name = name
        self._host = host
        self._port = port
        self._texts = home / "sources"
        self._lock = threading.Lock()
        if rebuild and not host:
            _move_aside(home / "chroma")
        self._open()
        if rebuild and host:
            self.reset()

    def _open(self) -> None:
        import chromadb
        from chromadb.config import Settings as ChromaSettings

        chroma_settings = ChromaSettings(anonymized_telemetry=False)
        try:
            if self._host:
                self._client: Any = chromadb.HttpClient(host=self._host, port=self._port, settings=chroma_settings)
            else:
                (self.home / "chroma").mkdir(parents=True, exist_ok=True)
                self._client = chromadb.PersistentClient(path=str(self.home / "chroma"), settings=chroma_settings)
            self._collections: dict[Language, Any] = {lang: self._get_or_create(lang) for lang in LANGUAGES}
            self._source_copies: Any = (
                self._client.get_or_create_collection(f"{self.name}_sources", embedding_function=None)
                if self._host
                else None
            )
        except Exception as exc:
            if self._host:
                raise IndexUnavailable(
                    f"cannot reach the Chroma server at {self._host}:{self._port} ({exc.__class__.__name__}: {exc})"
                ) from exc
            raise IndexUnavailable(
                f"cannot open the index at {self.home / 'chroma'} ({exc.__class__.__name__}: {exc}); "
                "run `qa ingest --rebuild` to recreate it"
            ) from exc

    def _collection_name(self, language: Language) -> str:
        return f"{self.name}_{language}"

    def _get_or_create(self, language: Language) -> Any:
        return self._client.get_or_create_collection(
            self._collection_name(language), embedding_function=None, configuration=HNSW
        )

    def _reopen(self) -> None:
        """Drop Chroma's cached client and open again (another process changed the index)."""
        from chromadb.api.shared_system_client import SharedSystemClient

        with self._lock:
            SharedSystemClient.clear_system_cache()
            self._open()

    def _read(self, operation: Callable[[], T]) -> T:
        """Run a read; if it fails, reopen once and retry (a re-ingest elsewhere leaves our
        in-memory vector index stale), then give up with IndexUnavailable.

        `operation` must look its collection up in `self._collections` when it runs, so the
        retry uses the reopened one."""
        try:
            return operation()
        except IndexUnavailable:
            raise
        except Exception:
            log.warning("index read failed; reopening the index and retrying once")
        try:
            self._reopen()
            return operation()
        except Exception as exc:
            raise IndexUnavailable(f"the index cannot be read ({exc.__class__.__name__}: {exc})") from exc

    def _on(self, language: Language, method: str, **kwargs: Any) -> Any:
        """Call one Chroma collection method as a retried read."""
        return self._read(lambda: getattr(self._collections[language], method)(**kwargs))

    # --- writing -----------------------------------------------------------------

    def replace_source(self, source: str, text: str, file_hash: str, chunks: list[Chunk], vectors: Vectors) -> None:
        """Make the index hold exactly `chunks` for `source`.

        Every chunk records how many chunks its file has, so a file left half
        written by a killed process is detected (present != expected) and redone.
        """
        self._save_text(file_hash, text)
        self.delete_source(source)
        for language in LANGUAGES:
            rows = [i for i, c in enumerate(chunks) if c.language == language]
            if rows:
                self._collections[language].add(
                    ids=[chunks[i].id for i in rows],
                    embeddings=vectors[rows].tolist(),
                    documents=[chunks[i].text for i in rows],
                    metadatas=[_metadata(chunks[i], file_hash, len(chunks)) for i in rows],
                )

    def delete_source(self, source: str) -> None:
        for collection in self._collections.values():
            collection.delete(where={"source": source})

    def delete_chunks(self, ids: list[str]) -> None:
        for collection in self._collections.values():
            collection.delete(ids=ids)

    def reset(self) -> None:
        """Drop the collections and create them empty."""
        for language in LANGUAGES:
            self._client.delete_collection(self._collection_name(language))
            self._collections[language] = self._get_or_create(language)

    def _save_text(self, file_hash: str, text: str) -> None:
        if self._source_copies is not None:
            # On a Chroma server the original texts go there too, so a `qa serve` on another
            # machine (another QA_HOME) can quote citations from chunks it did not ingest.
            # A collection row needs a vector; the texts are fetched by id, never searched.
            self._source_copies.upsert(ids=[file_hash], documents=[text], embeddings=[[1.0]])
        self._write_local_copy(file_hash, text)

    def _write_local_copy(self, file_hash: str, text: str) -> None:
        self._texts.mkdir(parents=True, exist_ok=True)
        target = self._texts / f"{file_hash}.txt"
        if target.exists():
            return
        # Write then rename: a crash never leaves a truncated source copy behind.
        fd, tmp = tempfile.mkstemp(dir=self._texts, suffix=".tmp")
        with os.fdopen(fd, "w", encoding="utf-8", newline="") as handle:
            handle.write(text)
        Path(tmp).replace(target)

    # --- reading -----------------------------------------------------------------

    def count(self, language: Language | None = None) -> int:
        languages = [language] if language else LANGUAGES
        return sum(int(self._on(lang, "count")) for lang in languages)

    def sources(self) -> dict[str, SourceState]:
        """What is indexed, per source name (metadata only: `/health` calls this)."""
        seen: dict[str, SourceState] = {}
        for language in LANGUAGES:
            for got in self._pages(language, ["metadatas"]):
                for meta in got["metadatas"]:
                    source = str(meta["source"])
                    present = seen[source].present_chunks if source in seen else 0
                    seen[source] = SourceState(str(meta["file_hash"]), int(str(meta["n_chunks"])), present + 1)
        return seen

    def rows(self, with_vectors: bool = False, page: int = 5000) -> list[StoredChunk]:
        """Every indexed chunk, language by language."""
        include = ["documents", "metadatas", *(["embeddings"] if with_vectors else [])]
        out: list[StoredChunk] = []
        for language in LANGUAGES:
            for got in self._pages(language, include, page):
                vectors = got["embeddings"] if with_vectors else None
                for i, (cid, doc, meta) in enumerate(zip(got["ids"], got["documents"], got["metadatas"], strict=True)):
                    vector = np.asarray(vectors[i], dtype=np.float32) if vectors is not None else None
                    out.append(StoredChunk(_chunk(cid, doc, meta), int(str(meta["n_chunks"])), vector))
        return out

    def _pages(self, language: Language, include: list[str], page: int = 5000) -> Iterator[Any]:
        # Paged: Chroma rejects one `get` of every row past ~32k chunks ("too many SQL variables").
        offset = 0
        while True:
            got = self._on(language, "get", include=include, limit=page, offset=offset)
            yield got
            offset += len(got["ids"])
            if len(got["ids"]) < page:
                return

    def source_text(self, source: str) -> str | None:
        """The original text of an indexed file, exactly as it was ingested."""
        for language in LANGUAGES:
            metas = self._on(language, "get", where={"source": source}, limit=1, include=["metadatas"])["metadatas"]
            if metas:
                return self.text_of_version(str(metas[0]["file_hash"]))
        return None

    def text_of_version(self, file_hash: str) -> str | None:
        """The original text of one ingested file version (kept even after the file changes)."""
        path = self._texts / f"{file_hash}.txt"
        if path.exists():
            return path.read_text(encoding="utf-8")
        if self._source_copies is None:
            return None
        got = self._read(lambda: self._source_copies.get(ids=[file_hash], include=["documents"]))
        if not got["documents"]:
            return None
        text = str(got["documents"][0])
        self._write_local_copy(file_hash, text)  # cached: the file version with this hash never changes
        return text

    def languages(self) -> list[Language]:
        """The languages that have at least one chunk."""
        return [lang for lang in LANGUAGES if self.count(lang)]

    def sample_vectors(self, language: Language, limit: int) -> Vectors:
        embeddings = self._on(language, "get", limit=limit, include=["embeddings"])["embeddings"]
        if embeddings is None or len(embeddings) == 0:
            return np.zeros((0, 0), np.float32)
        return np.asarray(embeddings, dtype=np.float32)

    def query(self, vector: Vectors, k: int, language: Language | None = None) -> list[tuple[Chunk, float]]:
        """Nearest chunks by cosine similarity (higher is closer), within one language or over all."""
        found: list[tuple[Chunk, float]] = []
        for lang in [language] if language else LANGUAGES:
            found.extend(self._read(partial(self._nearest, lang, vector.tolist(), k)))
        return sorted(found, key=lambda hit: hit[1], reverse=True)[:k]

    def _nearest(self, language: Language, vector: list[float], k: int) -> list[tuple[Chunk, float]]:
        # Asking for more results than a collection holds returns what it has.
        got = self._collections[language].query(
            query_embeddings=[vector], n_results=k, include=["documents", "metadatas", "distances"]
        )
        rows = list(zip(got["ids"][0], got["documents"][0], got["metadatas"][0], got["distances"][0], strict=True))
        if any(meta is None for _, _, meta, _ in rows):
            # The vector index in memory still holds chunks another process deleted;
            # raising makes `_read` reopen the index and search again. (Chunks another
            # process added are not detected here; they show up after the next reopen.)
            raise StaleIndex("the vector index returned deleted chunks")
        return [(_chunk(cid, doc, meta), 1.0 - float(dist)) for cid, doc, meta, dist in rows]

    def chunks(self, ids: Iterable[str]) -> list[Chunk]:
        """The chunks with these ids, in the order asked (unknown ids are skipped)."""
        wanted = list(ids)
        if not wanted:
            return []
        found: dict[str, Chunk] = {}
        for language in LANGUAGES:
            got = self._on(language, "get", ids=wanted, include=["documents", "metadatas"])
            for i, d, m in zip(got["ids"], got["documents"], got["metadatas"], strict=True):
                found[i] = _chunk(i, d, m)
        return [found[i] for i in wanted if i in found]


def _move_aside(folder: Path) -> None:
    """Keep a broken index for inspection instead of deleting it: nothing is lost."""
    if folder.exists():
        target = folder.with_name(f"{folder.name}.replaced-{time.strftime('%Y%m%d-%H%M%S')}")
        folder.rename(target)
        log.warning("moved the old index to %s", target)


def _metadata(chunk: Chunk, file_hash: str, n_chunks: int) -> dict[str, str | int]:
    return {
        "source": chunk.source,
        "start": chunk.start,
        "end": chunk.end,
        "language": chunk.language,
        "file_hash": file_hash,
        "n_chunks": n_chunks,
        "sentences": json.dumps([[s.start, s.end] for s in chunk.sentences]),
    }


def _language(value: object) -> Language:
    text = str(value)
    if text == "hi":
        return "hi"
    if text == "mr":
        return "mr"
    return "en"


def _chunk(chunk_id: str, document: str | None, meta: Any) -> Chunk:
    return Chunk(
        id=chunk_id,
        source=str(meta["source"]),
        text=document or "",
        start=int(meta["start"]),
        end=int(meta["end"]),
        language=_language(meta["language"]),
        sentences=tuple(Span(int(s), int(e)) for s, e in json.loads(str(meta["sentences"]))),
        file_hash=str(meta["file_hash"]),
    )
