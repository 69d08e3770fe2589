"""Claim checks: whether an answer's cited sentences state it, as the answer to what was asked.
Pure functions: no models, no I/O.

Faithfulness must not depend on the model being smart, so everything the model
says is checked here against the passages it was shown. What a question asks for is read in
`qa.asks`, the values a text states in `qa.values`; the reply's format and its parsing are in
`qa.reply`; instruction-like sentences are recognised in `qa.injection`.
"""

from __future__ import annotations

import itertools
import re

from qa.asks import (
    asked_quantities,
    asked_time_unit,
    asks_for_count,
    asks_for_duration,
    asks_for_number,
    asks_for_place,
    asks_for_time,
    counted_words,
    time_unit_kind,
    without_question_words,
)
from qa.injection import strip_instructions
from qa.matching import STOPWORDS, anchor_keys, anchored, content_words
from qa.reply import ModelReply
from qa.text import (
    NUMBER_WORDS,
    ORDINAL_FIRST,
    SENTENCE_END_MARKS,
    WORD,
    digits_value,
    is_devanagari,
    normalise_digits,
    number_values,
    same_script,
    sentences,
    tokens,
    words,
)
from qa.types import Passage
from qa.values import is_duration, is_time_unit, names_a_time, plain_numbers, time_values, years

# Punctuation inside a sentence that ends a clause; a comma between digits ("1,000") does not.
_CLAUSE_BREAK = re.compile(r"[;:()\[\]—–]|,(?!\d)|\s-\s")

MIN_WORD_OVERLAP = 0.5
# An answer of this many words or more that holds this share of one cited sentence's words copies it.
MIN_COPY_WORDS = 7
SENTENCE_COPY_SHARE = 0.75

# The units an answer gives for each quantity a question asks to measure (`qa.asks.QUANTITIES`; en, hi,
# mr): a price is not a speed. Quantities without a unit in the answer are not judged here.
_UNITS = {
    "price": re.compile(r"\$|€|£|₹|dollars?|rubles?|roubles?|euros?|rupees?|डॉलर|रूबल|रुपये|रुपए|यूरो", re.IGNORECASE),
    "speed": re.compile(r"km/h|kmph|mph|किमी\s*/|किमी\s+प्रति|ताशी", re.IGNORECASE),
    "weight": re.compile(r"\b(?:kg|kilograms?|tonnes?|tons?|pounds)\b|किलो|टन", re.IGNORECASE),
    "age": re.compile(r"years?\s+old|-year-old|वर्षीय|साल\s+के|वर्षांचे|वर्षांच्या", re.IGNORECASE),
    "length": re.compile(r"\b(?:km|kilomet(?:er|re)s?|met(?:er|re)s?|miles?)\b|किलोमीटर|मीटर", re.IGNORECASE),
}
_ORDINAL_SUFFIXES = frozenset({"st", "nd", "rd", "th"})  # "18th" is two tokens
_MOSTLY_NUMBER = re.compile(r"^\W*[\d०-९][\d०-९.,]*\s*\S{0,12}\W*$")

# How far after a number its unit of time may stand ("24 years", "24 वर्षों में").
UNIT_REACH = 2


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
    - a number stands next to a word of the question in the cited text: a count in any
      script (the counted thing by its consonants), another number in the cited sentences
      written in the question's script;
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
    if asks_for_number(question) or asks_for_time(question):
        problems += _number_context_problems(reply.answer, question, cited_text)
    if asks_for_duration(question):
        problems += _duration_problems(reply.answer, question, cited_text)
    if "age" in asked_quantities(question):
        problems += _age_problems(reply.answer, question, cited_text)
    if same_script(reply.answer, cited_text):
        problems += _word_problems(reply.answer, cited_text) or _name_problems(reply.answer, cited_text)
    return problems


def _duration_problems(answer: str, question: str, cited_text: str) -> list[str]:
    """For "how many years": each number of the answer stands in the cited text with the unit of time asked.

    "Kim, 40, ..." gives an age, not the years since a visit; "24 वर्षों में" gives a length of time,
    in any of the three languages, and in years: it does not answer "how many days".
    """
    asked = asked_time_unit(question)
    found = tokens(cited_text)
    problems = []
    for number in sorted(number_values(answer)):
        units = {
            kind
            for i, t in enumerate(found)
            if number in number_values(t)
            for kind in map(time_unit_kind, found[i + 1 : i + 1 + UNIT_REACH])
            if kind is not None
        }
        if not units:
            problems.append(f"{number} in the cited text is not a length of time")
        elif asked is not None and asked not in units:
            problems.append(f"{number} in the cited text is a number of {'/'.join(sorted(units))}s, not {asked}s")
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
    without_asides = aside.sub(" ", text)
    if not asides or _age_pattern(number).search(without_asides):
        return _named_beside_age(number, question, without_asides)
    anchors = anchor_keys(_age_owner_words(question), by_sound=True)
    owners = [w[-1] for m in asides if (w := words(text[: m.start()]))]
    return any(anchored(owner, anchors, by_sound=True) for owner in owners)


