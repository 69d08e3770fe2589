"""Text helpers shared by the chunker, the checks and the eval: digits, number words, words, sentences.

Numbers are compared as values: Devanagari digits become ASCII, thousands
separators go, and number words and ordinals of English, Hindi and Marathi
(1-20, the tens, hundred, thousand, lakh, crore, million, billion) become
digits, so "two", "दो", "दोन", "second" and "दुसरी" all read as 2 and
"275 thousand" as 275000. The word lists are the languages' number systems,
not words taken from the articles.

Sentences are split once, here (`split_sentences`, `sentences`), so the chunker and the
checks agree on where a sentence ends.
"""

from __future__ import annotations

import math
import re

_DEVANAGARI_DIGITS = str.maketrans("०१२३४५६७८९", "0123456789")
# Letters plus Devanagari vowel signs (combining marks \w does not match), without digits and dandas.
WORD = re.compile(r"(?:[^\W\d_]|[\u0900-\u0963\u0970-\u097F])+")
# Words or digit runs (with decimal point and thousands separators), in text order.
_TOKEN = re.compile(r"[0-9]+(?:[.,][0-9]+)*|(?:[^\W\d_]|[\u0900-\u0963\u0970-\u097F])+")
# The marks that end a sentence (the danda for Hindi and Marathi).
SENTENCE_END_MARKS = ".!?।"
# A sentence ends at those marks (with closing quotes) followed by white space: "2.5" and "U.N." stay whole.
_SENTENCE_END = re.compile(rf"[{SENTENCE_END_MARKS}]+[\"'”’)\]]*(?=\s)")

