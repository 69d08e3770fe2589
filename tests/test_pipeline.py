"""The pipeline on fakes: real Chroma, fake embedder, scripted fake generator."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from qa.llm import FakeGenerator, Message
from qa.pipeline import InvalidQuestion, Pipeline
from qa.types import REFUSAL, Answer, Turn
from qa.wiring import build_pipeline
from tests.conftest import SEEDS, fake_settings


def pipeline_with(home: Path, reply: Any, **overrides: object) -> tuple[Pipeline, FakeGenerator]:
    generator = FakeGenerator(reply)
    pipeline = build_pipeline(fake_settings(home, **overrides), generator=generator)
    pipeline.ingest([SEEDS])
    return pipeline, generator


def assert_citations_are_exact(pipeline: Pipeline, answer: Answer) -> None:
    for cite in answer.citations:
        assert cite.quote == pipeline.source_text(cite.source)[cite.start : cite.end]
        assert (SEEDS / cite.source).read_text(encoding="utf-8")[cite.start : cite.end] == cite.quote


def test_default_fake_answer_is_generated_and_cited(fake_pipeline: Pipeline) -> None:
    answer = fake_pipeline.answer("What did Kim Yo Jong say about the special function of the car?")
    assert answer.mode == "generated" and not answer.refused
    assert answer.citations
    assert_citations_are_exact(fake_pipeline, answer)
    assert answer.timings.total_ms >= answer.timings.retrieve_ms >= 0


def test_unsupported_number_falls_back_to_quoted_evidence(isolated_home: Path) -> None:
    pipeline, _ = pipeline_with(
        isolated_home, lambda m: {"answer": "Kim has received 7 Aurus cars.", "answerable": True, "citations": [1]}
    )
    answer = pipeline.answer("How many Aurus cars has Kim Jong Un received from Putin?")
    assert answer.mode == "extractive"
    assert "7 Aurus" not in answer.answer
    assert any("7" in note for note in answer.notes)
    assert answer.citations
    assert_citations_are_exact(pipeline, answer)


def test_citation_to_a_passage_not_given_never_reaches_the_answer(isolated_home: Path) -> None:
    pipeline, _ = pipeline_with(
        isolated_home, lambda m: {"answer": "Putin gave Kim a limousine.", "answerable": True, "citations": [42]}
    )
    answer = pipeline.answer("What did Putin give Kim Jong Un?")
    assert answer.mode != "generated"
    assert_citations_are_exact(pipeline, answer)


def test_model_refusal_is_the_refusal_constant(isolated_home: Path) -> None:
    pipeline, _ = pipeline_with(isolated_home, lambda m: {"answer": REFUSAL, "answerable": False, "citations": []})
    answer = pipeline.answer("What colour is the Aurus that Kim Jong Un received?")
    assert answer.refused and answer.mode == "refused"
    assert answer.answer == REFUSAL and answer.citations == []


def test_weak_retrieval_refuses_without_calling_the_model(isolated_home: Path) -> None:
    generator = FakeGenerator()
    pipeline = build_pipeline(fake_settings(isolated_home), generator=generator)
    pipeline.relevance_floor = 0.99  # nothing in the corpus is this close
    pipeline.ingest([SEEDS])
    answer = pipeline.answer("What is the capital of France?")
    assert answer.refused and answer.answer == REFUSAL
    assert generator.calls == []


def test_empty_index_refuses_without_calling_the_model(isolated_home: Path) -> None:
    generator = FakeGenerator()
    pipeline = build_pipeline(fake_settings(isolated_home), generator=generator)
    answer = pipeline.answer("How many Aurus cars has Kim received?")
    assert answer.refused and generator.calls == []


def test_question_in_a_language_the_model_cannot_write_gets_quotes_in_that_language(fake_pipeline: Pipeline) -> None:
    answer = fake_pipeline.answer("किमला किती ऑरस गाड्या मिळाल्या आहेत?")
    assert answer.language == "mr" and answer.mode == "extractive"
    assert any(c.source.startswith("000") for c in answer.citations)
    assert_citations_are_exact(fake_pipeline, answer)


def test_follow_up_is_condensed_before_retrieval(isolated_home: Path) -> None:
    seen: list[str] = []

    def reply(messages: list[Message]) -> dict[str, Any]:
        user = messages[-1]["content"]
        if "Follow-up question:" in user:
            return {"question": "What else did Putin give Kim Jong Un besides the Aurus car?"}
        seen.append(user.rsplit("Question:", 1)[1].strip())
        return {"answer": REFUSAL, "answerable": False, "citations": []}

    pipeline, _ = pipeline_with(isolated_home, reply)
    history = [Turn("user", "Which car did Putin give Kim?"), Turn("assistant", "An Aurus Senat.")]
    pipeline.answer("And what else did he give him?", history=history)
    assert seen == ["What else did Putin give Kim Jong Un besides the Aurus car?"]


def test_streamed_text_is_the_answer_field_only(fake_pipeline: Pipeline) -> None:
    pieces: list[str] = []
    answer = fake_pipeline.answer("What did Kim Yo Jong say about the car?", on_text=pieces.append)
    assert "".join(pieces) == answer.answer
    assert "{" not in "".join(pieces)


@pytest.mark.parametrize("question", ["", "   ", "x" * 1001, "a\x00b"])
def test_bad_questions_are_rejected(fake_pipeline: Pipeline, question: str) -> None:
    with pytest.raises(InvalidQuestion):
        fake_pipeline.answer(question)


def test_model_sees_only_the_trimmed_sentences_and_citations_quote_them(isolated_home: Path) -> None:
    pipeline, generator = pipeline_with(isolated_home, None, retrieve={"prompt_sentences": 2})
    answer = pipeline.answer("What did Kim Yo Jong say about the special function of the car?")
    shown = generator.calls[-1][-1]["content"].split("Question:")[0]
    assert shown.count("[") <= 2  # at most two sentences, so at most two passages
    assert answer.mode == "generated"
    assert_citations_are_exact(pipeline, answer)
    assert all(" ".join(c.quote.split()) in " ".join(shown.split()) for c in answer.citations)
