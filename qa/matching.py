"""How a word of a question is found in a text: function words aside, by stem in the same script and
by consonant skeleton across scripts ("Putin" / "पुतिन", "Aurus" / "ऑरस").

Shared by what a question asks (`qa.asks`), the values a text states (`qa.values`) and the claim
checks (`qa.cite`). Pure functions: no models, no I/O.
"""

from __future__ import annotations

from collections.abc import Iterable

from qa.text import consonant_skeletons, is_devanagari, words

# Function words that say nothing about the answer: English, then Hindi and Marathi postpositions and auxiliaries.
STOPWORDS = frozenset({
    "the", "a", "an", "and", "or", "of", "to", "in", "on", "at", "for", "from", "with", "by", "is", "was", "were",
    "are", "be", "been", "has", "have", "had", "that", "this", "which", "who", "whom", "whose", "what", "when",
    "where", "how", "his", "her", "its", "their", "he", "she", "it", "they", "as", "also", "than", "then", "many",
    "much", "did", "does", "do", "not", "yes", "no", "there", "about", "into", "after", "before", "during", "over",
    "का", "की", "के", "को", "में", "से", "पर", "ने", "है", "हैं", "था", "थी", "थे", "और", "भी", "यह", "वह", "कि",
    "एक", "तो", "ही", "चा", "ची", "चे", "च्या", "ला", "त", "मध्ये", "आहे", "आहेत", "होते", "होता", "होती", "आणि",
    "व", "हे", "ते", "त्या", "पण", "तेव्हा", "जेव्हा", "यांचे", "यांची", "यांचा", "यांनी", "यांना", "यांच्या",
})  # fmt: skip


def content_words(text: str) -> set[str]:
    """The words of a text that carry meaning: three letters or more, no function words."""
    return {w for w in words(text) if is_content_word(w)}


def is_content_word(word: str) -> bool:
    """A lower-cased word of three letters or more that is not a function word."""
    return len(word) >= 3 and word not in STOPWORDS


def stem(word: str) -> str:
    # Devanagari words inflect in the last syllable or two; Latin ones in the suffix.
    return word[:3] if is_devanagari(word) else word[:4]


def anchor_keys(asked: Iterable[str], by_sound: bool) -> set[str]:
    """Keys a word of the text is matched against: the stems of the asked words, and with
    `by_sound` their consonant skeletons too ("Putin" / "पुतिन" across scripts)."""
    keys = {stem(w) for w in asked}
    if by_sound:
        keys |= {sk for w in asked for sk in consonant_skeletons(w)}
    return keys - {""}


def anchored(token: str, anchors: set[str], by_sound: bool) -> bool:
    """Whether a word of the text is one of the asked words (`anchor_keys`)."""
    return stem(token) in anchors or (by_sound and bool(consonant_skeletons(token) & anchors))
