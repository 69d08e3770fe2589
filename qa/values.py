"""The values a text states, compared across languages: years, months, seasons and days; lengths of
time; numbers other than years; counts read from ordinals ("the second Aurus").

The pipeline uses them to pick evidence, to spot disagreeing sources and to answer a count from an
ordinal; the checks (`qa.cite`) to judge an answer. Pure functions: no models, no I/O.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from qa.asks import (
    EN_TIME_UNITS,
    HI_MR_TIME_UNITS,
    asks_for_count,
    asks_for_number,
    asks_for_time,
    counted_phrase,
    time_unit_kind,
    without_question_words,
)
from qa.injection import strip_instructions
from qa.matching import STOPWORDS, anchor_keys, anchored, content_words
from qa.text import (
    NUMBER_WORDS,
    ORDINALS,
    devanagari_words,
    digits_value,
    is_multiplier,
    is_ordinal_of_a_time,
    is_plural_count,
    normalise_digits,
    number_values,
    tokens,
    words,
)
from qa.types import Passage

# Time values compared across languages: years as digits; months, seasons and days of the week by name.
_YEAR = re.compile(r"(?<![\d०-९])(?:1[89]|20)\d\d(?![\d०-९])")
_TIME_NAMES: dict[str, re.Pattern[str]] = {
    name: re.compile(pattern, re.IGNORECASE)
    for name, pattern in {
        "january": r"\bjan(?:uary)?\b|जनवरी|जानेवारी",
        "february": r"\bfeb(?:ruary)?\b|फ़?रवरी|फेब्रुवारी",
        "march": r"\bmarch\b|मार्च",
        "april": r"\bapr(?:il)?\b|अप्रैल|एप्रिल",
        "may": r"\bmay\b|मई|" + devanagari_words("मे"),
        "june": r"\bjune?\b|जून",
        "july": r"\bjuly?\b|जुलाई|जुलै",
        "august": r"\baug(?:ust)?\b|अगस्त|ऑगस्ट",
        "september": r"\bsept?(?:ember)?\b|सितंबर|सितम्बर|सप्टेंबर",
        "october": r"\boct(?:ober)?\b|अक्टूबर|अक्तूबर|ऑक्टोबर",
        "november": r"\bnov(?:ember)?\b|नवंबर|नवम्बर|नोव्हेंबर",
        "december": r"\bdec(?:ember)?\b|दिसंबर|दिसम्बर|डिसेंबर",
        "spring": r"\bspring\b|वसंत",
        "summer": r"\bsummer\b|गर्मी|गर्मियों|उन्हाळ",
        "autumn": r"\bautumn\b|\bfall\b|शरद|पानगळ",
        "winter": r"\bwinter\b|सर्दी|सर्दियों|हिवाळ",
        "monsoon": r"\bmonsoon\b|मानसून|बरसात|पावसाळ",
        # A day of the week answers "on which day" (and is how news dates an event: "on Friday").
        "monday": r"\bmonday\b|सोमवार",
        "tuesday": r"\btuesday\b|मंगलवार|मंगळवार",
        "wednesday": r"\bwednesday\b|बुधवार",
        "thursday": r"\bthursday\b|गुरुवार|बृहस्पतिवार",
        "friday": r"\bfriday\b|शुक्रवार",
        "saturday": r"\bsaturday\b|शनिवार",
        "sunday": r"\bsunday\b|रविवार",
    }.items()
}
# Words that date an answer without naming a year, month, season or day ("last week", "आज").
_RELATIVE_TIME = re.compile(
    r"\b(?:today|yesterday|tomorrow|last\s+(?:year|week|month))\b|" + devanagari_words("आज|कल|काल|उद्या|पिछले|गेल्या"),
    re.IGNORECASE,
)
# A number and a unit of time: how long, not when (en; in Hindi and Marathi the unit alone).
_DURATION = re.compile(rf"(?:[\d०-९]+|\b[a-z]+)[\s-]+(?:{EN_TIME_UNITS})\b|{HI_MR_TIME_UNITS}", re.IGNORECASE)
_AGO = re.compile(r"\bago\b|\bearlier\b|\blater\b|पहले|पूर्वी|आधी|बाद|नंतर", re.IGNORECASE)


def years(text: str) -> set[str]:
    """The years a text names, in any script's digits ("२०२४" is "2024")."""
    return set(_YEAR.findall(normalise_digits(text)))


