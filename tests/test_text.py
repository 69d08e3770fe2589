"""Text helpers (`qa.text`): number values, number glosses, consonant skeletons, whole Devanagari words."""

from __future__ import annotations

import re

import pytest

from qa.text import consonant_skeletons, devanagari_words, digits_value, gloss_numbers, number_values, tokens


def test_numbers_normalise_devanagari_digits_and_words() -> None:
    assert number_values("२०१७ में २३९७") == {"2017", "2397"}
    assert number_values("the second, not three") == {"2", "3"}
    assert number_values("ही दुसरी आहे, तिसरी नाही") == {"2", "3"}
    assert number_values("1,200 cars") == {"1200"}
    # Only number words combine into one number: digits then a word, or two digit groups, stay apart.
    assert number_values("twenty five") == {"25"}
    assert number_values("20 दुसरी") == {"20", "2"} and number_values("20 5") == {"20", "5"}


@pytest.mark.parametrize(
    ("text", "value"),
    [
        ("seventeen", "17"), ("twenty-five", "25"), ("ninety nine", "99"), ("fifteenth", "15"),
        ("275 thousand", "275000"), ("2.5 million", "2500000"), ("3 lakh", "300000"), ("दो करोड़", "20000000"),
        ("सत्रह", "17"), ("पंद्रह", "15"), ("चालीस", "40"), ("सोळा", "16"), ("पन्नास", "50"), ("चौथी", "4"),
        ("२ लाख", "200000"), ("दोन हजार", "2000"),
    ],
)  # fmt: skip
def test_number_words_are_a_general_normaliser(text: str, value: str) -> None:
    assert value in number_values(text)


@pytest.mark.parametrize(
    ("text", "value"),
    [
        ("tens of millions", "10000000"), ("hundreds of thousands", "100000"), ("several million", "1000000"),
        ("millions of bottles", "1000000"), ("दसियों लाख", "1000000"), ("लाखों लोग", "100000"),
        ("करोड़ों रुपये", "10000000"), ("कोट्यवधी बाटल्या", "10000000"), ("हजारो लोक", "1000"),
    ],
)  # fmt: skip
def test_an_amount_in_words_has_its_order_of_magnitude(text: str, value: str) -> None:
    # One value each, so that "tens of millions" and "several million" are two different amounts.
    assert number_values(text) == {value}


def test_a_digit_token_compares_by_its_value() -> None:
    # Western and Indian grouping, a trailing zero, Devanagari digits (tokens() makes them ASCII).
    assert digits_value("1,500") == digits_value("1500") == "1500"
    assert digits_value("2,75,000") == "275000" and digits_value("2.50") == "2.5"
    assert [digits_value(t) for t in tokens("२०१९ and 2019")] == ["2019", None, "2019"]
    # Superscripts are word characters to the tokenizer, and str.isdigit calls them digits (found by schemathesis).
    assert [digits_value(t) for t in tokens("x³m ¹ 5")] == [None, None, "5"]


def test_a_digit_run_longer_than_a_float_is_read_without_error() -> None:
    # float("9" * 400) is infinite; int() of it raised OverflowError (a question could hold one).
    assert digits_value("9" * 400) == "inf"
    assert number_values(f"{'9' * 400} cars and 2 trucks") == {"inf", "2"}
    assert number_values(f"{'9' * 400} thousand") == {"inf"}


def test_digit_runs_with_several_separators_never_raise() -> None:
    assert number_values("1.000.000 visitors") == {"1000000"}
    assert number_values("version 1.2.3 and 0.0.0") == {"1.2", "0"}


def test_the_model_sees_hindi_and_marathi_number_words_as_digits() -> None:
    assert gloss_numbers("तिसरी बस आणि दोन गाड्या") == "तिसरी (3rd) बस आणि दोन (2) गाड्या"
    assert gloss_numbers("चौथ्यांदा") == "चौथ्यांदा (4th time)"
    assert gloss_numbers("सन् १९९८ में एक पुल") == "सन् 1998 में एक पुल"  # "एक" is mostly "a"
    assert gloss_numbers("two bridges") == "two bridges"


def test_consonant_skeletons_match_loanwords_across_scripts() -> None:
    assert consonant_skeletons("Tesla") & consonant_skeletons("टेस्ला")
    assert consonant_skeletons("buses") & consonant_skeletons("बस")
    assert not consonant_skeletons("train") & consonant_skeletons("बस")
    assert consonant_skeletons("a") == set()  # too short to mean anything


def test_a_devanagari_word_is_matched_whole() -> None:
    yesterday = re.compile(devanagari_words("कल|काल"))
    assert yesterday.search("कल शाम") and yesterday.search("(काल)")
    # `\\bकल\\b` finds "कल" in "निकला": Python's `re` takes the vowel signs for word breaks.
    assert not yesterday.search("निकला") and not yesterday.search("कालावधी")
    assert re.search(r"\bकल\b", "निकला")  # what `\b` gets wrong: the vowel signs count as word breaks
