"""Stage 1, ingest: `qa.ingest.ingest` of seeds/ into an empty index (chunks/s), split into
reading and splitting, embedding, and writing to the store."""

from __future__ import annotations

import time
from collections import defaultdict
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, cast

from bench.common import log
from bench.machine import Stopwatch
from qa.store import LANGUAGES

if TYPE_CHECKING:
    from qa.config import Settings
    from qa.embed import Embedder
    from qa.pipeline import Pipeline
    from qa.store import ChromaStore


class CallTimer:
    """Delegates everything to `inner`, adding up the wall time spent in the named methods."""

    def __init__(self, inner: Any, methods: tuple[str, ...]) -> None:
        self._inner = inner
        self._methods = methods
        self.seconds: dict[str, float] = defaultdict(float)

    def __getattr__(self, name: str) -> Any:
        attr = getattr(self._inner, name)
        if name not in self._methods:
            return attr

        def timed(*args: Any, **kwargs: Any) -> Any:
            started = time.perf_counter()
            try:
                return attr(*args, **kwargs)
            finally:
                self.seconds[name] += time.perf_counter() - started

        return timed


@dataclass
class IngestRun:
    """One ingest of the corpus by a freshly built pipeline."""

    chunks: int
    seconds: float
    cpu_seconds: float
    chunks_per_s: float | None
    embed_s: float
    store_s: float
    read_split_s: float
    pipeline_load_s: float


def stage_ingest(settings: Settings, reps: int) -> tuple[Pipeline, dict[str, Any]]:
    """Each run: a fresh pipeline (so no embedding cache) ingesting seeds/ into an empty home.

    The first run uses QA_HOME and its pipeline is returned for the later stages.
    """
    pipeline: Pipeline | None = None
    runs: list[IngestRun] = []
    for rep in range(reps):
        home = settings.home if rep == 0 else settings.home.parent / f"ingest-{rep}"
        fresh, run = _ingest_once(settings, home)
        if pipeline is None:
            pipeline = fresh
        runs.append(run)
        log(f"ingest run {rep + 1}/{reps}: {run.chunks} chunks in {run.seconds:.2f}s")
    assert pipeline is not None
    median = sorted(runs, key=lambda r: r.chunks_per_s or 0)[len(runs) // 2]
    return pipeline, _summary(settings, pipeline, median, runs)


def _ingest_once(settings: Settings, home: Path) -> tuple[Pipeline, IngestRun]:
    from qa.ingest import ingest
    from qa.wiring import build_pipeline

    with Stopwatch() as load:
        fresh = build_pipeline(settings.model_copy(update={"home": home}))
    embedder = CallTimer(fresh.embedder, ("embed",))
    store = CallTimer(fresh.store, ("replace_source", "delete_source", "sources"))
    with Stopwatch() as sw:
        # What `Pipeline.ingest` does, with stand-ins that time the embedder's and the store's
        # share; they delegate everything, hence the casts.
        report = ingest([settings.corpus], cast("ChromaStore", store), cast("Embedder", embedder), settings.chunk)
        fresh.retriever.refresh()
    chunks = report.chunks_written
    embed_s = embedder.seconds["embed"]
    store_s = sum(store.seconds.values())
    run = IngestRun(
        chunks=chunks,
        seconds=round(sw.wall, 3),
        cpu_seconds=round(sw.cpu, 3),
        chunks_per_s=round(chunks / sw.wall, 2) if sw.wall else None,
        embed_s=round(embed_s, 3),
        store_s=round(store_s, 3),
        read_split_s=round(sw.wall - embed_s - store_s, 3),
        pipeline_load_s=round(load.wall, 3),
    )
    return fresh, run


def _summary(settings: Settings, pipeline: Pipeline, median: IngestRun, runs: list[IngestRun]) -> dict[str, Any]:
    languages = {lang: n for lang in LANGUAGES if (n := pipeline.store.count(lang))}
    return {
        "files": len(list(Path(settings.corpus).glob("*.txt"))),
        "chunks": median.chunks,
        "chunks_by_language": dict(sorted(languages.items())),
        "seconds": median.seconds,
        "chunks_per_s": median.chunks_per_s,
        "median_of_runs": len(runs),
        "breakdown_s": {"read_split_s": median.read_split_s, "embed_s": median.embed_s, "store_s": median.store_s},
        "cpu_seconds": median.cpu_seconds,
        "pipeline_load_s": median.pipeline_load_s,
        "runs": [asdict(run) for run in runs],
        "embed_threads": settings.embed.threads,
        "embed_batch_size": settings.embed.batch_size,
    }
