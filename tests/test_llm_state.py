"""The saved system-prompt state of the embedded model: file handling on a fake slot API
(fast), then real llama.cpp instances restoring it (slow)."""

from __future__ import annotations

import gc
from pathlib import Path
from typing import Any

import pytest

from qa.llm import LlamaCppGenerator, SavedPromptState, resolve_model
from tests.conftest import REPO


class FakeSlotApi:
    """Stands in for llama.cpp's /slots endpoint: `save` writes a file, `restore` reads one.

    `fail` makes every call raise; with `fail_after_write` a save writes its file first.
    """

    def __init__(self, folder: Path, fail: bool = False, fail_after_write: bool = False) -> None:
        self.folder = folder
        self.fail = fail
        self.fail_after_write = fail_after_write
        self.calls: list[tuple[str, str]] = []

    def __call__(self, action: str, filename: str) -> dict[str, Any]:
        self.calls.append((action, filename))
        if self.fail:
            raise RuntimeError("slot file is corrupt")
        if action == "save":
            (self.folder / filename).write_bytes(b"kv" * 10)
            if self.fail_after_write:
                raise RuntimeError("disk full")
            return {"n_saved": 10}
        return {"n_restored": len((self.folder / filename).read_bytes()) // 2}


def state_in(folder: Path, model_key: str = "model.gguf|7|1|test", system: str = "Answer briefly.") -> SavedPromptState:
    return SavedPromptState(folder / "state", model_key, system)


def test_nothing_saved_means_nothing_restored(tmp_path: Path) -> None:
    state, api = state_in(tmp_path), FakeSlotApi(tmp_path / "state")
    assert state.restore(api) == 0
    assert api.calls == []


def test_save_goes_through_a_private_name(tmp_path: Path) -> None:
    state, api = state_in(tmp_path), FakeSlotApi(tmp_path / "state")
    state.save(api)
    assert [action for action, _ in api.calls] == ["save"]
    assert api.calls[0][1] != state.filename and api.calls[0][1].startswith(state.filename)
    assert [p.name for p in (tmp_path / "state").iterdir()] == [state.filename]
    assert (tmp_path / "state").stat().st_mode & 0o777 == 0o700
    assert state.restore(api) == 10


def test_a_state_that_fails_to_restore_is_removed_and_ignored(tmp_path: Path) -> None:
    state = state_in(tmp_path)
    state.save(FakeSlotApi(tmp_path / "state"))
    assert state.restore(FakeSlotApi(tmp_path / "state", fail=True)) == 0
    assert not (tmp_path / "state" / state.filename).exists()


@pytest.mark.parametrize("api", [{"fail": True}, {"fail_after_write": True}])
def test_a_failed_save_leaves_no_file(tmp_path: Path, api: dict[str, bool]) -> None:
    state = state_in(tmp_path)
    state.save(FakeSlotApi(tmp_path / "state", **api))
    assert list((tmp_path / "state").iterdir()) == []


def test_the_file_name_changes_with_the_model_and_the_system_prompt(tmp_path: Path) -> None:
    name = state_in(tmp_path).filename
    assert state_in(tmp_path).filename == name
    assert state_in(tmp_path, model_key="model.gguf|7|2|test").filename != name  # same name and size, new mtime
    assert state_in(tmp_path, system="Answer at length.").filename != name


SCHEMA = {"type": "object", "properties": {"answer": {"type": "string"}}, "required": ["answer"]}
SYSTEM = "You answer questions about cars in one short sentence. " * 8


def ask(generator: LlamaCppGenerator, question: str) -> str:
    """The model's reply: JSON by the schema, possibly cut short by the token cap."""
    messages = [{"role": "system", "content": SYSTEM}, {"role": "user", "content": question}]
    reply = generator.generate(messages, SCHEMA, max_tokens=24)
    assert reply.startswith("{")
    return reply


def restored_after_first_process_asked(model: Path, state_dir: Path, question: str) -> int:
    """A first model instance answers `question` (and saves the state), a second one answers again."""
    first = LlamaCppGenerator(model, threads=2, context=1024, state_dir=state_dir)
    assert ask(first, question)
    assert first.restored_tokens == 0
    del first
    gc.collect()
    assert len(list(state_dir.glob("prompt-state-*.bin"))) == 1
    second = LlamaCppGenerator(model, threads=2, context=1024, state_dir=state_dir)
    assert ask(second, "What colour was the limousine?")
    restored = second.restored_tokens
    del second
    gc.collect()
    return restored


@pytest.mark.slow
def test_new_processes_start_from_the_saved_system_prompt_and_nothing_of_a_user(tmp_path: Path) -> None:
    model = resolve_model("qwen2.5-coder-1.5b", None, REPO / ".qa-home" / "models")
    short = restored_after_first_process_asked(model, tmp_path / "a", "Who makes the Senat?")
    long = restored_after_first_process_asked(
        model, tmp_path / "b", "Which company makes the Senat limousine that was given as a gift, and when? " * 4
    )
    assert short > 80  # the system prompt alone is ~90 tokens
    assert long == short  # the first user's question is not in the saved state
