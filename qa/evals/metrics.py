"""Deterministic eval metrics, as pure functions over plain data.

There is no judge model: every metric is a lexical or positional check against
the eval case's accept patterns and gold anchors. Each public metric's
docstring is its definition and is shown verbatim in reports
(see `metric_definitions`).

Spans are half-open character ranges [start, end) into the original source
files; `corpus` maps a file name to that file's exact text.
"""

from __future__ import annotations

import inspect
import math
import re
import unicodedata
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from qa.evals.dataset import EvalCase
from qa.pipeline import ANSWERED_IN_ENGLISH, SOURCES_DISAGREE
from qa.text import normalise_digits
from qa.types import Answer, Citation

# \w alone splits Devanagari words at every vowel sign and virama, so add the
# whole block except the dandas (U+0964/5) and the abbreviation sign (U+0970).
_TOKEN_RE = re.compile(r"[\w\u0900-\u0963\u0971-\u097F]+")
_NUMBER_RE = re.compile(r"\d+(?:[.,]\d+)*")
_SENTENCE_SPLIT_RE = re.compile(r"(?<=[.!?।॥])\s+|\n+")
# Inline citation markers such as "[1]" or "[3f9a2c]" are not claims about the world.
_MARKER_RE = re.compile(r"\[[^\[\]\n]{1,40}\]")
_EDGE_PUNCT = " \t\n\"'“”‘’()[]{}.,;:!?।॥-–—"

MIN_CONTENT_WORD_LEN = 4
CONTENT_WORD_SHARE = 0.6
# Frequent function words of length >= 4 that would otherwise count as content.
_STOPWORD_TEXT = """
about after also been before being could does during from have into more most only other over said same
some such than that their them then there these they this those very were what when where which while
will with would your according
किया किये करने करते होने उनके अपने इसके उसके द्वारा लेकिन
यांनी यांना यांच्या त्यांच्या त्यांनी होते केले म्हणाले
"""
_STOPWORDS = frozenset(_STOPWORD_TEXT.split())


@dataclass(frozen=True)
class RetrievedChunk:
    """One retrieved chunk, as the retriever ranked it.

    Attributes:
        source: File name of the chunk's source, relative to the corpus root.
        start: Offset of the chunk's first character in the original file.
        end: Offset one past the chunk's last character in the original file.
        text: The chunk text as shown to the model (may be cleaned).
    """

    source: str
    start: int
    end: int
    text: str = ""


@dataclass(frozen=True)
class ClaimVerdict:
    """Whether one claim (sentence) of an answer is supported by its citations."""

    claim: str
    supported: bool
    reason: str = ""


@dataclass
class CaseResult:
    """Everything measured for one eval case; `aggregate` consumes a list of these.

    Metric fields are None where the metric does not apply (see each metric's
    definition). `why` lists human-readable reasons for every failure.
    """

    case: EvalCase
    answer: Answer
    retrieved: list[RetrievedChunk]
    latency_ms: float
    correct: bool = False
    direct: bool = False
    evidence_shown: float | None = None
    wrong_and_cited: float = 0.0
    citation_precision: float | None = None
    citation_recall: float | None = None
    faithfulness: float | None = None
    recall_at: dict[int, float | None] = field(default_factory=dict)
    reciprocal_rank: float | None = None
    evidence_recall: float | None = None
    why: list[str] = field(default_factory=list)

    def row(self) -> dict[str, Any]:
        """A flat, JSON-serialisable summary for per-case report tables."""
        return {
            "id": self.case.id,
            "language": self.case.language,
            "type": self.case.type,
            "question": self.case.question,
            "answer": self.answer.answer,
            "refused": self.answer.refused,
            "mode": self.answer.mode,
            "latency_ms": self.latency_ms,
            "split": self.case.split,
            "correct": self.correct,
            "direct": self.direct,
            "evidence_shown": self.evidence_shown,
            "wrong_and_cited": self.wrong_and_cited,
            "citation_precision": self.citation_precision,
            "citation_recall": self.citation_recall,
            "faithfulness": self.faithfulness,
            **{f"recall@{k}": v for k, v in sorted(self.recall_at.items())},
            "reciprocal_rank": self.reciprocal_rank,
            "evidence_recall": self.evidence_recall,
            "why": list(self.why),
        }


