"""What a question asks for, read from its question words (en, hi, mr): a number, a count of a thing,
a time, a length of time, a quantity such as a price or an age.

The pipeline uses it to pick evidence and the checks (`qa.cite`) to judge an answer's kind.
Pure functions: no models, no I/O.
"""

from __future__ import annotations

import re

from qa.matching import STOPWORDS, content_words
from qa.text import WORD, devanagari_words, words

# Units of time by what they measure, as a word starts: English, then Hindi and Marathi.
_TIME_UNIT_KINDS = {
    "year": ("years?", "वर्ष|साल"),
    "month": ("months?", "महीन|महिन"),
    "week": ("weeks?", "हफ्त|सप्ताह|आठवड"),
    "day": ("days?", "दिन|दिवस"),
    "hour": ("hours?", "घंट|तास"),
    "minute": ("minutes?", "मिनट|मिनिट"),
}
EN_TIME_UNITS = "|".join(en for en, _ in _TIME_UNIT_KINDS.values())
HI_MR_TIME_UNITS = "|".join(hi_mr for _, hi_mr in _TIME_UNIT_KINDS.values())
TIME_UNITS = f"{EN_TIME_UNITS}|{HI_MR_TIME_UNITS}"
_TIME_UNIT_KIND = {
    kind: re.compile(f"^(?:{en}|{hi_mr})", re.IGNORECASE) for kind, (en, hi_mr) in _TIME_UNIT_KINDS.items()
}

# What a question asks to measure; `qa.cite` knows the units an answer gives for each.
QUANTITIES = {
    "price": re.compile(r"\bcost|\bprice|how\s+much\s+(?:does|did|is|was)|कीमत|किंमत|दाम|मूल्य", re.IGNORECASE),
    "speed": re.compile(r"\bspeed|how\s+fast|गति|रफ़्तार|रफ्तार|वेग", re.IGNORECASE),
    "weight": re.compile(r"\bweigh|वज़न|वजन", re.IGNORECASE),
    # "कितने साल के थे", "किती वर्षांचे आहेत": how many years old someone is, not a length of time.
    "age": re.compile(
        r"how\s+old|years?\s+old|\bage\b|उम्र|आयु|वय\b|कितन[ेीा]\s+(?:साल|वर्ष)\s+(?:के|की|का)\s+(?:थे|था|थी|हैं|है|हो)|किती\s+वर्षांच",
        re.IGNORECASE,
    ),
    "length": re.compile(r"how\s+long\s+is|\blength|लंबाई|लांबी", re.IGNORECASE),
}

# "How many" in English, Hindi (कितना/कितनी/कितने) and Marathi (किती); the last two also mean "how much".
_HOW_MANY = r"(?:\bhow\s+many\b|कितन[ाीे]|किती)"
_ASKS_NUMBER = re.compile(
    r"\bhow\s+(?:many|much|old|often|long|far|fast|big|tall)\b|\bage\b|\bspeed\b|\bcost\b|\bprice\b"
    # "What is the number of …", "ठरावाचा क्रमांक काय": not "the number one", nor a number named ("संख्या 2397").
    r"|\bwhat\s+(?:is\s+|was\s+)?(?:the\s+)?number\b(?!\s+one\b)|\bwhich\s+number\b"
    rf"|{_HOW_MANY}|उम्र|आयु|वय\b|कीमत|किंमत|" + devanagari_words("क्रमांक|संख्या|नंबर") + r"(?!\s*[\d०-९])",
    re.IGNORECASE,
)
_ASKS_COUNT = re.compile(_HOW_MANY, re.IGNORECASE)
# Hindi/Marathi use one word for "how many" and "how much": these nouns make it an amount, age or time,
# and "how many years/days" asks a length of time, in every language, not a number of things.
_NOT_A_COUNT = re.compile(
    rf"\bold\b|\bage\b|\b(?:{EN_TIME_UNITS})\b|उम्र|आयु|वय|कीमत|किंमत|दाम|रुपय|डॉलर|वर्ष|साल|दिन|वेळ|समय",
    re.IGNORECASE,
)
# Hindi "which": किस, कौन सा / कौन से / कौन सी (also written with a hyphen).
_WHICH_HI = r"(?:किस|कौन(?:\s+|\s*-\s*)(?:सा|से|सी))"
_ASKS_TIME = re.compile(
    r"\bwhen\b|\b(?:what|which)\s+(?:year|date|month|day|time)\b|\bin\s+what\s+year\b"
    r"|\bकब\b|कधी|केव्हा|कोणत्या\s+(?:वर्षी|साली|दिवशी|महिन्यात|तारखेला|वेळी)"
    rf"|{_WHICH_HI}\s+(?:साल|वर्ष|दिन|महीने|महीना|तारीख|समय)",
    re.IGNORECASE,
)
# "Which year", "किस साल", "कोणत्या वर्षी": a year, not a day or a month.
_ASKS_YEAR = re.compile(
    rf"\b(?:what|which)\s+year\b|{_WHICH_HI}\s+(?:साल|वर्ष)|कोणत्या\s+(?:वर्षी|साली)",
    re.IGNORECASE,
)
# "Where", "कहाँ", "कुठे": a place.
_ASKS_PLACE = re.compile(rf"\bwhere\b|कहाँ|कहां|कुठे|कोठे|कोणत्या\s+ठिकाणी|{_WHICH_HI}\s+(?:जगह|स्थान)", re.IGNORECASE)
# "How many years ...", "कितने साल ...": a length of time, whose number the text gives with its unit.
_ASKS_DURATION = re.compile(rf"{_HOW_MANY}\s+(?:\S+\s+)?(?:{TIME_UNITS})", re.IGNORECASE)