# Words that ask for or give an age, besides units of time: en, hi, mr.
_AGE_WORD = re.compile(r"(?:old|aged?|उम्र|आयु|वय|वर्षीय)$", re.IGNORECASE)


def _named_beside_age(number: str, question: str, text: str) -> bool:
    """An age in a form that does not place its owner ("the 40-year-old", "71 वर्षीय") must stand in a
    sentence that names whom the question asks about: "Kim … the 40-year-old" is no answer for Putin's age.
    `text` has its asides ("Kim, 40,") taken out. The words that ask for an age or give one ("old", "साल",
    "उम्र") do not name anyone."""
    asked = _age_owner_words(question)
    if not asked:
        return True  # "How old is he?": nobody named to look for
    anchors = anchor_keys(asked, by_sound=True)
    stating = [s for s in sentences(text) if _age_pattern(number).search(s)]
    return any(anchored(w, anchors, by_sound=True) for s in stating for w in words(s) if not _says_age(w))


# How many words from the word asking an age ("old", "उम्र", "वय") its owner is named: "How old was Kim
# when Putin …", "… पुतिन की उम्र", "पुतिन यांचे वय".
_AGE_OWNER_REACH = 2


def _age_owner_words(question: str) -> list[str]:
    """The words of the question that name whose age it asks: those within a few words of the word asking
    the age ("How old was Kim when Putin gave him the car?" → kim), or, when none stand there, all its
    content words. Words that ask a question or an age are not names; words of one or two letters ("की",
    "Un", "'s") are not counted in the distance, so "किम जोंग उन का वय" reaches "किम"."""
    asked = {w for w in content_words(without_question_words(question)) if not _says_age(w)}
    ordered = words(question)
    place = list(itertools.accumulate(len(w) >= 3 for w in ordered))
    asking = [place[i] for i, w in enumerate(ordered) if _says_age(w)]
    near = [
        w for i, w in enumerate(ordered) if w in asked and any(abs(place[i] - j) <= _AGE_OWNER_REACH for j in asking)
    ]
    return near or sorted(asked)


def _says_age(word: str) -> bool:
    return time_unit_kind(word) is not None or bool(_AGE_WORD.match(word))


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


# How the number check names its problem (`Pipeline` repairs an answer that fails only this way).
NUMBERS_MISSING = "numbers not in cited text"


def _unstated_numbers(answer: str, cited_text: str) -> set[str]:
    """The numbers the answer gives that the cited text does not state (whole, or as a part of one)."""
    return number_values(answer) - number_values(cited_text, with_parts=True)


def _number_problems(answer: str, cited_text: str) -> list[str]:
    missing = _unstated_numbers(answer, cited_text)
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
    written = [t for t in tokens(answer) if digits_value(t) is not None]
    stated = list(dict.fromkeys(t for t in tokens(cited_text) if digits_value(t) is not None and plain_numbers(t)))
    if len(written) != 1 or len(stated) != 1 or not _number_problems(written[0], cited_text):
        return None
    return normalise_digits(answer).replace(written[0], stated[0], 1)


def date_without_unstated_years(answer: str, cited_text: str) -> str | None:
    """A date answer without the years the cited text does not state, when it still names a day or month.

    The small model completes a date with a year of its own ("June 20, 2014" for a sentence saying "came
    to Vietnam on June 20"). Only when every number the cited text lacks is such a year, and what is left
    names a month, season or day of the week: "in 2014" is not repaired, nor a miscopied day.
    """
    answer = normalise_digits(answer)
    missing = _unstated_numbers(answer, cited_text)
    if not missing or not missing <= years(answer):
        return None
    trimmed = answer
    for year in missing:
        trimmed = re.sub(rf"[\s,]*(?<![\d.]){year}(?![\d.])", "", trimmed)
    trimmed = trimmed.strip(" ,")
    return trimmed if time_values(trimmed) - years(trimmed) else None


