"""Prompt injection in documents: sentences that address the model rather than the reader.

Documents are data. Such sentences are never shown to the model, never quoted and never
support an answer; the pipeline leaves them out of the evidence and the checks ignore them.
"""

from __future__ import annotations

import re

from qa.text import sentences

# An imperative to ignore/override the rules or instructions, role markers, or a demand for a
# fixed reply. The patterns describe the shape of an instruction in each language, not phrases
# of any test document.
_IGNORE_VERBS = r"ignore|disregard|forget|override|bypass|अनदेखा|नज़रअंदाज़|नजरअंदाज|भूल|दुर्लक्ष|विसर"
_RULE_NOUNS = r"instructions?|rules|prompt|guidelines|निर्देश|नियम|सूचना|आदेश"
_INSTRUCTION = re.compile(
    rf"""(?:{_IGNORE_VERBS}).{{0,60}}(?:{_RULE_NOUNS}) | (?:{_RULE_NOUNS}).{{0,40}}(?:{_IGNORE_VERBS})
    | \b(?:system|assistant|developer)\s*: | \byou\s+are\s+now\b | \bnew\s+instructions?\b
    | \b(?:reply|respond|answer|say|write|output)\s+(?:only\s+)?(?:with|exactly)\b
    | \binstructions?\s+(?:from|for|to)\s+(?:the\s+)?(?:system|model|assistant|ai|chatbot)\b
    | \byour\s+(?:reply|answer|response|output)\s+(?:must|should|shall|is)\b
    | \b(?:ai|assistant|chatbot|language\s+model)\s+(?:must|should|shall)\b
    | "(?:answer|answerable|citations|evidence)"\s*:""",
    re.IGNORECASE | re.VERBOSE,
)


def looks_like_instruction(sentence: str) -> bool:
    """True for a sentence that tries to instruct the model (prompt injection in a document)."""
    return bool(_INSTRUCTION.search(sentence))


def strip_instructions(text: str) -> str:
    """`text` without its instruction-like sentences."""
    return " ".join(s.strip() for s in sentences(text) if not looks_like_instruction(s))
