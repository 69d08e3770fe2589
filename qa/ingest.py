"""`ingest()`: keep the index in step with a set of files: add new, replace changed, drop deleted.

Idempotent and crash-safe per file: a file whose chunks are not all present
(a killed run) is treated as changed and rewritten on the next run.
"""

from __future__ import annotations

import logging
from pathlib import Path

from qa.config import ChunkSettings
from qa.embed import Embedder
from qa.sources import SkipFile, discover_files, file_hash, read_source, split_into_chunks
from qa.store import ChromaStore, SourceState
from qa.types import IngestReport, Progress

log = logging.getLogger(__name__)


def ingest(
    paths: list[Path],
    store: ChromaStore,
    embedder: Embedder,
    chunking: ChunkSettings,
    progress: Progress | None = None,
) -> IngestReport:
    """Make the index mirror exactly the files under `paths`."""
    files = discover_files(paths)
    indexed = store.sources()
    report = IngestReport()
    for source, path in files.items():
        if progress:
            progress(printable(source))
        try:
            outcome = _sync_file(source, path, indexed.get(source), store, embedder, chunking)
        except SkipFile as exc:
            log.warning("skipped %s: %s", printable(str(path)), exc)
            report.skipped[printable(source)] = str(exc)
            continue
        if outcome == 0:
            report.unchanged.append(source)
            continue
        report.chunks_written += outcome
        (report.updated if source in indexed else report.added).append(source)
    # A file that still exists but cannot be read now keeps its last good version:
    # a transient read error must not delete indexed data. Only vanished files go.
    for source in sorted(set(indexed) - set(files)):
        store.delete_source(source)
        report.removed.append(source)
    return report


def _sync_file(
    source: str, path: Path, state: SourceState | None, store: ChromaStore, embedder: Embedder, chunking: ChunkSettings
) -> int:
    """Bring one file up to date; return the chunks written (0 = unchanged). Raises SkipFile."""
    if printable(source) != source:
        raise SkipFile("file name is not valid UTF-8")
    text = read_source(path)
    digest = file_hash(text)
    if state and state.file_hash == digest and state.complete:
        return 0
    chunks = split_into_chunks(source, text, chunking.chunk_size, chunking.chunk_overlap)
    if not chunks:
        raise SkipFile("no article text after cleaning (only navigation, bylines or comment forms)")
    vectors = embedder.embed([c.text for c in chunks], "document")
    store.replace_source(source, text, digest, chunks, vectors)
    return len(chunks)


def printable(name: str) -> str:
    """A file name safe to print and store: undecodable bytes shown as U+FFFD."""
    return name.encode("utf-8", "surrogateescape").decode("utf-8", "replace")
