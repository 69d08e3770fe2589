"""Claim checks: what a question asks for, and whether an answer's cited sentences state it.
Pure functions: no models, no I/O.

Faithfulness must not depend on the model being smart, so everything the model
says is checked here against the passages it was shown. The reply's format and its
parsing are in `qa.reply`; instruction-like sentences are recognised in `qa.injection`.
"""

from __future__ import annotations

import itertools
import re
from collections.abc import Iterable
from dataclasses import dataclass

from qa.injection import strip_instructions
from qa.reply import ModelReply
from qa.text import (
    NUMBER_WORDS,
    ORDINAL_FIRST,
    ORDINALS,
    SENTENCE_END_MARKS,
    WORD,
    consonant_skeletons,
    is_devanagari,
    normalise_digits,
    number_values,
    sentences,
    tokens,
    words,
)
from qa.types import Passage

# Function words that say nothing about the answer (en; Hindi and Marathi postpositions and auxiliaries).
_STOPWORDS = frozenset(
    [
        "the",
        "a",
        "an",
        "and",
        "or",
        "of",
        "to",
        "in",
        "on",
        "at",
        "for",
        "from",
        "with",
        "by",
        "is",
        "was",
        "were",
        "are",
        "be",
        "been",
        "has",
        "have",
        "had",
        "that",
        "this",
        "which",
        "who",
        "whom",
        "whose",
        "what",
        "when",
        "where",
        "how",
        "his",
        "her",
        "its",
        "their",
        "he",
        "she",
        "it",
        "they",
        "as",
        "also",
        "than",
        "then",
        "many",
        "much",
        "did",
        "does",
        "do",
        "not",
        "yes",
        "no",
        "there",
        "about",
        "into",
        "after",
        "before",
        "during",
        "over",
        "का",
        "की",
        "के",
        "को",
        "में",
        "से",
        "पर",
        "ने",
        "है",
        "हैं",
        "था",
        "थी",
        "थे",
        "और",
        "भी",
        "यह",
        "वह",
        "कि",
        "एक",
        "तो",
        "ही",
        "चा",
        "ची",
        "चे",
        "च्या",
        "ला",
        "ने",
        "त",
        "मध्ये",
        "आहे",
        "आहेत",
        "होते",
        "होता",
        "होती",
        "आणि",
        "व",
        "हे",
        "ही",
        "ते",
        "त्या",
        "की",
        "पण",
    ]
)

# Punctuation inside a sentence that ends a clause; a comma between digits ("1,000") does not.
_CLAUSE_BREAK = re.compile(r"[;:()\[\]—–]|,(?!\d)|\s-\s")

MIN_WORD_OVERLAP = 0.5
# An answer of this many words or more that holds this share of one cited sentence's words copies it.
MIN_COPY_WORDS = 7
SENTENCE_COPY_SHARE = 0.75

# What a question asks to measure, and the units an answer gives (en, hi, mr): a price is
# not a speed. Quantities without a unit in the answer are not judged here.
_QUANTITIES = {
    "price": re.compile(r"\bcost|\bprice|how\s+much\s+(?:does|did|is|was)|कीमत|किंमत|दाम|मूल्य", re.IGNORECASE),
    "speed": re.compile(r"\bspeed|how\s+fast|गति|रफ़्तार|रफ्तार|वेग", re.IGNORECASE),
    "weight": re.compile(r"\bweigh|वज़न|वजन", re.IGNORECASE),
    "age": re.compile(r"how\s+old|\bage\b|उम्र|आयु|वय\b", re.IGNORECASE),
    "length": re.compile(r"how\s+long\s+is|\blength|लंबाई|लांबी", re.IGNORECASE),
}
_UNITS = {
    "price": re.compile(r"\$|€|£|₹|dollars?|rubles?|roubles?|euros?|rupees?|डॉलर|रूबल|रुपये|रुपए|यूरो", re.IGNORECASE),
    "speed": re.compile(r"km/h|kmph|mph|किमी\s*/|किमी\s+प्रति|ताशी", re.IGNORECASE),
    "weight": re.compile(r"\b(?:kg|kilograms?|tonnes?|tons?|pounds)\b|किलो|टन", re.IGNORECASE),
    "age": re.compile(r"years?\s+old|-year-old|वर्षीय|साल\s+के|वर्षांचे|वर्षांच्या", re.IGNORECASE),
    "length": re.compile(r"\b(?:km|kilomet(?:er|re)s?|met(?:er|re)s?|miles?)\b|किलोमीटर|मीटर", re.IGNORECASE),
}
_MOSTLY_NUMBER = re.compile(r"^\W*[\d०-९][\d०-९.,]*\s*\S{0,12}\W*$")

