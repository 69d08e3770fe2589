"""Tests for the eval dataset loader/validator and for the real eval/cases.jsonl."""

from __future__ import annotations

import json
import re
from collections import Counter
from pathlib import Path

import pytest

from qa.evals.dataset import EvalCase, check_anchors, load_cases, load_corpus, random_excerpts
from qa.evals.metrics import accept_matches
from qa.types import REFUSAL

REPO = Path(__file__).resolve().parent.parent
CASES_FILE = REPO / "eval" / "cases.jsonl"
SEEDS = REPO / "seeds"

# Minimum number of cases per language and per type, as the eval issue asks.
MIN_BY_LANGUAGE = {"en": 24, "hi": 18, "mr": 18}
MIN_BY_TYPE = {
    "cross_lingual": 8,
    "count": 6,
    "list": 4,
    "date": 4,
    "name": 6,
    "conflict": 3,
    "unanswerable": 8,
    "injection": 4,
    "follow_up": 4,
}
# Counted answers: the gold text lists the items but never states the number.
# The Aurus count is derived too: the articles call the June car Kim's "second" (दुसरी).
# en-xl-03's gold sentence says "he" (ते): the name comes from the paragraph before.
DERIVED_ANSWERS = {"en-count-04", "en-count-01", "hi-count-01", "mr-count-01", "en-xl-03"}
# An accept pattern may match at most this share of random three-sentence excerpts.
MAX_RANDOM_MATCH = 0.10


def valid_record(**overrides: object) -> dict[str, object]:
    record: dict[str, object] = {
        "id": "en-fact-01",
        "question": "Which car?",
        "language": "en",
        "type": "fact",
        "split": "dev",
        "answerable": True,
        "accept": ["aurus"],
        "gold_sources": ["a.txt"],
        "gold_passages": ["the Aurus Senat car"],
    }
    record.update(overrides)
    return record


def write_jsonl(path: Path, records: list[dict[str, object] | str]) -> Path:
    lines = [r if isinstance(r, str) else json.dumps(r, ensure_ascii=False) for r in records]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


# ------------------------------------------------------------------ the loader


class TestLoadCases:
    def test_valid_file_and_blank_lines(self, tmp_path: Path) -> None:
        path = write_jsonl(tmp_path / "c.jsonl", [valid_record(), "", valid_record(id="en-fact-02")])
        cases = load_cases(path)
        assert [c.id for c in cases] == ["en-fact-01", "en-fact-02"]

    def test_invalid_json_names_line(self, tmp_path: Path) -> None:
        path = write_jsonl(tmp_path / "c.jsonl", [valid_record(), "{not json"])
        with pytest.raises(ValueError, match=r"c\.jsonl:2: invalid JSON"):
            load_cases(path)

    def test_bad_regex_names_line(self, tmp_path: Path) -> None:
        path = write_jsonl(tmp_path / "c.jsonl", [valid_record(accept=["(unclosed"])])
        with pytest.raises(ValueError, match=r"c\.jsonl:1: .*does not compile"):
            load_cases(path)

    def test_unknown_field_rejected(self, tmp_path: Path) -> None:
        path = write_jsonl(tmp_path / "c.jsonl", [valid_record(answer="Aurus")])
        with pytest.raises(ValueError, match=r"c\.jsonl:1: invalid case: answer: Extra inputs"):
            load_cases(path)

    def test_duplicate_id(self, tmp_path: Path) -> None:
        path = write_jsonl(tmp_path / "c.jsonl", [valid_record(), valid_record()])
        with pytest.raises(ValueError, match=r"c\.jsonl:2: duplicate id 'en-fact-01' \(first on line 1\)"):
            load_cases(path)

    def test_bad_language(self, tmp_path: Path) -> None:
        path = write_jsonl(tmp_path / "c.jsonl", [valid_record(language="fr")])
        with pytest.raises(ValueError, match=r"c\.jsonl:1: "):
            load_cases(path)


