"""Citations and claim checks. Pure functions: no models, no I/O.

Faithfulness must not depend on the model being smart, so everything the model
says is checked here against the passages it was shown.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from typing import Any

from qa.types import Passage

_DEVANAGARI_DIGITS = str.maketrans("०१२३४५६७८९", "0123456789")
_NUMBER = re.compile(r"\d+(?:[.,]\d+)*")
# Letters plus Devanagari vowel signs (combining marks that \w does not match),
# without digits and the danda.
_WORD = re.compile(r"(?:[^\W\d_]|[\u0900-\u0963\u0970-\u097F])+")
_TOKEN = re.compile(r"(?:[^\W_]|[\u0900-\u0963\u0970-\u097F])+")

# Number words and ordinals the articles and answers use, mapped to digits, so
# "two" in an answer is checked against "second" / "दुसरी" in a source. "one"/"एक"
# are left out: they are mostly articles ("one of his cars", "एक ऑरस" = "an Aurus"); so is
# "first", which says nothing about how many ("the first Aurus" does not support "1 car").
_NUMBER_WORDS = {
    "two": "2", "second": "2", "three": "3", "third": "3",
    "four": "4", "fourth": "4", "five": "5", "fifth": "5", "six": "6", "seven": "7",
    "eight": "8", "nine": "9", "ten": "10", "twice": "2",
    "दो": "2", "दूसरा": "2", "दूसरी": "2", "दोन": "2", "दुसरी": "2", "दुसरा": "2", "दुसऱ्यांदा": "2",
    "तीन": "3", "तीसरी": "3", "तीसरा": "3", "तिसरी": "3", "तिसरा": "3",
}  # fmt: skip
_STOPWORDS = frozenset(
    [
        "the",
        "a",
        "an",
        "and",
        "or",
        "of",
        "to",
        "in",
        "on",
        "at",
        "for",
        "from",
        "with",
        "by",
        "is",
        "was",
        "were",
        "are",
        "be",
        "been",
        "has",
        "have",
        "had",
        "that",
        "this",
        "which",
        "who",
        "whom",
        "whose",
        "what",
        "when",
        "where",
        "how",
        "his",
        "her",
        "its",
        "their",
        "he",
        "she",
        "it",
        "they",
        "as",
        "also",
        "than",
        "then",
        "many",
        "much",
        "did",
        "does",
        "not",
        "yes",
    ]
)

# Sentences in a document that address the model rather than the reader. Documents
# are data: such sentences are never shown to the model as evidence, never quoted,
# and never count as support for an answer.
_INSTRUCTION = re.compile(
    r"""\b(ignore|disregard|forget|override)\b.{0,60}\b(instructions?|rules|prompt|passages|above|previous)\b
    | \b(system|assistant|developer)\s*: | \byou\s+are\s+now\b | \bnew\s+instructions?\b
    | \b(reply|respond|answer)\s+(only\s+)?(with|exactly)\b | "(answer|answerable|citations)"\s*:
    | \binstructions?\s+(from|for)\s+(the\s+)?(system|model|assistant|ai)\b | \bthe\s+only\s+correct\s+answer\b
    | निर्देशों\s+को\s+(अनदेखा|नज़रअंदाज़|नजरअंदाज) | सूचनांकडे\s+दुर्लक्ष | सूचना\s+(विसरा|दुर्लक्षित)""",
    re.IGNORECASE | re.VERBOSE,
)
_SENTENCE = re.compile(r"[^.!?।\n]+(?:[.!?।]+[\"'”’)\]]*|$)")

MIN_WORD_OVERLAP = 0.5
_COUNT_QUESTION = re.compile(r"how many|how often|कितन[ीे]|किती", re.IGNORECASE)


@dataclass
class ModelReply:
    """The generator's structured output after parsing."""

    answerable: bool
    answer: str
    cited: list[int] = field(default_factory=list)  # 0-based passage indices, valid only
    dropped: list[Any] = field(default_factory=list)  # citation values that named no given passage


class ReplyFormatError(ValueError):
    """The model output is not the JSON object the schema asks for."""


def answer_schema(n_passages: int, max_answer_chars: int = 400) -> dict[str, Any]:
    """JSON schema for the generator. `answer` comes first so it can be streamed."""
    return {
        "type": "object",
        "properties": {
            "answer": {"type": "string", "maxLength": max_answer_chars},
            "answerable": {"type": "boolean"},
            "citations": {
                "type": "array",
                "items": {"type": "integer", "enum": list(range(1, n_passages + 1))},
                "maxItems": n_passages,
            },
        },
        "required": ["answer", "answerable", "citations"],
        "additionalProperties": False,
    }


