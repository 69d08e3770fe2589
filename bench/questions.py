"""The benchmark questions (from `eval/cases.jsonl`) and the one scoring function used for both pipelines."""

from __future__ import annotations

import json
import re
import unicodedata
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from qa.types import REFUSAL, Turn

CASES_PATH = Path(__file__).resolve().parent.parent / "eval" / "cases.jsonl"

# Used only while eval/cases.jsonl does not exist yet (it is written by another part of the project).
BUILTIN_CASES: list[dict[str, Any]] = [
    {
        "id": "b-en-1",
        "question": "Who gifted the Aurus limousine to Kim Jong Un?",
        "language": "en",
        "type": "name",
        "answerable": True,
        "accept": [r"putin"],
    },
    {
        "id": "b-en-2",
        "question": "How many Aurus cars has Kim received?",
        "language": "en",
        "type": "count",
        "answerable": True,
        "accept": [r"\b(?:2|two)\b|second"],
    },
    {
        "id": "b-en-3",
        "question": "What brand is the limousine Putin gave Kim?",
        "language": "en",
        "type": "fact",
        "answerable": True,
        "accept": [r"aurus"],
    },
    {
        "id": "b-hi-1",
        "question": "पुतिन ने किम जोंग उन को कौन सी कार दी?",
        "language": "hi",
        "type": "fact",
        "answerable": True,
        "accept": [r"ऑरस|औरस|aurus"],
    },
    {
        "id": "b-mr-1",
        "question": "पुतिन यांनी किम जोंग-उन यांना कोणती गाडी भेट दिली?",
        "language": "mr",
        "type": "fact",
        "answerable": True,
        "accept": [r"ऑरस|aurus"],
    },
    {
        "id": "b-en-4",
        "question": "What is the capital of Australia?",
        "language": "en",
        "type": "unanswerable",
        "answerable": False,
        "accept": [],
    },
]

# Refusal wording of a model that was not told our refusal sentence (the stock pipeline) or was.
_REFUSAL_RE = re.compile(
    "|".join(
        [
            re.escape(REFUSAL),
            r"\bcannot answer\b",
            r"\bcan ?not be (?:answered|determined)\b",
            r"\bunable to (?:answer|determine|find)\b",
            r"\b(?:does|do|did) ?n[o']t (?:mention|provide|say|specify|state|contain|include|give)\b",
            r"\bis not (?:mentioned|provided|specified|stated|given|available)\b",
            r"\bnot (?:mentioned|provided|specified|stated) in the\b",
            r"\bno (?:information|mention|details?)\b",
            r"\bempty response\b",
            r"जानकारी नहीं|उल्लेख नहीं|नहीं दी गई|माहिती नाही|उल्लेख नाही",
        ]
    ),
    re.IGNORECASE,
)

_QUOTED_RE = re.compile(r"“[^”]*”")


@dataclass
class Case:
    id: str
    question: str
    language: str
    type: str
    answerable: bool
    accept: list[str]
    history: list[dict[str, str]] = field(default_factory=list)
    raw: Any = None  # the validated qa.evals EvalCase, when that module is available

    def turns(self) -> list[Turn] | None:
        if not self.history:
            return None
        roles = {"user": "user", "assistant": "assistant"}
        return [Turn(roles.get(t["role"], "user"), t["content"]) for t in self.history]  # type: ignore[arg-type]


def load_cases(path: Path = CASES_PATH) -> tuple[list[Case], str]:
    """The eval cases and where they came from (validated by qa.evals when it exists)."""
    if not path.is_file():
        return [_case(c) for c in BUILTIN_CASES], "built-in list (eval/cases.jsonl not found)"
    try:
        from qa.evals.dataset import load_cases as load_validated
    except ImportError:
        rows = [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]
        return [_case(r) for r in rows], str(path)
    cases = []
    for validated in load_validated(path):
        row = validated.model_dump()
        case = _case(row)
        case.raw = validated
        cases.append(case)
    return cases, str(path)


def _case(row: dict[str, Any]) -> Case:
    return Case(
        id=str(row["id"]),
        question=str(row["question"]),
        language=str(row["language"]),
        type=str(row.get("type", "")),
        answerable=bool(row["answerable"]),
        accept=[unicodedata.normalize("NFC", p) for p in row.get("accept") or []],
        history=[dict(t) for t in row.get("history") or []],
    )


def stratified(cases: list[Case], n: int, exclude_types: tuple[str, ...] = ()) -> list[Case]:
    """`n` cases in the proportions of (language, answerable) groups, spread over each group in file order."""
    pool = [c for c in cases if c.type not in exclude_types]
    if n >= len(pool):
        return pool
    groups: dict[tuple[str, bool], list[Case]] = {}
    for case in pool:
        groups.setdefault((case.language, case.answerable), []).append(case)
    exact = {key: n * len(members) / len(pool) for key, members in groups.items()}
    quota = {key: int(value) for key, value in exact.items()}
    for key in sorted(exact, key=lambda k: exact[k] - quota[k], reverse=True)[: n - sum(quota.values())]:
        quota[key] += 1
    chosen: set[str] = set()
    for key, members in groups.items():
        take = quota[key]
        if take:
            step = len(members) / take
            chosen.update(members[int(i * step)].id for i in range(take))
    return [c for c in pool if c.id in chosen]


def is_refusal(text: str) -> bool:
    """Does this answer text decline to answer? Applied identically to both pipelines' texts.

    Text inside “curly quotes” is a quotation of a source, not the system's own words, so it
    is ignored (a quoted "no details were given" is not a refusal).
    """
    own = _QUOTED_RE.sub(" ", unicodedata.normalize("NFC", text))
    return bool(_REFUSAL_RE.search(own)) or not text.strip()


def accept_matches(case: Case, text: str) -> bool:
    """Any accept regex matches; reuses qa.evals.metrics when it exists (digit normalisation included)."""
    try:
        from qa.evals.metrics import accept_matches as qa_accept_matches
    except ImportError:
        raw = unicodedata.normalize("NFC", text)
        return any(re.search(p, raw, re.IGNORECASE) for p in case.accept)
    return bool(qa_accept_matches(case, text))  # type: ignore[arg-type]  # only reads `.accept`


def text_correct(case: Case, text: str) -> bool:
    """Answerable: an accept regex matches and the text does not refuse. Unanswerable: the text refuses."""
    if not case.answerable:
        return is_refusal(text)
    return not is_refusal(text) and accept_matches(case, text)


def direct_text_correct(case: Case, text: str) -> bool:
    """`text_correct` for a direct answer: at most 200 characters, the limit qa's own accuracy uses
    (qa.evals.metrics.MAX_DIRECT_ANSWER_CHARS); a longer text is evidence shown, not an answer."""
    from qa.evals.metrics import MAX_DIRECT_ANSWER_CHARS

    direct = len(" ".join(re.sub(r"\[\d{1,3}\]", " ", text).split())) <= MAX_DIRECT_ANSWER_CHARS
    return text_correct(case, text) if not case.answerable else direct and text_correct(case, text)


def qa_correct(case: Case, answer: Any) -> bool:
    """qa's own definition (`qa.evals.metrics.is_correct`, which trusts `Answer.refused`) when available."""
    if case.raw is not None:
        try:
            from qa.evals.metrics import is_correct
        except ImportError:
            pass
        else:
            return bool(is_correct(case.raw, answer))
    if not case.answerable:
        return bool(answer.refused)
    return not answer.refused and accept_matches(case, answer.answer)