# What kind of value a question asks for, from its question words (en, hi, mr).
_ASKS_NUMBER = re.compile(
    r"\bhow\s+(?:many|much|old|often|long|far|fast|big|tall)\b|\bage\b|\bspeed\b|\bcost\b|\bprice\b"
    r"|कितन[ाीे]|किती|उम्र|आयु|वय\b|कीमत|किंमत",
    re.IGNORECASE,
)
_ASKS_COUNT = re.compile(r"\bhow\s+many\b|कितन[ाीे]|किती", re.IGNORECASE)
# Hindi/Marathi use one word for "how many" and "how much": these nouns make it an amount, age or time.
# Units of time, as a word starts: English, then Hindi and Marathi.
_EN_TIME_UNITS = r"years?|months?|weeks?|days?|hours?|minutes?"
_HI_MR_TIME_UNITS = r"वर्ष|साल|महीन|महिन|हफ्त|सप्ताह|आठवड|दिन|दिवस|घंट|तास"
_TIME_UNITS = f"{_EN_TIME_UNITS}|{_HI_MR_TIME_UNITS}"
# "How many years/days" asks a length of time, in every language, not a number of things.
_NOT_A_COUNT = re.compile(
    rf"\bold\b|\bage\b|\b(?:{_EN_TIME_UNITS})\b|उम्र|आयु|वय|कीमत|किंमत|दाम|रुपय|डॉलर|वर्ष|साल|दिन|वेळ|समय",
    re.IGNORECASE,
)
_ASKS_TIME = re.compile(
    r"\bwhen\b|\bwhat\s+(?:year|date|month|day)\b|\bwhich\s+(?:year|date|month|day)\b|\bin\s+what\s+year\b"
    r"|\bकब\b|कधी|केव्हा|कोणत्या\s+(?:वर्षी|दिवशी|महिन्यात|तारखेला)|किस\s+(?:साल|वर्ष|दिन|महीने|तारीख)",
    re.IGNORECASE,
)
# Words that date an answer without naming a year, month, season or day ("last week", "आज"); the names
# themselves are `time_values`'. Devanagari words are whole words: "कल" is not inside "निकला".
_RELATIVE_TIME = re.compile(
    r"\b(?:today|yesterday|tomorrow|last\s+(?:year|week|month))\b"
    r"|(?<![\u0900-\u097F])(?:आज|कल|काल|उद्या|पिछले|गेल्या)(?![\u0900-\u097F])",
    re.IGNORECASE,
)

_TIME_UNIT = re.compile(rf"^(?:{_TIME_UNITS})", re.IGNORECASE)
# A number and a unit of time: how long, not when (en; in Hindi and Marathi the unit alone).
_DURATION = re.compile(rf"(?:[\d०-९]+|\b[a-z]+)[\s-]+(?:{_EN_TIME_UNITS})\b|{_HI_MR_TIME_UNITS}", re.IGNORECASE)
# "How many years ...", "कितने साल ...": a length of time, whose number the text gives with its unit.
_ASKS_DURATION = re.compile(rf"(?:\bhow\s+many|कितन[ाीे]|किती)\s+(?:\S+\s+)?(?:{_TIME_UNITS})", re.IGNORECASE)
# How far after a number its unit of time may stand ("24 years", "24 वर्षों में").
UNIT_REACH = 2
_AGO = re.compile(r"\bago\b|\bearlier\b|\blater\b|पहले|पूर्वी|आधी|बाद|नंतर", re.IGNORECASE)


def numbers_in(text: str) -> set[str]:
    """The numbers a text states (digits in either numeral system, number words, ordinals)."""
    return number_values(text)