# --------------------------------------------------------------------------- text


def _norm(text: str) -> str:
    """NFC, ASCII digits, casefolded, whitespace collapsed: the form we compare in."""
    text = normalise_digits(unicodedata.normalize("NFC", text))
    return " ".join(text.casefold().split())


def extract_numbers(text: str) -> set[str]:
    """Numbers in `text`, Devanagari digits normalised, thousands commas dropped."""
    found = _NUMBER_RE.findall(normalise_digits(text))
    return {n.replace(",", "") for n in found}


def claim_words(text: str) -> set[str]:
    """Casefolded tokens of >= 4 characters that are not stopwords or pure numbers.

    The eval's own word test, on purpose not `qa.matching.content_words`: a faithfulness
    figure computed with the verifier's notion of a word would move whenever the
    verifier changed, and could not catch a verifier that stopped counting a word.
    """
    tokens = _TOKEN_RE.findall(unicodedata.normalize("NFC", text).casefold())
    return {t for t in tokens if len(t) >= MIN_CONTENT_WORD_LEN and t not in _STOPWORDS and not t.isdigit()}


def split_claims(text: str) -> list[str]:
    """Split an answer into claims: sentences, without inline citation markers and without the
    pipeline's own framing ("(answer is in English)", "the sources disagree: another gives"), which
    claims nothing about the sources; each version of a disagreement is a claim of its own."""
    parts = _SENTENCE_SPLIT_RE.split(_MARKER_RE.sub(" ", _without_framing(text)))
    claims = (p.strip(_EDGE_PUNCT) for p in parts)
    return [c for c in claims if c]


def _without_framing(text: str) -> str:
    for note in ANSWERED_IN_ENGLISH.values():
        if note:
            text = text.replace(note, "\n")
    for template in SOURCES_DISAGREE.values():
        for fixed in re.split(r"\{answer\}|\{other\}", template):
            if fixed.strip():
                text = text.replace(fixed, "\n")
    return text


# ----------------------------------------------------------------------- anchors


def anchor_spans(case: EvalCase, corpus: dict[str, str]) -> dict[str, list[tuple[int, int]]]:
    """Every occurrence of every gold anchor, per gold source, as [start, end) spans."""
    spans: dict[str, list[tuple[int, int]]] = {}
    for source in case.gold_sources:
        text = corpus.get(source, "")
        spans[source] = [
            (m.start(), m.start() + len(anchor))
            for anchor in case.gold_passages
            for m in re.finditer(re.escape(anchor), text)
        ]
    return spans


def _overlaps(a: tuple[int, int], b: tuple[int, int]) -> bool:
    # Half-open ranges overlap iff each starts before the other ends.
    return a[0] < b[1] and b[0] < a[1]


def _contains(outer: tuple[int, int], inner: tuple[int, int]) -> bool:
    return outer[0] <= inner[0] and inner[1] <= outer[1]


def citation_hits_gold(citation: Citation, spans: dict[str, list[tuple[int, int]]]) -> bool:
    """True when the citation's [start, end) overlaps a gold anchor in its source."""
    own = (citation.start, citation.end)
    return any(_overlaps(own, s) for s in spans.get(citation.source, []))


def holds_gold_support(chunk: RetrievedChunk, spans: dict[str, list[tuple[int, int]]]) -> bool:
    """True when the chunk's source is gold and its span fully contains an anchor."""
    own = (chunk.start, chunk.end)
    return any(_contains(own, s) for s in spans.get(chunk.source, []))


# ----------------------------------------------------------------- correctness


MAX_DIRECT_ANSWER_CHARS = 200


def is_direct(answer: Answer) -> bool:
    """A direct answer: a statement of the answer written for the asker.

    Not refused, presented as the answer (mode "generated": written by the model
    or cut from the evidence as a span) and at most 200 characters once inline
    citation markers such as "[2]" are removed. A block of quoted evidence
    (mode "extractive") is evidence shown, never a direct answer.
    """
    if answer.refused or answer.mode != "generated":
        return False
    return short_enough_to_be_direct(answer.answer)


