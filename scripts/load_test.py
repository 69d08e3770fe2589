#!/usr/bin/env python3
"""Load test for a running `qa serve`: N concurrent clients for T seconds, loopback only.

    .venv/bin/python scripts/load_test.py --url http://127.0.0.1:8000 --clients 32 --duration 60
    .venv/bin/python scripts/load_test.py --spawn --clients 8 --duration 10   # starts and stops its own server

Each client loops over a mix of `POST /api/ask`, streamed `POST /api/chat` and
`POST /v1/chat/completions` with English, Hindi and Marathi questions (on and off topic).
`--mix repeat` (default) cycles 8 questions per client; `--mix distinct` hands out the
questions of eval/cases.jsonl (180+, en/hi/mr, without history) from one shared pool, so no
question is asked twice: a question refused with 429/503 is retried by the same client, and a
client stops when the pool is empty (see `questions_asked` in the report).
Invariants, any breach of which makes the exit status non-zero:

* every 200 is a valid answer: the Answer JSON validates, a refusal cites nothing, an answer
  cites something, and every citation's quote equals the source text [start:end] as served
  by `/api/sources/{name}`; a stream is delta* then one answer then done, with no error event;
* every refusal to work is deliberate: 429 or 503 with a `Retry-After` header (the client
  then waits min(Retry-After, --max-backoff) seconds);
* nothing else: no other 4xx or 5xx, no connection error, no timeout;
* the server's resident memory (psutil if installed, else /proc/<pid>/status VmRSS) grows by
  at most --max-rss-growth-mb over the run.

Bounded in time and count: new requests stop after --duration seconds (or --max-requests),
requests still running get --grace seconds, and only 127.0.0.1 is ever contacted.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import itertools
import json
import math
import os
import random
import re
import signal
import socket
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import quote, urlsplit

import httpx

from qa.evals.metrics import percentile

LOOPBACK = "127.0.0.1"
MAX_CLIENTS = 256
MAX_DURATION_S = 600.0
MAX_REQUESTS = 100_000

QUESTIONS = [
    "How many Aurus cars has Kim received?",
    "What did Kim Yo Jong say about the car?",
    "What gifts did Putin give Kim Jong-un during his June 2024 visit to North Korea?",
    "How many luxury cars were waiting for Kim at the Vladivostok station in 2019?",
    "Which sectors did the North Korean delegations that held exchanges with Russia cover?",
    "किम जोंग उन को पुतिन ने कौन सी कार दी?",
    "किमला किती ऑरस गाड्या मिळाल्या?",
    "What is the capital of Australia?",
]
FOLLOW_UP = [
    {"role": "user", "content": "What did Kim Yo Jong say about the car?"},
    {"role": "assistant", "content": "She said her brother used the limousine for the first time."},
    {"role": "user", "content": "When was it delivered?"},
]
CASES = Path(__file__).resolve().parent.parent / "eval" / "cases.jsonl"
# Endpoint mix, by weight.
MIX = [("ask", 4), ("chat-stream", 3), ("v1", 3)]


# --- the server under test -----------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind((LOOPBACK, 0))
        port: int = sock.getsockname()[1]
        return port


class ServerProcess:
    """`qa serve` on 127.0.0.1:<free port> in a subprocess; `with` waits until /health says ok."""

    def __init__(
        self, env: dict[str, str] | None = None, log_path: Path | None = None, port: int | None = None
    ) -> None:
        self.port = port or free_port()
        self.url = f"http://{LOOPBACK}:{self.port}"
        self.env = {**os.environ, **(env or {})}
        self.log_path = log_path
        self.proc: subprocess.Popen[bytes] | None = None
        self._log: Any = None

    @property
    def pid(self) -> int:
        assert self.proc is not None
        return self.proc.pid

    def start(self, ready_timeout: float = 600.0, token: str | None = None) -> ServerProcess:
        command = [sys.executable, "-m", "qa.cli", "serve", "--host", LOOPBACK, "--port", str(self.port)]
        self._log = self.log_path.open("wb") if self.log_path else subprocess.DEVNULL
        self.proc = subprocess.Popen(command, env=self.env, stdout=self._log, stderr=subprocess.STDOUT)
        wait_ready(self.url, ready_timeout, token, self.proc)
        return self

    def stop(self) -> int | None:
        if self.proc is None:
            return None
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGINT)
            try:
                self.proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=10)
        if self.log_path and self._log is not None:
            self._log.close()
        return self.proc.returncode

    def __enter__(self) -> ServerProcess:
        return self.start()

    def __exit__(self, *_: object) -> None:
        self.stop()


def wait_ready(url: str, timeout: float, token: str | None = None, proc: subprocess.Popen[bytes] | None = None) -> None:
    """Poll /health until it answers 200 (the model and index are loaded)."""
    deadline = time.monotonic() + timeout
    last = "no answer"
    with httpx.Client(timeout=5.0, headers=auth(token)) as client:
        while time.monotonic() < deadline:
            if proc is not None and proc.poll() is not None:
                raise RuntimeError(f"qa serve exited with status {proc.returncode} before it was ready")
            try:
                response = client.get(f"{url}/health")
                if response.status_code == 200:
                    return
                last = f"{response.status_code} {response.text[:200]}"
            except httpx.HTTPError as exc:
                last = repr(exc)
            time.sleep(0.25)
    raise TimeoutError(f"{url} was not ready after {timeout:.0f} s: {last}")


def auth(token: str | None) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"} if token else {}


# --- server memory ---------------------------------------------------------------------------


def rss_bytes(pid: int) -> int | None:
    """Resident set size of `pid`: psutil when installed, else /proc/<pid>/status."""
    try:
        import psutil  # type: ignore[import-untyped]
    except ImportError:
        psutil = None
    if psutil is not None:
        try:
            return int(psutil.Process(pid).memory_info().rss)
        except psutil.Error:
            return None
    try:
        status = Path(f"/proc/{pid}/status").read_text()
    except OSError:
        return None
    match = re.search(r"^VmRSS:\s+(\d+)\s+kB", status, re.MULTILINE)
    return int(match.group(1)) * 1024 if match else None


def pid_listening_on(port: int) -> int | None:
    """The pid of the process listening on 127.0.0.1:`port` (Linux /proc), or None."""
    inodes: set[str] = set()
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        with contextlib.suppress(OSError):
            for line in Path(table).read_text().splitlines()[1:]:
                fields = line.split()
                local, state, inode = fields[1], fields[3], fields[9]
                if state == "0A" and int(local.rsplit(":", 1)[1], 16) == port:
                    inodes.add(inode)
    if not inodes:
        return None
    wanted = {f"socket:[{inode}]" for inode in inodes}
    for proc in Path("/proc").iterdir():
        if not proc.name.isdigit():
            continue
        with contextlib.suppress(OSError):
            for fd in (proc / "fd").iterdir():
                with contextlib.suppress(OSError):
                    if str(fd.readlink()) in wanted:
                        return int(proc.name)
    return None


# --- checking responses ----------------------------------------------------------------------


class Invalid(Exception):
    """A 200 response that is not a valid answer."""


@dataclass
class Sources:
    """Source texts fetched from the server, to check quotes against."""

    client: httpx.AsyncClient
    texts: dict[str, str] = field(default_factory=dict)

    async def text(self, name: str) -> str:
        if name not in self.texts:
            response = await self.client.get(f"/api/sources/{quote(name)}")
            if response.status_code != 200:
                raise Invalid(f"cited source {name!r} cannot be fetched: {response.status_code}")
            self.texts[name] = response.json()["text"]
        return self.texts[name]


async def check_answer(answer: dict[str, Any], sources: Sources) -> str:
    """Validate one Answer JSON; return its mode."""
    from pydantic import ValidationError

    from qa.types import Answer

    try:
        parsed = Answer.model_validate(answer)
    except ValidationError as exc:
        raise Invalid(f"not an Answer: {exc.errors()[0]}") from exc
    await check_citations([c.model_dump() for c in parsed.citations], sources)
    if parsed.refused != (parsed.mode != "generated"):
        raise Invalid("refused flag and mode disagree")
    if parsed.mode != "refused" and not parsed.citations:
        raise Invalid(f"a {parsed.mode} answer without citations")
    if parsed.mode == "refused" and parsed.citations:
        raise Invalid("a refusal with citations")
    return parsed.mode


async def check_citations(citations: list[dict[str, Any]], sources: Sources) -> None:
    for cite in citations:
        text = await sources.text(cite["source"])
        start, end = cite["start"], cite["end"]
        if not (0 <= start < end <= len(text)) or text[start:end] != cite["quote"]:
            raise Invalid(f"quote of {cite['source']}[{start}:{end}] does not match the source text")


def sse_events(body: str) -> list[tuple[str, str]]:
    """The (event, data) pairs of an SSE body; comment-only blocks (`: keep-alive`) are not events."""
    events = []
    for block in body.replace("\r\n", "\n").split("\n\n"):
        if not block.strip() or all(line.startswith(":") for line in block.strip().split("\n")):
            continue
        name, data = "message", []
        for line in block.split("\n"):
            if line.startswith("event:"):
                name = line[6:].strip()
            elif line.startswith("data:"):
                data.append(line[5:].lstrip(" "))
        events.append((name, "\n".join(data)))
    return events


async def check_chat_stream(body: str, sources: Sources) -> str:
    events = sse_events(body)
    kinds = [name for name, _ in events]
    if not kinds or kinds[-1] != "done" or kinds.count("answer") != 1 or "error" in kinds:
        raise Invalid(f"bad event sequence: {[k for k in kinds if k != 'delta']}")
    if any(k != "delta" for k in kinds[: kinds.index("answer")]):
        raise Invalid("events before the answer other than deltas")
    return await check_answer(json.loads(dict(events)["answer"]), sources)


async def check_completion(body: dict[str, Any], sources: Sources) -> str:
    try:
        message = body["choices"][0]["message"]
        content, citations = message["content"], message["citations"]
    except (KeyError, IndexError, TypeError) as exc:
        raise Invalid(f"not a chat completion: {exc!r}") from exc
    if not isinstance(content, str) or not content.strip():
        raise Invalid("empty completion")
    await check_citations(citations, sources)
    return "cited" if citations else "uncited"


# --- the clients -------------------------------------------------------------------------------


@dataclass
class Stats:
    outcomes: Counter[str] = field(default_factory=Counter)
    by_endpoint: Counter[str] = field(default_factory=Counter)
    modes: Counter[str] = field(default_factory=Counter)
    latency_ok: list[float] = field(default_factory=list)
    latency_all: list[float] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    rss: list[int] = field(default_factory=list)
    asked: set[str] = field(default_factory=set)
    started: int = 0

    def error(self, kind: str, detail: str) -> None:
        self.outcomes[kind] += 1
        if len(self.errors) < 20:
            self.errors.append(f"{kind}: {detail}")


def distinct_questions(seed: int) -> list[str]:
    """Every history-free question of eval/cases.jsonl once (case and spacing folded), shuffled."""
    seen: dict[str, str] = {}
    for line in CASES.read_text(encoding="utf-8").splitlines():
        case = json.loads(line) if line.strip() else {}
        question = " ".join(str(case.get("question", "")).split())
        if question and not case.get("history"):
            seen.setdefault(question.casefold(), question)
    questions = list(seen.values())
    random.Random(seed).shuffle(questions)
    return questions


class QuestionSource:
    """Questions for one client: its own cycle of 8 (repeat mix) or a pool shared by all (distinct mix)."""

    def __init__(self, mix: str, number: int, seed: int, pool: list[str]) -> None:
        self._pool = pool if mix == "distinct" else None
        mine = random.Random(seed * 7919 + number).sample(QUESTIONS, len(QUESTIONS))
        self._cycle = itertools.cycle(mine)
        self._held: str | None = None

    def next(self) -> str | None:
        """The next question; in the distinct mix, the held one again after a refusal, None when the pool is empty."""
        if self._pool is None:
            return next(self._cycle)
        if self._held is None and self._pool:
            self._held = self._pool.pop()
        return self._held

    def done(self, refused: bool) -> None:
        """A refused (429/503) question stays held for a retry; anything else uses it up."""
        if not refused:
            self._held = None


def endpoint_cycle(seed: int) -> Iterator[str]:
    names = [name for name, weight in MIX for _ in range(weight)]
    random.Random(seed).shuffle(names)
    return itertools.cycle(names)


def retry_after(response: httpx.Response) -> float | None:
    value = response.headers.get("retry-after")
    if value is None:
        return None
    try:
        seconds = float(value)
    except ValueError:
        return None
    return seconds if seconds >= 0 and math.isfinite(seconds) else None


async def one_request(
    client: httpx.AsyncClient, endpoint: str, question: str, follow_up: bool, sources: Sources, stats: Stats
) -> tuple[float, bool]:
    """Send one request and record its outcome; return how long to wait before the next, and whether it was refused."""
    messages = (
        [*FOLLOW_UP[:-1], {"role": "user", "content": question}]
        if follow_up
        else [{"role": "user", "content": question}]
    )
    begun = time.perf_counter()
    if endpoint == "ask":
        request = client.build_request("POST", "/api/ask", json={"question": question})
    elif endpoint == "chat-stream":
        request = client.build_request("POST", "/api/chat", json={"messages": messages, "stream": True})
    else:
        request = client.build_request("POST", "/v1/chat/completions", json={"model": "qa", "messages": messages})
    response = await client.send(request)
    elapsed = time.perf_counter() - begun
    stats.latency_all.append(elapsed)
    status = response.status_code
    if status in (429, 503):
        wait = retry_after(response)
        if wait is None:
            stats.error(f"{status}-without-retry-after", response.text[:200])
            return 1.0, True
        stats.outcomes[str(status)] += 1
        return wait, True
    if status != 200:
        stats.error(f"http-{status}", f"{endpoint}: {response.text[:200]}")
        return 0.0, False
    try:
        if endpoint == "ask":
            mode = await check_answer(response.json(), sources)
        elif endpoint == "chat-stream":
            if not response.headers.get("content-type", "").startswith("text/event-stream"):
                raise Invalid(f"stream answered with {response.headers.get('content-type')}")
            mode = await check_chat_stream(response.text, sources)
        else:
            mode = await check_completion(response.json(), sources)
    except (Invalid, ValueError) as exc:
        stats.error("invalid-answer", f"{endpoint}: {exc}")
        return 0.0, False
    stats.outcomes["ok"] += 1
    stats.asked.add(question)
    stats.modes[mode] += 1
    stats.latency_ok.append(elapsed)
    return 0.0, False


async def client_loop(
    number: int,
    client: httpx.AsyncClient,
    sources: Sources,
    stats: Stats,
    stop_at: float,
    args: argparse.Namespace,
    pool: list[str],
) -> None:
    endpoints = endpoint_cycle(args.seed + number)
    questions = QuestionSource(args.mix, number, args.seed, pool)
    rng = random.Random(args.seed + 1000 + number)
    while time.monotonic() < stop_at and stats.started < args.max_requests:
        question = questions.next()
        if question is None:
            break  # distinct mix: every question has been asked
        stats.started += 1
        endpoint = next(endpoints)
        stats.by_endpoint[endpoint] += 1
        try:
            pause, refused = await one_request(client, endpoint, question, rng.random() < 0.1, sources, stats)
            questions.done(refused)
        except httpx.TimeoutException as exc:
            stats.error("timeout", f"{endpoint}: {exc!r}")
            pause = 1.0
        except httpx.HTTPError as exc:
            stats.error("transport-error", f"{endpoint}: {exc!r}")
            pause = 1.0
        pause = min(pause, args.max_backoff, max(0.0, stop_at - time.monotonic()))
        if pause > 0:
            await asyncio.sleep(pause)


async def sample_rss(pid: int | None, stats: Stats, every: float) -> None:
    if pid is None:
        return
    while True:
        value = rss_bytes(pid)
        if value is not None:
            stats.rss.append(value)
        await asyncio.sleep(every)


async def run_load(args: argparse.Namespace, pid: int | None) -> Stats:
    stats = Stats()
    limits = httpx.Limits(max_connections=args.clients + 4, max_keepalive_connections=args.clients + 4)
    timeout = httpx.Timeout(args.request_timeout, connect=10.0)
    async with httpx.AsyncClient(base_url=args.url, headers=auth(args.token), timeout=timeout, limits=limits) as client:
        listing = await client.get("/api/sources")
        listing.raise_for_status()
        sources = Sources(client)
        for name in listing.json()["sources"]:
            await sources.text(name)
        sampler = asyncio.create_task(sample_rss(pid, stats, args.rss_every))
        await asyncio.sleep(0)  # first RSS sample before any load
        stop_at = time.monotonic() + args.duration
        started = time.monotonic()
        pool = distinct_questions(args.seed) if args.mix == "distinct" else []
        workers = [
            asyncio.create_task(client_loop(n, client, sources, stats, stop_at, args, pool))
            for n in range(args.clients)
        ]
        done, pending = await asyncio.wait(workers, timeout=args.duration + args.grace)
        for task in pending:
            task.cancel()
        for task in done:
            if task.exception() is not None:
                stats.error("client-crash", repr(task.exception()))
        if pending:
            stats.error("unfinished", f"{len(pending)} clients still waiting {args.grace:.0f} s after the end")
        stats.outcomes["elapsed_ms"] = round((time.monotonic() - started) * 1000)
        if pid is not None:
            value = rss_bytes(pid)
            if value is not None:
                stats.rss.append(value)
        sampler.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await sampler
    return stats


# --- the report ----------------------------------------------------------------------------------


def summarise(stats: Stats, args: argparse.Namespace, pid: int | None) -> dict[str, Any]:
    elapsed = stats.outcomes.pop("elapsed_ms", 0) / 1000 or args.duration
    outcomes = dict(stats.outcomes)
    bad = {k: v for k, v in outcomes.items() if k not in {"ok", "429", "503"}}
    mb = 1024 * 1024
    rss = {
        "pid": pid,
        "samples": len(stats.rss),
        "start_mb": round(stats.rss[0] / mb, 1) if stats.rss else None,
        "min_mb": round(min(stats.rss) / mb, 1) if stats.rss else None,
        "max_mb": round(max(stats.rss) / mb, 1) if stats.rss else None,
        "end_mb": round(stats.rss[-1] / mb, 1) if stats.rss else None,
        "growth_mb": round((max(stats.rss) - stats.rss[0]) / mb, 1) if stats.rss else None,
    }
    violations = [f"{k}: {v}" for k, v in sorted(bad.items())]
    if outcomes.get("ok", 0) == 0:
        violations.append("no valid answer at all")
    if rss["growth_mb"] is not None and rss["growth_mb"] > args.max_rss_growth_mb:
        violations.append(f"server RSS grew by {rss['growth_mb']} MB > {args.max_rss_growth_mb} MB")
    if args.require_rss and not stats.rss:
        violations.append("server RSS could not be sampled")

    def ms(values: list[float], q: float) -> float | None:
        value = percentile(values, q * 100)
        return None if value is None else round(value * 1000, 1)

    return {
        "url": args.url,
        "mix": args.mix,
        "clients": args.clients,
        "duration_s": args.duration,
        "elapsed_s": round(elapsed, 1),
        "requests": sum(stats.by_endpoint.values()),
        "by_endpoint": dict(stats.by_endpoint),
        "outcomes": outcomes,
        "modes": dict(stats.modes),
        "questions_answered": len(stats.asked),
        "latency_ms": {
            "answers": {
                "p50": ms(stats.latency_ok, 0.5),
                "p95": ms(stats.latency_ok, 0.95),
                "p99": ms(stats.latency_ok, 0.99),
                "max": ms(stats.latency_ok, 1.0),
            },
            "all": {
                "p50": ms(stats.latency_all, 0.5),
                "p95": ms(stats.latency_all, 0.95),
                "p99": ms(stats.latency_all, 0.99),
                "max": ms(stats.latency_all, 1.0),
            },
        },
        "throughput_per_s": {
            "answers": round(outcomes.get("ok", 0) / elapsed, 3),
            "responses": round(len(stats.latency_all) / elapsed, 3),
        },
        "rss": rss,
        "errors": stats.errors,
        "violations": violations,
        "passed": not violations,
    }


def print_report(report: dict[str, Any]) -> None:
    lat, out, rss = report["latency_ms"], report["outcomes"], report["rss"]
    print(
        f"qa load test: {report['clients']} clients x {report['duration_s']:g} s against {report['url']}, "
        f"{report['mix']} mix ({report['questions_answered']} distinct questions answered)"
    )
    endpoints = ", ".join(f"{k} {v}" for k, v in sorted(report["by_endpoint"].items()))
    print(f"  requests       {report['requests']}  ({endpoints})")
    print(f"  valid answers  {out.get('ok', 0)}  ({', '.join(f'{k} {v}' for k, v in sorted(report['modes'].items()))})")
    print(f"  429 / 503      {out.get('429', 0)} / {out.get('503', 0)}  (all with Retry-After)")
    others = {k: v for k, v in out.items() if k not in {"ok", "429", "503"}}
    print(f"  errors         {sum(others.values())}  {others or ''}")
    for name in ("answers", "all"):
        row = lat[name]
        print(f"  latency {name:<7} p50 {row['p50']} ms  p95 {row['p95']} ms  p99 {row['p99']} ms  max {row['max']} ms")
    tp = report["throughput_per_s"]
    print(f"  throughput     {tp['answers']} answers/s, {tp['responses']} responses/s over {report['elapsed_s']} s")
    if rss["samples"]:
        print(
            f"  server RSS     min {rss['min_mb']} MB  max {rss['max_mb']} MB  start {rss['start_mb']} MB  "
            f"end {rss['end_mb']} MB  growth {rss['growth_mb']} MB  ({rss['samples']} samples, pid {rss['pid']})"
        )
    else:
        print("  server RSS     not sampled (pass --pid, or run on Linux)")
    for line in report["errors"]:
        print(f"  ! {line}")
    print("PASS" if report["passed"] else "FAIL: " + "; ".join(report["violations"]))


# --- command line ------------------------------------------------------------------------------------


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--url", default=f"http://{LOOPBACK}:8000", help="Server base URL; host must be 127.0.0.1.")
    parser.add_argument("--clients", type=int, default=32, help="Concurrent clients (default 32).")
    parser.add_argument("--duration", type=float, default=60.0, help="Seconds of load (default 60).")
    parser.add_argument("--max-requests", type=int, default=MAX_REQUESTS, help="Stop after this many requests.")
    parser.add_argument("--grace", type=float, default=180.0, help="Seconds running requests get after the end.")
    parser.add_argument("--request-timeout", type=float, default=300.0, help="Per-request timeout in seconds.")
    parser.add_argument("--max-backoff", type=float, default=2.0, help="Cap on the Retry-After wait, in seconds.")
    parser.add_argument("--max-rss-growth-mb", type=float, default=300.0, help="Allowed server RSS growth.")
    parser.add_argument("--pid", type=int, default=None, help="Server pid for RSS (default: found by port).")
    parser.add_argument("--require-rss", action="store_true", help="Fail when RSS cannot be sampled.")
    parser.add_argument("--rss-every", type=float, default=0.5, help="RSS sampling interval in seconds.")
    parser.add_argument("--token", default=os.environ.get("QA_API_TOKEN"), help="Bearer token (default $QA_API_TOKEN).")
    parser.add_argument("--seed", type=int, default=1, help="Seed for the request mix.")
    parser.add_argument(
        "--mix",
        choices=["repeat", "distinct"],
        default="repeat",
        help="repeat: 8 questions cycled per client; distinct: eval/cases.jsonl questions, none asked twice.",
    )
    parser.add_argument("--spawn", action="store_true", help="Start `qa serve` on a free port and stop it after.")
    parser.add_argument("--ready-timeout", type=float, default=600.0, help="Seconds to wait for /health.")
    parser.add_argument("--json", dest="json_out", type=Path, default=None, help="Also write the report as JSON.")
    args = parser.parse_args(argv)
    if not 1 <= args.clients <= MAX_CLIENTS:
        parser.error(f"--clients must be between 1 and {MAX_CLIENTS}")
    if not 0 < args.duration <= MAX_DURATION_S:
        parser.error(f"--duration must be in (0, {MAX_DURATION_S:g}] seconds")
    if not 1 <= args.max_requests <= MAX_REQUESTS:
        parser.error(f"--max-requests must be between 1 and {MAX_REQUESTS}")
    args.grace = min(max(args.grace, 0.0), MAX_DURATION_S)
    check_loopback(parser, args.url)
    return args


def check_loopback(parser: argparse.ArgumentParser, url: str) -> None:
    parts = urlsplit(url)
    if parts.scheme != "http" or parts.hostname != LOOPBACK or parts.path not in ("", "/"):
        parser.error(f"--url must be http://{LOOPBACK}:<port> (loopback only), not {url!r}")


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    server: ServerProcess | None = None
    if args.spawn:
        server = ServerProcess(log_path=Path(os.environ.get("QA_LOAD_SERVER_LOG", os.devnull)))
        server.start(args.ready_timeout, args.token)
        args.url = server.url
    try:
        if not args.spawn:
            wait_ready(args.url, args.ready_timeout, args.token)
        port = urlsplit(args.url).port or 80
        pid = args.pid or (server.pid if server else None) or pid_listening_on(port)
        stats = asyncio.run(run_load(args, pid))
        report = summarise(stats, args, pid)
    finally:
        if server is not None:
            server.stop()
    print_report(report)
    if args.json_out:
        args.json_out.write_text(json.dumps(report, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    return 0 if report["passed"] else 1


if __name__ == "__main__":
    sys.exit(main())
