"""The benchmark: every stage of the embedded default pipeline, scale-up, and a stock baseline.

Stages, in order (each in a fresh QA_HOME under a temp dir; the 1.1 GB model file is reused
from QA_MODELS_DIR, default <repo>/.qa-home/models):

1. ingest    - `Pipeline.ingest` of seeds/ (chunks/s), with a split/embed/store breakdown
2. cold      - `qa ask --json` as a subprocess on that index: wall time, peak RSS
               (fake LLM backend = start-up without the model; default = embedded)
3. answers   - `Pipeline.answer(q, on_text=...)` over the eval questions: latency,
               time to first streamed token, llama.cpp prompt/generation timings, accuracy
4. stock     - the stock llama-index query engine (bench.stock) on the same questions,
               collection, embedder and model: latency and accuracy side by side
5. retrieval - `Retriever.retrieve` at 1k/10k/100k chunks (see bench.corpus for how the
               large corpora are made), plus raw-Chroma and in-memory numpy references
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import random
import shlex
import subprocess
import sys
import tempfile
import time
from collections import defaultdict
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np

from bench import corpus as synth
from bench.machine import Stopwatch, describe_machine, load_average, peak_rss_mb, proc_memory, summarise
from bench.probe import TimingServer, instrument, total
from bench.questions import direct_text_correct, history, load_cases, stratified
from bench.report import check_floors, table, targets
from qa.evals.dataset import EvalCase
from qa.evals.metrics import is_correct

REPO = Path(__file__).resolve().parent.parent
DEFAULT_OUT = REPO / "bench" / "results" / "latest.json"
WARMUP_QUESTION = "What did Vladimir Putin give Kim Jong Un?"
COLD_QUESTION = "Which car did Putin give to Kim Jong Un as a gift?"


def log(message: str) -> None:
    print(f"[bench {time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


# --- 1. ingest ------------------------------------------------------------------------------


class _Timed:
    """Delegates everything to `inner`, adding up the wall time spent in the named methods."""

    def __init__(self, inner: Any, methods: tuple[str, ...]) -> None:
        self._inner = inner
        self._methods = methods
        self.seconds: dict[str, float] = defaultdict(float)

    def __getattr__(self, name: str) -> Any:
        attr = getattr(self._inner, name)
        if name not in self._methods:
            return attr

        def timed(*args: Any, **kwargs: Any) -> Any:
            started = time.perf_counter()
            try:
                return attr(*args, **kwargs)
            finally:
                self.seconds[name] += time.perf_counter() - started

        return timed


def stage_ingest(settings: Any, reps: int) -> tuple[Any, dict[str, Any]]:
    """Each run: a fresh pipeline (so no embedding cache) ingesting seeds/ into an empty home.

    The first run uses QA_HOME and its pipeline is returned for the later stages.
    """
    from qa.wiring import build_pipeline

    runs = []
    pipeline = None
    for rep in range(reps):
        home = settings.home if rep == 0 else settings.home.parent / f"ingest-{rep}"
        with Stopwatch() as load:
            fresh = build_pipeline(settings.model_copy(update={"home": home}))
        if rep == 0:
            pipeline = fresh
        embedder, store = fresh.embedder, fresh.store
        timed_embedder = _Timed(embedder, ("embed",))
        timed_store = _Timed(store, ("replace_source", "delete_source", "sources"))
        setattr(fresh, "embedder", timed_embedder)  # noqa: B010 - a stand-in the type does not allow
        setattr(fresh, "store", timed_store)  # noqa: B010
        try:
            with Stopwatch() as sw:
                report = fresh.ingest([settings.corpus])
        finally:
            fresh.embedder, fresh.store = embedder, store
        chunks = report.chunks_written
        embed_s = timed_embedder.seconds["embed"]
        store_s = sum(timed_store.seconds.values())
        runs.append(
            {
                "chunks": chunks,
                "seconds": round(sw.wall, 3),
                "cpu_seconds": round(sw.cpu, 3),
                "chunks_per_s": round(chunks / sw.wall, 2) if sw.wall else None,
                "embed_s": round(embed_s, 3),
                "store_s": round(store_s, 3),
                "read_split_s": round(sw.wall - embed_s - store_s, 3),
                "pipeline_load_s": round(load.wall, 3),
            }
        )
        log(f"ingest run {rep + 1}/{reps}: {chunks} chunks in {sw.wall:.2f}s")
    assert pipeline is not None
    best = sorted(runs, key=lambda r: r["chunks_per_s"] or 0)[len(runs) // 2]  # the median run
    from qa.store import LANGUAGES

    languages = {lang: n for lang in LANGUAGES if (n := pipeline.store.count(lang))}
    return pipeline, {
        "files": len(list(Path(settings.corpus).glob("*.txt"))),
        "chunks": best["chunks"],
        "chunks_by_language": dict(sorted(languages.items())),
        "seconds": best["seconds"],
        "chunks_per_s": best["chunks_per_s"],
        "median_of_runs": reps,
        "breakdown_s": {k: best[k] for k in ("read_split_s", "embed_s", "store_s")},
        "cpu_seconds": best["cpu_seconds"],
        "pipeline_load_s": best["pipeline_load_s"],
        "runs": runs,
        "embed_threads": settings.embed.threads,
        "embed_batch_size": settings.embed.batch_size,
    }


# --- 2. cold start -----------------------------------------------------------------------------


def run_cli(args: list[str], env: dict[str, str], timeout: float) -> dict[str, Any]:
    """Run a command, returning wall time, exit code, stdout, and peak memory from wait4 and /proc."""
    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
        started = time.perf_counter()
        proc = subprocess.Popen(args, stdout=out, stderr=err, env=env, cwd=REPO)
        peak: dict[str, float] = defaultdict(float)
        status, usage = 0, None
        while True:
            pid, status, usage = os.wait4(proc.pid, os.WNOHANG)
            if pid:
                break
            for key, value in proc_memory(proc.pid).items():
                peak[key] = max(peak[key], value)
            if time.perf_counter() - started > timeout:
                proc.kill()
                pid, status, usage = os.wait4(proc.pid, 0)
                break
            time.sleep(0.02)
        wall = time.perf_counter() - started
        proc.returncode = os.waitstatus_to_exitcode(status)
        out.seek(0)
        err.seek(0)
        stdout = out.read().decode("utf-8", "replace")
        stderr = err.read().decode("utf-8", "replace")
    return {
        "wall_s": round(wall, 3),
        "exit_code": proc.returncode,
        "stdout": stdout,
        "stderr_tail": stderr[-600:],
        "max_rss_mb": round(usage.ru_maxrss / 1024, 1) if usage else None,
        "cpu_s": round(usage.ru_utime + usage.ru_stime, 3) if usage else None,
        "peak_rss_anon_mb": round(peak.get("RssAnon", 0.0), 1),
        "peak_rss_file_mb": round(peak.get("RssFile", 0.0), 1),
    }


COLD_START_ENV = {
    "fake": "QA_LLM__BACKEND=fake",
    "embedded": "QA_LLM__BACKEND unset (default); the model's saved prompt state exists (any run after the first)",
    "embedded-first-run": "QA_LLM__BACKEND unset; QA_MODELS_DIR is a fresh folder linking the model file, "
    "so there is no saved prompt state (the first run on a machine)",
}


def _models_without_saved_state(stack: contextlib.ExitStack) -> str:
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
        env = dict(os.environ)
        env.pop("QA_LLM__BACKEND", None)
        if backend == "fake":
            env["QA_LLM__BACKEND"] = backend
        if backend == "embedded":
            # Untimed: makes sure the saved prompt state exists, as on any run after the first.
            run_cli(command, env, timeout=600)
        runs = []
        for rep in range(reps):
            with contextlib.ExitStack() as stack:
                if backend == "embedded-first-run":
                    env["QA_MODELS_DIR"] = _models_without_saved_state(stack)
                result = run_cli(command, env, timeout=600)
            answer: dict[str, Any] = {}
            with contextlib.suppress(json.JSONDecodeError, IndexError):
                answer = json.loads(result["stdout"].strip().splitlines()[-1])
            total_ms = (answer.get("timings") or {}).get("total_ms")
            runs.append(
                {
                    **{k: v for k, v in result.items() if k not in ("stdout", "stderr_tail")},
                    "answer_total_ms": total_ms,
                    "startup_s": round(result["wall_s"] - total_ms / 1000, 3) if total_ms is not None else None,
                    "mode": answer.get("mode"),
                    "answer": (answer.get("answer") or "")[:160],
                    **({"stderr_tail": result["stderr_tail"]} if result["exit_code"] else {}),
                }
            )
            log(f"cold start ({backend}) {rep + 1}/{reps}: {result['wall_s']:.2f}s exit {result['exit_code']}")
        walls = [r["wall_s"] for r in runs if r["exit_code"] == 0]
        out[backend] = {
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
    return out


# --- 3. answers -----------------------------------------------------------------------------------


def stage_answers(pipeline: Any, cases: list[EvalCase]) -> tuple[dict[str, Any], list[dict[str, Any]], Any]:
    with Stopwatch() as load:
        generator = pipeline.generator
    probe = instrument(generator)
    if probe:
        probe.keep_requests = 8  # qa's first real model requests, replayed by --experiments
    log(f"model loaded in {load.wall:.1f}s; warm-up question")
    with Stopwatch() as warm:
        pipeline.answer(WARMUP_QUESTION)
    if probe:
        probe.take()
    rows = []
    for n, case in enumerate(cases, start=1):
        first: list[float] = []
        started = time.perf_counter()
        cpu0 = time.process_time()

        def on_text(piece: str, first: list[float] = first) -> None:
            if not first:
                first.append(time.perf_counter())

        answer = pipeline.answer(case.question, history=history(case), on_text=on_text)
        wall = time.perf_counter() - started
        cpu = time.process_time() - cpu0
        calls = probe.take() if probe else []
        rows.append(
            {
                "id": case.id,
                "language": case.language,
                "type": case.type,
                "mode": answer.mode,
                "ms": round(wall * 1000, 1),
                "first_token_ms": round((first[0] - started) * 1000, 1) if first else None,
                "retrieve_ms": answer.timings.retrieve_ms,
                "generate_ms": answer.timings.generate_ms,
                "cpu_ms": round(cpu * 1000, 1),
                "llm": total(calls) if calls else None,
                "correct": is_correct(case, answer),
                "answer": answer.answer[:300],
            }
        )
        log(f"answer {n}/{len(cases)} {case.id}: {answer.mode} {wall * 1000:.0f} ms")
    if probe:
        probe.keep_requests = 0  # only qa's requests are replayed, never the stock pipeline's
    return (
        {"model_load_s": round(load.wall, 3), "warmup_ms": round(warm.wall * 1000, 1), "backend": generator.name},
        rows,
        probe,
    )


def summarise_answers(rows: list[dict[str, Any]]) -> dict[str, Any]:
    # Answers that are not streamed (refusals, extractive quotes) arrive whole: first token = total.
    first = [r["first_token_ms"] if r["first_token_ms"] is not None else r["ms"] for r in rows]
    generated = [r for r in rows if r["llm"]]
    by_mode = {}
    for mode in sorted({r["mode"] for r in rows}):
        members = [r for r in rows if r["mode"] == mode]
        by_mode[mode] = {"n": len(members), "ms": summarise([r["ms"] for r in members])}
    llm_rows = [r["llm"] for r in generated]
    llm = None
    if llm_rows:
        llm = {
            "answers_calling_model": len(llm_rows),
            "prompt_tokens": summarise([c["prompt_n"] for c in llm_rows]),
            "cached_prompt_tokens": summarise([c["cache_n"] for c in llm_rows]),
            "prompt_ms": summarise([c["prompt_ms"] for c in llm_rows]),
            "generated_tokens": summarise([c["predicted_n"] for c in llm_rows]),
            "generation_ms": summarise([c["predicted_ms"] for c in llm_rows]),
            "prompt_tok_per_s": _rate([c["prompt_n"] for c in llm_rows], [c["prompt_ms"] for c in llm_rows]),
            "gen_tok_per_s": _rate([c["predicted_n"] for c in llm_rows], [c["predicted_ms"] for c in llm_rows]),
            "share_of_answer_time": _shares(generated),
        }
    return {
        "n": len(rows),
        "p50_ms": summarise([r["ms"] for r in rows])["p50"],
        "p95_ms": summarise([r["ms"] for r in rows])["p95"],
        "first_token_p50_ms": summarise(first)["p50"],
        "first_token_p95_ms": summarise(first)["p95"],
        "model_answers": {
            "n": len(generated),
            "ms": summarise([r["ms"] for r in generated]),
            "first_token_ms": summarise([r["first_token_ms"] for r in generated if r["first_token_ms"] is not None]),
        },
        "by_mode": by_mode,
        "retrieve_ms": summarise([r["retrieve_ms"] for r in rows]),
        "cpu_per_wall": round(sum(r["cpu_ms"] for r in rows) / max(sum(r["ms"] for r in rows), 1e-9), 2),
        "accuracy": round(float(np.mean([r["correct"] for r in rows])), 3) if rows else None,
        "accuracy_definition": "qa.evals.metrics.is_correct (accept regex, or refusal when unanswerable)",
        "llm": llm,
    }


def _mean_of(values: list[bool]) -> float | None:
    return round(float(np.mean(values)), 3) if values else None


def _rate(tokens: list[float], ms: list[float]) -> float | None:
    return round(sum(tokens) / (sum(ms) / 1000), 1) if sum(ms) else None


def _shares(rows: list[dict[str, Any]]) -> dict[str, float]:
    wall = sum(r["ms"] for r in rows)
    prompt = sum(r["llm"]["prompt_ms"] for r in rows)
    gen = sum(r["llm"]["predicted_ms"] for r in rows)
    retrieve = sum(r["retrieve_ms"] for r in rows)
    return {
        "prompt_eval": round(prompt / wall, 3),
        "generation": round(gen / wall, 3),
        "retrieval": round(retrieve / wall, 3),
        "other": round(1 - (prompt + gen + retrieve) / wall, 3),
    }


# --- 4. stock llama-index ----------------------------------------------------------------------


def stage_stock(
    pipeline: Any, cases: list[EvalCase], probe: TimingServer | None, warmup: bool = True
) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    from bench.stock import build_engine, stock_collection
    from qa.embed import CachedEmbedder

    server = probe if probe is not None else pipeline.generator._server
    # A fresh query cache: the stock side must not profit from vectors qa's run computed.
    inner = getattr(pipeline.embedder, "inner", pipeline.embedder)
    engine = build_engine(
        stock_collection(pipeline.store),
        CachedEmbedder(inner),
        server,
        pipeline.settings.llm.context,
        pipeline.settings.llm.max_tokens,
    )
    # The stock prompt shares only ~30 template tokens between questions, so its warm-up
    # matters far less than qa's (whose system prompt stays in the KV cache); --quick skips it.
    with Stopwatch() as warm:
        if warmup:
            engine.query(WARMUP_QUESTION)
    if probe:
        probe.take()
    rows = []
    for n, case in enumerate(cases, start=1):
        started = time.perf_counter()
        response = engine.query(case.question)
        wall = time.perf_counter() - started
        text = str(response)
        calls = probe.take() if probe else []
        rows.append(
            {
                "id": case.id,
                "language": case.language,
                "ms": round(wall * 1000, 1),
                "llm": total(calls) if calls else None,
                "correct": direct_text_correct(case, text),
                "answer": text[:300],
            }
        )
        log(f"stock {n}/{len(cases)} {case.id}: {wall * 1000:.0f} ms")
    return {"warmup_ms": round(warm.wall * 1000, 1) if warmup else None}, rows


def compare(qa_rows: list[dict[str, Any]], stock_rows: list[dict[str, Any]]) -> dict[str, Any]:
    ids = {r["id"] for r in stock_rows}
    mine = [r for r in qa_rows if r["id"] in ids]
    qa_ms = summarise([r["ms"] for r in mine])
    stock_ms = summarise([r["ms"] for r in stock_rows])
    qa_acc = float(np.mean([r["correct"] for r in mine])) if mine else None
    stock_acc = float(np.mean([r["correct"] for r in stock_rows])) if stock_rows else None
    stock_llm = [r["llm"] for r in stock_rows if r["llm"]]
    # qa answers Hindi/Marathi questions by quoting (no model call), the stock engine always
    # calls the model: the fair like-for-like figure is over questions where both call it.
    model_ids = {r["id"] for r in mine if r["llm"]}
    qa_model = summarise([r["ms"] for r in mine if r["id"] in model_ids])
    stock_model = summarise([r["ms"] for r in stock_rows if r["id"] in model_ids])
    return {
        "n": len(stock_rows),
        "case_ids": sorted(ids),
        "qa_p50_ms": qa_ms["p50"],
        "qa_p95_ms": qa_ms["p95"],
        "qa_mean_ms": qa_ms["mean"],
        "p50_ms": stock_ms["p50"],
        "p95_ms": stock_ms["p95"],
        "mean_ms": stock_ms["mean"],
        "speedup_p50": round(stock_ms["p50"] / qa_ms["p50"], 2) if qa_ms["p50"] and stock_ms["p50"] else None,
        "speedup_mean": round(stock_ms["mean"] / qa_ms["mean"], 2) if qa_ms["mean"] and stock_ms["mean"] else None,
        "model_answered": {
            "n": len(model_ids),
            "qa_p50_ms": qa_model["p50"],
            "p50_ms": stock_model["p50"],
            "speedup_p50": round(stock_model["p50"] / qa_model["p50"], 2)
            if qa_model["p50"] and stock_model["p50"]
            else None,
            "qa_accuracy": _mean_of([r["correct"] for r in mine if r["id"] in model_ids]),
            "accuracy": _mean_of([r["correct"] for r in stock_rows if r["id"] in model_ids]),
        },
        "qa_accuracy": round(qa_acc, 3) if qa_acc is not None else None,
        "accuracy": round(stock_acc, 3) if stock_acc is not None else None,
        "accuracy_definition": "a direct, correct answer: qa.evals.metrics.is_correct for qa; for the stock "
        "engine (no modes) bench.questions.direct_text_correct: accept regex on a text of at most 200 characters",
        "stock_prompt_tokens": summarise([c["prompt_n"] for c in stock_llm]),
        "stock_generated_tokens": summarise([c["predicted_n"] for c in stock_llm]),
        "stock_settings": "VectorStoreIndex.from_vector_store(ChromaVectorStore(one collection with qa's chunks "
        "and vectors)).as_query_engine(llm=...): similarity_top_k=2, response_mode=compact, default "
        "text_qa_template, no streaming",
        "rows": stock_rows,
    }


# --- 5. retrieval at scale ---------------------------------------------------------------------


def stage_retrieval(
    pipeline: Any,
    settings: Any,
    sizes: list[int],
    cases: list[EvalCase],
    pool_size: int,
    home: Path,
) -> dict[str, Any]:
    from qa.ingest import file_hash
    from qa.store import ChromaStore

    rng = random.Random(7)
    seed_store = pipeline.store
    stored = seed_store.rows(with_vectors=True)
    seeds = [(row.chunk.text, row.chunk.language) for row in stored]
    seed_vectors = np.vstack([row.vector for row in stored if row.vector is not None])
    inner = getattr(pipeline.embedder, "inner", pipeline.embedder)
    with Stopwatch() as pool_time:
        pool, to_parent = synth.build_pool(seeds, seed_vectors, inner, pool_size, rng)
    log(f"embedded {pool_size} perturbed chunks for the vector pool in {pool_time.wall:.1f}s")

    store = ChromaStore(home, seed_store.name)
    # The real seed chunks go in first, with their real vectors and source texts.
    by_source: dict[str, list[Any]] = defaultdict(list)
    for row in stored:
        by_source[row.chunk.source].append(row)
    vectors_by_language: dict[str, list[np.ndarray]] = defaultdict(list)
    synthetic_ids: set[str] = set()
    for source, rows in by_source.items():
        rows.sort(key=lambda r: r.chunk.start)
        chunks = [r.chunk for r in rows]
        vectors = np.vstack([r.vector for r in rows])
        text = seed_store.source_text(source) or ""
        store.replace_source(source, text, chunks[0].file_hash, chunks, vectors)
        for c, v in zip(chunks, vectors, strict=True):
            vectors_by_language[c.language].append(v)

    generator = synth.SyntheticCorpus(seeds, pool, to_parent, seed=1234)
    questions = [c.question for c in cases]
    results: dict[str, Any] = {}
    source_index = 0
    for size in sizes:
        missing = size - store.count()
        with Stopwatch() as ins:
            written = 0
            for source, text, chunks, vectors in generator.sources(max(missing, 0), source_index):
                store.replace_source(source, text, file_hash(text), chunks, vectors)
                source_index += 1
                written += len(chunks)
                synthetic_ids.update(c.id for c in chunks)
                for c, v in zip(chunks, vectors, strict=True):
                    vectors_by_language[c.language].append(v)
        log(f"corpus {size}: inserted {written} synthetic chunks in {ins.wall:.1f}s; timing retrieval")
        results[str(size)] = {
            "chunks": store.count(),
            "inserted": written,
            "insert_s": round(ins.wall, 2),
            "insert_chunks_per_s": round(written / ins.wall, 1) if ins.wall and written else None,
            **_time_retrieval(store, inner, settings, questions, synthetic_ids, vectors_by_language),
        }
        r = results[str(size)]
        log(f"corpus {size}: retrieve p50 {r['p50_ms']} ms, search-only p50 {r['search_only_p50_ms']} ms")
    cos = generator.cos_to_parent
    return {
        "method": synth.__doc__.strip().split("\n\n", 1)[1].replace("\n", " ") if synth.__doc__ else "synthetic corpus",
        "pool": {
            "real_seed_chunks": len(seeds),
            "embedded_perturbed_chunks": pool_size,
            "embed_s": round(pool_time.wall, 2),
            "cos_perturbed_to_parent_mean": round(float(np.mean(to_parent)), 4) if to_parent else None,
            "cos_synthetic_to_parent_mean": round(float(np.mean(cos)), 4) if cos else None,
        },
        "language_shares": {k: round(v, 3) for k, v in synth.language_shares(seeds).items()},
        "questions": len(questions),
        "sizes": results,
    }


def _time_retrieval(
    store: Any,
    inner: Any,
    settings: Any,
    questions: list[str],
    synthetic_ids: set[str],
    vectors_by_language: dict[str, list[np.ndarray]],
) -> dict[str, Any]:
    from qa.embed import CachedEmbedder
    from qa.retrieve import Retriever

    out: dict[str, Any] = {}
    # qa's own ChromaStore.languages(), as the Retriever calls it on its first query.
    started = time.perf_counter()
    store.languages()
    out["store_languages_ms"] = round((time.perf_counter() - started) * 1000, 1)

    cache = CachedEmbedder(inner)
    retriever = Retriever(store, cache, settings.retrieve)
    with Stopwatch() as first:  # loads the per-language score samples; not one of the timed questions
        retriever.retrieve(WARMUP_QUESTION)
    out["first_query_ms"] = round(first.wall * 1000, 1)
    # Pass 1 embeds each question (cache miss), pass 2 finds it cached: search only.
    cold, warm, synthetic_share, best = [], [], [], []
    for q in questions:
        started = time.perf_counter()
        result = retriever.retrieve(q)
        cold.append((time.perf_counter() - started) * 1000)
        hits = [p.chunk.id in synthetic_ids for p in result.passages]
        synthetic_share.append(float(np.mean(hits)) if hits else 0.0)
        best.append(result.best_similarity)
    for q in questions:
        started = time.perf_counter()
        retriever.retrieve(q)
        warm.append((time.perf_counter() - started) * 1000)
    embed_ms = []
    fresh = CachedEmbedder(inner)
    for q in questions:
        started = time.perf_counter()
        fresh.embed([q], "query")
        embed_ms.append((time.perf_counter() - started) * 1000)

    # Reference: exact per-language search in numpy over the same vectors.
    numpy_ms = []
    matrices = {lang: np.vstack(vs) for lang, vs in vectors_by_language.items()}
    k = settings.retrieve.per_language_k
    for q in questions:
        vector = cache.embed([q], "query")[0]
        started = time.perf_counter()
        for matrix in matrices.values():
            scores = matrix @ vector
            top = np.argpartition(-scores, min(k, len(scores) - 1))[:k]
            top[np.argsort(-scores[top])]
        numpy_ms.append((time.perf_counter() - started) * 1000)
    cold_s, warm_s = summarise(cold), summarise(warm)
    out.update(
        {
            "p50_ms": cold_s["p50"],
            "p95_ms": cold_s["p95"],
            "search_only_p50_ms": warm_s["p50"],
            "search_only_p95_ms": warm_s["p95"],
            "query_embed_p50_ms": summarise(embed_ms)["p50"],
            "numpy_exact_3_languages_p50_ms": summarise(numpy_ms)["p50"],
            "synthetic_share_of_top_k": round(float(np.mean(synthetic_share)), 3),
            "best_similarity_mean": round(float(np.mean(best)), 4),
        }
    )
    return out


# --- experiments ---------------------------------------------------------------------------------------


def run_experiments(
    pipeline: Any,
    settings: Any,
    probe: TimingServer | None,
    qa_rows: list[dict[str, Any]],
    compare_cases: list[EvalCase],
    out: dict[str, Any],
    seed_texts: list[str],
) -> dict[str, Any]:
    from bench import experiments as exp
    from qa.llm import resolve_model

    log("experiment: imports")
    out["imports_s"] = exp.import_costs()
    log("experiment: embedder threads / batch")
    out["embedder"] = exp.embedder_variants(seed_texts, [c.question for c in compare_cases][:20])
    english = [c for c in compare_cases if c.language in settings.llm.languages and c.answerable]
    log(f"experiment: top_k=2 on {len(english)} questions the model answers")
    out["top_k"] = exp.top_k_variant(pipeline, english, qa_rows, 2)
    if probe is not None and probe.requests:
        log(f"experiment: llama.cpp parameters, replaying {len(probe.requests)} qa requests per variant")
        model = resolve_model(
            settings.llm.model, settings.llm.model_path, settings.models_dir or settings.home / "models"
        )
        out["llm_params"] = exp.llm_params(probe.requests, model, settings.llm.threads)
        out["example_request"] = probe.requests[-1]
    return out


# --- main ---------------------------------------------------------------------------------------------


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__.split("\n\n")[0] if __doc__ else "")
    parser.add_argument("--quick", action="store_true", help="CI mode: 1k chunks only, 5 questions (< 3 min).")
    parser.add_argument(
        "--threads",
        type=int,
        default=None,
        help="Sets QA_LLM__THREADS and QA_EMBED__THREADS (default: qa's defaults, 2 and 2).",
    )
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT, help=f"JSON results (default {DEFAULT_OUT}).")
    parser.add_argument(
        "--floors",
        type=Path,
        default=REPO / "bench" / "floors.json",
        help="Floors for qa's ratios to the stock pipeline (default bench/floors.json); exit 1 below them.",
    )
    parser.add_argument(
        "--questions",
        type=int,
        default=None,
        help="Answer-latency questions: a stratified sample of the eval set (default 60, 5 with --quick; "
        "a number >= the set size means all).",
    )
    parser.add_argument(
        "--compare",
        type=int,
        default=None,
        help="Questions for the stock comparison, drawn from the answer questions (default 20; --quick: the same 5).",
    )
    parser.add_argument("--sizes", type=str, default=None, help="Corpus sizes, e.g. 1000,10000,100000.")
    parser.add_argument("--cold-reps", type=int, default=None, help="Runs per cold-start variant (3; 1 with --quick).")
    parser.add_argument("--verbose", action="store_true", help="Leave llama.cpp's log on stderr.")
    parser.add_argument(
        "--report",
        type=Path,
        default=None,
        help="Recompute the comparison and targets of an existing results JSON and print its table (no run).",
    )
    parser.add_argument(
        "--experiments",
        action="store_true",
        help="Also measure the suggested qa/ changes (bench.experiments); adds several minutes.",
    )
    return parser.parse_args(argv)


def configure_env(args: argparse.Namespace, home: Path) -> None:
    os.environ.setdefault("QA_MODELS_DIR", str(REPO / ".qa-home" / "models"))
    os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")  # as the CLI does
    os.environ["QA_HOME"] = str(home)
    os.environ["QA_CORPUS"] = str(REPO / "seeds")
    if args.threads:
        os.environ["QA_LLM__THREADS"] = str(args.threads)
        os.environ["QA_EMBED__THREADS"] = str(args.threads)
    for key in ("QA_LLM__BACKEND", "QA_EMBED__BACKEND", "QA_CHROMA__HOST"):
        os.environ.pop(key, None)  # the embedded default, whatever the caller's shell says


def report_only(path: Path) -> None:
    results = json.loads(path.read_text(encoding="utf-8"))
    extra = {k: v for k, v in results["stock"].items() if k == "warmup_ms"}
    results["stock"] = {**compare(results["answers"]["rows"], results["stock"]["rows"]), **extra}
    results["targets"] = targets(results)
    if synth.__doc__:
        results["retrieval"]["method"] = synth.__doc__.strip().split("\n\n", 1)[1].replace("\n", " ")
    path.write_text(json.dumps(results, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    print(table(results))


def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv)
    if args.report:
        report_only(args.report)
        return
    quick = args.quick
    sizes = [int(s) for s in args.sizes.split(",")] if args.sizes else ([1000] if quick else [1000, 10_000, 100_000])
    out_path: Path = args.out
    out_path.parent.mkdir(parents=True, exist_ok=True)
    if not args.verbose:  # llama.cpp logs to fd 2; keep it in a temp file
        log_path = Path(tempfile.gettempdir()) / f"qa-bench-{out_path.stem}-llama.log"
        log_file = log_path.open("w")
        saved = os.dup(2)
        os.dup2(log_file.fileno(), 2)
        sys.stderr = os.fdopen(saved, "w", buffering=1)
    started = time.perf_counter()
    load_start = load_average()
    with tempfile.TemporaryDirectory(prefix="qa-bench-") as tmp:
        configure_env(args, Path(tmp) / "home")
        from qa.config import Settings

        settings = Settings()
        all_cases, cases_source = load_cases()
        n_questions = args.questions or (5 if quick else 60)
        if quick:  # the same few questions for both pipelines
            answer_cases = stratified(all_cases, n_questions, ("follow_up",))
            compare_cases = answer_cases[: args.compare or len(answer_cases)]
        else:
            answer_cases = stratified(all_cases, n_questions)
            compare_cases = stratified(answer_cases, args.compare or 20, ("follow_up",))
        retrieval_cases = stratified(all_cases, 20 if quick else 60)

        results: dict[str, Any] = {
            "version": 1,
            "mode": "quick" if quick else "full",
            "command": shlex.join([Path(sys.executable).name, "-m", "bench", *(argv or sys.argv[1:])]),
            "started": datetime.now(UTC).isoformat(timespec="seconds"),
            "machine": describe_machine(),
            "settings": {
                "llm_threads": settings.llm.threads,
                "embed_threads": settings.embed.threads,
                "llm_backend": settings.llm.backend,
                "llm_model": settings.llm.model,
                "llm_context": settings.llm.context,
                "llm_max_tokens": settings.llm.max_tokens,
                "llm_languages": settings.llm.languages,
                "top_k": settings.retrieve.top_k,
                "per_language_k": settings.retrieve.per_language_k,
                "chunk_size": settings.chunk.chunk_size,
                "embed_backend": settings.embed.backend,
            },
            "cases_source": cases_source,
        }
        log(
            f"{results['mode']} run; {len(answer_cases)} answer questions, {len(compare_cases)} for the stock "
            f"comparison, sizes {sizes}; load average {load_start}"
        )

        stage_load: dict[str, list[float]] = {}
        pipeline, results["ingest"] = stage_ingest(settings, reps=1 if quick else 3)
        stage_load["ingest"] = load_average()
        results["cold_start"] = stage_cold_start(
            args.cold_reps or (1 if quick else 3), ["fake", "embedded", "embedded-first-run"]
        )
        stage_load["cold_start"] = load_average()
        meta, qa_rows, probe = stage_answers(pipeline, answer_cases)
        stage_load["answers"] = load_average()
        results["answers"] = {**summarise_answers(qa_rows), **meta, "rows": qa_rows}
        stock_meta, stock_rows = stage_stock(pipeline, compare_cases, probe, warmup=not quick)
        results["stock"] = {**compare(qa_rows, stock_rows), **stock_meta}
        stage_load["stock"] = load_average()
        experiments: dict[str, Any] | None = {} if args.experiments else None
        seed_texts = [row.chunk.text for row in pipeline.store.rows()]
        results["retrieval"] = stage_retrieval(
            pipeline, settings, sizes, retrieval_cases, 32 if quick else 192, Path(tmp) / "scale"
        )
        stage_load["retrieval"] = load_average()
        if experiments is not None:
            results["experiments"] = run_experiments(
                pipeline, settings, probe, qa_rows, compare_cases, experiments, seed_texts
            )
        results["memory"] = {
            "peak_rss_mb": results["cold_start"].get("embedded", {}).get("max_rss_mb"),
            "peak_rss_definition": "max ru_maxrss of the `qa ask` (embedded) subprocesses, from wait4",
            "bench_process_peak_rss_mb": peak_rss_mb(),
        }
    results["load_average"] = {"start": load_start, "after_stage": stage_load, "end": load_average()}
    results["duration_s"] = round(time.perf_counter() - started, 1)
    results["targets"] = targets(results)
    out_path.write_text(json.dumps(results, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    print(table(results))
    print(f"\nresults: {out_path} ({results['duration_s']:.0f} s)")
    failures = check_floors(results, args.floors)
    for failure in failures:
        print(f"bench: FAIL: {failure}", file=sys.stderr)
    if failures:
        sys.exit(1)
    print(f"bench: ratios to the stock pipeline hold the floors in {args.floors.name}")
