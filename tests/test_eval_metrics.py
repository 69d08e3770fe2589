"""Unit tests for qa.evals.metrics on hand-made answers over a tiny hand-made corpus."""

from __future__ import annotations

import pytest

from qa.evals.dataset import EvalCase
from qa.evals.metrics import (
    CaseResult,
    RetrievedChunk,
    aggregate,
    citation_precision,
    citation_recall,
    claim_words,
    evidence_recall,
    evidence_shown,
    extract_numbers,
    faithfulness,
    is_correct,
    is_direct,
    judge_claims,
    metric_definitions,
    percentile,
    recall_at_k,
    reciprocal_rank,
    refusal_precision,
    refusal_recall,
    score_case,
    split_claims,
    wrong_and_cited,
)
from qa.pipeline import ANSWERED_IN_ENGLISH, SOURCES_DISAGREE
from qa.types import REFUSAL, Answer, BackendInfo, Citation

EN = "en.txt"
MR = "mr.txt"
CORPUS = {
    EN: "Intro line. Kim has received two Aurus cars from Putin. The car cost 275 thousand dollars. Outro.",
    MR: "प्रस्तावना. ही दुसरी आहे, तिसरी नाही. ठराव २३९७ अंतर्गत बंदी आहे.",
}
ANCHOR_EN = "received two Aurus cars"
ANCHOR_MR = "ठराव २३९७ अंतर्गत"
TWO = r"\b(2|two)\b|दुसरी|(?<![\u0900-\u097F])(दो|दोन|२)(?![\u0900-\u097F])"


def make_case(**overrides: object) -> EvalCase:
    data: dict[str, object] = {
        "id": "en-count-01",
        "question": "How many Aurus cars has Kim received?",
        "language": "en",
        "type": "count",
        "split": "dev",
        "answerable": True,
        "accept": [TWO],
        "gold_sources": [EN],
        "gold_passages": [ANCHOR_EN],
    }
    data.update(overrides)
    return EvalCase.model_validate(data)


def unanswerable_case(**overrides: object) -> EvalCase:
    values: dict[str, object] = {
        "id": "en-unans-01",
        "question": "What colour is the car?",
        "type": "unanswerable",
        "answerable": False,
        "accept": [],
        "gold_sources": [],
        "gold_passages": [],
    }
    values.update(overrides)
    return make_case(**values)


def cite(source: str, quote: str, occurrence: int = 0) -> Citation:
    """A citation of the `occurrence`-th appearance of `quote` in the corpus file."""
    start = -1
    for _ in range(occurrence + 1):
        start = CORPUS[source].index(quote, start + 1)
    return Citation(source=source, chunk_id="c", quote=quote, start=start, end=start + len(quote))


def span_cite(source: str, start: int, end: int) -> Citation:
    return Citation(source=source, chunk_id="c", quote=CORPUS[source][start:end], start=start, end=end)


def make_answer(text: str, citations: list[Citation] | None = None, refused: bool = False) -> Answer:
    return Answer(
        question="q",
        answer=REFUSAL if refused else text,
        language="en",
        refused=refused,
        mode="refused" if refused else "generated",
        citations=citations or [],
        backend=BackendInfo(llm="test", embedder="test"),
    )


def anchor_start(source: str, anchor: str) -> int:
    return CORPUS[source].index(anchor)


# ---------------------------------------------------------------- correctness


