"""Our own small types at the module boundaries.

Nothing from llama-index or Chroma crosses a module boundary: `sources` produces
`Chunk`s, retrieval produces `Passage`s, the pipeline produces one `Answer`.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Literal

from pydantic import BaseModel, Field

Language = Literal["en", "hi", "mr"]
# Called with each piece of an answer's text as the model writes it (streaming).
OnText = Callable[[str], None]
# Called with one line saying how a long job (ingest, eval) is getting on.
Progress = Callable[[str], None]
# generated: a direct answer that passed the checks. extractive: no supported answer was found;
# the text says so and quotes the one closest sentence (refused is true). refused: the refusal text.
Mode = Literal["generated", "extractive", "refused"]

# The one refusal text. The prompt shows it to the model, the pipeline returns it
# and the tests compare against it; never spell it out anywhere else.
REFUSAL = "I cannot answer this from the indexed articles."


@dataclass(frozen=True)
class Span:
    """A half-open character range [start, end) into an original source file."""

    start: int
    end: int


@dataclass(frozen=True)
class Chunk:
    """A piece of one source file, as stored in the index.

    `text` is the cleaned text (HTML entities decoded, boilerplate removed);
    `start`/`end` point into the original file, and so do the `sentences`.
    """

    id: str
    source: str
    text: str
    start: int
    end: int
    language: Language
    sentences: tuple[Span, ...] = ()
    # sha256 of the file version the offsets refer to (set by the store).
    file_hash: str = ""


@dataclass(frozen=True)
class Passage:
    """A retrieved chunk with its score, ready to be shown to the model."""

    chunk: Chunk
    score: float
    rank: int

    @property
    def key(self) -> str:
        """Stable citation key derived from the chunk's content hash."""
        return self.chunk.id


@dataclass
class Evidence:
    """One sentence of a retrieved passage, with its similarity to the question."""

    passage: Passage
    span: Span
    text: str
    score: float


class Citation(BaseModel):
    """A checkable pointer into a source: `quote == file_text[start:end]`."""

    source: str = Field(description="File name of the source, relative to the corpus root.")
    chunk_id: str = Field(description="Content-hash id of the chunk the quote comes from.")
    quote: str = Field(description="The exact text of the source file at [start, end).")
    start: int = Field(description="Character offset of the quote in the original file.")
    end: int = Field(description="Character offset one past the end of the quote.")
    page: int | None = Field(
        None, description="1-based page of a PDF source where the quote starts; null for other formats."
    )


# A quote longer than this is cut when printed for people (the JSON always carries all of it).
SHOWN_QUOTE_CHARS = 300
# "[n]" in an answer's text points at its n-th citation.
MARKER = re.compile(r"\s*\[(\d{1,3})\]")


def citation_lines(citations: list[Citation], dim: str = "", plain: str = "") -> list[str]:
    """Numbered sources for people, as `qa ask` and `qa chat` print them: where, then the quote.

    `dim`/`plain` wrap the quote (terminal styling); empty by default.
    """
    lines = []
    for n, cite in enumerate(citations, start=1):
        quote = " ".join(cite.quote.split())
        cut = "…" if len(quote) > SHOWN_QUOTE_CHARS else ""
        lines.append(f"  [{n}] {cite.source} (chars {cite.start}-{cite.end})")
        lines.append(f"      {dim}“{quote[:SHOWN_QUOTE_CHARS]}{cut}”{plain}")
    return lines


class Timings(BaseModel):
    retrieve_ms: float = 0.0
    generate_ms: float = 0.0
    total_ms: float = 0.0
    # Left out of the JSON unless true, so answers outside the server's cache serialise as before.
    cached: bool = Field(
        False,
        exclude_if=lambda cached: not cached,
        description="True when the server returned this answer from its answer cache (total_ms is the lookup).",
    )


class Usage(BaseModel):
    """Tokens the model read and wrote for one answer, summed over its passes (0 when not reported)."""

    prompt_tokens: int = 0
    completion_tokens: int = 0


class BackendInfo(BaseModel):
    llm: str
    embedder: str


class Answer(BaseModel):
    """What every surface (CLI, HTTP, eval) returns for one question."""

    question: str
    answer: str
    language: Language
    refused: bool
    mode: Mode
    citations: list[Citation] = Field(default_factory=list)
    timings: Timings = Field(default_factory=Timings)
    usage: Usage = Field(default_factory=Usage)
    backend: BackendInfo
    # Why verification rejected a generated answer, if it did (empty when it passed).
    notes: list[str] = Field(default_factory=list)


def with_markers(answer: Answer) -> str:
    """The answer text with `[n]` citation markers (appended when the text has none)."""
    if not answer.citations or MARKER.search(answer.answer):
        return answer.answer
    return answer.answer + " " + "".join(f"[{n}]" for n in range(1, len(answer.citations) + 1))


@dataclass
class Turn:
    """One message of a chat history."""

    role: Literal["user", "assistant", "system"]
    content: str


@dataclass
class IngestReport:
    """What one `ingest` run did, per file name."""

    added: list[str] = field(default_factory=list)
    updated: list[str] = field(default_factory=list)
    unchanged: list[str] = field(default_factory=list)
    removed: list[str] = field(default_factory=list)
    skipped: dict[str, str] = field(default_factory=dict)
    chunks_written: int = 0
