"""The benchmark questions and how the stock pipeline's plain-text answers are scored.

The questions are qa's eval cases (`eval/cases.jsonl`, loaded and validated by
`qa.evals.dataset`); qa's answers are scored by `qa.evals.metrics.is_correct`. The stock
pipeline returns only text (no refusal flag, no modes), so its answers are scored here, with
`qa.evals.metrics.accept_matches` and a refusal test on the text.
"""

from __future__ import annotations

import re
import unicodedata
from pathlib import Path

from qa.evals.dataset import EvalCase
from qa.evals.dataset import load_cases as load_eval_cases
from qa.evals.metrics import accept_matches, short_enough_to_be_direct
from qa.types import REFUSAL, Turn

CASES_PATH = Path(__file__).resolve().parent.parent / "eval" / "cases.jsonl"

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


def load_cases(path: Path = CASES_PATH) -> tuple[list[EvalCase], str]:
    """The eval cases and where they came from."""
    return load_eval_cases(path), str(path)


def history(case: EvalCase) -> list[Turn] | None:
    """The case's earlier conversation as `Pipeline.answer` takes it (None for a first question)."""
    return [Turn(t.role, t.content) for t in case.history] if case.history else None


def stratified(cases: list[EvalCase], n: int, exclude_types: tuple[str, ...] = ()) -> list[EvalCase]:
    """`n` cases in the proportions of (language, answerable) groups, spread over each group in file order."""
    pool = [c for c in cases if c.type not in exclude_types]
    if n >= len(pool):
        return pool
    groups: dict[tuple[str, bool], list[EvalCase]] = {}
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


def text_correct(case: EvalCase, text: str) -> bool:
    """Answerable: an accept regex matches and the text does not refuse. Unanswerable: the text refuses."""
    if not case.answerable:
        return is_refusal(text)
    return not is_refusal(text) and accept_matches(case, text)


def direct_text_correct(case: EvalCase, text: str) -> bool:
    """`text_correct` for a direct answer: at most 200 characters, the limit qa's own accuracy uses
    (qa.evals.metrics.MAX_DIRECT_ANSWER_CHARS); a longer text is evidence shown, not an answer."""
    direct = short_enough_to_be_direct(text)
    return text_correct(case, text) if not case.answerable else direct and text_correct(case, text)
