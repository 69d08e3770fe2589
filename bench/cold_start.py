"""Stage 2, cold start: `qa ask --json` as a subprocess on the ingested index: wall time and
peak memory, without the model (fake LLM backend), with the embedded default, and on a first
run (no saved prompt state)."""

from __future__ import annotations

import contextlib
import json
import os
import shlex
import subprocess
import sys
import tempfile
import time
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bench.common import REPO, log
from bench.machine import proc_memory, summarise

COLD_QUESTION = "Which car did Putin give to Kim Jong Un as a gift?"

COLD_START_ENV = {
    "fake": "QA_LLM__BACKEND=fake",
    "embedded": "QA_LLM__BACKEND unset (default); the model's saved prompt state exists (any run after the first)",
    "embedded-first-run": "QA_LLM__BACKEND unset; QA_MODELS_DIR is a fresh folder linking the model file, "
    "so there is no saved prompt state (the first run on a machine)",
}


@dataclass
class CliRun:
    """One finished command: wall time, exit code, output, and peak memory from wait4 and /proc."""

    wall_s: float
    exit_code: int
    stdout: str
    stderr_tail: str
    max_rss_mb: float | None
    cpu_s: float | None
    peak_rss_anon_mb: float
    peak_rss_file_mb: float

    def measures(self) -> dict[str, Any]:
        """Everything but the output, in the order the results list them."""
        return {
            "wall_s": self.wall_s,
            "exit_code": self.exit_code,
            "max_rss_mb": self.max_rss_mb,
            "cpu_s": self.cpu_s,
            "peak_rss_anon_mb": self.peak_rss_anon_mb,
            "peak_rss_file_mb": self.peak_rss_file_mb,
        }


def run_cli(args: list[str], env: dict[str, str], timeout: float) -> CliRun:
    """Run a command, returning wall time, exit code, stdout, and peak memory from wait4 and /proc."""
    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
        started = time.perf_counter()
        proc = subprocess.Popen(args, stdout=out, stderr=err, env=env, cwd=REPO)
        status, usage, peak = _wait_sampling_memory(proc, started, timeout)
        wall = time.perf_counter() - started
        proc.returncode = os.waitstatus_to_exitcode(status)
        out.seek(0)
        err.seek(0)
        stdout = out.read().decode("utf-8", "replace")
        stderr = err.read().decode("utf-8", "replace")
    return CliRun(
        wall_s=round(wall, 3),
        exit_code=proc.returncode,
        stdout=stdout,
        stderr_tail=stderr[-600:],
        max_rss_mb=round(usage.ru_maxrss / 1024, 1) if usage else None,
        cpu_s=round(usage.ru_utime + usage.ru_stime, 3) if usage else None,
        peak_rss_anon_mb=round(peak.get("RssAnon", 0.0), 1),
        peak_rss_file_mb=round(peak.get("RssFile", 0.0), 1),
    )


def _wait_sampling_memory(
    proc: subprocess.Popen[bytes], started: float, timeout: float
) -> tuple[int, Any, dict[str, float]]:
    """wait4 the process (killing it after `timeout`), sampling /proc for its memory meanwhile."""
    peak: dict[str, float] = defaultdict(float)
    while True:
        pid, status, usage = os.wait4(proc.pid, os.WNOHANG)
        if pid:
            return status, usage, peak
        for key, value in proc_memory(proc.pid).items():
            peak[key] = max(peak[key], value)
        if time.perf_counter() - started > timeout:
            proc.kill()
            pid, status, usage = os.wait4(proc.pid, 0)
            return status, usage, peak
        time.sleep(0.02)


def _models_without_saved_state(stack: contextlib.ExitStack[Any]) -> str:
    """A temporary models folder with links to the model files and no `state/` folder."""
    folder = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="qa-bench-models-")))
    for model in Path(os.environ["QA_MODELS_DIR"]).glob("*.gguf"):
        (folder / model.name).symlink_to(model)
    return str(folder)


def stage_cold_start(reps: int, backends: list[str]) -> dict[str, Any]:
    qa_bin = Path(sys.executable).with_name("qa")
    command = [str(qa_bin), "ask", "--json", COLD_QUESTION]
    out: dict[str, Any] = {"command": shlex.join(command), "question": COLD_QUESTION, "warm_page_cache": True}
    for backend in backends:
        env = _backend_env(backend)
        if backend == "embedded":
            # Untimed: makes sure the saved prompt state exists, as on any run after the first.
            run_cli(command, env, timeout=600)
        runs = []
        for rep in range(reps):
            with contextlib.ExitStack() as stack:
                if backend == "embedded-first-run":
                    env["QA_MODELS_DIR"] = _models_without_saved_state(stack)
                result = run_cli(command, env, timeout=600)
            runs.append(_run_row(result))
            log(f"cold start ({backend}) {rep + 1}/{reps}: {result.wall_s:.2f}s exit {result.exit_code}")
        out[backend] = _backend_summary(backend, runs)
    return out


def _backend_env(backend: str) -> dict[str, str]:
    env = dict(os.environ)
    env.pop("QA_LLM__BACKEND", None)
    if backend == "fake":
        env["QA_LLM__BACKEND"] = backend
    return env


def _run_row(result: CliRun) -> dict[str, Any]:
    """One run's measures plus what `qa ask --json` reported (its own timing, mode, answer)."""
    answer: dict[str, Any] = {}
    with contextlib.suppress(json.JSONDecodeError, IndexError):
        answer = json.loads(result.stdout.strip().splitlines()[-1])
    total_ms = (answer.get("timings") or {}).get("total_ms")
    return {
        **result.measures(),
        "answer_total_ms": total_ms,
        "startup_s": round(result.wall_s - total_ms / 1000, 3) if total_ms is not None else None,
        "mode": answer.get("mode"),
        "answer": (answer.get("answer") or "")[:160],
        **({"stderr_tail": result.stderr_tail} if result.exit_code else {}),
    }


def _backend_summary(backend: str, runs: list[dict[str, Any]]) -> dict[str, Any]:
    walls = [r["wall_s"] for r in runs if r["exit_code"] == 0]
    return {
        "env": COLD_START_ENV[backend],
        "wall_s": summarise(walls)["p50"],
        "wall": summarise(walls),
        "startup_s": summarise([r["startup_s"] for r in runs if r["startup_s"] is not None])["p50"],
        "max_rss_mb": max((r["max_rss_mb"] or 0) for r in runs) or None,
        "peak_rss_anon_mb": max(r["peak_rss_anon_mb"] for r in runs),
        "peak_rss_file_mb": max(r["peak_rss_file_mb"] for r in runs),
        "failures": sum(1 for r in runs if r["exit_code"] != 0),
        "runs": runs,
    }
