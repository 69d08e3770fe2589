"""What the stages share: the progress log, the warm-up question, row (de)serialisation, qa's raw embedder."""

from __future__ import annotations

import sys
import time
from dataclasses import fields
from pathlib import Path
from typing import Any, TypeVar

from qa.embed import CachedEmbedder, Embedder

REPO = Path(__file__).resolve().parent.parent
WARMUP_QUESTION = "What did Vladimir Putin give Kim Jong Un?"

RowT = TypeVar("RowT")


def log(message: str) -> None:
    print(f"[bench {time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


def from_json(cls: type[RowT], data: dict[str, Any]) -> RowT:
    """A row dataclass from its JSON object; keys older results had and the dataclass lacks are dropped."""
    return cls(**{f.name: data.get(f.name) for f in fields(cls)})  # type: ignore[arg-type]


def uncached(embedder: Embedder) -> Embedder:
    """The embedder under qa's query cache: a stage that must not reuse qa's cached vectors starts from it."""
    return embedder.inner if isinstance(embedder, CachedEmbedder) else embedder
