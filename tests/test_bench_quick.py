"""The quick benchmark runs end to end and reports every figure (real embedder and model)."""

from __future__ import annotations

import json
import math
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

REPO = Path(__file__).resolve().parent.parent


def _number(results: dict[str, Any], path: str) -> float:
    value: Any = results
    for key in path.split("."):
        assert isinstance(value, dict) and key in value, f"{path}: {key!r} missing from the results"
        value = value[key]
    assert isinstance(value, int | float) and not isinstance(value, bool), f"{path} is {value!r}, not a number"
    assert math.isfinite(value), f"{path} is {value}"
    return float(value)


@pytest.mark.slow
def test_quick_bench_reports_every_figure(tmp_path: Path) -> None:
    out = tmp_path / "latest.json"
    env = dict(os.environ)
    env.setdefault("QA_MODELS_DIR", str(REPO / ".qa-home" / "models"))
    done = subprocess.run(
        [sys.executable, "-m", "bench", "--quick", "--out", str(out)],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=900,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    assert "PASS" in done.stdout or "MISS" in done.stdout, done.stdout[-2000:]
    results = json.loads(out.read_text(encoding="utf-8"))

    assert results["mode"] == "quick"
    for key in ("cpu", "cores", "ram_gib", "python", "packages"):
        assert results["machine"][key], f"machine.{key} is empty"
    assert results["machine"]["packages"]["chromadb"]

    positive = [
        "ingest.chunks_per_s",
        "ingest.chunks",
        "retrieval.sizes.1000.p50_ms",
        "retrieval.sizes.1000.p95_ms",
        "retrieval.sizes.1000.search_only_p50_ms",
        "answers.p50_ms",
        "answers.p95_ms",
        "answers.first_token_p50_ms",
        "answers.first_token_p95_ms",
        "cold_start.embedded.wall_s",
        "cold_start.fake.wall_s",
        "memory.peak_rss_mb",
        "memory.bench_process_peak_rss_mb",
        "stock.p50_ms",
        "stock.qa_p50_ms",
        "stock.speedup_p50",
    ]
    for path in positive:
        assert _number(results, path) > 0, f"{path} should be > 0"
    for path in ("answers.accuracy", "stock.accuracy", "stock.qa_accuracy"):
        assert 0 <= _number(results, path) <= 1, f"{path} is not a fraction"

    assert results["retrieval"]["sizes"]["1000"]["chunks"] == 1000
    assert results["answers"]["n"] == 5
    assert results["stock"]["n"] >= 1
    assert results["cold_start"]["embedded"]["failures"] == 0
    assert results["answers"]["llm"] is not None, "no answer reached the model: no prompt/generation timings"
    assert "synthetic" in results["retrieval"]["method"]

    names = [t["name"] for t in results["targets"]]
    assert len(names) >= 8
    for target in results["targets"]:
        assert isinstance(target["pass"], bool), target
        assert target["value"] is not None, f"target {target['name']} has no value"
