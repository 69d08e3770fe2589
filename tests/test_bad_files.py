"""Hostile files in the corpus: skipped with a warning that names them, never a crash.

Runs the real `qa ingest` command (click's runner) with the fake embedder and generator.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from qa.cli import main
from qa.sources import MAX_FILE_BYTES

GOOD = "Putin gave Kim Jong Un an Aurus Senat limousine in February, the agency said.\n"


@pytest.fixture
def runner(monkeypatch: pytest.MonkeyPatch) -> CliRunner:
    monkeypatch.setenv("QA_EMBED__BACKEND", "fake")
    monkeypatch.setenv("QA_LLM__BACKEND", "fake")
    return CliRunner()


def ingest(runner: CliRunner, corpus: Path) -> Result:
    result = runner.invoke(main, ["ingest", str(corpus)])
    assert result.exception is None or isinstance(result.exception, SystemExit), result.output
    assert "Traceback" not in result.output
    return result


def warnings_in(result: Result) -> list[str]:
    return [line for line in result.stderr.splitlines() if line.startswith("qa: warning: skipped")]


BAD_FILES: dict[str, bytes] = {
    "latin1.txt": "Café crème, said the waiter. Größe matters.\n".encode("latin-1"),
    "cp1252.txt": b"\x93Quoted\x94 text from Windows, with a \x96 dash and more words.\n",
    "utf16.txt": GOOD.encode("utf-16"),
    "binary.bin": bytes(range(256)) * 40,
    "image.png": b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR" + os.urandom(2048),
    "truncated-utf8.txt": GOOD.encode() + "पुतिन".encode()[:-1],
    "empty.txt": b"",
    "blank.txt": b" \n\t\n   \n",
}


def test_non_utf8_binary_and_empty_files_are_skipped_by_name(runner: CliRunner, tmp_path: Path) -> None:
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    (corpus / "good.txt").write_text(GOOD, encoding="utf-8")
    for name, data in BAD_FILES.items():
        (corpus / name).write_bytes(data)
    result = ingest(runner, corpus)
    assert result.exit_code == 0, result.output
    assert "added 1," in result.stdout
    assert f"skipped {len(BAD_FILES)};" in result.stdout
    warned = warnings_in(result)
    assert len(warned) == len(BAD_FILES)
    for name in BAD_FILES:
        assert any(f" {name}: " in line for line in warned), (name, warned)
    # Each warning says why, in words.
    joined = "\n".join(warned)
    assert "not UTF-8" in joined and "binary file" in joined and "empty" in joined
    # A second run changes nothing and warns again.
    again = ingest(runner, corpus)
    assert "unchanged 1," in again.stdout and len(warnings_in(again)) == len(BAD_FILES)


def test_a_file_over_the_size_limit_is_skipped_without_being_read(runner: CliRunner, tmp_path: Path) -> None:
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    (corpus / "good.txt").write_text(GOOD, encoding="utf-8")
    with (corpus / "huge.txt").open("wb") as handle:  # sparse: instant to make, 5 MB + 1 to stat
        handle.truncate(MAX_FILE_BYTES + 1)
    result = ingest(runner, corpus)
    assert result.exit_code == 0
    assert "added 1," in result.stdout
    (line,) = warnings_in(result)
    assert "huge.txt" in line and "too large" in line


def test_a_large_file_under_the_limit_is_indexed(runner: CliRunner, tmp_path: Path) -> None:
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    sentence = "Kim Jong Un inspected the new Aurus Senat limousine in Pyongyang on {n} June, officials said. "
    text = "".join(sentence.format(n=n) + ("\n" if n % 5 == 4 else "") for n in range(8000))  # ~0.75 MB
    (corpus / "long.txt").write_text(text, encoding="utf-8")
    result = ingest(runner, corpus)
    assert result.exit_code == 0 and "added 1," in result.stdout and not warnings_in(result)


def test_a_file_whose_name_is_not_utf8_is_skipped_not_a_crash(runner: CliRunner, tmp_path: Path) -> None:
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    (corpus / "good.txt").write_text(GOOD, encoding="utf-8")
    # A file name that is not valid UTF-8 (e.g. copied from an old Latin-1 file system).
    bad_name = os.fsencode(corpus) + b"/caf\xe9-report.txt"
    with open(bad_name, "wb") as handle:  # noqa: PTH123 - pathlib cannot spell a non-UTF-8 name
        handle.write(GOOD.encode())
    result = ingest(runner, corpus)
    assert result.exit_code == 0, result.output
    assert "added 1," in result.stdout
    (line,) = warnings_in(result)
    assert "caf" in line and "-report.txt" in line


def test_a_file_with_only_page_furniture_is_skipped_with_a_warning(runner: CliRunner, tmp_path: Path) -> None:
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    (corpus / "good.txt").write_text(GOOD, encoding="utf-8")
    (corpus / "menu.txt").write_text("Home\nNews\nLeave a Reply\nAbout Author\n", encoding="utf-8")
    result = ingest(runner, corpus)
    assert result.exit_code == 0
    # Nothing of it can be indexed, so it must not be reported as added (and then "added" again on every run).
    assert "added 1," in result.stdout
    (line,) = warnings_in(result)
    assert "menu.txt" in line