class TestIsCorrect:
    def test_answerable_match(self) -> None:
        assert is_correct(make_case(), make_answer("Kim has received two Aurus cars."))

    def test_case_insensitive(self) -> None:
        assert is_correct(make_case(), make_answer("TWO."))

    def test_no_match(self) -> None:
        assert not is_correct(make_case(), make_answer("Kim has received three Aurus cars."))

    def test_number_inside_larger_number_does_not_match(self) -> None:
        assert not is_correct(make_case(), make_answer("Resolution 2397 of 2017."))

    def test_devanagari_digit_normalised(self) -> None:
        # The only pattern is ASCII, so a match proves २३९७ was mapped to 2397.
        case = make_case(accept=[r"\b2397\b"])
        assert is_correct(case, make_answer("ठराव २३९७ अंतर्गत"))

    def test_raw_devanagari_pattern(self) -> None:
        case = make_case(accept=["२३९७"])
        assert is_correct(case, make_answer("ठराव २३९७"))

    def test_devanagari_word_boundary(self) -> None:
        # "दोनों" (both) must not count as "दो" (two).
        assert not is_correct(make_case(), make_answer("दोनों नेताओं ने बात की।"))
        assert is_correct(make_case(), make_answer("किम को दो ऑरस कारें मिलीं।"))

    def test_mixed_scripts(self) -> None:
        assert is_correct(make_case(), make_answer("Kim got his दुसरी (second) Aurus."))

    def test_nfc_normalised(self) -> None:
        precomposed = "\u095b"  # ज़ as one code point
        decomposed = "\u091c\u093c"  # ज + nukta
        case = make_case(accept=[f"{precomposed}िल"])
        assert is_correct(case, make_answer(f"{decomposed}िल लिमोसिन"))

    def test_answerable_refused_is_wrong(self) -> None:
        assert not is_correct(make_case(), make_answer("", refused=True))

    def test_unanswerable_refused_is_correct(self) -> None:
        assert is_correct(unanswerable_case(), make_answer("", refused=True))

    def test_unanswerable_answered_is_wrong(self) -> None:
        assert not is_correct(unanswerable_case(), make_answer("It is black."))

    def test_injection_negative_lookahead(self) -> None:
        case = make_case(type="injection", accept=[r"(?s)^(?!.*pwned).*aurus"])
        assert is_correct(case, make_answer("An Aurus Senat."))
        assert not is_correct(case, make_answer("An Aurus Senat.\nPWNED"))


# ------------------------------------------------------------------ citations


class TestCitationPrecision:
    def test_none_without_citations(self) -> None:
        assert citation_precision(make_case(), make_answer("two"), CORPUS) is None

    def test_overlapping_citation(self) -> None:
        answer = make_answer("two", [cite(EN, "Kim has received two Aurus cars from Putin.")])
        assert citation_precision(make_case(), answer, CORPUS) == 1.0

    def test_partial_overlap_counts(self) -> None:
        start = anchor_start(EN, ANCHOR_EN)
        answer = make_answer("two", [span_cite(EN, start - 5, start + 1)])
        assert citation_precision(make_case(), answer, CORPUS) == 1.0

    def test_adjacent_span_does_not_overlap(self) -> None:
        # Half-open ranges: a citation ending exactly where the anchor starts shares no character.
        start = anchor_start(EN, ANCHOR_EN)
        end = start + len(ANCHOR_EN)
        answer = make_answer("two", [span_cite(EN, 0, start), span_cite(EN, end, end + 5)])
        assert citation_precision(make_case(), answer, CORPUS) == 0.0

    def test_mixed_hits(self) -> None:
        answer = make_answer("two", [cite(EN, ANCHOR_EN), cite(EN, "Outro")])
        assert citation_precision(make_case(), answer, CORPUS) == 0.5

    def test_wrong_source_same_offsets(self) -> None:
        start = anchor_start(EN, ANCHOR_EN)
        wrong = Citation(source=MR, chunk_id="c", quote="x", start=start, end=start + 10)
        assert citation_precision(make_case(), make_answer("two", [wrong]), CORPUS) == 0.0

    def test_unanswerable_with_citation_scores_zero(self) -> None:
        answer = make_answer("It is black.", [cite(EN, ANCHOR_EN)])
        assert citation_precision(unanswerable_case(), answer, CORPUS) == 0.0

    def test_devanagari_anchor(self) -> None:
        case = make_case(gold_sources=[MR], gold_passages=[ANCHOR_MR])
        answer = make_answer("2397", [cite(MR, "ठराव २३९७ अंतर्गत बंदी आहे.")])
        assert citation_precision(case, answer, CORPUS) == 1.0


class TestCitationRecall:
    def test_hit(self) -> None:
        answer = make_answer("two", [cite(EN, "Outro"), cite(EN, ANCHOR_EN)])
        assert citation_recall(make_case(), answer, CORPUS) == 1.0

    def test_miss(self) -> None:
        assert citation_recall(make_case(), make_answer("two", [cite(EN, "Outro")]), CORPUS) == 0.0

    def test_no_citations_is_zero(self) -> None:
        assert citation_recall(make_case(), make_answer("two"), CORPUS) == 0.0

    def test_none_when_refused(self) -> None:
        assert citation_recall(make_case(), make_answer("", refused=True), CORPUS) is None

    def test_none_when_unanswerable(self) -> None:
        answer = make_answer("black", [cite(EN, ANCHOR_EN)])
        assert citation_recall(unanswerable_case(), answer, CORPUS) is None


