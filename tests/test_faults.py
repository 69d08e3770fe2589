"""Faults: a dead or slow model backend, a missing or corrupted index, a killed ingest,
re-indexing under live traffic. Each fault must end in a clear message or a recovery,
never in lost or half-written data.

CLI checks run `qa` in real subprocesses (fake embedder and generator), so a crash is a
real crash and a SIGKILL is a real SIGKILL.
"""

from __future__ import annotations

import json
import os
import re
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from litestar import Litestar
from litestar.testing import TestClient

from qa.api import create_app
from qa.config import Settings
from qa.sources import split_into_chunks
from qa.wiring import build_pipeline
from scripts.load_test import ServerProcess
from tests.conftest import SEEDS, fake_settings

QA = [sys.executable, "-m", "qa.cli"]
FAKE_ENV = {"QA_EMBED__BACKEND": "fake", "QA_LLM__BACKEND": "fake", "QA_CORPUS": str(SEEDS)}


def qa_env(home: Path, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("QA_")}
    env.update(FAKE_ENV)
    env["QA_HOME"] = str(home)
    env.update(extra)
    return env


def run_qa(home: Path, *args: str, timeout: float = 180, **extra: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*QA, *args], env=qa_env(home, **extra), capture_output=True, text=True, timeout=timeout, check=False
    )


def index_state(home: Path) -> dict[str, Any]:
    """Every chunk in the index: ids, and per source the recorded vs present chunk counts.

    Opened in this process only after the subprocesses that wrote it have exited.
    """
    store = build_pipeline(Settings(home=home, embed={"backend": "fake"}, llm={"backend": "fake"})).store  # type: ignore[arg-type]
    rows = store.rows()
    ids: list[str] = [row.chunk.id for row in rows]
    per_source: dict[str, list[int]] = {}
    positions: list[tuple[str, int]] = []
    for row in rows:
        per_source.setdefault(row.chunk.source, []).append(row.n_chunks)
        positions.append((row.chunk.source, row.chunk.start))
    return {"ids": ids, "per_source": per_source, "positions": positions, "sources": store.sources()}


# --- index missing or corrupted --------------------------------------------------------


def one_line_error(result: subprocess.CompletedProcess[str]) -> str:
    assert result.returncode != 0, result.stdout
    assert "Traceback" not in result.stderr, result.stderr
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("qa: error: ")
    return lines[0]


def test_missing_index_directory_is_rebuilt_on_first_ask(isolated_home: Path) -> None:
    assert run_qa(isolated_home, "ingest").returncode == 0
    for path in sorted((isolated_home / "chroma").rglob("*"), reverse=True):
        path.rmdir() if path.is_dir() else path.unlink()
    (isolated_home / "chroma").rmdir()
    result = run_qa(isolated_home, "ask", "--json", "What did Kim Yo Jong say about the car?")
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout)["citations"]


def test_corrupted_index_gives_one_line_error_and_rebuild_recovers(isolated_home: Path) -> None:
    assert run_qa(isolated_home, "ingest").returncode == 0
    clean = index_state_after(isolated_home)
    sqlite = isolated_home / "chroma" / "chroma.sqlite3"
    sqlite.write_bytes(b"this is not a database " * 4096)

    line = one_line_error(run_qa(isolated_home, "ask", "How many Aurus cars has Kim received?"))
    assert "index" in line and "qa ingest --rebuild" in line

    rebuilt = run_qa(isolated_home, "ingest", "--rebuild")
    assert rebuilt.returncode == 0, f"`qa ingest --rebuild` did not recover a corrupted index: {rebuilt.stderr}"
    assert sorted(index_state(isolated_home)["ids"]) == clean
    assert run_qa(isolated_home, "ask", "How many Aurus cars has Kim received?").returncode == 0


def index_state_after(home: Path) -> list[str]:
    """The sorted chunk ids, read in a separate process (this one must not cache the client)."""
    code = (
        "import json, sys; from qa.config import Settings; from qa.wiring import build_pipeline; "
        "s = build_pipeline(Settings(home=sys.argv[1], embed={'backend': 'fake'}, llm={'backend': 'fake'})).store; "
        "print(json.dumps(sorted(r.chunk.id for r in s.rows())))"
    )
    out = subprocess.run(
        [sys.executable, "-c", code, str(home)], capture_output=True, text=True, check=True, timeout=120
    )
    ids: list[str] = json.loads(out.stdout)
    return ids