def content_words(text: str) -> set[str]:
    return {w for w in words(text) if len(w) >= 3 and w not in _STOPWORDS}


def asks_for_number(question: str) -> bool:
    return bool(_ASKS_NUMBER.search(question))


def asks_for_time(question: str) -> bool:
    return bool(_ASKS_TIME.search(question))


def verify(reply: ModelReply, passages: list[Passage], question: str = "") -> list[str]:
    """Reasons the reply cannot be shown as a supported answer; empty when it passes.

    Checks, none of which reads anchors from the answer itself:
    - at least one valid citation, and cited text that is not an instruction;
    - every number in the answer occurs in the cited text (as a value: digits,
      Devanagari digits, number words and ordinals in en/hi/mr);
    - the answer is of the kind the question asks for: a number for "how many /
      how old / how much", a date, year or month for "when";
    - for "how old", a number the cited text gives in digits stands there as an age;
    - the answer says something beyond the question's own words and is not most of one cited sentence;
    - for a count, the number stands next to a word of the question in the cited
      text (when both are in the same script);
    - in the same script, the answer's words occur in the cited text, and every name it gives.
    """
    if not reply.answer.strip():
        return ["empty answer"]
    if not reply.cited:
        return ["no valid citation"]
    cited_text = strip_instructions(" ".join(passages[i].chunk.text for i in reply.cited))
    problems = [] if cited_text.strip() else ["the cited sentences hold no text that can support an answer"]
    problems += _number_problems(reply.answer, cited_text)
    problems += _kind_problems(reply.answer, question)
    problems += whole_sentence_problems(reply.answer, [passages[i].chunk.text for i in reply.cited])
    problems += _echo_problems(reply.answer, question)
    asks_value = asks_for_number(question) or asks_for_time(question)
    # Across scripts only counts are checked: the counted thing is mostly a noun or a loanword,
    # matched by its consonants ("ऑरस"/"Aurus"); other question words rarely transliterate.
    if asks_value and (_same_script(question, cited_text) or asks_for_count(question)):
        problems += _number_context_problems(reply.answer, question, cited_text)
    if _ASKS_DURATION.search(question):
        problems += _duration_problems(reply.answer, cited_text)
    if _QUANTITIES["age"].search(question):
        problems += _age_problems(reply.answer, question, cited_text)
    if _same_script(reply.answer, cited_text):
        problems += _word_problems(reply.answer, cited_text) or _name_problems(reply.answer, cited_text)
    return problems


def _duration_problems(answer: str, cited_text: str) -> list[str]:
    """For "how many years": each number of the answer stands in the cited text with a unit of time.

    "Kim, 40, ..." gives an age, not the years since a visit; "24 वर्षों में" gives a length of time,
    in any of the three languages.
    """
    found = tokens(cited_text)
    problems = []
    for number in sorted(number_values(answer)):
        with_unit = any(
            number in number_values(t) and any(_TIME_UNIT.match(u) for u in found[i + 1 : i + 1 + UNIT_REACH])
            for i, t in enumerate(found)
        )
        if not with_unit:
            problems.append(f"{number} in the cited text is not a length of time")
    return problems


def _age_problems(answer: str, question: str, cited_text: str) -> list[str]:
    """For "how old": a number of the answer that the cited text gives in digits must stand there as an age,
    and as the age of whom the question asks about.

    "पुतिन ... 24 वर्षों में ... पहली यात्रा" gives years since a visit, not anyone's age; "Kim, 40,",
    "the 40-year-old", "71 वर्षीय", "वय 71" give ages. A number the text spells in words is not judged here.
    "Kim, 40," is Kim's age: when the text gives the number only in such asides, the name before
    one of them must be a word of the question (or sound like one, across scripts).
    """
    text = normalise_digits(cited_text)
    problems = []
    for number in sorted(number_values(answer)):
        stated = re.search(rf"(?<![\d.,]){re.escape(number)}(?!\d)", text)
        if stated and not _age_pattern(number).search(text):
            problems.append(f"{number} in the cited text is not an age")
        elif stated and not _age_of_asked_person(number, question, text):
            problems.append(f"{number} in the cited text is the age of someone the question does not ask about")
    return problems


