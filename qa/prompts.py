"""Prompt templates live as files in `prompts/`; their placeholders are checked when loaded."""

from __future__ import annotations

import string
from dataclasses import dataclass
from functools import cache
from pathlib import Path

PROMPTS_DIR = Path(__file__).resolve().parent.parent / "prompts"

# Each template and exactly the placeholders it must use.
EXPECTED: dict[str, frozenset[str]] = {
    "answer_system": frozenset({"refusal"}),
    "answer_user": frozenset({"passages", "question", "language_name"}),
    "judge_user": frozenset({"evidence", "question", "answer"}),
    "condense": frozenset({"history", "question"}),
}


class PromptError(ValueError):
    """A prompt file is missing or its placeholders do not match what the code fills in."""


@dataclass(frozen=True)
class Template:
    name: str
    text: str
    fields: frozenset[str]

    def render(self, **values: str) -> str:
        if set(values) != self.fields:
            raise PromptError(f"prompt {self.name!r} takes {sorted(self.fields)}, got {sorted(values)}")
        return self.text.format(**values)


def placeholders(text: str) -> frozenset[str]:
    return frozenset(field for _, field, _, _ in string.Formatter().parse(text) if field is not None)


def load_template(name: str, directory: Path = PROMPTS_DIR) -> Template:
    path = directory / f"{name}.txt"
    try:
        text = path.read_text(encoding="utf-8").strip()
    except OSError as exc:
        raise PromptError(f"prompt file {path} cannot be read: {exc.strerror}") from exc
    found = placeholders(text)
    expected = EXPECTED[name]
    if found != expected:
        raise PromptError(f"prompt {path} has placeholders {sorted(found)}, expected {sorted(expected)}")
    return Template(name=name, text=text, fields=found)


@cache
def template(name: str) -> Template:
    return load_template(name)
