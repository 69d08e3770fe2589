from __future__ import annotations

from pathlib import Path

import pytest

from qa.prompts import EXPECTED, PromptError, load_template
from qa.types import REFUSAL


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_shipped_prompts_load_with_their_placeholders(name: str) -> None:
    assert load_template(name).fields == EXPECTED[name]


def test_system_prompt_carries_the_refusal_constant() -> None:
    assert REFUSAL in load_template("answer_system").render(refusal=REFUSAL)


def test_wrong_placeholders_are_rejected_at_load(tmp_path: Path) -> None:
    (tmp_path / "answer_user.txt").write_text("Passages: {passages}\nQ: {qestion}", encoding="utf-8")
    with pytest.raises(PromptError, match="qestion"):
        load_template("answer_user", tmp_path)


def test_render_requires_exactly_the_declared_values() -> None:
    template = load_template("answer_user")
    with pytest.raises(PromptError):
        template.render(question="q")