_EN_UNITS = [
    "zero",
    "one",
    "two",
    "three",
    "four",
    "five",
    "six",
    "seven",
    "eight",
    "nine",
    "ten",
    "eleven",
    "twelve",
    "thirteen",
    "fourteen",
    "fifteen",
    "sixteen",
    "seventeen",
    "eighteen",
    "nineteen",
    "twenty",
]
_EN_ORDINALS = [
    "zeroth",
    "first",
    "second",
    "third",
    "fourth",
    "fifth",
    "sixth",
    "seventh",
    "eighth",
    "ninth",
    "tenth",
    "eleventh",
    "twelfth",
    "thirteenth",
    "fourteenth",
    "fifteenth",
    "sixteenth",
    "seventeenth",
    "eighteenth",
    "nineteenth",
    "twentieth",
]
_EN_TENS = {"thirty": 30, "forty": 40, "fifty": 50, "sixty": 60, "seventy": 70, "eighty": 80, "ninety": 90}
_HI_UNITS = [
    "शून्य",
    "एक",
    "दो",
    "तीन",
    "चार",
    "पांच",
    "छह",
    "सात",
    "आठ",
    "नौ",
    "दस",
    "ग्यारह",
    "बारह",
    "तेरह",
    "चौदह",
    "पंद्रह",
    "सोलह",
    "सत्रह",
    "अठारह",
    "उन्नीस",
    "बीस",
]
_MR_UNITS = [
    "शून्य",
    "एक",
    "दोन",
    "तीन",
    "चार",
    "पाच",
    "सहा",
    "सात",
    "आठ",
    "नऊ",
    "दहा",
    "अकरा",
    "बारा",
    "तेरा",
    "चौदा",
    "पंधरा",
    "सोळा",
    "सतरा",
    "अठरा",
    "एकोणीस",
    "वीस",
]
_DEVANAGARI_WORDS = {
    # spelling variants of units
    "पाँच": 5, "छः": 6, "छह": 6, "सहा": 6,
    # tens
    "तीस": 30, "चालीस": 40, "चाळीस": 40, "पचास": 50, "पन्नास": 50, "साठ": 60, "सत्तर": 70,
    "अस्सी": 80, "ऐंशी": 80, "नब्बे": 90, "नव्वद": 90,
}  # fmt: skip
_DEVANAGARI_ORDINALS = {
    # Hindi and Marathi, masculine/feminine/oblique
    "पहला": 1, "पहली": 1, "पहले": 1, "पहिला": 1, "पहिली": 1, "पहिले": 1,
    "दूसरा": 2, "दूसरी": 2, "दूसरे": 2, "दुसरा": 2, "दुसरी": 2, "दुसरे": 2, "दुसऱ्या": 2,
    "तीसरा": 3, "तीसरी": 3, "तीसरे": 3, "तिसरा": 3, "तिसरी": 3, "तिसरे": 3, "तिसऱ्या": 3,
    "चौथा": 4, "चौथी": 4, "चौथे": 4, "पांचवां": 5, "पाँचवाँ": 5, "पांचवीं": 5, "पाचवा": 5, "पाचवी": 5,
    # Marathi ordinal adverbs ("for the second time")
    "पहिल्यांदा": 1, "दुसऱ्यांदा": 2, "तिसऱ्यांदा": 3, "चौथ्यांदा": 4, "पाचव्यांदा": 5,
}  # fmt: skip
ORDINALS: dict[str, int] = {**{w: n for n, w in enumerate(_EN_ORDINALS)}, **_DEVANAGARI_ORDINALS}
ORDINAL_FIRST = frozenset({"first", "पहला", "पहली", "पहले", "पहिला", "पहिली", "पहिले"})
_MULTIPLIERS = {
    "hundred": 100, "thousand": 1_000, "million": 1_000_000, "billion": 1_000_000_000,
    "lakh": 100_000, "crore": 10_000_000,
    "सौ": 100, "शंभर": 100, "हज़ार": 1_000, "हजार": 1_000, "लाख": 100_000, "करोड़": 10_000_000,
    "करोड": 10_000_000, "कोटी": 10_000_000, "दशलक्ष": 1_000_000, "मिलियन": 1_000_000, "अब्ज": 1_000_000_000,
}  # fmt: skip
# Hindi and Marathi plurals that count in bulk ("लाखों लोग": lakhs of people); English ones add an "s".
_DEVANAGARI_PLURAL_MULTIPLIERS = {
    "सैकड़ों": 100, "सैकडों": 100, "हज़ारों": 1_000, "हजारों": 1_000, "लाखों": 100_000, "करोड़ों": 10_000_000,
    "करोडों": 10_000_000, "शेकडो": 100, "हजारो": 1_000, "लाखो": 100_000, "कोट्यवधी": 10_000_000,
}  # fmt: skip
_MULTIPLIERS.update(_DEVANAGARI_PLURAL_MULTIPLIERS)
# Vague counts that scale the multiplier after them: "tens of millions" is 10 × 1,000,000, "दसियों लाख" 10 × 100,000.
_PLURAL_COUNTS = {"tens": 10, "दसियों": 10}
_TENS_VALUES = frozenset(float(n) for n in (20, 30, 40, 50, 60, 70, 80, 90))
NUMBER_WORDS: dict[str, int] = {
    **{w: n for n, w in enumerate(_EN_UNITS)},
    **{w: n for n, w in enumerate(_EN_ORDINALS)},
    **_EN_TENS,
    "twice": 2,
    "dozen": 12,
    **{w: n for n, w in enumerate(_HI_UNITS)},
    **{w: n for n, w in enumerate(_MR_UNITS)},
    **_DEVANAGARI_WORDS,
    **_DEVANAGARI_ORDINALS,
}


def english_number(value: int) -> str:
    """ "two" for 2 (up to twenty), digits beyond."""
    return _EN_UNITS[value] if 0 <= value < len(_EN_UNITS) else str(value)


def normalise_digits(text: str) -> str:
    """Devanagari digits ०-९ as ASCII 0-9; nothing else changes."""
    return text.translate(_DEVANAGARI_DIGITS)


def _format(value: float) -> str:
    if not math.isfinite(value):
        return "inf"  # a digit run of over 308 digits (a float's limit) is no quantity; not a crash either
    return str(int(value)) if value == int(value) else f"{value:g}"


def digits_value(token: str) -> str | None:
    """A token of `tokens` that is a digit run, as the value it writes ("1,500" and "1500" are "1500");
    None for a word (also one that starts with a sign such as "¹", which str.isdigit calls a digit)."""
    return _format(_parse_digits(token)) if _is_digits(token) else None


def _parse_digits(token: str) -> float:
    if re.fullmatch(r"\d{1,3}(?:,\d{2,3})+", token):  # 2,75,000 or 275,000
        return float(token.replace(",", ""))
    if re.fullmatch(r"\d{1,3}(?:\.\d{3}){2,}", token):  # 1.000.000
        return float(token.replace(".", ""))
    whole, _, rest = token.replace(",", ".").partition(".")
    # A version or a list ("1.2.3") is not one number: its first part and first decimal.
    return float(f"{whole}.{rest.split('.')[0]}") if rest else float(whole)