def _age_of_asked_person(number: str, question: str, text: str) -> bool:
    aside = re.compile(_age_aside(number))
    asides = list(aside.finditer(text))
    if not asides or _age_pattern(number).search(aside.sub(" ", text)):
        return True  # the age also stands in a form that does not name its owner by position
    anchors = _anchor_keys(content_words(question), by_sound=True)
    owners = [w[-1] for m in asides if (w := words(text[: m.start()]))]
    return any(_anchored(owner, anchors, by_sound=True) for owner in owners)


def _age_pattern(number: str) -> re.Pattern[str]:
    """Where `number` states an age: an aside after a name, "aged N", "N years old", "N वर्षीय", "वय N" (en, hi, mr)."""
    n = re.escape(number)
    return re.compile(
        rf"{_age_aside(number)}|\baged?\s*:?\s*{n}(?!\d)|(?<!\d){n}[\s-]+years?[\s-]+old"
        rf"|(?<!\d){n}\s*(?:वर्षीय|वर्ष\s+की\s+आयु|साल\s+(?:के|की|का)|वर्षांच|वर्षाच)|(?:उम्र|आयु|वय)\D{{0,12}}{n}(?!\d)",
        re.IGNORECASE,
    )


def _age_aside(number: str) -> str:
    """An age given as an aside after a name: "Kim, 40," (the pattern, as a regex source)."""
    return rf",\s*{re.escape(number)}\s*,"


def asks_for_count(question: str) -> bool:
    return bool(_ASKS_COUNT.search(question)) and not _NOT_A_COUNT.search(question)


# How the number check names its problem (`Pipeline` repairs an answer that fails only this way).
NUMBERS_MISSING = "numbers not in cited text"


def _number_problems(answer: str, cited_text: str) -> list[str]:
    missing = number_values(answer) - number_values(cited_text, with_parts=True)
    if "1" in missing and "1" not in number_values(normalise_digits(re.sub(r"[^\d\s.,]", " ", answer))):
        missing.discard("1")  # "one" / "एक" as a word is mostly an article ("एक लष्करी युती": "a military alliance")
    return [f"{NUMBERS_MISSING}: {', '.join(sorted(missing))}"] if missing else []


def only_numbers_missing(problems: list[str]) -> bool:
    """The answer failed the number check and nothing else: a miscopied number `corrected_number` may repair."""
    return bool(problems) and all(p.startswith(NUMBERS_MISSING) for p in problems)


def corrected_number(answer: str, cited_text: str) -> str | None:
    """The answer with its one number replaced by the one the cited text states, when the model miscopied it.

    The small model reads digits in Devanagari text badly ("ठराव 2397" answered "Resolution 2277"). Only
    when the answer writes exactly one number in digits, that number is not in the cited text, and the
    cited text states exactly one number other than a year: anything less certain is not repaired.
    """
    written = [t for t in tokens(answer) if t[0].isdigit()]
    stated = list(dict.fromkeys(t for t in tokens(cited_text) if t[0].isdigit() and _plain_numbers(t)))
    if len(written) != 1 or len(stated) != 1 or not _number_problems(written[0], cited_text):
        return None
    return normalise_digits(answer).replace(written[0], stated[0], 1)


def _kind_problems(answer: str, question: str) -> list[str]:
    has_number = bool(number_values(answer))
    if asks_for_time(question) and not (has_number or names_a_time(answer)):
        return ["the question asks when, and the answer names no date, year or month"]
    if asks_for_time(question) and _is_duration(answer):
        return ["the question asks when, and the answer gives a length of time"]
    if asks_for_number(question) and not has_number:
        return ["the question asks for a number, and the answer has none"]
    asked = {q for q, pattern in _QUANTITIES.items() if pattern.search(question)}
    given = {q for q, pattern in _UNITS.items() if pattern.search(answer)}
    if asked and given and not asked & given:
        return [f"the question asks for a {'/'.join(sorted(asked))}, the answer gives a {'/'.join(sorted(given))}"]
    if not (asks_for_number(question) or asks_for_time(question)) and _MOSTLY_NUMBER.match(answer):
        return ["the question does not ask for a number, and the answer is one"]
    return []


