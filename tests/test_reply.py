"""The model's reply: the answer schema and parsing what the model wrote (pure functions)."""

from __future__ import annotations

import json

import pytest

from qa.reply import ReplyFormatError, answer_schema, parse_reply


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
