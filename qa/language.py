"""Which language a text is in: English, Hindi or Marathi (the languages of the corpus and its askers).

Ingest tags every chunk with it, and the pipeline answers in the asker's language with it.
"""

from __future__ import annotations

import re

from qa.text import devanagari_words
from qa.types import Language

_DEVANAGARI = re.compile(r"[\u0900-\u097F]")
_LATIN = re.compile(r"[A-Za-z]")
_MARATHI_MARKERS = re.compile(
    r"(आहे|आहेत|आणि|यांनी|यांना|होते|होती|केले|केली|नाही|म्हणाले|दिली|असे|त्यांच्या|च्या|मध्ये|किती|कोणी|कोणत्या|काय|कधी|कोठे|कुठे|मिळाल्या|ला)(?=\s|[.,?!।]|$)"
)
_HINDI_MARKERS = re.compile(
    devanagari_words("है|हैं|और|के|की|का|में|ने|था|थी|थे|से|को|पर|किया|गया|कितनी|कितने|किसने|कब|कहाँ|क्या|कौन")
)


def has_latin_letters(text: str) -> bool:
    return bool(_LATIN.search(text))


def detect_language(text: str) -> Language:
    """Tell English, Hindi and Marathi apart: script first, then function words."""
    devanagari = len(_DEVANAGARI.findall(text))
    latin = len(_LATIN.findall(text))
    if devanagari <= latin:
        return "en"
    marathi = len(_MARATHI_MARKERS.findall(text))
    hindi = len(_HINDI_MARKERS.findall(text))
    return "mr" if marathi > hindi else "hi"