def _is_duration(answer: str) -> bool:
    """A length of time ("24 years", "तीन दिन") with no date, month or day in it; "two years ago" is a time."""
    return bool(_DURATION.search(answer)) and not (names_a_time(answer) or _AGO.search(answer))


def whole_sentence_problems(answer: str, cited: list[str]) -> list[str]:
    """An answer that copies most of a cited sentence answers nothing in particular.

    The model is asked for a few words taken from the evidence; an answer of several words that
    holds most of one sentence's words is that sentence, perhaps trimmed ("North Korea's" dropped
    from a headline), whatever the question was.
    """
    answer_tokens = tokens(answer)
    if len(answer_tokens) < MIN_COPY_WORDS:
        return []
    given = set(answer_tokens)
    for sentence in cited:
        sentence_tokens = tokens(sentence)
        if sentence_tokens and sum(t in given for t in sentence_tokens) / len(sentence_tokens) >= SENTENCE_COPY_SHARE:
            return ["the answer copies most of an evidence sentence instead of answering"]
    return []


def _echo_problems(answer: str, question: str) -> list[str]:
    """An answer made only of the question's words (and function words) says nothing."""
    if number_values(answer):
        return []
    # Every word of the question counts as asked, and every word of the answer that is not a function
    # word as new, however short: "Kim Yo Jong" for "Kim Jong Un's sister" adds "Yo".
    asked = {w[:5] for w in words(question)}
    new = [w for w in words(answer) if len(w) >= 2 and w not in _STOPWORDS and w[:5] not in asked]
    return [] if new else ["the answer only repeats words of the question"]


def _word_problems(answer: str, cited_text: str) -> list[str]:
    answer_words = {w for w in content_words(answer) if w not in NUMBER_WORDS} - _units_after_numbers(answer)
    if not answer_words:
        return []
    source = content_words(cited_text)
    missing = {w for w in answer_words if not _stated_in(w, source)}
    # A short answer ("red") must be fully in the source; a longer one mostly.
    if len(answer_words) <= 3 and missing:
        return [f"answer words not in cited text: {', '.join(sorted(missing))}"]
    if 1 - len(missing) / len(answer_words) < MIN_WORD_OVERLAP:
        return [f"only {1 - len(missing) / len(answer_words):.0%} of the answer's words occur in the cited text"]
    return []


def _name_problems(answer: str, cited_text: str) -> list[str]:
    """Every name in the answer (a capitalised word: "Kim Yo Jong", "US State Department") stands in
    the cited text, however long the answer: a name the sources do not give is not theirs to cite.

    Matched as a word prefix ("Russia" / "Russian"); a two-letter part ("Yo", "Xi", "UN") exactly,
    with the dots of "U.N." dropped. A sentence's first word is capitalised whatever it is
    ("Because ..."), so it is left to the word check. Only answers in Latin script are read: a
    Latin word in a Hindi answer ("लेक्सस SUV") stands for words the text writes in Devanagari.
    """
    if is_devanagari(answer):
        return []
    stated = set(words(cited_text.replace(".", "")))
    names = {
        m.group().lower()
        for m in WORD.finditer(answer)
        if m.group().isascii() and m.group()[0].isupper() and not _starts_sentence(answer, m.start())
    } - _STOPWORDS
    missing = sorted(n for n in names if not (n in stated or (len(n) > 2 and _stated_in(n, stated))))
    return [f"names not in cited text: {', '.join(missing)}"] if missing else []


def _stated_in(word: str, stated: set[str]) -> bool:
    """A word stands in the text when a word there shares its first five letters ("Russia" / "Russian")."""
    return any(s.startswith(word[:5]) for s in stated)


def _starts_sentence(text: str, at: int) -> bool:
    before = text[:at].rstrip(" \"'“‘(")
    return not before or before[-1] in SENTENCE_END_MARKS


def _units_after_numbers(answer: str) -> set[str]:
    """Units of time that follow a number ("40 years", "४० वर्ष"): the number is checked, and a
    source may state it bare ("Kim, 40,"); the age and duration checks judge the unit."""
    found = tokens(answer)
    return {unit for number, unit in itertools.pairwise(found) if number_values(number) and _TIME_UNIT.match(unit)}