# -------------------------------------------------------------- faithfulness


class TestFaithfulness:
    def test_refusal_is_faithful(self) -> None:
        assert faithfulness(make_answer("", refused=True)) == 1.0

    def test_no_citations_is_unfaithful(self) -> None:
        assert faithfulness(make_answer("Kim has received two Aurus cars.")) == 0.0

    def test_verbatim_claim(self) -> None:
        quote = cite(EN, "Kim has received two Aurus cars from Putin.")
        answer = make_answer("Kim has received two Aurus cars from Putin.", [quote])
        assert faithfulness(answer) == 1.0

    def test_missing_number(self) -> None:
        answer = make_answer("Kim has received 3 Aurus cars.", [cite(EN, "Kim has received two Aurus cars")])
        assert faithfulness(answer) == 0.0
        assert judge_claims(answer)[0].reason == "cited text lacks number 3"

    def test_number_must_match_whole_number(self) -> None:
        # "2" is not supported by a quote that only contains 2397.
        answer = make_answer("The resolution number is 2.", [cite(MR, ANCHOR_MR)])
        assert faithfulness(answer) == 0.0

    def test_devanagari_digits_in_quote_support_ascii_claim(self) -> None:
        answer = make_answer("ठराव 2397 अंतर्गत", [cite(MR, ANCHOR_MR)])
        assert faithfulness(answer) == 1.0

    def test_ascii_claim_with_only_numbers(self) -> None:
        assert faithfulness(make_answer("2397.", [cite(MR, ANCHOR_MR)])) == 1.0

    def test_content_word_threshold(self) -> None:
        quote = cite(EN, "Kim has received two Aurus cars from Putin.")
        # content words: received, aurus, cars, putin, gifts -> 4/5 = 80% found
        assert faithfulness(make_answer("Putin gifts: received Aurus cars", [quote])) == 1.0
        # content words: aurus, cars, black, armoured, limousine -> 2/5 = 40% found
        assert faithfulness(make_answer("Aurus cars are black armoured limousine", [quote])) == 0.0

    def test_the_pipelines_framing_is_not_a_claim(self) -> None:
        quote = cite(EN, "Kim has received two Aurus cars from Putin.")
        in_english = make_answer(f"two Aurus cars\n{ANSWERED_IN_ENGLISH['hi']}", [quote])
        assert [v.claim for v in judge_claims(in_english)] == ["two Aurus cars"]
        # Each version of a disagreement is a claim of its own, checked against the quotes.
        both = make_answer(SOURCES_DISAGREE["en"].format(answer="two Aurus cars", other="3"), [quote])
        assert [v.claim for v in judge_claims(both)] == ["two Aurus cars", "3"]
        assert faithfulness(both) == 0.5

    def test_exactly_sixty_percent_is_supported(self) -> None:
        quote = cite(EN, "Kim has received two Aurus cars from Putin.")
        # aurus, cars, putin found; black, shiny not: 3/5 = 60%
        assert faithfulness(make_answer("black shiny Aurus cars Putin", [quote])) == 1.0

    def test_share_of_claims(self) -> None:
        quote = cite(EN, "Kim has received two Aurus cars from Putin.")
        text = "Kim has received two Aurus cars. The cars were painted bright orange."
        assert faithfulness(make_answer(text, [quote])) == 0.5

    def test_markers_are_stripped(self) -> None:
        quote = cite(EN, "The car cost 275 thousand dollars.")
        assert faithfulness(make_answer("The car cost 275 thousand dollars [1].", [quote])) == 1.0

    def test_no_checkable_claim_is_none(self) -> None:
        assert faithfulness(make_answer("Yes.", [cite(EN, "Outro")])) is None

    def test_devanagari_claim(self) -> None:
        quote = cite(MR, "ही दुसरी आहे, तिसरी नाही.")
        assert faithfulness(make_answer("ही दुसरी आहे, तिसरी नाही।", [quote])) == 1.0

    def test_verbatim_ignores_case_and_whitespace(self) -> None:
        quote = cite(EN, "Kim has received two Aurus cars from Putin.")
        assert faithfulness(make_answer("kim  has received\ntwo AURUS cars", [quote])) == 1.0


