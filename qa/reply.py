"""The model's reply: the JSON schemas it answers in and the parsing of what it wrote.

The answer pass picks numbered evidence sentences and writes a short answer; the judge
pass says whether cited sentences support a proposed answer. Parsing keeps only what
can be checked: citations of sentences the model was given.
"""

from __future__ import annotations

import json
import math
import re
from dataclasses import dataclass, field
from typing import Any

from qa.types import MARKER

# The refusal constant as the model writes it (it sometimes drops or changes the ending).
_REFUSAL_TEXT = re.compile(r"^\W*i\s+cannot\s+answer\b", re.IGNORECASE)
MAX_EVIDENCE = 3


@dataclass
class ModelReply:
    """The generator's structured output after parsing."""

    answerable: bool
    answer: str
    cited: list[int] = field(default_factory=list)  # 0-based passage indices, valid only
    dropped: list[Any] = field(default_factory=list)  # citation values that named no given passage


class ReplyFormatError(ValueError):
    """The model output is not the JSON object the schema asks for."""


def answer_schema(n_passages: int, max_answer_chars: int = 160) -> dict[str, Any]:
    """JSON schema for the answering pass: first the evidence sentences, then the answer.

    Picking the sentences first is what a small model does well; the answer is then
    written from (mostly copied out of) them. An empty evidence list means "not answerable".
    """
    return {
        "type": "object",
        "properties": {
            "evidence": {
                "type": "array",
                "items": {"type": "integer", "enum": list(range(1, n_passages + 1))},
                # At least one: offered an empty list first, the small model takes it far too often
                # (measured: it refused questions its own answer then got right). Refusal is the text.
                "minItems": 1,
                "maxItems": min(MAX_EVIDENCE, n_passages),
            },
            "answer": {"type": "string", "maxLength": max_answer_chars},
        },
        "required": ["evidence", "answer"],
        "additionalProperties": False,
    }


JUDGE_SCHEMA: dict[str, Any] = {
    "type": "object",
    "properties": {"supported": {"type": "boolean"}},
    "required": ["supported"],
    "additionalProperties": False,
}


def parse_reply(raw: str, n_passages: int) -> ModelReply:
    """Parse the model's JSON; keep only citations that name a sentence it was given.

    Citations come as the `evidence` list (`citations` is read too) or as inline
    `[n]` markers in the answer; markers are removed from the answer text. No
    evidence, or an empty answer, means the model found the question unanswerable.
    """
    try:
        data = json.loads(raw)
    except json.JSONDecodeError as exc:
        raise ReplyFormatError(f"model output is not JSON: {exc.msg}") from exc
    except (ValueError, RecursionError) as exc:  # absurdly long integers, deep nesting
        raise ReplyFormatError(f"model output is not usable JSON: {exc.__class__.__name__}") from exc
    if not isinstance(data, dict) or not isinstance(data.get("answer"), str):
        raise ReplyFormatError("model output lacks a string 'answer'")
    answer = data["answer"]
    listed = data.get("evidence", data.get("citations"))
    values: list[Any] = list(listed) if isinstance(listed, list) else []
    values += [int(m) for m in MARKER.findall(answer)]
    cited: list[int] = []
    dropped: list[Any] = []
    for value in values:
        if isinstance(value, int) and not isinstance(value, bool) and 1 <= value <= n_passages:
            if value - 1 not in cited:
                cited.append(value - 1)
        else:
            dropped.append(value)
    clean_answer = MARKER.sub("", answer).strip()
    refused = not clean_answer or _REFUSAL_TEXT.search(clean_answer) is not None
    answerable = bool(data.get("answerable", True)) and not refused and bool(cited or dropped)
    return ModelReply(answerable=answerable, answer=clean_answer, cited=cited, dropped=dropped)


def answer_certainty(tokens: list[tuple[str, float]]) -> float | None:
    """The model's probability of the least likely token it wrote inside the "answer" string.

    A small model that guesses shows it here: at temperature 0 every token is its likeliest
    choice, and a low probability means another continuation was almost as likely. None when
    the backend reported no token probabilities or the reply has no "answer" string.
    """
    bounds = answer_bounds("".join(token for token, _ in tokens))
    if bounds is None or bounds[0] == bounds[1]:
        return None  # no answer string, or an empty one: nothing was written
    start, end = bounds
    inside: list[float] = []
    offset = 0
    for token, logprob in tokens:
        if offset < end and offset + len(token) > start:
            inside.append(logprob)
        offset += len(token)
    return math.exp(min(inside)) if inside else None


def answer_bounds(raw: str) -> tuple[int, int] | None:
    """Where the characters of the "answer" string lie in the model's JSON text, possibly still being
    written: from after its opening quote to its closing quote (or the end of `raw`, if not yet closed)."""
    opening = re.search(r'"answer"\s*:\s*"', raw)
    if opening is None:
        return None
    i = opening.end()
    while i < len(raw) and raw[i] != '"':
        i += 2 if raw[i] == "\\" else 1
    return opening.end(), min(i, len(raw))


def partial_answer(raw: str) -> str:
    """The "answer" string as far as the model has written it, JSON escapes decoded (a cut-off escape waits)."""
    bounds = answer_bounds(raw)
    if bounds is None:
        return ""
    out: list[str] = []
    i, end = bounds
    while i < end:
        if raw[i] != "\\":
            out.append(raw[i])
            i += 1
            continue
        escaped = raw[i : i + 6] if raw[i + 1 : i + 2] == "u" else raw[i : i + 2]
        if len(escaped) < 2 or (escaped[1] == "u" and len(escaped) < 6):
            break
        try:
            out.append(json.loads(f'"{escaped}"'))
        except json.JSONDecodeError:
            out.append(escaped)
        i += len(escaped)
    return "".join(out)
