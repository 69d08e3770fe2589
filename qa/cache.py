"""The server's answer cache: the same question against the same index gets the same verified answer.

A key is a hash of everything an answer depends on:

* the question and the history, normalised (Unicode NFKC, case folded, whitespace collapsed);
* the index fingerprint: the collection name (embedder, chunking, index format) and every
  indexed source's name and content hash, read from the store at each lookup, so a re-ingest
  by this process or by `qa ingest` in another one changes the key and nothing stale is served;
* the answering version: the model and embedder names, the settings that shape an answer
  and the text of every prompt template.

Entries live in memory only (a restart starts empty), bounded by count and by the size of
their JSON; the least recently used go first. A fingerprint that differs from the last one
seen drops every entry, since none of them can be asked for again. The cache also remembers
which keys needed the model, so their repeats skip the fast lane.
"""

from __future__ import annotations

import hashlib
import json
import threading
import unicodedata
from collections import OrderedDict
from collections.abc import Sequence
from dataclasses import dataclass

from qa.pipeline import Pipeline
from qa.prompts import PROMPTS_DIR
from qa.types import Answer, Turn


def normalise(text: str) -> str:
    """The form two askings of one question share: NFKC, case folded, whitespace collapsed."""
    return " ".join(unicodedata.normalize("NFKC", text).casefold().split())


def index_fingerprint(pipeline: Pipeline) -> str:
    """The collection (embedder, chunking) and the set of indexed (source, content hash) pairs."""
    sources = pipeline.store.sources()
    listed = sorted(
        (name, state.file_hash, state.expected_chunks, state.present_chunks) for name, state in sources.items()
    )
    return _digest([pipeline.store.name, listed])


class IndexWatch:
    """`index_fingerprint`, read again only when the embedded index's database file changed.

    Reading every source's metadata costs ~25 ms per lookup on two busy cores; a stat of
    Chroma's SQLite file (rollback journal: every committed write changes its mtime) costs
    microseconds. The signal is taken before the fingerprint is read, so a write in between
    only makes the next lookup read again. A Chroma server (`chroma.host`) has no local file:
    then every lookup reads the fingerprint.
    """

    def __init__(self) -> None:
        self._memo: tuple[tuple[int, int, int], str] | None = None
        self._lock = threading.Lock()

    def fingerprint(self, pipeline: Pipeline) -> str:
        signal = _database_signal(pipeline)
        with self._lock:
            if signal is not None and self._memo is not None and self._memo[0] == signal:
                return self._memo[1]
        fingerprint = index_fingerprint(pipeline)
        if signal is not None:
            with self._lock:
                self._memo = (signal, fingerprint)
        return fingerprint


def _database_signal(pipeline: Pipeline) -> tuple[int, int, int] | None:
    if pipeline.settings.chroma.host:
        return None
    try:
        stat = (pipeline.store.home / "chroma" / "chroma.sqlite3").stat()
    except OSError:
        return None
    return (stat.st_mtime_ns, stat.st_size, stat.st_ino)


def answering_version(pipeline: Pipeline) -> str:
    """Model and embedder names, the settings an answer depends on, and the prompt texts."""
    settings = pipeline.settings
    prompts = sorted((p.name, p.read_text(encoding="utf-8")) for p in PROMPTS_DIR.glob("*.txt"))
    return _digest(
        [
            pipeline.backend_info().model_dump(),
            settings.llm.model_dump(mode="json"),
            settings.retrieve.model_dump(mode="json"),
            settings.max_question_chars,
            pipeline.relevance_floor,
            prompts,
        ]
    )


def _digest(parts: object) -> str:
    return hashlib.sha256(json.dumps(parts, ensure_ascii=False, default=str).encode()).hexdigest()


@dataclass(frozen=True)
class CacheKey:
    """Where an answer is filed: `digest` names the entry, `fingerprint` the index it was answered from."""

    digest: str
    fingerprint: str


def cache_key(fingerprint: str, version: str, question: str, history: Sequence[Turn] | None) -> CacheKey:
    """The key of one question (and history) against the index with `fingerprint`."""
    turns = [(t.role, normalise(t.content)) for t in history or []]
    return CacheKey(_digest([normalise(question), turns, fingerprint, version]), fingerprint)


class AnswerCache:
    """An LRU map from `CacheKey` to `Answer`, at most `max_entries` and `max_bytes` (answer JSON) big."""

    def __init__(self, max_entries: int, max_bytes: int) -> None:
        self.max_entries = max_entries
        self.max_bytes = max_bytes
        self._entries: OrderedDict[str, tuple[Answer, int]] = OrderedDict()
        # Keys known to need the model: they skip the fast lane (and a full queue refuses them at once).
        self._needs_model: OrderedDict[str, None] = OrderedDict()
        self._bytes = 0
        self._fingerprint: str | None = None
        self._lock = threading.Lock()
        self.hits = 0
        self.misses = 0

    def get(self, key: CacheKey) -> Answer | None:
        with self._lock:
            self._follow(key.fingerprint)
            entry = self._entries.get(key.digest)
            if entry is None:
                self.misses += 1
                return None
            self._entries.move_to_end(key.digest)
            self.hits += 1
            return entry[0].model_copy(deep=True)

    def put(self, key: CacheKey, answer: Answer) -> None:
        size = len(answer.model_dump_json())
        if size > self.max_bytes:
            return
        with self._lock:
            if key.fingerprint != self._fingerprint:
                return  # answered from an index that has changed since (a lookup follows the new one)
            old = self._entries.pop(key.digest, None)
            if old is not None:
                self._bytes -= old[1]
            self._entries[key.digest] = (answer.model_copy(deep=True), size)
            self._bytes += size
            while len(self._entries) > self.max_entries or self._bytes > self.max_bytes:
                _, (_, dropped) = self._entries.popitem(last=False)
                self._bytes -= dropped

    def mark_needs_model(self, key: CacheKey) -> None:
        with self._lock:
            if key.fingerprint == self._fingerprint:
                self._needs_model[key.digest] = None
                while len(self._needs_model) > self.max_entries:
                    self._needs_model.popitem(last=False)

    def needs_model(self, key: CacheKey) -> bool:
        with self._lock:
            return key.fingerprint == self._fingerprint and key.digest in self._needs_model

    def _follow(self, fingerprint: str) -> None:
        """The index changed: no entry can be asked for again, so free them all (lock held)."""
        if fingerprint != self._fingerprint:
            self._entries.clear()
            self._needs_model.clear()
            self._bytes = 0
            self._fingerprint = fingerprint

    def stats(self) -> dict[str, int]:
        with self._lock:
            return {"entries": len(self._entries), "bytes": self._bytes, "hits": self.hits, "misses": self.misses}