def test_truncated_index_database_gives_one_line_error_or_recovers(isolated_home: Path) -> None:
    assert run_qa(isolated_home, "ingest").returncode == 0
    sqlite = isolated_home / "chroma" / "chroma.sqlite3"
    sqlite.write_bytes(sqlite.read_bytes()[:8192])  # a disk-full or a copy cut short
    result = run_qa(isolated_home, "ask", "How many Aurus cars has Kim received?")
    if result.returncode != 0:
        assert "qa ingest --rebuild" in one_line_error(result)
    assert run_qa(isolated_home, "ingest", "--rebuild").returncode == 0
    assert run_qa(isolated_home, "ask", "How many Aurus cars has Kim received?").returncode == 0


def test_missing_source_copies_give_one_line_error_and_rebuild_recovers(isolated_home: Path) -> None:
    assert run_qa(isolated_home, "ingest").returncode == 0
    for copy in (isolated_home / "sources").iterdir():
        copy.unlink()
    line = one_line_error(run_qa(isolated_home, "ask", "What did Kim Yo Jong say about the car?"))
    assert "qa ingest --rebuild" in line
    assert run_qa(isolated_home, "ingest", "--rebuild").returncode == 0
    assert run_qa(isolated_home, "ask", "What did Kim Yo Jong say about the car?").returncode == 0


# --- a killed ingest --------------------------------------------------------------------


def make_corpus(root: Path, n_files: int) -> Path:
    """Many small articles built from the seeds' lines, each file different."""
    root.mkdir(parents=True)
    lines = [
        line.strip()
        for seed in sorted(SEEDS.iterdir())
        for line in seed.read_text(encoding="utf-8").splitlines()
        if len(line.split()) >= 8
    ]
    for i in range(n_files):
        body = "\n\n".join(lines[(i * 7 + k) % len(lines)] for k in range(6))
        (root / f"{i:04d}.txt").write_text(f"Report number {i}, filed by desk {i % 13}.\n\n{body}\n", encoding="utf-8")
    return root


def kill_ingest_after(home: Path, corpus: Path, files_done: int) -> int:
    """Start `qa ingest corpus`, SIGKILL it once it reports `files_done` files; return how far it got."""
    proc = subprocess.Popen(
        [*QA, "ingest", str(corpus)], env=qa_env(home), stderr=subprocess.PIPE, stdout=subprocess.DEVNULL
    )
    assert proc.stderr is not None
    seen = 0
    buffer = b""
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        chunk = proc.stderr.read1(4096)
        if not chunk:
            break
        buffer = (buffer + chunk)[-2000:]
        counts = re.findall(rb"ingest: (\d+)file", buffer)
        seen = int(counts[-1]) if counts else 0
        if seen >= files_done:
            proc.send_signal(signal.SIGKILL)
            break
    proc.wait(timeout=30)
    assert proc.returncode == -signal.SIGKILL, f"ingest finished before it could be killed (saw {seen} files)"
    proc.stderr.close()
    return seen


@pytest.mark.parametrize("kill_at", [30, 100])
def test_ingest_killed_midway_is_completed_by_the_next_run(tmp_path: Path, kill_at: int) -> None:
    corpus = make_corpus(tmp_path / "corpus", 150)
    killed_home, clean_home = tmp_path / "killed", tmp_path / "clean"

    reached = kill_ingest_after(killed_home, corpus, kill_at)
    assert reached >= kill_at
    # Kill a second time, a little later, while it is completing the first run.
    kill_ingest_after(killed_home, corpus, 5)

    resumed = run_qa(killed_home, "ingest", str(corpus))
    assert resumed.returncode == 0, resumed.stderr
    assert "Traceback" not in resumed.stderr
    assert run_qa(clean_home, "ingest", str(corpus)).returncode == 0
    again = run_qa(killed_home, "ingest", str(corpus))
    assert "unchanged 150," in again.stdout and "0 chunks written" in again.stdout

    killed, clean = index_state(killed_home), index_state(clean_home)
    assert sorted(killed["ids"]) == sorted(clean["ids"])
    assert len(killed["ids"]) == len(set(killed["ids"]))
    assert len(killed["positions"]) == len(set(killed["positions"])), "two chunks at one place: a duplicate"
    assert set(killed["per_source"]) == {p.name for p in corpus.iterdir()}
    for source, recorded in killed["per_source"].items():
        assert set(recorded) == {len(recorded)}, f"{source} is half indexed: {len(recorded)} of {recorded[0]}"
    assert all(state.complete for state in killed["sources"].values())