def short_enough_to_be_direct(text: str) -> bool:
    """At most MAX_DIRECT_ANSWER_CHARS once citation markers ("[2]") and extra spaces are removed."""
    return len(" ".join(_MARKER_RE.sub(" ", text).split())) <= MAX_DIRECT_ANSWER_CHARS


def is_correct(case: EvalCase, answer: Answer) -> bool:
    """Answer correctness (accuracy): a direct, correct answer.

    Unanswerable case (answerable=false): correct iff the system refused
    (answer.refused). Answerable case: correct iff the answer is direct (see
    `is_direct`: not refused, mode "generated", at most 200 characters without
    citation markers) AND at least one of the case's `accept` regexes matches
    it (re.search, case-insensitive, on the NFC-normalised answer with inline
    citation markers removed, tried both with Devanagari digits ०-९ mapped to
    ASCII and on the raw text). Quoted evidence scores 0 here; see
    `evidence_shown`.
    """
    if not case.answerable:
        return answer.refused
    return is_direct(answer) and accept_matches(case, _MARKER_RE.sub(" ", answer.answer))


def evidence_shown(case: EvalCase, answer: Answer) -> float | None:
    """Evidence shown that contains the answer.

    Applies to answerable cases whose output is not a direct answer but shows
    cited evidence (a quote block, or "no supported answer" with its best
    sentence): 1.0 when the shown text or the quotes of its citations match an
    `accept` pattern, else 0.0. None for direct answers, bare refusals and
    unanswerable cases.
    """
    if not case.answerable or is_direct(answer) or not answer.citations:
        return None
    shown = "\n".join([_MARKER_RE.sub(" ", answer.answer), *(c.quote for c in answer.citations)])
    return 1.0 if accept_matches(case, shown) else 0.0


def wrong_and_cited(case: EvalCase, answer: Answer) -> float:
    """Wrong-and-cited: a wrong answer presented as supported.

    1.0 when the output is a direct answer (see `is_direct`) with at least one
    citation and is not correct (for an unanswerable case: any such answer),
    else 0.0. Applies to every case; this is the number that must go to zero.
    Evidence shown without an answer and refusals score 0.0.
    """
    return 1.0 if is_direct(answer) and answer.citations and not is_correct(case, answer) else 0.0


def accept_matches(case: EvalCase, text: str) -> bool:
    """True when any accept pattern matches `text` (digit-normalised or raw)."""
    raw = unicodedata.normalize("NFC", text)
    variants = {raw, normalise_digits(raw)}
    return any(re.search(pattern, variant, re.IGNORECASE) for pattern in case.accept for variant in variants)


# -------------------------------------------------------------------- citations


def citation_precision(case: EvalCase, answer: Answer, corpus: dict[str, str]) -> float | None:
    """Citation precision of one answer.

    Share of the answer's citations whose span [start, end) overlaps at least
    one occurrence of a gold anchor (`gold_passages`) in a gold source file
    (`gold_sources`; the citation's `source` must be that file). None when
    the answer has no citations. A citation on an unanswerable case scores 0.
    """
    if not answer.citations:
        return None
    spans = anchor_spans(case, corpus)
    hits = sum(citation_hits_gold(c, spans) for c in answer.citations)
    return hits / len(answer.citations)


def citation_recall(case: EvalCase, answer: Answer, corpus: dict[str, str]) -> float | None:
    """Citation recall of one answer.

    1.0 when at least one of the answer's citations overlaps a gold anchor
    occurrence in a gold source (as in citation precision), else 0.0 (also 0.0
    with no citations). None for unanswerable cases and for refused answers,
    where there is nothing to support.
    """
    if not case.answerable or answer.refused:
        return None
    spans = anchor_spans(case, corpus)
    return 1.0 if any(citation_hits_gold(c, spans) for c in answer.citations) else 0.0


# ------------------------------------------------------------------ faithfulness