def asks_for_number(question: str) -> bool:
    return bool(_ASKS_NUMBER.search(question))


def asks_for_time(question: str) -> bool:
    return bool(_ASKS_TIME.search(question))


def asks_for_year(question: str) -> bool:
    return bool(_ASKS_YEAR.search(question))


def asks_for_place(question: str) -> bool:
    return bool(_ASKS_PLACE.search(question))


def asks_for_count(question: str) -> bool:
    return bool(_ASKS_COUNT.search(question)) and not _NOT_A_COUNT.search(question)


def asks_for_duration(question: str) -> bool:
    # "किम यांचे वय किती वर्षे आहे?" (how many years is Kim's age) asks an age, which a text gives bare: "Kim, 40,".
    return bool(_ASKS_DURATION.search(question)) and "age" not in asked_quantities(question)


def time_unit_kind(word: str) -> str | None:
    """What a unit of time measures ("years", "वर्षांनी", "साल" → "year"); None for any other word."""
    return next((kind for kind, pattern in _TIME_UNIT_KIND.items() if pattern.match(word)), None)


def asked_time_unit(question: str) -> str | None:
    """The unit a "how many years/days …" question asks its length of time in ("कितने दिन" → "day")."""
    match = _ASKS_DURATION.search(question)
    return time_unit_kind(WORD.findall(match.group())[-1]) if match else None


def asked_quantities(question: str) -> set[str]:
    """The quantities a question asks to measure (`QUANTITIES`' names: "price", "age", ...)."""
    return {name for name, pattern in QUANTITIES.items() if pattern.search(question)}


def without_question_words(question: str) -> str:
    """The question without the words that ask ("which year", "कितने"): what it is about, not what kind of value."""
    return _ASKS_NUMBER.sub(" ", _ASKS_TIME.sub(" ", question))


def counted_words(question: str) -> set[str]:
    """The thing a "how many" question counts: the content words right after its count word."""
    match = _ASKS_COUNT.search(question)
    if match is None:
        return set()
    following = [w for w in words(question[match.end() :]) if w not in STOPWORDS][:2]
    return set(following) or content_words(question)


def counted_phrase(question: str) -> str:
    """The question's own words for what it counts ("Aurus cars" in "How many Aurus cars ...")."""
    match = _ASKS_COUNT.search(question)
    if match is None:
        return ""
    phrase: list[str] = []
    for word in WORD.findall(question[match.end() :])[:2]:
        if word.lower() in STOPWORDS:  # "how many gifts did Kim ...": the counted thing ends at "did"
            break
        phrase.append(word)
    return " ".join(phrase)