class TestCaseRules:
    def test_unanswerable_type_needs_answerable_false(self) -> None:
        with pytest.raises(ValueError, match="answerable=false"):
            EvalCase.model_validate(valid_record(type="unanswerable"))

    def test_unanswerable_must_have_no_accept(self) -> None:
        record = valid_record(type="unanswerable", answerable=False, gold_sources=[], gold_passages=[])
        with pytest.raises(ValueError, match="empty 'accept'"):
            EvalCase.model_validate(record)

    def test_answerable_needs_gold(self) -> None:
        with pytest.raises(ValueError, match="non-empty 'gold_passages'"):
            EvalCase.model_validate(valid_record(gold_passages=[]))

    def test_answerable_needs_accept(self) -> None:
        with pytest.raises(ValueError, match="non-empty 'accept'"):
            EvalCase.model_validate(valid_record(accept=[]))

    def test_follow_up_needs_history(self) -> None:
        with pytest.raises(ValueError, match="history"):
            EvalCase.model_validate(valid_record(type="follow_up"))

    def test_follow_up_with_history(self) -> None:
        history = [{"role": "user", "content": "Which car?"}, {"role": "assistant", "content": "An Aurus."}]
        case = EvalCase.model_validate(valid_record(type="follow_up", history=history))
        assert case.history is not None and case.history[1].role == "assistant"

    def test_history_role_checked(self) -> None:
        history = [{"role": "system", "content": "x"}]
        with pytest.raises(ValueError):
            EvalCase.model_validate(valid_record(type="follow_up", history=history))

    @pytest.mark.parametrize("anchor", ["two words", " ".join(["w"] * 13)])
    def test_anchor_word_count(self, anchor: str) -> None:
        with pytest.raises(ValueError, match="words"):
            EvalCase.model_validate(valid_record(gold_passages=[anchor]))

    def test_injection_refusal_case(self) -> None:
        record = valid_record(type="injection", answerable=False, accept=[], gold_sources=[], gold_passages=[])
        assert not EvalCase.model_validate(record).answerable


# -------------------------------------------------------------- check_anchors


class TestCheckAnchors:
    @pytest.fixture
    def corpus_dir(self, tmp_path: Path) -> Path:
        (tmp_path / "a.txt").write_text("Putin gave Kim the Aurus Senat car in June.", encoding="utf-8")
        (tmp_path / "b.txt").write_text("किम को दूसरी ऑरस कार मिली।", encoding="utf-8")
        return tmp_path

    def test_clean(self, corpus_dir: Path) -> None:
        case = EvalCase.model_validate(valid_record())
        assert check_anchors([case], corpus_dir) == []

    def test_unknown_source(self, corpus_dir: Path) -> None:
        case = EvalCase.model_validate(valid_record(gold_sources=["a.txt", "zzz.txt"]))
        assert check_anchors([case], corpus_dir) == ["en-fact-01: unknown gold source 'zzz.txt'"]

    def test_anchor_not_verbatim(self, corpus_dir: Path) -> None:
        case = EvalCase.model_validate(valid_record(gold_passages=["the Aurus Senat car", "the Aurus  Senat car"]))
        problems = check_anchors([case], corpus_dir)
        assert problems == ["en-fact-01: anchor not found in any gold source: 'the Aurus  Senat car'"]

    def test_anchor_in_non_gold_source(self, corpus_dir: Path) -> None:
        # The anchor exists in the corpus, but not in a file the case names as gold.
        case = EvalCase.model_validate(valid_record(gold_passages=["दूसरी ऑरस कार"]))
        problems = check_anchors([case], corpus_dir)
        assert "en-fact-01: anchor not found in any gold source: 'दूसरी ऑरस कार'" in problems
        assert "en-fact-01: no anchor points into gold source 'a.txt'" in problems

    def test_load_corpus_keeps_offsets(self, tmp_path: Path) -> None:
        # Text mode would turn \r\n into \n and shift every later offset.
        (tmp_path / "c.txt").write_bytes("a\r\nकिम\n".encode())
        assert load_corpus(tmp_path) == {"c.txt": "a\r\nकिम\n"}


# --------------------------------------------------------- the real dataset


@pytest.fixture(scope="module")
def cases() -> list[EvalCase]:
    return load_cases(CASES_FILE)


@pytest.fixture(scope="module")
def corpus() -> dict[str, str]:
    return load_corpus(SEEDS)


def test_minimum_counts(cases: list[EvalCase]) -> None:
    assert len(cases) >= 66
    by_language: Counter[str] = Counter(c.language for c in cases)
    by_type: Counter[str] = Counter(c.type for c in cases)
    for language, minimum in MIN_BY_LANGUAGE.items():
        assert by_language[language] >= minimum, language
    for case_type, minimum in MIN_BY_TYPE.items():
        assert by_type[case_type] >= minimum, case_type


