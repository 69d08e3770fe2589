"""The `qa` command line, through click's runner, wired to fakes by environment."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from qa.cli import main
from tests.conftest import SEEDS

FAKE_ENV = {"QA_EMBED__BACKEND": "fake", "QA_LLM__BACKEND": "fake", "QA_CORPUS": str(SEEDS)}


@pytest.fixture
def runner(monkeypatch: pytest.MonkeyPatch) -> CliRunner:
    for key, value in FAKE_ENV.items():
        monkeypatch.setenv(key, value)
    return CliRunner()


def test_ask_json_prints_one_answer_object_with_exact_quotes(runner: CliRunner) -> None:
    result = runner.invoke(main, ["ask", "--json", "What did Kim Yo Jong say about the car?"])
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    assert set(data) >= {"question", "answer", "language", "refused", "mode", "citations", "timings", "backend"}
    assert set(data["timings"]) == {"retrieve_ms", "generate_ms", "total_ms"}
    for cite in data["citations"]:
        assert (SEEDS / cite["source"]).read_text(encoding="utf-8")[cite["start"] : cite["end"]] == cite["quote"]


def test_ask_for_people_lists_numbered_sources(runner: CliRunner) -> None:
    result = runner.invoke(main, ["ask", "What did Kim Yo Jong say about the car?"])
    assert result.exit_code == 0
    assert "Sources:" in result.stdout and "[1] " in result.stdout


def test_ask_reads_questions_from_stdin_one_json_per_line(runner: CliRunner) -> None:
    questions = "What did Kim Yo Jong say?\n\nकिमला किती ऑरस गाड्या मिळाल्या?\n"
    result = runner.invoke(main, ["ask", "--json"], input=questions)
    assert result.exit_code == 0
    lines = result.stdout.strip().splitlines()
    assert [json.loads(line)["language"] for line in lines] == ["en", "mr"]


@pytest.mark.parametrize(("question", "message"), [("", "empty"), ("   ", "empty"), ("x" * 1001, "limit")])
def test_bad_question_exits_non_zero_with_one_line(runner: CliRunner, question: str, message: str) -> None:
    result = runner.invoke(main, ["ask", question])
    assert result.exit_code == 2
    assert message in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1
    assert "Traceback" not in result.output


def test_ingest_reports_counts_and_warns_about_skipped_files(runner: CliRunner, tmp_path: Path) -> None:
    corpus = tmp_path / "docs"
    corpus.mkdir()
    (corpus / "good.txt").write_text("Putin gave Kim Jong Un an Aurus Senat limousine in February.\n", encoding="utf-8")
    (corpus / "bad.bin").write_bytes(b"\x00\x01\x02")
    result = runner.invoke(main, ["ingest", str(corpus)])
    assert result.exit_code == 0, result.output
    assert "added 1" in result.stdout and "skipped 1" in result.stdout
    assert "bad.bin" in result.stderr
    again = runner.invoke(main, ["ingest", str(corpus)])
    assert "unchanged 1" in again.stdout


def test_ingest_missing_path_is_one_line_error(runner: CliRunner, tmp_path: Path) -> None:
    result = runner.invoke(main, ["ingest", str(tmp_path / "nope")])
    assert result.exit_code == 2 and "no such file" in result.stderr


@pytest.mark.parametrize("command", [["ask", "How many cars?"], ["serve"], ["eval", "--limit", "1"]])
def test_bad_setting_is_one_line_error(runner: CliRunner, monkeypatch: pytest.MonkeyPatch, command: list[str]) -> None:
    monkeypatch.setenv("QA_LLM__BACKEND", "gpt-9")
    result = runner.invoke(main, command)
    assert result.exit_code != 0
    output = (result.stderr or str(result.exception)).strip()
    assert "bad QA_* setting: ('llm', 'backend')" in output and "\n" not in output


def test_cli_and_chat_print_citations_the_same_way() -> None:
    from qa.chat import sources_text
    from qa.cli import render
    from qa.types import SHOWN_QUOTE_CHARS, Answer, BackendInfo, Citation

    long_quote = "word " * 100
    cite = Citation(source="a.txt", chunk_id="c", quote=long_quote, start=5, end=5 + len(long_quote))
    backend = BackendInfo(llm="fake", embedder="fake")
    answer = Answer(
        question="q", answer="a", language="en", refused=False, mode="generated", citations=[cite], backend=backend
    )
    printed = [line for line in render(answer).splitlines() if line.startswith("      “")]
    assert printed == [line for line in sources_text(answer).splitlines() if line.startswith("      “")]
    assert len(printed) == 1 and printed[0].endswith("…”") and len(printed[0]) == 6 + SHOWN_QUOTE_CHARS + 3