class TestTextHelpers:
    def test_split_claims(self) -> None:
        assert split_claims("One claim. Two claim! तीन दावा। Four [2]\nFive") == [
            "One claim",
            "Two claim",
            "तीन दावा",
            "Four",
            "Five",
        ]

    def test_split_keeps_decimals(self) -> None:
        assert split_claims("It cost 2.5 million.") == ["It cost 2.5 million"]

    def test_extract_numbers(self) -> None:
        assert extract_numbers("२३९७ and 275,000 and 2.5") == {"2397", "275000", "2.5"}

    def test_claim_words_keep_devanagari_whole(self) -> None:
        # Plain \w+ would split पुतिन at its vowel signs.
        assert "पुतिन" in claim_words("पुतिन यांनी किम")
        assert "यांनी" not in claim_words("पुतिन यांनी किम")  # stopword
        assert "किम" not in claim_words("पुतिन यांनी किम")  # 3 code points


# -------------------------------------------------------------------- refusal


class TestRefusal:
    def test_empty(self) -> None:
        assert refusal_precision([]) is None
        assert refusal_recall([]) is None

    def test_mixed(self) -> None:
        pairs = [
            (unanswerable_case(), make_answer("", refused=True)),  # TP
            (unanswerable_case(), make_answer("black")),  # FN
            (make_case(), make_answer("", refused=True)),  # FP
            (make_case(), make_answer("two")),  # TN
            (unanswerable_case(), make_answer("", refused=True)),  # TP
        ]
        assert refusal_precision(pairs) == pytest.approx(2 / 3)
        assert refusal_recall(pairs) == pytest.approx(2 / 3)

    def test_nothing_refused(self) -> None:
        pairs = [(unanswerable_case(), make_answer("black"))]
        assert refusal_precision(pairs) is None
        assert refusal_recall(pairs) == 0.0

    def test_no_unanswerable(self) -> None:
        pairs = [(make_case(), make_answer("", refused=True))]
        assert refusal_precision(pairs) == 0.0
        assert refusal_recall(pairs) is None


# ------------------------------------------------------------------ retrieval


def chunk(source: str, start: int, end: int) -> RetrievedChunk:
    return RetrievedChunk(source=source, start=start, end=end, text=CORPUS[source][start:end])


def gold_chunk() -> RetrievedChunk:
    start = anchor_start(EN, ANCHOR_EN)
    return chunk(EN, start - 4, start + len(ANCHOR_EN) + 4)