def _number_context_problems(answer: str, question: str, cited_text: str) -> list[str]:
    """A number in the answer must stand next to what the question asks about in the cited text.

    For "how many X" the counted thing follows the number ("three gifts", "दुसरी ऑरस"); for
    other numbers (a year, a price, an age) a word of the question stands within a few words
    on either side ("created in 2012"). Anchors come from the question only, never the answer.
    """
    numbers = number_values(answer)
    if not numbers:
        return []
    counting = asks_for_count(question)
    asked = counted_words(question) if counting else content_words(question)
    anchors = _anchor_keys([w for w in asked if w not in NUMBER_WORDS], by_sound=counting)
    spans = sentences(cited_text)
    if counting:  # a count and its thing share a clause: "Putin, 71, gave Kim a car" counts no cars
        spans = [clause for span in spans for clause in _CLAUSE_BREAK.split(span)]
    sentence_tokens = [tokens(span) for span in spans]
    before, after = (0, 3) if counting else (5, 5)
    problems = []
    for number in sorted(numbers):
        # Windows stay inside one sentence. "The first Aurus" counts nothing: every series has a first.
        windows = [
            sentence[max(0, i - before) : i + after + 1]
            for sentence in sentence_tokens
            for i, t in enumerate(sentence)
            if number in number_values(t) and not (counting and t in ORDINAL_FIRST)
        ]
        near = any(_anchored(t, anchors, counting) for window in windows for t in window if not number_values(t))
        # A count must stand before the counted thing; another number only where the text has it.
        if counting and not near:
            problems.append(f"{number} in the cited text does not count what the question asks about")
        elif windows and not near:
            problems.append(f"{number} in the cited text does not belong to what the question asks about")
    return problems


def _anchor_keys(asked: Iterable[str], by_sound: bool) -> set[str]:
    """Keys a word of the text is matched against: the stems of the asked words, and with
    `by_sound` their consonant skeletons too ("Putin" / "पुतिन" across scripts)."""
    keys = {_stem(w) for w in asked}
    if by_sound:
        keys |= {sk for w in asked for sk in consonant_skeletons(w)}
    return keys - {""}


def _anchored(token: str, anchors: set[str], by_sound: bool) -> bool:
    return _stem(token) in anchors or (by_sound and bool(consonant_skeletons(token) & anchors))


def counted_words(question: str) -> set[str]:
    """The thing a "how many" question counts: the content words right after its count word."""
    match = _ASKS_COUNT.search(question)
    if match is None:
        return set()
    following = [w for w in words(question[match.end() :]) if w not in _STOPWORDS][:2]
    return set(following) or content_words(question)


def _stem(word: str) -> str:
    # Devanagari words inflect in the last syllable or two; Latin ones in the suffix.
    return word[:3] if is_devanagari(word) else word[:4]


def _same_script(a: str, b: str) -> bool:
    if not any(c.isalpha() for c in a):  # a bare number is checked against any script
        return True
    return is_devanagari(a) == is_devanagari(b)