def parse_reply(raw: str, n_passages: int) -> ModelReply:
    """Parse the model's JSON; keep only citations that name a passage it was given.

    Citations may come as the `citations` list or as inline `[n]` markers in the
    answer; both are read, and the markers are removed from the answer text.
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
    values: list[Any] = list(data.get("citations") or []) if isinstance(data.get("citations"), list) else []
    values += [int(m) for m in re.findall(r"\[(\d{1,3})\]", answer)]
    cited: list[int] = []
    dropped: list[Any] = []
    for value in values:
        if isinstance(value, int) and not isinstance(value, bool) and 1 <= value <= n_passages:
            if value - 1 not in cited:
                cited.append(value - 1)
        else:
            dropped.append(value)
    clean_answer = re.sub(r"\s*\[\d{1,3}\]", "", answer).strip()
    return ModelReply(answerable=bool(data.get("answerable", True)), answer=clean_answer, cited=cited, dropped=dropped)


def looks_like_instruction(sentence: str) -> bool:
    """True for a sentence that tries to instruct the model (prompt injection in a document)."""
    return bool(_INSTRUCTION.search(sentence))


def strip_instructions(text: str) -> str:
    """`text` without its instruction-like sentences."""
    return " ".join(m.group().strip() for m in _SENTENCE.finditer(text) if not looks_like_instruction(m.group()))


def normalise_digits(text: str) -> str:
    return text.translate(_DEVANAGARI_DIGITS)


def numbers_in(text: str) -> set[str]:
    """Numbers in a text: digits in either numeral system, plus common number words."""
    normalised = normalise_digits(text)
    found = {n.replace(",", "") for n in _NUMBER.findall(normalised)}
    for word in _WORD.findall(normalised.lower()):
        if word in _NUMBER_WORDS:
            found.add(_NUMBER_WORDS[word])
    return found


def content_words(text: str) -> set[str]:
    return {w for w in (m.lower() for m in _WORD.findall(text)) if len(w) >= 3 and w not in _STOPWORDS}


def verify(reply: ModelReply, passages: list[Passage], question: str = "") -> list[str]:
    """Reasons the reply cannot be shown as a supported answer; empty when it passes.

    Instruction-like sentences in the cited passages support nothing.
    Checks: at least one valid citation; every number in the answer occurs in the
    cited text; at least half of the answer's content words occur in the cited
    text (when the answer and the cited text share a script).
    """
    problems: list[str] = []
    if not reply.answer.strip():
        return ["empty answer"]
    if reply.dropped:
        problems.append(f"dropped citations to passages not given: {reply.dropped}")
    if not reply.cited:
        return [*problems, "no valid citation"]
    cited_text = strip_instructions(" ".join(passages[i].chunk.text for i in reply.cited))
    if not cited_text.strip():
        problems.append("the cited passages hold no text that can support an answer")
    missing = sorted(numbers_in(reply.answer) - numbers_in(cited_text))
    if missing:
        problems.append(f"numbers not in cited text: {', '.join(missing)}")
    if _same_script(reply.answer, cited_text):
        problems += _word_problems(reply.answer, cited_text)
        problems += _number_context_problems(reply.answer, question, cited_text)
    # A dropped citation alone is not fatal (the valid ones were checked above); with
    # a real problem it is reported too.
    fatal = [p for p in problems if not p.startswith("dropped")]
    return problems if fatal else []


def _word_problems(answer: str, cited_text: str) -> list[str]:
    words = content_words(answer) - set(_NUMBER_WORDS)
    if not words:
        return []
    source = content_words(cited_text)
    missing = words - {w for w in words if any(s.startswith(w[:5]) for s in source)}
    # A short answer ("red") must be fully in the source; a longer one mostly.
    if len(words) <= 3 and missing:
        return [f"answer words not in cited text: {', '.join(sorted(missing))}"]
    if 1 - len(missing) / len(words) < MIN_WORD_OVERLAP:
        return [f"only {1 - len(missing) / len(words):.0%} of the answer's words occur in the cited text"]
    return []


def _number_context_problems(answer: str, question: str, cited_text: str) -> list[str]:
    numbers = numbers_in(answer)
    if not numbers:
        return []
    anchors = {w[:5] for w in (content_words(question) | content_words(answer)) - set(_NUMBER_WORDS)}
    if not anchors:
        return []
    tokens = [t.lower() for t in _TOKEN.findall(normalise_digits(cited_text))]
    # For a count, the counted thing follows the number ("three gifts"); otherwise
    # the subject may sit on either side ("on June 18-19").
    before, after = (0, 4) if _COUNT_QUESTION.search(question) else (4, 4)
    problems = []
    for number in sorted(numbers):
        positions = [i for i, t in enumerate(tokens) if t == number or _NUMBER_WORDS.get(t) == number]
        near = any(
            tok[:5] in anchors for i in positions for tok in tokens[max(0, i - before) : i + after + 1] if len(tok) >= 3
        )
        if positions and not near:
            problems.append(f"number {number} appears in the cited text but not about the question's subject")
    return problems


def _same_script(a: str, b: str) -> bool:
    def latin_share(text: str) -> float:
        letters = [c for c in text if c.isalpha()]
        return sum(c.isascii() for c in letters) / max(len(letters), 1)

    if not any(c.isalpha() for c in a):  # a bare number is checked against any script
        return True
    return abs(latin_share(a) - latin_share(b)) < 0.5
