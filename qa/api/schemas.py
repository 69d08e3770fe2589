"""Request and response bodies of the `/api` endpoints (they also make the OpenAPI schema)."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, StrictBool, StrictStr

from qa.types import Turn


class AskRequest(BaseModel):
    question: StrictStr = Field(description="The question, in English, Hindi or Marathi.")


class ChatMessage(BaseModel):
    role: Literal["user", "assistant", "system"]
    content: StrictStr


class ChatRequest(BaseModel):
    messages: list[ChatMessage] = Field(
        min_length=1, description="The conversation; the last message is the user's question."
    )
    stream: StrictBool = Field(False, description="Answer as Server-Sent Events: delta*, answer, done.")

    def split(self) -> tuple[str, list[Turn]]:
        """The question (last message, which must be the user's) and the history before it."""
        *earlier, last = self.messages
        if last.role != "user":
            raise ValueError("the last message must have role 'user'")
        return last.content, [Turn(m.role, m.content) for m in earlier]


class ErrorBody(BaseModel):
    """The body of every error response."""

    error: str


class SourceText(BaseModel):
    source: str = Field(description="The indexed file name.")
    start: int = Field(description="Offset of `text` in the file.")
    end: int = Field(description="Offset one past the end of `text`.")
    length: int = Field(description="Length of the whole file text, in characters.")
    text: str = Field(description="The file text in [start, end).")


class SourceList(BaseModel):
    sources: list[str]


class QueueStats(BaseModel):
    running: int
    waiting: int
    workers: int
    max_queue: int


class Health(BaseModel):
    model_config = ConfigDict(extra="forbid")

    status: Literal["ok", "loading", "failed"]
    stage: str = Field(description="What startup is doing, or 'ready'.")
    chunks: int = Field(description="Chunks in the index (0 while loading).")
    sources: int = Field(description="Indexed files (0 while loading).")
    generator: str = Field(description="'ready', or why the model is unavailable.")
    queue: QueueStats
    error: str | None = None