def number_values(text: str, with_parts: bool = False) -> set[str]:
    """The numbers a text states, as canonical strings ("2", "275000", "2.5").

    Number words and ordinals count; a multiplier word scales the number before it
    ("275 thousand" -> 275000; "millions" alone -> 1000000; "tens of millions" -> 10000000),
    and "twenty-five" is 25.
    `with_parts` also keeps the parts ("275", "1000", "20", "5"): what a source text
    offers, so that an answer stating either form matches it.
    """
    found: set[str] = set()
    parts: set[str] = set()
    previous: float | None = None
    previous_is_word = False
    found_tokens = tokens(text)
    for n, token in enumerate(found_tokens):
        value = _token_value(token)
        is_word = not _is_digits(token)
        if token == "of" and previous is not None and is_plural_count(found_tokens[n - 1]):
            continue  # "tens of millions", "hundreds of thousands": the count scales what follows "of"
        scale = _multiplier(token) if value is None else None
        if scale is not None:
            parts.add(_format(scale))
            if previous is not None:
                found.discard(_format(previous))
                parts.add(_format(previous))
            scaled = (previous or 1) * scale
            found.add(_format(scaled))
            previous = scaled if is_plural_count(token) else None
            continue
        # "twenty five" is 25; "20 दुसरी" (20, then "second") is two numbers: only words combine.
        both_words = previous_is_word and is_word
        if value is not None and previous is not None and previous in _TENS_VALUES and 0 < value < 10 and both_words:
            found.discard(_format(previous))
            parts.update({_format(previous), _format(value)})
            value += previous
        if value is not None:
            found.add(_format(value))
        previous, previous_is_word = value, is_word
    return found | parts if with_parts else found


def _is_digits(token: str) -> bool:
    return token[0] in "0123456789"  # tokens() has made Devanagari digits ASCII


def _token_value(token: str) -> float | None:
    if _is_digits(token):
        return _parse_digits(token)
    if token in NUMBER_WORDS:
        return float(NUMBER_WORDS[token])
    if token in _PLURAL_COUNTS:
        return float(_PLURAL_COUNTS[token])
    return None


def _multiplier(token: str) -> int | None:
    """The scale a multiplier word stands for ("thousand", "millions", "लाख", "करोड़ों"), else None."""
    return _MULTIPLIERS.get(token) or _MULTIPLIERS.get(token.removesuffix("s"))


def is_plural_count(token: str) -> bool:
    """A token that counts in bulk and can scale what follows: "tens", "hundreds", "millions", "लाखों"."""
    plural_english = token.endswith("s") and token[:-1] in _MULTIPLIERS
    return plural_english or token in _PLURAL_COUNTS or token in _DEVANAGARI_PLURAL_MULTIPLIERS


def is_multiplier(token: str) -> bool:
    """Whether a token of `tokens` is a multiplier word ("million", "thousands", "लाख")."""
    return _multiplier(token) is not None


def words(text: str) -> list[str]:
    """Lower-cased words (letters and Devanagari signs), in order."""
    return [w.lower() for w in WORD.findall(text)]


def tokens(text: str) -> list[str]:
    """Lower-cased words and digit runs (Devanagari digits as ASCII), in order."""
    return [t.lower() for t in _TOKEN.findall(normalise_digits(text))]


def is_devanagari(text: str) -> bool:
    letters = [c for c in text if c.isalpha() or "\u0900" <= c <= "\u097f"]
    return bool(letters) and sum("\u0900" <= c <= "\u097f" for c in letters) > len(letters) / 2


def same_script(a: str, b: str) -> bool:
    """Whether two texts are written in the same script; a bare number is in every script."""
    if not any(c.isalpha() for c in a):
        return True
    return is_devanagari(a) == is_devanagari(b)


def devanagari_words(alternatives: str) -> str:
    """A regex source matching the alternatives ("आज|कल") as whole Devanagari words: "कल" alone, not inside "निकला".

    `\\b` cannot do it: Python's `re` takes the vowel signs ("ि", "ा") for non-word characters.
    """
    return rf"(?<![\u0900-\u097F])(?:{alternatives})(?![\u0900-\u097F])"


_EN_ORDINAL_SUFFIX = {1: "st", 2: "nd", 3: "rd"}


def _ordinal(value: int) -> str:
    suffix = "th" if 10 <= value % 100 <= 20 else _EN_ORDINAL_SUFFIX.get(value % 10, "th")
    return f"{value}{suffix}"


