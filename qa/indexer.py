"""Keep the index in step with a set of files: add new, replace changed, drop deleted.

Idempotent and crash-safe per file: a file whose chunks are not all present
(a killed run) is treated as changed and rewritten on the next run.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from pathlib import Path

from qa.config import ChunkSettings
from qa.embed import Embedder
from qa.ingest import SkipFile, discover_files, file_hash, read_source, split_into_chunks
from qa.store import ChromaStore
from qa.types import IngestReport

log = logging.getLogger(__name__)

Progress = Callable[[str], None]


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
            progress(source)
        try:
            text = read_source(path)
        except SkipFile as exc:
            log.warning("skipped %s: %s", path, exc)
            report.skipped[source] = str(exc)
            continue
        digest = file_hash(text)
        state = indexed.get(source)
        if state and state.file_hash == digest and state.complete:
            report.unchanged.append(source)
            continue
        chunks = split_into_chunks(source, text, chunking.chunk_size, chunking.chunk_overlap)
        vectors = embedder.embed([c.text for c in chunks], "document")
        store.replace_source(source, text, digest, chunks, vectors)
        report.chunks_written += len(chunks)
        (report.updated if state else report.added).append(source)
    # A file that still exists but cannot be read now keeps its last good version:
    # a transient read error must not delete indexed data. Only vanished files go.
    for source in sorted(set(indexed) - set(files)):
        store.delete_source(source)
        report.removed.append(source)
    return report