def _kind_problems(answer: str, question: str) -> list[str]:
    has_number = bool(number_values(answer))
    if asks_for_time(question) and not (has_number or names_a_time(answer)):
        return ["the question asks when, and the answer names no date, year or month"]
    if asks_for_time(question) and is_duration(answer):
        return ["the question asks when, and the answer gives a length of time"]
    if asks_for_number(question) and not has_number:
        return ["the question asks for a number, and the answer has none"]
    asked = asked_quantities(question)
    given = {q for q, pattern in _UNITS.items() if pattern.search(answer)}
    if asked and given and not asked & given:
        return [f"the question asks for a {'/'.join(sorted(asked))}, the answer gives a {'/'.join(sorted(given))}"]
    if not (asks_for_number(question) or asks_for_time(question)) and (
        _MOSTLY_NUMBER.match(answer) or _counts_question_words(answer, question)
    ):
        return ["the question does not ask for a number, and the answer is one"]
    if asks_for_place(question) and not asks_for_time(question) and _only_values(answer, question):
        return ["the question asks where, and the answer gives only a date or a number"]
    return []


def _asked_stems(question: str) -> set[str]:
    """The question's words by their first five letters, so "gifts" in an answer is a word of "What gift …?"."""
    return {w[:5] for w in words(question)}


def _words_beside_values(answer: str, question: str) -> list[str]:
    """The answer's words that are not a number, a date, a word of the question or a function word."""
    asked = _asked_stems(question)
    return [
        t
        for t in tokens(answer)
        if not (t in STOPWORDS or t in _ORDINAL_SUFFIXES or t[:5] in asked or number_values(t) or time_values(t))
    ]


def _only_values(answer: str, question: str) -> bool:
    """A number or a date and nothing else the question does not already say ("February 18th")."""
    return bool(number_values(answer) or time_values(answer)) and not _words_beside_values(answer, question)


def _counts_question_words(answer: str, question: str) -> bool:
    """A number before the question's own words ("three gifts" for "What gifts did …?"): a count, not an answer."""
    found = tokens(answer)
    if len(found) < 2 or not number_values(found[0]) or time_values(answer):  # "3 March" is a date
        return False
    return not _words_beside_values(" ".join(found[1:]), question)


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
    asked = _asked_stems(question)
    new = [w for w in words(answer) if len(w) >= 2 and w not in STOPWORDS and w[:5] not in asked]
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
    } - STOPWORDS
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
    return {unit for number, unit in itertools.pairwise(found) if number_values(number) and is_time_unit(unit)}


# The most tokens a number phrase spans: "tens of millions", "275 thousand", "तीन लाख".
_NUMBER_PHRASE_TOKENS = 4


def _where_stated(number: str, sentence: list[str], longest: int) -> list[tuple[int, int]]:
    """Where the tokens of `sentence` state `number`: the first and last token of each phrase of up to
    `longest` tokens that does ("300 thousand dollars" states 300000 in tokens 0-1)."""
    spans = []
    for end, token in enumerate(sentence):
        if not number_values(token):
            continue
        for start in range(end, max(-1, end - longest), -1):
            if number in number_values(" ".join(sentence[start : end + 1])):
                spans.append((start, end))
                break
    return spans


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
    anchors = anchor_keys([w for w in asked if w not in NUMBER_WORDS], by_sound=counting)
    spans = sentences(cited_text)
    if counting:  # a count and its thing share a clause: "Putin, 71, gave Kim a car" counts no cars
        spans = [clause for span in spans for clause in _CLAUSE_BREAK.split(span)]
    else:
        # Across scripts only counts are checked: the counted thing is mostly a noun or a loanword,
        # matched by its consonants ("ऑरस"/"Aurus"); other question words rarely transliterate.
        # Sentence by sentence: an English sentence cited beside a Hindi one does not make the
        # Hindi sentence's "24 वर्षों" answer to English anchors.
        spans = [span for span in spans if same_script(question, span)]
    sentence_tokens = [tokens(span) for span in spans]
    before, after = (0, 3) if counting else (5, 5)
    # A count of several words ("tens of millions of shells") stands before its thing as one of one
    # word does. Other numbers are placed only where one word states them: a price of several words
    # is often further than five words from the question's word for it ("worth" … "Aurus Senat is …,
    # costing approximately 275 thousand dollars"), and placing it lost such a right answer.
    longest = _NUMBER_PHRASE_TOKENS if counting else 1
    problems = []
    for number in sorted(numbers):
        # Windows stay inside one sentence. "The first Aurus" counts nothing: every series has a first.
        windows = [
            sentence[max(0, start - before) : end + after + 1]
            for sentence in sentence_tokens
            for start, end in _where_stated(number, sentence, longest)
            if not (counting and sentence[end] in ORDINAL_FIRST)
        ]
        near = any(anchored(t, anchors, counting) for window in windows for t in window if not number_values(t))
        # A count must stand before the counted thing; another number only where the text has it.
        if counting and not near:
            problems.append(f"{number} in the cited text does not count what the question asks about")
        elif windows and not near:
            problems.append(f"{number} in the cited text does not belong to what the question asks about")
    return problems
