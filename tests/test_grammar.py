"""The compact grammar: the same JSON objects as the schema, with no whitespace (pure; no model)."""

from __future__ import annotations

import json

from qa.grammar import compact_grammar
from qa.reply import JUDGE_SCHEMA, answer_schema


def rules(grammar: str) -> dict[str, str]:
    return dict(line.split(" ::= ", 1) for line in grammar.splitlines())


def test_the_answer_schema_becomes_a_whitespace_free_grammar() -> None:
    grammar = compact_grammar(answer_schema(4))
    assert grammar is not None
    table = rules(grammar)
    assert table["root"] == '"{" "\\"evidence\\":" v0 "," "\\"answer\\":" v1 "}"'  # schema order, no spaces
    assert table["v0i"] == '"1" | "2" | "3" | "4"'  # only sentences that were shown
    assert table["v0"] == '"[" v0i ("," v0i){0,2} "]"'  # one to three
    assert table["v1"] == '"\\"" char{0,160} "\\""'  # the maxLength holds
    assert " ws " not in grammar and "space" not in grammar


def test_the_judge_schema_is_one_boolean() -> None:
    assert rules(compact_grammar(JUDGE_SCHEMA) or "")["root"] == '"{" "\\"supported\\":" ("true" | "false") "}"'


def test_unsupported_schemas_fall_back_to_the_runtime() -> None:
    assert compact_grammar({"type": "object"}) is None
    assert compact_grammar({"type": "object", "properties": {"x": {"type": "string"}}}) is None  # no maxLength
    assert compact_grammar({"type": "object", "properties": {"x": {"type": "number"}}}) is None


def test_property_names_are_json_escaped() -> None:
    grammar = compact_grammar({"type": "object", "properties": {'a"b': {"type": "boolean"}}}) or ""
    # The grammar literal of the JSON text `"a\"b":`, so the quote inside the name stays escaped.
    assert json.dumps(json.dumps('a"b') + ":") in grammar