# --- the model backend down or slow (HTTP API) -----------------------------------------


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


class SlowOllama:
    """A TCP server on 127.0.0.1 that accepts connections and never answers."""

    def __init__(self) -> None:
        self._sock = socket.socket()
        self._sock.bind(("127.0.0.1", 0))
        self._sock.listen(64)
        self.url = f"http://127.0.0.1:{self._sock.getsockname()[1]}"
        self._conns: list[socket.socket] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._accept, daemon=True)
        self._thread.start()

    def _accept(self) -> None:
        self._sock.settimeout(0.2)
        while not self._stop.is_set():
            try:
                conn, _ = self._sock.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            self._conns.append(conn)

    def close(self) -> None:
        self._stop.set()
        self._thread.join(timeout=5)
        for conn in self._conns:
            conn.close()
        self._sock.close()


@pytest.fixture
def slow_ollama() -> Iterator[SlowOllama]:
    server = SlowOllama()
    yield server
    server.close()


def ollama_app(home: Path, host: str, timeout_s: float = 5.0) -> TestClient[Litestar]:
    """The app over the fake embedder and a real Ollama client pointed at `host`."""
    settings = fake_settings(home, llm={"backend": "ollama", "ollama_host": host, "timeout_s": timeout_s})
    pipeline = build_pipeline(settings)
    pipeline.ingest([SEEDS])
    return TestClient(create_app(pipeline))


EN_QUESTION = "What did Kim Yo Jong say about the car?"
HI_QUESTION = "किम जोंग उन को पुतिन ने कौन सी कार दी?"


def assert_clear_503(response: Any) -> str:
    assert response.status_code == 503, response.text
    message = response.json()["error"]
    assert "language model is unavailable" in message and "127.0.0.1" in message
    assert "\n" not in message and "Traceback" not in message
    return str(message)


def assert_other_routes_serve(client: TestClient[Litestar]) -> None:
    assert client.get("/health").status_code == 200
    assert client.get("/v1/models").status_code == 200
    sources = client.get("/api/sources").json()["sources"]
    assert sources
    name = sources[0]["name"] if isinstance(sources[0], dict) else sources[0]
    assert client.get(f"/api/sources/{name}").status_code == 200


def test_unreachable_model_backend_is_a_clear_503_and_other_routes_keep_serving(isolated_home: Path) -> None:
    closed = free_port()  # nothing listens there
    with ollama_app(isolated_home, f"http://127.0.0.1:{closed}") as client:
        assert_clear_503(client.post("/api/ask", json={"question": EN_QUESTION}))
        chat = {"messages": [{"role": "user", "content": EN_QUESTION}]}
        assert_clear_503(client.post("/api/chat", json=chat))
        assert_clear_503(client.post("/api/chat", json={**chat, "stream": True}))
        assert_clear_503(client.post("/v1/chat/completions", json=chat))
        assert_other_routes_serve(client)
        # And again: a failure does not wedge the queue.
        assert_clear_503(client.post("/api/ask", json={"question": EN_QUESTION}))
        assert client.get("/health").json()["queue"]["running"] == 0


def test_model_backend_slower_than_its_timeout_is_a_503_in_time(isolated_home: Path, slow_ollama: SlowOllama) -> None:
    with ollama_app(isolated_home, slow_ollama.url, timeout_s=1.0) as client:
        results: dict[str, Any] = {}

        def slow_ask() -> None:
            began = time.monotonic()
            results["response"] = client.post("/api/ask", json={"question": EN_QUESTION})
            results["seconds"] = time.monotonic() - began

        worker = threading.Thread(target=slow_ask)
        worker.start()
        time.sleep(0.3)
        began = time.monotonic()
        assert client.get("/health").status_code == 200  # not stuck behind the hung model call
        assert time.monotonic() - began < 1.0
        worker.join(timeout=30)
        assert not worker.is_alive()
        message = assert_clear_503(results["response"])
        assert "timed out" in message
        assert results["seconds"] < 10
        assert_other_routes_serve(client)


def test_app_survives_a_lifespan_restart(isolated_home: Path) -> None:
    """The same app object started, stopped and started again (tests, reloaders, embedding ASGI hosts)."""
    pipeline = build_pipeline(fake_settings(isolated_home))
    pipeline.ingest([SEEDS])
    app = create_app(pipeline)
    with TestClient(app) as client:
        assert client.post("/api/ask", json={"question": EN_QUESTION}).status_code == 200
    with TestClient(app) as client:
        again = client.post("/api/ask", json={"question": EN_QUESTION})
        assert again.status_code == 200, again.text