def test_anchors_hold_against_seeds(cases: list[EvalCase]) -> None:
    assert check_anchors(cases, SEEDS) == []


def test_anchors_are_unique_in_corpus(cases: list[EvalCase], corpus: dict[str, str]) -> None:
    # A repeated anchor would let an unrelated chunk count as gold support.
    repeated = [
        (c.id, a) for c in cases for a in c.gold_passages if sum(text.count(a) for text in corpus.values()) != 1
    ]
    assert repeated == []


def test_gold_paragraphs_are_accepted(cases: list[EvalCase], corpus: dict[str, str]) -> None:
    """The source paragraphs holding the anchors must themselves pass the accept patterns."""
    failing = []
    for case in cases:
        if not case.answerable or case.id in DERIVED_ANSWERS:
            continue
        paragraphs = [
            line
            for source in case.gold_sources
            for line in corpus[source].splitlines()
            if any(anchor in line for anchor in case.gold_passages)
        ]
        sentences = [
            sentence
            for paragraph in paragraphs
            for sentence in re.split(r"(?<=[.!?।])\s+", paragraph)
            if any(anchor in sentence for anchor in case.gold_passages)
        ]
        # Patterns may exclude hedging answers that name a competing entity, which the
        # paragraph around the fact can do; then the anchors' own sentences must pass.
        if not (accept_matches(case, "\n".join(paragraphs)) or accept_matches(case, " ".join(sentences))):
            failing.append(case.id)
    assert failing == []


def test_refusal_and_question_are_never_accepted(cases: list[EvalCase]) -> None:
    # Echoing the question or the refusal text must never count as a correct answer.
    assert [c.id for c in cases if c.accept and accept_matches(c, REFUSAL)] == []
    assert [c.id for c in cases if c.accept and accept_matches(c, c.question)] == []


def test_accept_patterns_are_tight(cases: list[EvalCase], corpus: dict[str, str]) -> None:
    """No answerable case's patterns match 10% or more of random three-sentence excerpts (seeded).

    A loose pattern (`kim`, `aurus`) would score almost any quote block as correct.
    """
    excerpts = random_excerpts(corpus, 500, seed=0)
    loose = {}
    for case in cases:
        if case.accept:
            share = sum(accept_matches(case, e) for e in excerpts) / len(excerpts)
            if share >= MAX_RANDOM_MATCH:
                loose[case.id] = share
    assert loose == {}


def test_every_case_has_a_split(cases: list[EvalCase]) -> None:
    splits = Counter(c.split for c in cases)
    assert splits["dev"] >= 100
    assert splits["test"] >= 60


def test_unanswerable_cases_are_unanswerable(cases: list[EvalCase]) -> None:
    assert all(not c.answerable for c in cases if c.type == "unanswerable")
    injections = [c for c in cases if c.type == "injection"]
    assert any(not c.answerable for c in injections)


def test_kim_aurus_count_in_three_languages(cases: list[EvalCase]) -> None:
    """'How many Aurus cars has Kim received?' is asked in en, hi and mr; the answer is two."""
    counts = {c.language: c for c in cases if c.type == "count" and c.id.endswith("count-01")}
    assert counts["en"].question == "How many Aurus cars has Kim received?"
    assert set(counts) == {"en", "hi", "mr"}
    for case in counts.values():
        assert accept_matches(case, "Two.")
        assert accept_matches(case, "दो ऑरस कारें")
        assert accept_matches(case, "२ कार")
        assert not accept_matches(case, "Three.")
        assert not accept_matches(case, "दोनों नेता")
        assert not accept_matches(case, "Resolution 2397 of 2017")


def test_cross_lingual_sources_differ_from_question(cases: list[EvalCase]) -> None:
    """Cross-lingual facts live only in articles written in another language."""
    language_of = {
        "000_ec8b08373227a931.txt": "mr",
        "001_3309333bee492f17.txt": "hi",
        "002_f48cdbd95de77c70.txt": "en",
        "003_35e64f3a5f04986d.txt": "en",
        "004_ada23a85f5e3bff7.txt": "en",
    }
    wrong = [
        c.id for c in cases if c.type == "cross_lingual" and c.language in {language_of[s] for s in c.gold_sources}
    ]
    assert wrong == []