def is_ordinal_of_a_time(word: str) -> bool:
    """A Marathi ordinal of a time, written as one word: "दुसऱ्यांदा" (the second time)."""
    return word.endswith("ांदा")


def gloss_numbers(text: str) -> str:
    """Devanagari digits as ASCII and each Hindi/Marathi number word followed by its value.

    "दुसरी ऑरस" -> "दुसरी (2nd) ऑरस", "दोन कार" -> "दोन (2) कार": the small model reads
    Latin digits far better than Devanagari number words. Only for the model's eyes;
    citations keep the source text.
    """

    def gloss(match: re.Match[str]) -> str:
        word = match.group(0)
        value = NUMBER_WORDS.get(word)
        # "एक" is also the indefinite article: a "(1)" after every "a" would only mislead.
        if value is None or not is_devanagari(word) or (value == 1 and word not in _DEVANAGARI_ORDINALS):
            return word
        shown = str(value)
        if word in _DEVANAGARI_ORDINALS:
            shown = f"{_ordinal(value)} time" if is_ordinal_of_a_time(word) else _ordinal(value)
        return f"{word} ({shown})"

    return WORD.sub(gloss, normalise_digits(text))


# Sounds written alike across Latin and Devanagari, for names and loanwords ("Aurus"/"ऑरस", "car"/"कार").
_DEVANAGARI_CONSONANTS = {
    "क": "k", "ख": "k", "ग": "g", "घ": "g", "च": "c", "छ": "c", "ज": "j", "झ": "j", "ट": "t", "ठ": "t",
    "ड": "d", "ढ": "d", "ण": "n", "त": "t", "थ": "t", "द": "d", "ध": "d", "न": "n", "प": "p", "फ": "f",
    "ब": "b", "भ": "b", "म": "m", "र": "r", "ऱ": "r", "ल": "l", "ळ": "l", "व": "v", "श": "s", "ष": "s", "स": "s",
}  # fmt: skip
_LATIN_SOUNDS = (("ph", "f"), ("ch", "c"), ("sh", "s"), ("c", "k"), ("q", "k"), ("x", "ks"), ("z", "j"), ("w", "v"))


def consonant_skeletons(word: str) -> set[str]:
    """The consonants of a word as Latin letters, so a loanword matches across scripts.

    Vowels, "h" and "y" go (transliterations disagree on them); a Latin plural "s" is
    also tried without. Skeletons shorter than two letters match too much and are dropped.
    """
    word = word.lower()
    if is_devanagari(word):
        skeletons = {"".join(_DEVANAGARI_CONSONANTS.get(c, "") for c in word)}
    else:
        for written, sound in _LATIN_SOUNDS:
            word = word.replace(written, sound)
        bare = "".join(c for c in word if c.isalpha() and c not in "aeiouhy")
        skeletons = {bare, bare[:-1] if bare.endswith("s") else bare}
    return {re.sub(r"(.)\1+", r"\1", s) for s in skeletons if len(s) >= 2}


def split_sentences(text: str) -> list[tuple[int, int]]:
    """Sentence ranges in `text`: ends at . ! ? । (with closing quotes) or a paragraph break."""
    spans: list[tuple[int, int]] = []
    for para in re.finditer(r"[^\n]+(?:\n(?!\n)[^\n]+)*", text):
        start = para.start()
        for end_match in _SENTENCE_END.finditer(para.group()):
            end = para.start() + end_match.end()
            if _is_abbreviation(text, end):
                continue
            spans.append((start, end))
            start = _skip_space(text, end)
        if start < para.end():
            spans.append((start, para.end()))
    return [(s, e) for s, e in spans if text[s:e].strip()]


def _is_abbreviation(text: str, end: int) -> bool:
    # "U.N." or "Dr." style: a one- or two-letter token before the period.
    token = text[:end].rsplit(None, 1)[-1]
    return bool(re.fullmatch(r"(?:[A-Za-z]\.){1,3}|[A-Z][a-z]?\.", token))


def _skip_space(text: str, pos: int) -> int:
    while pos < len(text) and text[pos].isspace():
        pos += 1
    return pos


def sentences(text: str) -> list[str]:
    """The sentences of `text` as strings; a line break also ends one (a heading, a list item)."""
    return [line[s:e] for line in text.splitlines() for s, e in split_sentences(line)]