# --- re-indexing while the server answers -----------------------------------------------------------


class Versions:
    """Every text each corpus file has had, and the chunk ids each version produces."""

    def __init__(self) -> None:
        self.by_chunk: dict[str, str] = {}

    def record(self, name: str, text: str) -> None:
        for chunk in split_into_chunks(name, text, 60, 0):
            self.by_chunk[chunk.id] = text

    def check(self, cite: dict[str, Any]) -> str | None:
        text = self.by_chunk.get(cite["chunk_id"])
        if text is None:
            return f"chunk {cite['chunk_id']} of {cite['source']} belongs to no version of the file"
        if text[cite["start"] : cite["end"]] != cite["quote"]:
            return f"quote of {cite['source']}[{cite['start']}:{cite['end']}] is not that version's text"
        return None


def ask_until(stop: threading.Event, url: str, versions: Versions, outcomes: list[str]) -> None:
    questions = [
        EN_QUESTION,
        HI_QUESTION,
        "How many Aurus cars has Kim received?",
        "What happened at the summit in 2024?",
    ]
    with httpx.Client(base_url=url, timeout=60) as client:
        n = 0
        while not stop.is_set():
            question = questions[n % len(questions)]
            n += 1
            try:
                if n % 2:
                    response = client.post("/api/ask", json={"question": question})
                    citations = response.json().get("citations", []) if response.status_code == 200 else []
                else:
                    body = {"messages": [{"role": "user", "content": question}]}
                    response = client.post("/v1/chat/completions", json=body)
                    message = response.json()["choices"][0]["message"] if response.status_code == 200 else {}
                    citations = message.get("citations", [])
            except httpx.HTTPError as exc:
                outcomes.append(f"transport error: {exc!r}")
                continue
            if response.status_code in (429, 503) and "retry-after" in response.headers:
                outcomes.append("busy")
                continue
            if response.status_code != 200:
                outcomes.append(f"{response.status_code}: {response.text[:200]}")
                continue
            problems = [p for p in (versions.check(c) for c in citations) if p]
            outcomes.append("; ".join(problems) if problems else "ok")


def test_reindexing_while_the_server_answers_keeps_every_answer_valid(tmp_path: Path) -> None:
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    versions = Versions()
    for seed in sorted(SEEDS.iterdir()):
        text = seed.read_text(encoding="utf-8")
        (corpus / seed.name).write_text(text, encoding="utf-8")
        versions.record(seed.name, text)
    home = tmp_path / "home"
    env = qa_env(home, QA_CORPUS=str(corpus))
    with ServerProcess(env, log_path=tmp_path / "server.log") as server:
        stop = threading.Event()
        outcomes: list[str] = []
        asker = threading.Thread(target=ask_until, args=(stop, server.url, versions, outcomes))
        asker.start()
        try:
            edited = sorted(corpus.iterdir())[2]
            for round_ in range(4):
                time.sleep(0.5)
                text = (
                    edited.read_text(encoding="utf-8") + f"\nIn update {round_}, Kim Yo Jong said the car ran well.\n"
                )
                versions.record(edited.name, text)
                edited.write_text(text, encoding="utf-8")
                extra = corpus / f"extra-{round_}.txt"
                extra_text = f"Report {round_}: Putin gave Kim Jong Un an Aurus car, Kim Yo Jong said in Pyongyang.\n"
                versions.record(extra.name, extra_text)
                extra.write_text(extra_text, encoding="utf-8")
                if round_:
                    (corpus / f"extra-{round_ - 1}.txt").unlink()
                done = run_qa(home, "ingest", str(corpus), QA_CORPUS=str(corpus))
                assert done.returncode == 0, done.stderr
                assert "Traceback" not in done.stderr
            time.sleep(1.0)
        finally:
            stop.set()
            asker.join(timeout=120)
        after = httpx.post(f"{server.url}/api/ask", json={"question": EN_QUESTION}, timeout=60)
    bad = [o for o in outcomes if o not in {"ok", "busy"}]
    assert outcomes.count("ok") >= 20, outcomes[:20]
    assert not bad, f"{len(bad)} of {len(outcomes)} answers went wrong while re-indexing: {sorted(set(bad))[:5]}"
    assert after.status_code == 200