def judge_claims(answer: Answer) -> list[ClaimVerdict]:
    """Per-claim verdicts behind `faithfulness`; claims with nothing checkable are skipped."""
    quotes = [c.quote for c in answer.citations]
    verdicts: list[ClaimVerdict] = []
    for claim in split_claims(answer.answer):
        if not extract_numbers(claim) and not claim_words(claim):
            continue  # e.g. "Yes." or "U.N.": nothing a quote could support or refute
        verdicts.append(_judge_claim(claim, quotes))
    return verdicts


def _judge_claim(claim: str, quotes: Sequence[str]) -> ClaimVerdict:
    quote_numbers = {n for q in quotes for n in extract_numbers(q)}
    missing = sorted(extract_numbers(claim) - quote_numbers)
    if missing:
        return ClaimVerdict(claim, False, f"cited text lacks number {', '.join(missing)}")
    norm_claim = _norm(claim)
    if any(norm_claim in _norm(q) for q in quotes):
        return ClaimVerdict(claim, True)
    words = claim_words(claim)
    if not words:
        return ClaimVerdict(claim, True)  # only numbers, and all of them are cited
    quote_words = {w for q in quotes for w in claim_words(q)}
    share = len(words & quote_words) / len(words)
    if share >= CONTENT_WORD_SHARE:
        return ClaimVerdict(claim, True)
    return ClaimVerdict(claim, False, f"only {share:.0%} of content words found in cited text: {claim!r}")


def faithfulness(answer: Answer) -> float | None:
    """Faithfulness of one answer to its own citations (a LEXICAL PROXY, not entailment).

    The answer text, minus inline markers like "[1]" and the pipeline's own framing
    ("(answer is in English)", "the sources disagree: another gives"), is split into claims at
    sentence ends (. ! ? । ॥ followed by whitespace) and line breaks. Claims
    with no number and no content word are ignored. A claim is supported when
    (a) every number in it (ASCII or Devanagari digits, normalised; thousands
    commas dropped) is among the numbers in the quotes of the answer's
    citations, AND (b) the claim is a verbatim substring of one cited quote
    after NFC, casefolding and whitespace normalisation, OR at least 60% of its
    content words (casefolded tokens of length >= 4, minus a small stopword
    list) occur as tokens in the cited quotes. Score = supported claims / claims.
    A refusal scores 1.0; a non-refused answer without citations scores 0.0;
    None when the answer has no checkable claim. Word overlap cannot see
    negation or paraphrase, and a correct answer in another language than its
    quotes (cross-lingual) scores low by construction.
    """
    if answer.refused:
        return 1.0
    if not answer.citations:
        return 0.0
    verdicts = judge_claims(answer)
    if not verdicts:
        return None
    return sum(v.supported for v in verdicts) / len(verdicts)


# ---------------------------------------------------------------------- refusal


def refusal_precision(pairs: Iterable[tuple[EvalCase, Answer]]) -> float | None:
    """Refusal precision over a set of cases.

    Positive class: unanswerable cases (answerable=false). Predicted positive:
    answer.refused. Precision = true positives / predicted positives, i.e. the
    share of refusals that were warranted. None when nothing was refused.
    """
    refused = [case for case, answer in pairs if answer.refused]
    if not refused:
        return None
    return sum(not case.answerable for case in refused) / len(refused)


def refusal_recall(pairs: Iterable[tuple[EvalCase, Answer]]) -> float | None:
    """Refusal recall over a set of cases.

    Positive class: unanswerable cases (answerable=false). Predicted positive:
    answer.refused. Recall = true positives / actual positives, i.e. the share
    of unanswerable cases that were refused. None when there is no
    unanswerable case.
    """
    outcomes = [answer.refused for case, answer in pairs if not case.answerable]
    if not outcomes:
        return None
    return sum(outcomes) / len(outcomes)


# -------------------------------------------------------------------- retrieval


