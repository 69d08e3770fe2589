"""The eval dataset: one `EvalCase` per line of `eval/cases.jsonl`.

Loading validates every line (schema, regexes, internal consistency) and
`check_anchors` verifies the gold passages against the corpus files, so a
broken case fails loudly instead of silently scoring zero.
"""

from __future__ import annotations

import json
import random
import re
import unicodedata
from collections.abc import Iterable
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

CaseType = Literal[
    "fact",
    "count",
    "list",
    "date",
    "name",
    "number",
    "cross_lingual",
    "conflict",
    "unanswerable",
    "injection",
    "follow_up",
]

_EXCERPT_SPLIT = re.compile(r"(?<=[.!?।])\s+|\n+")
MIN_ANCHOR_WORDS = 3
MAX_ANCHOR_WORDS = 12


class HistoryTurn(BaseModel):
    """One earlier message of the conversation a follow-up question belongs to."""

    model_config = ConfigDict(extra="forbid")

    role: Literal["user", "assistant"] = Field(description="Who sent the message.")
    content: str = Field(min_length=1, description="The message text.")


class EvalCase(BaseModel):
    """One eval question with everything needed to score an answer to it."""

    model_config = ConfigDict(extra="forbid")

    id: str = Field(
        pattern=r"^[a-z0-9][a-z0-9_-]*$",
        description="Unique, stable case id, e.g. 'en-count-01'.",
    )
    question: str = Field(min_length=1, description="The question as the user asks it.")
    language: Literal["en", "hi", "mr"] = Field(description="Language the question is written in.")
    type: CaseType = Field(description="What the case tests; drives the per-type report.")
    split: Literal["dev", "test"] = Field(
        description="'dev' cases may be used to tune prompts, thresholds and rules; 'test' cases only report "
        "and gate (never tune on them)."
    )
    answerable: bool = Field(description="False when the only acceptable outcome is a refusal.")
    accept: list[str] = Field(
        default_factory=list,
        description=(
            "Python regexes, matched case-insensitively with re.search against the answer "
            "text; any match means correct. Empty for unanswerable cases."
        ),
    )
    gold_sources: list[str] = Field(
        default_factory=list,
        description="Seed file names holding the supporting text (empty if unanswerable).",
    )
    gold_passages: list[str] = Field(
        default_factory=list,
        description=(
            "Anchor phrases, each an exact substring (3-12 words) of one of the gold "
            "source files; they locate the supporting sentences independently of chunking."
        ),
    )
    history: list[HistoryTurn] | None = Field(
        default=None, description="Earlier conversation turns, for follow-up questions."
    )
    note: str | None = Field(default=None, description="Free-text remark for humans.")

    @field_validator("accept")
    @classmethod
    def _compile_accept(cls, patterns: list[str]) -> list[str]:
        # NFC both here and on answers, so nukta letters match whichever way they were typed.
        normalised = [unicodedata.normalize("NFC", p) for p in patterns]
        for pattern in normalised:
            try:
                re.compile(pattern, re.IGNORECASE)
            except re.error as exc:
                raise ValueError(f"accept regex {pattern!r} does not compile: {exc}") from exc
        return normalised

    @field_validator("gold_passages")
    @classmethod
    def _anchor_lengths(cls, anchors: list[str]) -> list[str]:
        for anchor in anchors:
            words = len(anchor.split())
            if not MIN_ANCHOR_WORDS <= words <= MAX_ANCHOR_WORDS:
                raise ValueError(f"anchor {anchor!r} has {words} words, want {MIN_ANCHOR_WORDS}-{MAX_ANCHOR_WORDS}")
        return anchors

    @model_validator(mode="after")
    def _consistent(self) -> EvalCase:
        if self.type == "unanswerable" and self.answerable:
            raise ValueError("type 'unanswerable' requires answerable=false")
        if self.type == "follow_up" and not self.history:
            raise ValueError("type 'follow_up' requires a non-empty history")
        if self.answerable:
            # Without these the case could never be scored as correct or grounded.
            for name in ("accept", "gold_sources", "gold_passages"):
                if not getattr(self, name):
                    raise ValueError(f"answerable case needs a non-empty {name!r}")
        else:
            # Correct == refused, so patterns or gold text would be misleading.
            for name in ("accept", "gold_sources", "gold_passages"):
                if getattr(self, name):
                    raise ValueError(f"unanswerable case must have an empty {name!r}")
        return self


