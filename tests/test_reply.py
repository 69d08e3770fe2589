"""The model's reply: the answer schema and parsing what the model wrote (pure functions)."""

from __future__ import annotations

import itertools
import json
import math

import pytest

from qa.reply import ReplyFormatError, answer_bounds, answer_certainty, answer_schema, parse_reply, partial_answer


def test_parse_keeps_only_citations_to_given_passages() -> None:
    raw = json.dumps(
        {"answer": "It costs 275 thousand dollars [2] [9].", "answerable": True, "citations": [2, 7, 0, "x"]}
    )
    reply = parse_reply(raw, n_passages=3)
    assert reply.cited == [1]
    assert reply.dropped == [7, 0, "x", 9]
    assert reply.answer == "It costs 275 thousand dollars."


@pytest.mark.parametrize("raw", ["not json", "[1, 2]", '{"answerable": true}', '{"answer": 5}'])
def test_malformed_output_is_a_format_error(raw: str) -> None:
    with pytest.raises(ReplyFormatError):
        parse_reply(raw, 3)


def test_schema_restricts_citations_to_passage_numbers() -> None:
    schema = answer_schema(3)
    assert schema["properties"]["evidence"]["items"]["enum"] == [1, 2, 3]
    assert list(schema["properties"]) == ["evidence", "answer"]  # quote first, then answer
    assert schema["properties"]["answer"]["maxLength"] > 0


def test_certainty_is_the_least_likely_token_inside_the_answer_string() -> None:
    # As llama.cpp tokenises a reply: the tokens around the answer are format the grammar forces.
    tokens = [("{", -2.4), ('"', -13.0), ("evidence", -0.1), ('":[', -7.9), ("1", -0.1), ('],"', -0.8)]
    tokens += [("answer", -0.7), ('":"', -0.5), ("two", math.log(0.6)), (" cars", math.log(0.2)), ('"}', -9.0)]
    assert answer_certainty(tokens) == pytest.approx(0.2)


def test_certainty_reads_past_an_escaped_quote_and_counts_a_token_that_straddles_the_string() -> None:
    tokens = [('{"evidence":[2],"answer":"', -0.1), ('the \\"', -0.2), ('Cortege\\" project', -0.3), ('"}', -5.0)]
    assert answer_certainty(tokens) == pytest.approx(math.exp(-0.3))
    assert answer_certainty([('{"evidence":[1],"answer":"two"}', -1.0)]) == pytest.approx(math.exp(-1.0))


@pytest.mark.parametrize("tokens", [[], [('{"evidence":[1]}', -0.1)], [('{"evidence":[1],"answer":""}', -0.1)]])
def test_no_answer_tokens_means_no_certainty(tokens: list[tuple[str, float]]) -> None:
    assert answer_certainty(tokens) is None


def test_answer_bounds_span_the_string_written_so_far() -> None:
    raw = '{"evidence":[2],"answer" : "the \\"Cortege\\" project"}'
    start, end = answer_bounds(raw) or (0, 0)
    assert raw[start:end] == 'the \\"Cortege\\" project'
    assert answer_bounds(raw[:-10]) == (start, len(raw) - 10)  # still being written: up to the end
    assert answer_bounds('{"evidence":[2]') is None


def test_the_streamed_answer_only_grows_and_ends_as_the_parsed_answer() -> None:
    # Each prefix of the reply streams a prefix of the answer: a cut-off escape (\\u09, \\) waits.
    raw = json.dumps({"evidence": [1], "answer": 'दो "Aurus" cars\\ €'})
    shown = [partial_answer(raw[:n]) for n in range(len(raw) + 1)]
    assert all(later.startswith(earlier) for earlier, later in itertools.pairwise(shown))
    assert shown[-1] == json.loads(raw)["answer"]