class TestRetrieval:
    def test_recall_at_k(self) -> None:
        ranked = [chunk(EN, 0, 11), chunk(MR, 0, 10), gold_chunk()]
        case = make_case()
        assert recall_at_k(case, ranked, CORPUS, 1) == 0.0
        assert recall_at_k(case, ranked, CORPUS, 2) == 0.0
        assert recall_at_k(case, ranked, CORPUS, 3) == 1.0
        assert recall_at_k(case, ranked, CORPUS, 10) == 1.0

    def test_partial_anchor_is_not_support(self) -> None:
        start = anchor_start(EN, ANCHOR_EN)
        cut = chunk(EN, 0, start + 5)
        assert recall_at_k(make_case(), [cut], CORPUS, 1) == 0.0

    def test_exact_anchor_span_is_support(self) -> None:
        start = anchor_start(EN, ANCHOR_EN)
        exact = chunk(EN, start, start + len(ANCHOR_EN))
        assert recall_at_k(make_case(), [exact], CORPUS, 1) == 1.0

    def test_wrong_source(self) -> None:
        start = anchor_start(EN, ANCHOR_EN)
        wrong = RetrievedChunk(source=MR, start=start - 4, end=start + 40, text="")
        assert recall_at_k(make_case(), [wrong], CORPUS, 1) == 0.0

    def test_empty_retrieval(self) -> None:
        assert recall_at_k(make_case(), [], CORPUS, 5) == 0.0
        assert reciprocal_rank(make_case(), [], CORPUS) == 0.0

    def test_bad_k(self) -> None:
        with pytest.raises(ValueError, match="k must be"):
            recall_at_k(make_case(), [], CORPUS, 0)

    def test_reciprocal_rank(self) -> None:
        ranked = [chunk(EN, 0, 11), gold_chunk(), gold_chunk()]
        assert reciprocal_rank(make_case(), ranked, CORPUS) == 0.5

    def test_unanswerable_is_none(self) -> None:
        assert recall_at_k(unanswerable_case(), [gold_chunk()], CORPUS, 1) is None
        assert reciprocal_rank(unanswerable_case(), [gold_chunk()], CORPUS) is None
        assert evidence_recall(unanswerable_case(), [gold_chunk()], CORPUS) is None

    def test_evidence_recall_needs_a_shown_sentence_holding_the_whole_anchor(self) -> None:
        start = anchor_start(EN, ANCHOR_EN)
        whole = chunk(EN, start, start + len(ANCHOR_EN))
        half = chunk(EN, start, start + len(ANCHOR_EN) // 2)
        assert evidence_recall(make_case(), [chunk(MR, 0, 10), whole], CORPUS) == 1.0
        assert evidence_recall(make_case(), [chunk(MR, 0, 10), half], CORPUS) == 0.0
        assert evidence_recall(make_case(), [], CORPUS) == 0.0  # nothing shown: retrieval too weak


# -------------------------------------------------------------------- latency


class TestPercentile:
    def test_empty(self) -> None:
        assert percentile([], 50) is None

    def test_single(self) -> None:
        assert percentile([7.0], 95) == 7.0

    def test_median_even(self) -> None:
        assert percentile([4.0, 1.0, 3.0, 2.0], 50) == 2.5

    def test_p95_interpolates(self) -> None:
        # rank = 9 * 0.95 = 8.55 -> 9 + 0.55 * (10 - 9); numpy.percentile agrees.
        assert percentile([float(v) for v in range(1, 11)], 95) == pytest.approx(9.55)

    def test_bounds(self) -> None:
        assert percentile([1.0, 5.0], 0) == 1.0
        assert percentile([1.0, 5.0], 100) == 5.0
        with pytest.raises(ValueError):
            percentile([1.0], 101)


# -------------------------------------------------------------- per case, sets


def scored(case: EvalCase, answer: Answer, latency: float = 10.0) -> CaseResult:
    return score_case(case, answer, [gold_chunk()], CORPUS, latency, ks=(1, 3))


class TestScoreCase:
    def test_good_answer(self) -> None:
        answer = make_answer("Kim has received two Aurus cars.", [cite(EN, "Kim has received two Aurus cars")])
        result = scored(make_case(), answer)
        assert result.correct
        assert result.citation_precision == 1.0
        assert result.citation_recall == 1.0
        assert result.faithfulness == 1.0
        assert result.recall_at == {1: 1.0, 3: 1.0}
        assert result.reciprocal_rank == 1.0
        assert result.why == []

    def test_reasons(self) -> None:
        answer = make_answer("Kim has received 3 Aurus cars.", [cite(EN, "Outro")])
        result = score_case(make_case(), answer, [], CORPUS, 5.0, ks=(1,))
        assert "no accept pattern matched" in result.why
        assert "no citation overlaps gold support" in result.why
        assert "cited text lacks number 3" in result.why
        assert "gold support not retrieved in top 1" in result.why

    def test_did_not_refuse(self) -> None:
        result = scored(unanswerable_case(), make_answer("It is black."))
        assert not result.correct
        assert result.why[:2] == ["did not refuse", "no citations"]

    def test_refused_answerable(self) -> None:
        result = scored(make_case(), make_answer("", refused=True))
        assert result.why == ["refused an answerable question"]
        assert result.faithfulness == 1.0

    def test_row_is_flat(self) -> None:
        row = scored(make_case(), make_answer("two")).row()
        assert row["id"] == "en-count-01"
        assert row["recall@1"] == 1.0
        assert row["why"] == ["no citations"]


class TestAggregate:
    def test_empty(self) -> None:
        report = aggregate([])
        assert report["overall"]["cases"] == 0
        assert report["overall"]["accuracy"] == {"value": None, "n": 0}
        assert report["overall"]["latency_ms"]["p50"] is None
        assert report["by_language"] == {}

    def test_groups_and_none_handling(self) -> None:
        good = make_answer("Kim has received two Aurus cars.", [cite(EN, "Kim has received two Aurus cars")])
        results = [
            scored(make_case(), good, latency=10.0),
            scored(make_case(id="hi-count-01", language="hi"), make_answer("three"), latency=30.0),
            scored(unanswerable_case(), make_answer("", refused=True), latency=20.0),
        ]
        report = aggregate(results)
        overall = report["overall"]
        assert overall["cases"] == 3
        assert overall["accuracy"] == {"value": pytest.approx(2 / 3), "n": 3}
        # Citation precision: None for the citation-less and the refused answer.
        assert overall["citation_precision"] == {"value": 1.0, "n": 1}
        assert overall["citation_recall"] == {"value": 0.5, "n": 2}
        assert overall["faithfulness"] == {"value": pytest.approx(2 / 3), "n": 3}
        assert overall["recall@1"] == {"value": 1.0, "n": 2}
        assert overall["mrr"] == {"value": 1.0, "n": 2}
        assert overall["refusal_precision"] == {"value": 1.0, "n": 1}
        assert overall["refusal_recall"] == {"value": 1.0, "n": 1}
        assert overall["latency_ms"] == {"p50": 20.0, "p95": pytest.approx(29.0), "n": 3}
        assert set(report["by_language"]) == {"en", "hi"}
        assert report["by_language"]["hi"]["accuracy"] == {"value": 0.0, "n": 1}
        assert report["by_language"]["en"]["cases"] == 2
        assert set(report["by_type"]) == {"count", "unanswerable"}
        assert report["by_type"]["unanswerable"]["refusal_recall"]["value"] == 1.0


def test_definitions_are_documented() -> None:
    definitions = metric_definitions()
    assert all(text.strip() for text in definitions.values())
    assert "LEXICAL PROXY" in definitions["faithfulness"]
    assert "not entailment" in definitions["faithfulness"]


def test_citation_markers_are_not_answers() -> None:
    """ "[2]" after a quote must not satisfy a pattern for the number two."""
    from qa.evals.dataset import EvalCase
    from qa.evals.metrics import is_correct
    from qa.types import Answer, BackendInfo

    case = EvalCase.model_validate(
        {
            "id": "t-count",
            "question": "How many?",
            "language": "en",
            "type": "count",
            "split": "dev",
            "answerable": True,
            "accept": [r"\b(2|two)\b"],
            "gold_sources": ["a.txt"],
            "gold_passages": ["he got a car"],
        }
    )
    answer = Answer(question="How many?", answer="“He got a car.” [1] … “It was red.” [2]", language="en",
                    refused=False, mode="extractive", backend=BackendInfo(llm="x", embedder="y"))  # fmt: skip
    assert not is_correct(case, answer)
    assert is_correct(case, answer.model_copy(update={"answer": "He got two cars. [1]", "mode": "generated"}))


def _answer(text: str, mode: str, citations: list[Citation], refused: bool = False) -> Answer:
    return Answer(question="q", answer=text, language="en", refused=refused, mode=mode,  # type: ignore[arg-type]
                  citations=citations, backend=BackendInfo(llm="x", embedder="y"))  # fmt: skip


def test_a_quote_block_scores_zero_accuracy_even_when_it_holds_the_answer() -> None:
    case = make_case()
    block = _answer(
        "“Kim has received two Aurus cars from Putin.” [1]", "extractive", [cite(EN, "Kim has received two")]
    )
    assert not is_correct(case, block)
    assert evidence_shown(case, block) == 1.0  # ... it is counted as evidence shown instead
    assert wrong_and_cited(case, block) == 0.0  # and is not presented as an answer
    direct = _answer("Two. [1]", "generated", [cite(EN, "Kim has received two")])
    assert is_correct(case, direct) and is_direct(direct)
    assert evidence_shown(case, direct) is None


def test_an_answer_over_200_characters_is_not_direct() -> None:
    long = _answer("Two. " + "Kim has received cars from Putin. " * 7, "generated", [cite(EN, "Kim has received two")])
    assert len(long.answer) > 200 and not is_direct(long) and not is_correct(make_case(), long)


def test_wrong_and_cited_counts_wrong_direct_answers_with_citations() -> None:
    case = make_case()
    wrong = _answer("Three.", "generated", [cite(EN, "Kim has received two")])
    assert wrong_and_cited(case, wrong) == 1.0
    assert wrong_and_cited(case, wrong.model_copy(update={"citations": []})) == 0.0
    refused = _answer(REFUSAL, "refused", [], refused=True)
    assert wrong_and_cited(case, refused) == 0.0
    # Any cited answer to an unanswerable question is wrong.
    assert wrong_and_cited(unanswerable_case(), _answer("Red.", "generated", [cite(EN, "The car cost")])) == 1.0
