"""`qa chat`: an interactive conversation in the terminal.

Each answer streams in as the model writes it, then numbered sources are listed
under it. Follow-up questions see the conversation: the history goes to
`Pipeline.answer`, which rewrites a follow-up into a standalone question.
The final answer is authoritative: when verification replaces the streamed
draft (quoted evidence or a refusal instead), the draft is erased on a terminal,
or marked as withdrawn when the output is not a terminal.

Type "exit" (or press Ctrl-D) to leave, "/new" to start a new conversation.
"""

from __future__ import annotations

import math
import shutil
import sys
from collections.abc import Callable
from typing import TextIO

from qa.llm import GeneratorUnavailable
from qa.pipeline import InvalidQuestion, Pipeline
from qa.types import MARKER, Answer, Turn, citation_lines, with_markers

EXIT_WORDS = {"exit", "quit", "/exit", "/quit", ":q"}
RESET_WORDS = {"/new", "/reset"}
PROMPT = "you> "
REPLY = "qa> "
BANNER = (
    "Ask about the indexed articles in English, हिन्दी or मराठी; follow-up questions keep the context.\n"
    'Type "/new" for a new conversation, "exit" or Ctrl-D to leave.\n'
)


def run(pipeline: Pipeline, read: Callable[[str], str] = input, out: TextIO | None = None) -> None:
    """Chat until EOF or "exit"; `read` and `out` are the terminal unless a test passes others."""
    out = out or sys.stdout
    pipeline.ensure_index()
    _warm(pipeline, out)
    chat = TerminalChat(pipeline, out)
    out.write(BANNER)
    while True:
        try:
            text = read(PROMPT).strip()
        except (EOFError, KeyboardInterrupt):
            out.write("\n")
            return
        if text.lower() in EXIT_WORDS:
            return
        if text.lower() in RESET_WORDS:
            chat.history.clear()
            out.write("(new conversation)\n")
        elif text:
            chat.ask(text)


def _warm(pipeline: Pipeline, out: TextIO) -> None:
    """Load the model before the first prompt, so its load time and log lines come first."""
    try:
        pipeline.load_model()
    except GeneratorUnavailable as exc:
        out.write(f"qa: warning: {exc}; only quoted answers are possible\n")


class TerminalChat:
    """One conversation: asks with the history so far and prints each answer."""

    def __init__(self, pipeline: Pipeline, out: TextIO) -> None:
        self.pipeline = pipeline
        self.out = out
        self.history: list[Turn] = []

    def ask(self, question: str) -> Answer | None:
        self.out.write(REPLY)
        self.out.flush()
        draft = Draft(self.out)
        try:
            answer = self.pipeline.answer(question, self.history, on_text=draft.write)
        except (InvalidQuestion, GeneratorUnavailable) as exc:
            self.out.write(f"\nqa: error: {exc}\n" if draft.text else f"error: {exc}\n")
            return None
        except KeyboardInterrupt:
            self.out.write("\n(interrupted)\n")
            return None
        draft.finish(answer)
        self.out.write(sources_text(answer, styled=draft.tty))
        self.history += [Turn("user", question), Turn("assistant", answer.answer)]
        return answer


class Draft:
    """The streamed draft of one answer, replaced by the final text if they differ."""

    def __init__(self, out: TextIO) -> None:
        self.out = out
        self.text = ""
        self.tty = bool(getattr(out, "isatty", lambda: False)())

    def write(self, piece: str) -> None:
        self.text += piece
        self.out.write(piece)
        self.out.flush()

    def finish(self, answer: Answer) -> None:
        final = with_markers(answer)
        if MARKER.sub("", self.text).strip() == answer.answer:
            suffix = "" if MARKER.search(self.text) else final[len(answer.answer) :]
            self.out.write((suffix.lstrip() if self.text[-1:].isspace() else suffix) + "\n")
        elif not self.text:
            self.out.write(final + "\n")
        elif self.tty:
            self._erase()
            self.out.write(REPLY + final + "\n")
        else:
            self.out.write("\n(draft withdrawn: it did not pass the check against the sources)\n")
            self.out.write(REPLY + final + "\n")

    def _erase(self) -> None:
        """Move the cursor back to the start of the reply and clear to the end of the screen."""
        columns = max(20, shutil.get_terminal_size().columns)
        lines = (REPLY + self.text).split("\n")
        rows = sum(max(1, math.ceil(len(line) / columns)) for line in lines)
        self.out.write("\r" + "\x1b[1A" * (rows - 1) + "\x1b[J")


def sources_text(answer: Answer, styled: bool = False) -> str:
    """Numbered sources with their quotes, then one line of facts about the answer."""
    dim, plain = ("\x1b[2m", "\x1b[0m") if styled else ("", "")
    lines = citation_lines(answer.citations, dim, plain)
    lines.append(f"{dim}  {answer.mode} · {answer.timings.total_ms / 1000:.1f} s{plain}")
    return "\n".join(lines) + "\n\n"