def time_values(text: str) -> set[str]:
    """The years, months, seasons and days of the week a text names, language-independent ("2023", "february")."""
    return years(text) | {name for name, pattern in _TIME_NAMES.items() if pattern.search(text)}


def names_a_time(text: str) -> bool:
    """Whether a text dates something: a year, month, season or day of the week, or "today", "last year", "आज"."""
    return bool(time_values(text) or _RELATIVE_TIME.search(text))


def is_time_unit(token: str) -> bool:
    """Whether a word is a unit of time ("years", "वर्षों", "दिवस")."""
    return time_unit_kind(token) is not None


def is_duration(text: str) -> bool:
    """A length of time ("24 years", "तीन दिन") with no date, month or day in it; "two years ago" is a time."""
    return bool(_DURATION.search(text)) and not (names_a_time(text) or _AGO.search(text))


def plain_numbers(text: str) -> set[str]:
    """Numbers other than years and "one"/"first" (an article or a series' start, rarely a value asked for)."""
    named_years = years(text)
    return {n for n in number_values(text) if n != "1" and n not in named_years}


def states_asked_value(question: str, text: str) -> bool:
    """Whether `text` states a value of the kind `question` asks for (a date for "when", a number for "how many")."""
    if asks_for_time(question):
        return bool(time_values(text))
    if asks_for_number(question):
        return bool(plain_numbers(text))
    return True


def other_values(question: str, answer: str, text: str) -> list[str]:
    """Values `text` gives of the kind `question` asks for that differ from the answer's: the other
    side of a possible disagreement between sources ("2012" answered, "… 2013 मध्ये … बांधला गेला" shown).

    Years for a "when" question whose answer names one year; for a number question whose answer
    states one number, the numbers as written ("300 thousand"), in digits if the answer has digits
    and as words if it has none: a rough amount ("several million") is weighed against another rough
    amount ("tens of millions"), not against a figure. A text that also states the answer's value
    agrees with it, and its other values are about something else: none.
    """
    text = strip_instructions(text)
    if asks_for_time(question):
        given, shown = years(answer), years(text)
        return sorted(shown - given) if len(given) == 1 and not given & shown else []
    if asks_for_number(question):
        given = plain_numbers(answer)
        if len(given) != 1 or given & number_values(text, with_parts=True):
            return []
        in_digits = any(digits_value(t) is not None for t in tokens(answer))
        written = _figures(text) if in_digits else _amounts_in_words(text)
        return [n for n in written if number_values(n).isdisjoint(given)]
    return []


def _figures(text: str) -> list[str]:
    """The numbers in digits of `text` that are neither years nor "1", as written: with the multiplier
    word that follows them ("300 thousand", "5 लाख")."""
    found = tokens(text)
    written: list[str] = []
    for n, token in enumerate(found):
        if digits_value(token) is not None and plain_numbers(token):
            scaled = f"{token} {found[n + 1]}" if n + 1 < len(found) else token
            written.append(scaled if number_values(scaled) != number_values(token) else token)
    return list(dict.fromkeys(written))


def _amounts_in_words(text: str) -> list[str]:
    """The amounts in words of `text` that end in a multiplier ("several million", "tens of millions",
    "कोट्यवधी"); a multiplier after digits belongs to a figure ("300 thousand")."""
    found = tokens(text)
    written: list[str] = []
    for n, token in enumerate(found):
        if is_multiplier(token) and (n == 0 or digits_value(found[n - 1]) is None) and not _scales_on(found, n):
            amount = " ".join(found[_amount_start(found, n) : n + 1])
            if plain_numbers(amount):
                written.append(amount)
    return list(dict.fromkeys(written))