def recall_at_k(case: EvalCase, retrieved: Sequence[RetrievedChunk], corpus: dict[str, str], k: int) -> float | None:
    """Retrieval recall@k of one case.

    1.0 when at least one of the first k retrieved chunks holds gold support,
    else 0.0. A chunk holds gold support when its source is a gold source and
    its original-file span [start, end) fully contains an occurrence of a gold
    anchor. None for unanswerable cases (no gold support exists).
    """
    if k < 1:
        raise ValueError(f"k must be >= 1, got {k}")
    if not case.answerable:
        return None
    spans = anchor_spans(case, corpus)
    return 1.0 if any(holds_gold_support(c, spans) for c in retrieved[:k]) else 0.0


def evidence_recall(case: EvalCase, sentences: Sequence[RetrievedChunk], corpus: dict[str, str]) -> float | None:
    """Evidence recall: the support reached the model's prompt.

    1.0 when one of the numbered evidence sentences the pipeline builds for the
    model's prompt (`Pipeline.prompt_evidence`, whether or not the model is then
    asked) fully contains an occurrence of a gold anchor in a gold source, else
    0.0 (also when retrieval was too weak to show any). It tells "the support never
    reached the model" from "the model or the checks failed on it". None for
    unanswerable cases.
    """
    if not case.answerable:
        return None
    spans = anchor_spans(case, corpus)
    return 1.0 if any(holds_gold_support(s, spans) for s in sentences) else 0.0


def reciprocal_rank(case: EvalCase, retrieved: Sequence[RetrievedChunk], corpus: dict[str, str]) -> float | None:
    """Reciprocal rank of one case (averaged over cases: MRR).

    1 / r, where r is the 1-based rank of the first retrieved chunk holding
    gold support (as in recall@k); 0.0 when no retrieved chunk does. None for
    unanswerable cases.
    """
    if not case.answerable:
        return None
    spans = anchor_spans(case, corpus)
    for rank, chunk in enumerate(retrieved, start=1):
        if holds_gold_support(chunk, spans):
            return 1.0 / rank
    return 0.0


# ---------------------------------------------------------------------- latency


def percentile(values: Sequence[float], p: float) -> float | None:
    """The p-th percentile (0 <= p <= 100) of `values`, linearly interpolated.

    Same as numpy's default ("linear"): sort the n values, take rank
    (n - 1) * p / 100 and interpolate between its neighbours. None when empty.
    """
    if not 0 <= p <= 100:
        raise ValueError(f"p must be within [0, 100], got {p}")
    if not values:
        return None
    ordered = sorted(values)
    rank = (len(ordered) - 1) * p / 100
    low, high = math.floor(rank), math.ceil(rank)
    return ordered[low] + (ordered[high] - ordered[low]) * (rank - low)


# ------------------------------------------------------------------- per case


def score_case(
    case: EvalCase,
    answer: Answer,
    retrieved: Sequence[RetrievedChunk],
    corpus: dict[str, str],
    latency_ms: float,
    ks: Sequence[int] = (1, 3, 5),
) -> CaseResult:
    """Compute every per-case metric and the reasons for each failure."""
    result = CaseResult(case, answer, list(retrieved), latency_ms)
    result.correct = is_correct(case, answer)
    result.direct = is_direct(answer)
    result.evidence_shown = evidence_shown(case, answer)
    result.wrong_and_cited = wrong_and_cited(case, answer)
    result.citation_precision = citation_precision(case, answer, corpus)
    result.citation_recall = citation_recall(case, answer, corpus)
    result.faithfulness = faithfulness(answer)
    result.recall_at = {k: recall_at_k(case, retrieved, corpus, k) for k in ks}
    result.reciprocal_rank = reciprocal_rank(case, retrieved, corpus)
    result.why = explain(result)
    return result


def explain(result: CaseResult) -> list[str]:
    """Human-readable reasons for every metric the case failed."""
    case, answer = result.case, result.answer
    why = _correctness_reasons(case, answer) if not result.correct else []
    if answer.refused:
        return why
    if not answer.citations:
        why.append("no citations")
    elif result.citation_recall == 0.0:
        why.append("no citation overlaps gold support")
    elif result.citation_precision is not None and result.citation_precision < 1.0:
        why.append(f"citation precision {result.citation_precision:.2f}")
    if answer.citations:
        why.extend(v.reason for v in judge_claims(answer) if not v.supported)
    for k, value in sorted(result.recall_at.items()):
        if value == 0.0:
            why.append(f"gold support not retrieved in top {k}")
            break
    return why


