"""Load: scripts/load_test.py against a real `qa serve` subprocess.

The slow test runs the short form (8 clients x 10 s) against the real model; the fast one
runs 4 clients x 3 s against a server wired with the fake embedder and generator. Both
require every response to be a valid answer or a deliberate 429/503 with Retry-After,
and the server's memory to stay bounded (see scripts/load_test.py for the invariants).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from scripts.load_test import ServerProcess, check_loopback, parse_args
from tests.conftest import REPO, SEEDS

SCRIPT = REPO / "scripts" / "load_test.py"


def run_load(
    server: ServerProcess, out: Path, clients: int, duration: float
) -> tuple[subprocess.CompletedProcess[str], dict[str, Any]]:
    command = [sys.executable, str(SCRIPT), "--url", server.url, "--pid", str(server.pid), "--require-rss",
               "--clients", str(clients), "--duration", str(duration), "--json", str(out)]  # fmt: skip
    done = subprocess.run(command, capture_output=True, text=True, timeout=duration + 400, check=False)
    report = json.loads(out.read_text(encoding="utf-8")) if out.exists() else {}
    return done, report


def assert_held(done: subprocess.CompletedProcess[str], report: dict[str, Any], clients: int) -> None:
    print(done.stdout)
    assert done.returncode == 0, done.stdout + done.stderr
    assert report["passed"] and not report["violations"]
    assert report["clients"] == clients
    assert report["outcomes"].get("ok", 0) >= 1
    assert set(report["outcomes"]) <= {"ok", "429", "503"}
    assert set(report["by_endpoint"]) == {"ask", "chat-stream", "v1"}
    assert report["rss"]["samples"] >= 2


@pytest.mark.slow
def test_short_load_against_the_real_model(tmp_path: Path) -> None:
    env = {
        "QA_HOME": str(tmp_path / "home"),
        "QA_MODELS_DIR": str(REPO / ".qa-home" / "models"),
        "QA_CORPUS": str(SEEDS),
    }
    env = {**{k: v for k, v in os.environ.items() if not k.startswith("QA_")}, **env}
    with ServerProcess(env, log_path=tmp_path / "server.log") as server:
        done, report = run_load(server, tmp_path / "report.json", clients=8, duration=10)
        assert server.proc is not None and server.proc.poll() is None, "the server died under load"
    assert_held(done, report, clients=8)


def test_short_load_against_a_fake_backed_server(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("QA_")}
    env.update({"QA_HOME": str(tmp_path / "home"), "QA_CORPUS": str(SEEDS),
                "QA_EMBED__BACKEND": "fake", "QA_LLM__BACKEND": "fake"})  # fmt: skip
    with ServerProcess(env, log_path=tmp_path / "server.log") as server:
        done, report = run_load(server, tmp_path / "report.json", clients=4, duration=3)
    assert_held(done, report, clients=4)
    # Answers, not a rate: on a busy machine 3 s hold 11 answers, on an idle one ~390 in 5 s (a figure
    # for docs/reliability.md, measured, not asserted).
    assert report["outcomes"]["ok"] >= 4


@pytest.mark.parametrize(
    "url", ["http://10.0.0.1:8000", "http://localhost:8000", "http://0.0.0.0:8000", "https://127.0.0.1:8000",
            "http://127.0.0.1.example.com:8000", "http://[::1]:8000", "http://127.0.0.1:8000/prefix"],
)  # fmt: skip
def test_the_load_script_only_talks_to_loopback(url: str) -> None:
    with pytest.raises(SystemExit) as exit_info:
        parse_args(["--url", url])
    assert exit_info.value.code == 2


@pytest.mark.parametrize(
    "argv", [["--clients", "0"], ["--clients", "1000"], ["--duration", "0"], ["--duration", "3600"]]
)
def test_the_load_script_is_bounded(argv: list[str]) -> None:
    with pytest.raises(SystemExit):
        parse_args(argv)


def test_loopback_url_is_accepted() -> None:
    check_loopback(None, "http://127.0.0.1:8000")  # type: ignore[arg-type]