def _scales_on(found: list[str], n: int) -> bool:
    """Whether `found[n]` is the first half of an amount such as "hundreds of thousands"."""
    return found[n + 1 : n + 2] == ["of"] and n + 2 < len(found) and is_multiplier(found[n + 2])


def _amount_start(found: list[str], multiplier: int) -> int:
    """Where an amount in words that ends at `found[multiplier]` starts: "tens of millions"; a plural
    alone ("millions", "कोट्यवधी"); a singular with the word that quantifies it ("several million",
    "काही दशलक्ष")."""
    if multiplier >= 2 and found[multiplier - 1] == "of" and is_plural_count(found[multiplier - 2]):
        return multiplier - 2
    if is_plural_count(found[multiplier]) or multiplier == 0 or found[multiplier - 1] in STOPWORDS:
        return multiplier
    return multiplier - 1


def asked_words_held(question: str, text: str) -> int:
    """How many of the question's content words `text` holds: by stem in the same script, by consonant
    skeleton across scripts ("Aurus" / "ऑरस"). A sentence about what was asked holds as many as the one
    the answer cites; one that merely shares a value's kind ("40" in "the 40-year-old") holds fewer."""
    found = tokens(text)
    keys_per_word = [anchor_keys([w], by_sound=True) for w in content_words(without_question_words(question))]
    return sum(any(anchored(t, keys, by_sound=True) for t in found) for keys in keys_per_word)


# How far after an ordinal the thing it numbers may stand. An ordinal numbers the words right after it,
# as a count does ("the second Aurus limousine", not the gift four words on); an ordinal of a time numbers
# an event, whose thing may stand further ("दुसऱ्यांदा … हे कार मॉडेल", "the second time … this car model").
ORDINAL_REACH = 3
EVENT_ORDINAL_REACH = 6
# Words for "time" after an ordinal ("second time", "दूसरी बार", "दुसऱ्या वेळी"); Marathi also writes it
# as one word ("दुसऱ्यांदा": `qa.text.is_ordinal_of_a_time`).
_TIMES = frozenset({"time", "बार", "वेळा", "वेळी", "वेळेस"})


@dataclass
class OrdinalCount:
    """A count read from an ordinal: "the second car" states there are (at least) two cars."""

    count: int
    index: int  # 0-based, among the sentences shown to the model


def count_from_ordinal(question: str, passages: list[Passage]) -> OrdinalCount | None:
    """For "how many X": the first shown sentence numbering an X second, third, ... (by similarity).

    The counted thing is matched by word stem in the same script and by consonant
    skeleton across scripts. "First" counts nothing: every series has a first.
    """
    if not asks_for_count(question):
        return None
    counted = [w for w in words(counted_phrase(question)) if w not in NUMBER_WORDS]
    keys = anchor_keys(counted, by_sound=True)
    for index in sorted(range(len(passages)), key=lambda i: -passages[i].score):
        found = tokens(strip_instructions(passages[index].chunk.text))
        for n, token in enumerate(found):
            value = ORDINALS.get(token, 0)
            following = found[n + 1 : n + 1 + _ordinal_reach(found, n)]
            if value >= 2 and any(anchored(t, keys, by_sound=True) for t in following):
                return OrdinalCount(value, index)
    return None


def _ordinal_reach(found: list[str], n: int) -> int:
    """How far the thing numbered by the ordinal `found[n]` may stand after it (`ORDINAL_REACH`)."""
    numbers_a_time = is_ordinal_of_a_time(found[n]) or (n + 1 < len(found) and found[n + 1] in _TIMES)
    return EVENT_ORDINAL_REACH if numbers_a_time else ORDINAL_REACH