# Time values compared across languages: years as digits; months, seasons and days of the week by name.
_YEAR = re.compile(r"(?<![\d०-९])(?:1[89]|20)\d\d(?![\d०-९])")
_TIME_NAMES: dict[str, re.Pattern[str]] = {
    name: re.compile(pattern, re.IGNORECASE)
    for name, pattern in {
        "january": r"\bjan(?:uary)?\b|जनवरी|जानेवारी",
        "february": r"\bfeb(?:ruary)?\b|फ़?रवरी|फेब्रुवारी",
        "march": r"\bmarch\b|मार्च",
        "april": r"\bapr(?:il)?\b|अप्रैल|एप्रिल",
        "may": r"\bmay\b|मई|(?<![\u0900-\u097F])मे(?![\u0900-\u097F])",
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


def _years(text: str) -> set[str]:
    """The years a text names, in any script's digits ("२०२४" is "2024")."""
    return set(_YEAR.findall(normalise_digits(text)))


def time_values(text: str) -> set[str]:
    """The years, months, seasons and days of the week a text names, language-independent ("2023", "february")."""
    return _years(text) | {name for name, pattern in _TIME_NAMES.items() if pattern.search(text)}


def names_a_time(text: str) -> bool:
    """Whether a text dates something: a year, month, season or day of the week, or "today", "last year", "आज"."""
    return bool(time_values(text) or _RELATIVE_TIME.search(text))


def states_asked_value(question: str, text: str) -> bool:
    """Whether `text` states a value of the kind `question` asks for (a date for "when", a number for "how many")."""
    if asks_for_time(question):
        return bool(time_values(text))
    if asks_for_number(question):
        return bool(_plain_numbers(text))
    return True


def other_values(question: str, answer: str, text: str) -> list[str]:
    """Values `text` gives of the kind `question` asks for that differ from the answer's: the other
    side of a possible disagreement between sources ("2012" answered, "… 2013 मध्ये … बांधला गेला" shown).

    Years for a "when" question whose answer names one year; for a number question whose answer
    states one number, the numbers as written ("300 thousand"). A text that also states the answer's
    value agrees with it, and its other values are about something else: none.
    """
    text = strip_instructions(text)
    if asks_for_time(question):
        given, shown = _years(answer), _years(text)
        return sorted(shown - given) if len(given) == 1 and not given & shown else []
    if asks_for_number(question):
        given = _plain_numbers(answer)
        if len(given) != 1 or given & number_values(text, with_parts=True):
            return []
        return [n for n in _written_numbers(text) if number_values(n).isdisjoint(given)]
    return []


def asked_words_held(question: str, text: str) -> int:
    """How many of the question's content words `text` holds: by stem in the same script, by consonant
    skeleton across scripts ("Aurus" / "ऑरस"). A sentence about what was asked holds as many as the one
    the answer cites; one that merely shares a value's kind ("40" in "the 40-year-old") holds fewer."""
    found = tokens(text)
    # The words that ask ("which year", "कितने") say what kind of value, not what it is about.
    about = _ASKS_NUMBER.sub(" ", _ASKS_TIME.sub(" ", question))
    keys_per_word = [_anchor_keys([w], by_sound=True) for w in content_words(about)]
    return sum(any(_anchored(t, keys, by_sound=True) for t in found) for keys in keys_per_word)


def _written_numbers(text: str) -> list[str]:
    """The numbers of `text` that are neither years nor "1", as written: digits with the multiplier word
    that follows them ("300 thousand", "5 लाख")."""
    found = tokens(text)
    written: list[str] = []
    for n, token in enumerate(found):
        if not token[0].isdigit() or not _plain_numbers(token):
            continue
        scaled = f"{token} {found[n + 1]}" if n + 1 < len(found) else token
        written.append(scaled if number_values(scaled) != number_values(token) else token)
    return list(dict.fromkeys(written))


def _plain_numbers(text: str) -> set[str]:
    """Numbers other than years and "one"/"first" (an article or a series' start, rarely a value asked for)."""
    years = _years(text)
    return {n for n in number_values(text) if n != "1" and n not in years}


# How far after an ordinal the thing it numbers may stand ("the second Aurus", "दुसऱ्यांदा ... हे कार मॉडेल").
ORDINAL_REACH = 6


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
    keys = _anchor_keys(counted, by_sound=True)
    for index in sorted(range(len(passages)), key=lambda i: -passages[i].score):
        found = tokens(strip_instructions(passages[index].chunk.text))
        for n, token in enumerate(found):
            value = ORDINALS.get(token, 0)
            following = found[n + 1 : n + 1 + ORDINAL_REACH]
            if value >= 2 and any(_anchored(t, keys, by_sound=True) for t in following):
                return OrdinalCount(value, index)
    return None


def counted_phrase(question: str) -> str:
    """The question's own words for what it counts ("Aurus cars" in "How many Aurus cars ...")."""
    match = _ASKS_COUNT.search(question)
    if match is None:
        return ""
    phrase: list[str] = []
    for word in WORD.findall(question[match.end() :])[:2]:
        if word.lower() in _STOPWORDS:  # "how many gifts did Kim ...": the counted thing ends at "did"
            break
        phrase.append(word)
    return " ".join(phrase)
