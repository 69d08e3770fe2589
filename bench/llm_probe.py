"""Load the model with given llama.cpp parameters in a fresh process and replay qa's requests.

`python -m bench.llm_probe REQUESTS.json --model PATH [--ctx N] [--cache-ram MIB] ...` prints one
JSON object: load time, per-request llama.cpp timings and wall time, and the process's memory
(anonymous vs file-backed RSS, high-water mark) after each request. Used by bench.experiments
to measure parameter changes to `qa.llm.LlamaCppGenerator` without editing it. The defaults
are llama.cpp's own, not qa's (`qa.llm.llama_params`): each flag turns on one of the changes qa
made, so a run with no flags is the stock baseline those changes were measured against.
"""

from __future__ import annotations

import argparse
import json
import os
import time
from pathlib import Path
from typing import Any

from bench.machine import proc_memory


def main() -> None:
    args = _parse_args()
    import xllamacpp

    params = _params(xllamacpp.CommonParams(), args)
    before = proc_memory(os.getpid())
    started = time.perf_counter()
    server = xllamacpp.Server(params)
    load_s = time.perf_counter() - started
    loaded = proc_memory(os.getpid())
    results = _replay(server, json.loads(args.requests.read_text(encoding="utf-8")))
    print(
        json.dumps(
            {
                "load_s": round(load_s, 3),
                "before_load": before,
                "after_load": loaded,
                "requests": results,
                "final": proc_memory(os.getpid()),
            }
        )
    )


def _parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser()
    parser.add_argument("requests", type=Path)
    parser.add_argument("--model", required=True)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--ctx", type=int, default=4096)
    parser.add_argument("--cache-ram", type=int, default=None, help="cache_ram_mib (llama.cpp default 8192)")
    parser.add_argument("--batch", type=int, default=None)
    parser.add_argument("--ubatch", type=int, default=None)
    parser.add_argument("--no-warmup", action="store_true")
    parser.add_argument("--no-extra-bufts", action="store_true", help="no repacked weight copies")
    parser.add_argument("--poll", type=int, default=None, help="cpuparams.poll (busy-wait level, default 50)")
    return parser.parse_args()


def _params(params: Any, args: argparse.Namespace) -> Any:
    """llama.cpp's defaults with the flags given on the command line."""
    params.model.path = args.model
    params.n_ctx = args.ctx
    params.n_parallel = 1
    params.cpuparams.n_threads = args.threads
    params.cpuparams_batch.n_threads = args.threads
    params.cache_prompt = True
    if args.cache_ram is not None:
        params.cache_ram_mib = args.cache_ram
    if args.batch:
        params.n_batch = args.batch
    if args.ubatch:
        params.n_ubatch = args.ubatch
    if args.no_warmup:
        params.warmup = False
    if args.no_extra_bufts:
        params.no_extra_bufts = True
    if args.poll is not None:
        params.cpuparams.poll = args.poll
        params.cpuparams_batch.poll = args.poll
    return params


def _replay(server: Any, requests: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Each request's wall time, llama.cpp timings and the process's memory after it."""
    results: list[dict[str, Any]] = []
    for request in requests:
        started = time.perf_counter()
        response = server.handle_chat_completions(request)
        wall = time.perf_counter() - started
        timings = response.get("timings", {}) if isinstance(response, dict) else {}
        results.append(
            {
                "wall_ms": round(wall * 1000, 1),
                **{k: timings.get(k) for k in ("cache_n", "prompt_n", "prompt_ms", "predicted_n", "predicted_ms")},
                **{f"{k}_mb": round(v, 1) for k, v in proc_memory(os.getpid()).items()},
            }
        )
    return results


if __name__ == "__main__":
    main()