def _correctness_reasons(case: EvalCase, answer: Answer) -> list[str]:
    if not case.answerable:
        return ["did not refuse"]
    if answer.refused:
        return ["refused an answerable question"]
    if not is_direct(answer):
        return [f"not a direct answer ({answer.mode}, {len(answer.answer)} characters)"]
    return ["no accept pattern matched"]


# ------------------------------------------------------------------- aggregate


def _mean(values: Iterable[float | None]) -> dict[str, float | int | None]:
    present = [v for v in values if v is not None]
    return {"value": sum(present) / len(present) if present else None, "n": len(present)}


def _summarise(results: Sequence[CaseResult]) -> dict[str, Any]:
    pairs = [(r.case, r.answer) for r in results]
    ks = sorted({k for r in results for k in r.recall_at})
    latencies = [r.latency_ms for r in results]
    return {
        "cases": len(results),
        "accuracy": _mean(float(r.correct) for r in results),
        "wrong_and_cited": _mean(r.wrong_and_cited for r in results),
        "evidence_shown": _mean(r.evidence_shown for r in results),
        "citation_precision": _mean(r.citation_precision for r in results),
        "citation_recall": _mean(r.citation_recall for r in results),
        "faithfulness": _mean(r.faithfulness for r in results),
        **{f"recall@{k}": _mean(r.recall_at.get(k) for r in results) for k in ks},
        "mrr": _mean(r.reciprocal_rank for r in results),
        "evidence_recall": _mean(r.evidence_recall for r in results),
        "refusal_precision": {
            "value": refusal_precision(pairs),
            "n": sum(a.refused for _, a in pairs),
        },
        "refusal_recall": {
            "value": refusal_recall(pairs),
            "n": sum(not c.answerable for c, _ in pairs),
        },
        "latency_ms": {
            "p50": percentile(latencies, 50),
            "p95": percentile(latencies, 95),
            "n": len(latencies),
        },
    }


def _group(results: Sequence[CaseResult], key: Callable[[CaseResult], str]) -> dict[str, dict[str, Any]]:
    groups: dict[str, list[CaseResult]] = {}
    for r in results:
        groups.setdefault(key(r), []).append(r)
    return {name: _summarise(members) for name, members in sorted(groups.items())}


def aggregate(results: Sequence[CaseResult]) -> dict[str, Any]:
    """Every metric overall, by question language, by case type, and all of that again per split.

    Each group maps metric name to {"value": mean over cases where the metric
    is not None (None if there are none), "n": number of such cases};
    "accuracy" is the mean of `is_correct`, "mrr" the mean reciprocal rank.
    Refusal precision/recall are computed over the group's cases (their "n" is
    the number of refusals / unanswerable cases), latency gives p50/p95 over
    all cases, and "cases" is the group size. "by_split" holds the same three
    views for the dev and the test cases separately.
    """
    return {
        **_views(results),
        "by_split": {
            split: _views(members)
            for split in ("dev", "test")
            if (members := [r for r in results if r.case.split == split])
        },
    }


def _views(results: Sequence[CaseResult]) -> dict[str, Any]:
    return {
        "overall": _summarise(results),
        "by_language": _group(results, lambda r: r.case.language),
        "by_type": _group(results, lambda r: r.case.type),
    }


def metric_definitions() -> dict[str, str]:
    """Metric name -> its definition (the function's docstring), for reports."""
    functions: dict[str, Callable[..., Any]] = {
        "accuracy": is_correct,
        "direct": is_direct,
        "wrong_and_cited": wrong_and_cited,
        "evidence_shown": evidence_shown,
        "citation_precision": citation_precision,
        "citation_recall": citation_recall,
        "faithfulness": faithfulness,
        "refusal_precision": refusal_precision,
        "refusal_recall": refusal_recall,
        "recall@k": recall_at_k,
        "mrr": reciprocal_rank,
        "evidence_recall": evidence_recall,
        "latency_percentile": percentile,
    }
    return {name: inspect.getdoc(fn) or "" for name, fn in functions.items()}