def load_cases(path: Path) -> list[EvalCase]:
    """Read and validate a JSONL file of eval cases.

    Blank lines are skipped. Ids must be unique across the file.

    Args:
        path: The `.jsonl` file, one JSON object per line.

    Returns:
        The cases in file order.

    Raises:
        ValueError: On invalid JSON, a schema violation, a bad regex or a duplicate
            id; the message names the file and the 1-based line number.
    """
    cases: list[EvalCase] = []
    seen: dict[str, int] = {}
    text = path.read_text(encoding="utf-8")
    for lineno, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        case = _parse_line(path, lineno, line)
        if case.id in seen:
            raise ValueError(f"{path}:{lineno}: duplicate id {case.id!r} (first on line {seen[case.id]})")
        seen[case.id] = lineno
        cases.append(case)
    return cases


def _parse_line(path: Path, lineno: int, line: str) -> EvalCase:
    try:
        data = json.loads(line)
    except json.JSONDecodeError as exc:
        raise ValueError(f"{path}:{lineno}: invalid JSON: {exc}") from exc
    try:
        return EvalCase.model_validate(data)
    except ValidationError as exc:
        raise ValueError(f"{path}:{lineno}: invalid case: {_summarise_errors(exc)}") from exc


def _summarise_errors(exc: ValidationError) -> str:
    # One line per file line keeps the message greppable; pydantic's own text spans many lines.
    parts = []
    for error in exc.errors():
        where = ".".join(str(part) for part in error["loc"]) or "case"
        parts.append(f"{where}: {error['msg']}")
    return "; ".join(parts)


def random_excerpts(corpus: dict[str, str], draws: int, seed: int = 0, width: int = 3) -> list[str]:
    """`draws` random windows of `width` consecutive sentences from the corpus (seeded, reproducible).

    The yardstick for `accept` patterns: a pattern that matches many random
    excerpts would call almost any quote block correct.
    """
    sentences = [s.strip() for text in corpus.values() for s in _EXCERPT_SPLIT.split(text) if s.strip()]
    rng = random.Random(seed)
    starts = [rng.randrange(0, max(len(sentences) - width, 0) + 1) for _ in range(draws)]
    return [" ".join(sentences[i : i + width]) for i in starts]


def load_corpus(corpus_dir: Path) -> dict[str, str]:
    """Map every `*.txt` file name in `corpus_dir` to its exact text.

    Decoded from bytes rather than read in text mode so that no newline
    translation shifts the character offsets that citations point at.
    """
    return {p.name: p.read_bytes().decode("utf-8") for p in sorted(corpus_dir.glob("*.txt"))}


def check_anchors(cases: Iterable[EvalCase], corpus_dir: Path) -> list[str]:
    """Verify every case's gold sources and anchors against the corpus files.

    Args:
        cases: Cases to check.
        corpus_dir: Directory holding the source files named in `gold_sources`.

    Returns:
        Human-readable problems, empty when all is well: unknown gold sources,
        anchors found verbatim in none of the case's gold sources, and gold
        sources that none of the case's anchors point into.
    """
    corpus = load_corpus(corpus_dir)
    problems: list[str] = []
    for case in cases:
        problems.extend(_case_anchor_problems(case, corpus))
    return problems


def _case_anchor_problems(case: EvalCase, corpus: dict[str, str]) -> list[str]:
    problems: list[str] = []
    known = [s for s in case.gold_sources if s in corpus]
    for source in case.gold_sources:
        if source not in corpus:
            problems.append(f"{case.id}: unknown gold source {source!r}")
    for anchor in case.gold_passages:
        if not any(anchor in corpus[s] for s in known):
            problems.append(f"{case.id}: anchor not found in any gold source: {anchor!r}")
    for source in known:
        if not any(anchor in corpus[source] for anchor in case.gold_passages):
            problems.append(f"{case.id}: no anchor points into gold source {source!r}")
    return problems
