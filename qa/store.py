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
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import Any, TypeVar

import numpy as np

from qa.embed import Vectors
from qa.types import Chunk, Language, Span

log = logging.getLogger(__name__)

T = TypeVar("T")

# Bump when the chunk format changes, so old collections are not mixed with new ones.
INDEX_FORMAT = 1


class IndexUnavailable(RuntimeError):
    """The index cannot be opened or read; the message says what to do."""


@dataclass(frozen=True)
class SourceState:
    file_hash: str
    expected_chunks: int
    present_chunks: int

    @property
    def complete(self) -> bool:
        return self.expected_chunks == self.present_chunks


def collection_name(embedder_name: str, chunk_size: int, chunk_overlap: int) -> str:
    """Fingerprint the embedder and chunking so changing either re-indexes instead of mixing vectors."""
    key = f"{INDEX_FORMAT}|{embedder_name}|{chunk_size}|{chunk_overlap}"
    return "qa_" + hashlib.sha256(key.encode()).hexdigest()[:16]


class ChromaStore:
    """Chunks, their vectors and the original texts of the files they came from."""

    def __init__(
        self, home: Path, name: str, host: str | None = None, port: int = 8000, rebuild: bool = False
    ) -> None:
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
            self._collection = self._client.get_or_create_collection(
                self.name, embedding_function=None, configuration={"hnsw": {"space": "cosine"}}
            )
        except Exception as exc:
            raise IndexUnavailable(
                f"cannot open the index at {self.home / 'chroma'} ({exc.__class__.__name__}: {exc}); "
                "run `qa ingest --rebuild` to recreate it"
            ) from exc

    def _reopen(self) -> None:
        """Drop Chroma's cached client and open again (another process changed the index)."""
        from chromadb.api.shared_system_client import SharedSystemClient

        with self._lock:
            SharedSystemClient.clear_system_cache()
            self._open()

    def _read(self, operation: Callable[[], T]) -> T:
        """Run a read; if it fails, reopen once and retry (a re-ingest elsewhere leaves our
        in-memory vector index stale), then give up with IndexUnavailable."""
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

    # --- writing -----------------------------------------------------------------

    def replace_source(self, source: str, text: str, file_hash: str, chunks: list[Chunk], vectors: Vectors) -> None:
        """Make the index hold exactly `chunks` for `source`.

        Every chunk records how many chunks its file has, so a file left half
        written by a killed process is detected (present != expected) and redone.
        """
        self._save_text(file_hash, text)
        self.delete_source(source)
        if not chunks:
            return
        self._collection.add(
            ids=[c.id for c in chunks],
            embeddings=vectors.tolist(),
            documents=[c.text for c in chunks],
            metadatas=[_metadata(c, file_hash, len(chunks)) for c in chunks],
        )

    def delete_source(self, source: str) -> None:
        self._collection.delete(where={"source": source})

    def reset(self) -> None:
        """Drop the collection and create it empty."""
        self._client.delete_collection(self.name)
        self._collection = self._client.get_or_create_collection(
            self.name, embedding_function=None, configuration={"hnsw": {"space": "cosine"}}
        )

    def _save_text(self, file_hash: str, text: str) -> None:
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

    def count(self) -> int:
        return int(self._read(lambda: self._collection.count()))

    def sources(self) -> dict[str, SourceState]:
        """What is indexed, per source name."""
        seen: dict[str, tuple[str, int, int]] = {}
        for meta in self._all_metadata():
            source = str(meta["source"])
            _, expected, present = seen.get(source, (str(meta["file_hash"]), int(str(meta["n_chunks"])), 0))
            seen[source] = (str(meta["file_hash"]), expected, present + 1)
        return {s: SourceState(h, e, p) for s, (h, e, p) in seen.items()}

    def _all_metadata(self, page: int = 5000) -> list[Any]:
        # Paged: Chroma rejects one `get` of every row past ~32k chunks ("too many SQL variables").
        rows: list[Any] = []
        while True:
            offset = len(rows)
            got = self._read(partial(self._collection.get, include=["metadatas"], limit=page, offset=offset))
            batch = got["metadatas"] or []
            rows.extend(batch)
            if len(batch) < page:
                return rows

    def source_text(self, source: str) -> str | None:
        """The original text of an indexed file, exactly as it was ingested."""
        got = self._read(lambda: self._collection.get(where={"source": source}, limit=1, include=["metadatas"]))
        metas = got["metadatas"] or []
        if not metas:
            return None
        return self.text_of_version(str(metas[0]["file_hash"]))

    def text_of_version(self, file_hash: str) -> str | None:
        """The original text of one ingested file version (kept even after the file changes)."""
        path = self._texts / f"{file_hash}.txt"
        return path.read_text(encoding="utf-8") if path.exists() else None

    def languages(self) -> list[Language]:
        """The languages that have at least one chunk (one small lookup each)."""
        candidates: tuple[Language, ...] = ("en", "hi", "mr")
        return [
            lang
            for lang in candidates
            if self._read(partial(self._collection.get, where={"language": lang}, limit=1, include=[]))["ids"]
        ]

    def sample_vectors(self, language: Language, limit: int) -> Vectors:
        got = self._read(
            lambda: self._collection.get(where={"language": language}, limit=limit, include=["embeddings"])
        )
        embeddings = got["embeddings"]
        if embeddings is None or len(embeddings) == 0:
            return np.zeros((0, 0), np.float32)
        return np.asarray(embeddings, dtype=np.float32)

    def query(self, vector: Vectors, k: int, language: Language | None = None) -> list[tuple[Chunk, float]]:
        """Nearest chunks by cosine similarity (higher is closer), optionally within one language."""
        where = {"language": language} if language else None
        n = min(k, self.count())
        if n == 0:
            return []
        got = self._read(
            lambda: self._collection.query(
                query_embeddings=[vector.tolist()],
                n_results=n,
                where=where,
                include=["documents", "metadatas", "distances"],
            )
        )
        rows = zip(got["ids"][0], got["documents"][0], got["metadatas"][0], got["distances"][0], strict=True)
        return [(_chunk(cid, doc, meta), 1.0 - float(dist)) for cid, doc, meta, dist in rows]

    def chunks(self, ids: Iterable[str]) -> list[Chunk]:
        wanted = list(ids)
        if not wanted:
            return []
        got = self._read(lambda: self._collection.get(ids=wanted, include=["documents", "metadatas"]))
        return [_chunk(i, d, m) for i, d, m in zip(got["ids"], got["documents"], got["metadatas"], strict=True)]


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
