"""The saved system-prompt state of the embedded model: file handling on a fake slot API,
then a real restore in a second llama.cpp instance."""

from __future__ import annotations

import gc
import json
from pathlib import Path
from typing import Any

import pytest

from qa.llm import LlamaCppGenerator, SavedPromptState, resolve_model
from tests.conftest import REPO


class FakeSlotApi:
    """Stands in for llama.cpp's /slots endpoint: `save` writes a file, `restore` reads one."""

    def __init__(self, folder: Path, fail: bool = False) -> None:
        self.folder = folder
        self.fail = fail
        self.calls: list[tuple[str, str]] = []

    def __call__(self, action: str, filename: str) -> dict[str, Any]:
        self.calls.append((action, filename))
        if self.fail:
            raise RuntimeError("slot file is corrupt")
        if action == "save":
            (self.folder / filename).write_bytes(b"kv" * 10)
            return {"n_saved": 10}
        return {"n_restored": len((self.folder / filename).read_bytes()) // 2}


def state_in(folder: Path) -> SavedPromptState:
    model = folder / "model.gguf"
    model.write_bytes(b"weights")
    return SavedPromptState(folder / "state", model, "test-runtime")


def test_nothing_saved_means_nothing_restored(tmp_path: Path) -> None:
    state, api = state_in(tmp_path), FakeSlotApi(tmp_path / "state")
    assert state.restore(api) == 0
    assert api.calls == []


def test_save_goes_through_a_private_name_and_happens_once(tmp_path: Path) -> None:
    state, api = state_in(tmp_path), FakeSlotApi(tmp_path / "state")
    state.save_once(api)
    state.save_once(api)
    assert [action for action, _ in api.calls] == ["save"]
    assert api.calls[0][1] != state.filename and api.calls[0][1].startswith(state.filename)
    assert [p.name for p in (tmp_path / "state").iterdir()] == [state.filename]
    assert state.restore(api) == 10


def test_a_state_that_fails_to_restore_is_removed_and_ignored(tmp_path: Path) -> None:
    state = state_in(tmp_path)
    state.save_once(FakeSlotApi(tmp_path / "state"))
    assert state.restore(FakeSlotApi(tmp_path / "state", fail=True)) == 0
    assert not (tmp_path / "state" / state.filename).exists()


def test_a_failed_save_leaves_no_file(tmp_path: Path) -> None:
    state = state_in(tmp_path)
    state.save_once(FakeSlotApi(tmp_path / "state", fail=True))
    assert list((tmp_path / "state").iterdir()) == []


def test_another_model_file_gets_another_state(tmp_path: Path) -> None:
    first = state_in(tmp_path)
    other = tmp_path / "other.gguf"
    other.write_bytes(b"other weights")
    assert SavedPromptState(tmp_path / "state", other, "test-runtime").filename != first.filename
    assert state_in(tmp_path).filename == first.filename


SCHEMA = {"type": "object", "properties": {"answer": {"type": "string"}}, "required": ["answer"]}
SYSTEM = "You answer questions about cars in one short sentence. " * 8


def ask(generator: LlamaCppGenerator, question: str) -> str:
    messages = [{"role": "system", "content": SYSTEM}, {"role": "user", "content": question}]
    return str(json.loads(generator.generate(messages, SCHEMA, max_tokens=24))["answer"])


@pytest.mark.slow
def test_a_second_model_instance_starts_from_the_saved_prompt_state(tmp_path: Path) -> None:
    model = resolve_model("qwen2.5-coder-1.5b", None, REPO / ".qa-home" / "models")
    first = LlamaCppGenerator(model, threads=2, context=1024, state_dir=tmp_path)
    assert first.restored_tokens == 0
    assert ask(first, "Which company makes the Senat limousine?")
    del first
    gc.collect()
    assert len(list(tmp_path.glob("prompt-state-*.bin"))) == 1
    second = LlamaCppGenerator(model, threads=2, context=1024, state_dir=tmp_path)
    # The system prompt alone is ~100 tokens; all of the first prompt and its answer come back.
    assert second.restored_tokens > 100
    assert ask(second, "What colour was the limousine?")
