"""`qa chat`: the terminal conversation, with scripted input over the fake pipeline."""

from __future__ import annotations

import io
import os
import subprocess
import sys
from collections.abc import Callable, Iterable
from pathlib import Path

from qa.chat import run
from qa.llm import FakeGenerator
from qa.pipeline import Pipeline
from qa.types import REFUSAL
from tests.conftest import SEEDS
from tests.test_api import QUESTION, REPLACED_QUESTION, ConversationGenerator, DownGenerator, make_pipeline


def scripted(lines: Iterable[str]) -> Callable[[str], str]:
    """An `input()` stand-in that answers with `lines`, then signals EOF."""
    pending = iter(lines)

    def read(prompt: str) -> str:
        try:
            return next(pending)
        except StopIteration:
            raise EOFError from None

    return read


class Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def chat(pipeline: Pipeline, *lines: str, out: io.StringIO | None = None) -> str:
    out = out or io.StringIO()
    run(pipeline, read=scripted(lines), out=out)
    return out.getvalue()


def test_answers_stream_with_numbered_sources_and_exit_ends_the_chat(fake_pipeline: Pipeline) -> None:
    output = chat(fake_pipeline, QUESTION, "exit", "never asked")
    answer = fake_pipeline.answer(QUESTION)
    assert f"qa> {answer.answer} [1]" in output
    cite = answer.citations[0]
    assert f"  [1] {cite.source} (chars {cite.start}-{cite.end})" in output
    assert "generated ·" in output
    assert "never asked" not in output


def test_end_of_input_ends_the_chat(fake_pipeline: Pipeline) -> None:
    output = chat(fake_pipeline)
    assert output.startswith("Ask about the indexed articles")


def test_follow_up_questions_are_answered_with_the_history(isolated_home: Path) -> None:
    generator = ConversationGenerator()
    output = chat(make_pipeline(isolated_home, generator=generator), QUESTION, "What else did she say?")
    assert len(generator.condense_prompts) == 1
    assert f"user: {QUESTION}" in generator.condense_prompts[0]
    assert "Question: What else did Kim Yo Jong say about the car?" in generator.calls[-1][-1]["content"]
    assert output.count("qa> ") == 2


def test_new_conversation_forgets_the_history(isolated_home: Path) -> None:
    generator = ConversationGenerator()
    chat(make_pipeline(isolated_home, generator=generator), QUESTION, "/new", "What else did she say?")
    assert generator.condense_prompts == []


def test_a_draft_that_fails_verification_is_withdrawn(fake_pipeline: Pipeline) -> None:
    output = chat(fake_pipeline, REPLACED_QUESTION)
    assert "(draft withdrawn: it did not pass the check against the sources)\nqa> No supported answer" in output


def test_on_a_terminal_the_withdrawn_draft_is_erased(fake_pipeline: Pipeline) -> None:
    output = chat(fake_pipeline, REPLACED_QUESTION, out=Terminal())
    assert "\x1b[J" in output and "draft withdrawn" not in output
    assert output.rsplit("\x1b[J", 1)[1].startswith("qa> No supported answer")


def test_bad_questions_and_an_unreachable_model_do_not_end_the_chat(isolated_home: Path) -> None:
    pipeline = make_pipeline(isolated_home, generator=DownGenerator())
    pipeline.relevance_floor = 0.99  # so the last question is refused without the model
    output = chat(pipeline, "x" * 1001, QUESTION, "What is the capital of France?")
    assert "error: the question is 1001 characters long" in output
    assert "error: Ollama at http://127.0.0.1:9 is unreachable" in output
    assert REFUSAL in output  # the chat went on after both errors


def test_refusals_print_the_refusal_without_sources(isolated_home: Path) -> None:
    refuse = FakeGenerator(lambda _: {"answerable": False, "answer": "", "citations": []})
    output = chat(make_pipeline(isolated_home, generator=refuse), QUESTION)
    assert "I cannot answer this from the indexed articles." in output and "[1]" not in output


def test_qa_chat_command_reads_stdin_until_eof(isolated_home: Path) -> None:
    env = {
        **os.environ, "QA_HOME": str(isolated_home), "QA_CORPUS": str(SEEDS),
        "QA_EMBED__BACKEND": "fake", "QA_LLM__BACKEND": "fake",
    }  # fmt: skip
    qa = Path(sys.executable).with_name("qa")
    result = subprocess.run(
        [str(qa), "chat"], input=f"{QUESTION}\n", env=env, capture_output=True, text=True, timeout=120, check=False
    )
    assert result.returncode == 0, result.stderr
    assert "qa> " in result.stdout and "  [1] " in result.stdout and "Traceback" not in result.stderr
