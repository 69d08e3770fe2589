"""The benchmark: every stage of the embedded default pipeline, scale-up, and a stock baseline.

Stages, in order (each in a fresh QA_HOME under a temp dir; the 1.1 GB model file is reused
from QA_MODELS_DIR, default <repo>/.qa-home/models):

1. ingest    - what `Pipeline.ingest` does, on seeds/ (chunks/s), with a split/embed/store breakdown
2. cold      - `qa ask --json` as a subprocess on that index: wall time, peak RSS
               (fake LLM backend = start-up without the model; default = embedded)
3. answers   - `Pipeline.answer(q, on_text=...)` over the eval questions: latency,
               time to first streamed token, llama.cpp prompt/generation timings, accuracy
4. stock     - the stock llama-index query engine (bench.stock) on the same questions,
               collection, embedder and model: latency and accuracy side by side
5. retrieval - `Retriever.retrieve` at 1k/10k/100k chunks (see bench.corpus for how the
               large corpora are made), plus raw-Chroma and in-memory numpy references

Each stage has its module (bench.ingest, bench.cold_start, bench.answers, bench.baseline,
bench.retrieval), the targets, table and floors check are in bench.report; this module parses
the arguments and runs the stages in order.
"""

from __future__ import annotations

import argparse
import json
import os
import shlex
import sys
import tempfile
import time
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from bench import corpus as synth
from bench.answers import AnswerRow, stage_answers, summarise_answers
from bench.baseline import StockRow, compare, stage_stock
from bench.cold_start import stage_cold_start
from bench.common import REPO, from_json, log
from bench.ingest import stage_ingest
from bench.machine import describe_machine, load_average, peak_rss_mb
from bench.questions import load_cases, stratified
from bench.report import check_floors, table, targets
from bench.retrieval import stage_retrieval
from qa.config import prepare_process
from qa.evals.dataset import EvalCase

if TYPE_CHECKING:
    from qa.config import Settings

DEFAULT_OUT = REPO / "bench" / "results" / "latest.json"


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__.split("\n\n")[0] if __doc__ else "")
    parser.add_argument("--quick", action="store_true", help="CI mode: 1k chunks, 5 questions (~5 min on 2 cores).")
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


@dataclass
class Plan:
    """What one run measures: the corpus sizes and the questions of each stage."""

    quick: bool
    sizes: list[int]
    answer_cases: list[EvalCase]
    compare_cases: list[EvalCase]
    retrieval_cases: list[EvalCase]
    cases_source: str

    @classmethod
    def from_args(cls, args: argparse.Namespace) -> Plan:
        quick = args.quick
        sizes = (
            [int(s) for s in args.sizes.split(",")] if args.sizes else ([1000] if quick else [1000, 10_000, 100_000])
        )
        all_cases, cases_source = load_cases()
        n_questions = args.questions or (5 if quick else 60)
        if quick:  # the same few questions for both pipelines
            answer_cases = stratified(all_cases, n_questions, ("follow_up",))
            compare_cases = answer_cases[: args.compare or len(answer_cases)]
        else:
            answer_cases = stratified(all_cases, n_questions)
            compare_cases = stratified(answer_cases, args.compare or 20, ("follow_up",))
        retrieval_cases = stratified(all_cases, 20 if quick else 60)
        return cls(quick, sizes, answer_cases, compare_cases, retrieval_cases, cases_source)


def configure_env(args: argparse.Namespace, home: Path) -> None:
    os.environ.setdefault("QA_MODELS_DIR", str(REPO / ".qa-home" / "models"))
    prepare_process()
    os.environ["QA_HOME"] = str(home)
    os.environ["QA_CORPUS"] = str(REPO / "seeds")
    if args.threads:
        os.environ["QA_LLM__THREADS"] = str(args.threads)
        os.environ["QA_EMBED__THREADS"] = str(args.threads)
    for key in ("QA_LLM__BACKEND", "QA_EMBED__BACKEND", "QA_CHROMA__HOST"):
        os.environ.pop(key, None)  # the embedded default, whatever the caller's shell says


def report_only(path: Path) -> None:
    """Recompute the comparison and targets of a results file, rewrite it and print its table."""
    results = json.loads(path.read_text(encoding="utf-8"))
    extra = {k: v for k, v in results["stock"].items() if k == "warmup_ms"}
    qa_rows = [from_json(AnswerRow, row) for row in results["answers"]["rows"]]
    stock_rows = [from_json(StockRow, row) for row in results["stock"]["rows"]]
    results["stock"] = {**compare(qa_rows, stock_rows), **extra}
    results["targets"] = targets(results)
    results["retrieval"]["method"] = synth.method()
    path.write_text(json.dumps(results, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    print(table(results))


def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv)
    if args.report:
        report_only(args.report)
        return
    out_path: Path = args.out
    out_path.parent.mkdir(parents=True, exist_ok=True)
    if not args.verbose:
        _move_llama_log_to_file(out_path)
    results = run_benchmark(args, argv)
    out_path.write_text(json.dumps(results, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    print(table(results))
    print(f"\nresults: {out_path} ({results['duration_s']:.0f} s)")
    failures = check_floors(results, args.floors)
    for failure in failures:
        print(f"bench: FAIL: {failure}", file=sys.stderr)
    if failures:
        sys.exit(1)
    print(f"bench: ratios to the stock pipeline hold the floors in {args.floors.name}")


def _move_llama_log_to_file(out_path: Path) -> None:
    """llama.cpp logs to fd 2: point fd 2 at a temp file and keep our own stderr on a copy of it."""
    log_path = Path(tempfile.gettempdir()) / f"qa-bench-{out_path.stem}-llama.log"
    log_file = log_path.open("w")
    saved = os.dup(2)
    os.dup2(log_file.fileno(), 2)
    sys.stderr = os.fdopen(saved, "w", buffering=1)


def run_benchmark(args: argparse.Namespace, argv: list[str] | None) -> dict[str, Any]:
    """Every stage, in a temporary QA_HOME; the results as written to the JSON file."""
    started = time.perf_counter()
    load_start = load_average()
    with tempfile.TemporaryDirectory(prefix="qa-bench-") as tmp:
        configure_env(args, Path(tmp) / "home")
        from qa.config import Settings

        settings = Settings()
        plan = Plan.from_args(args)
        results = _preamble(argv, settings, plan)
        log(
            f"{results['mode']} run; {len(plan.answer_cases)} answer questions, {len(plan.compare_cases)} for the "
            f"stock comparison, sizes {plan.sizes}; load average {load_start}"
        )
        stage_load = _run_stages(results, settings, plan, args, Path(tmp))
    results["load_average"] = {"start": load_start, "after_stage": stage_load, "end": load_average()}
    results["duration_s"] = round(time.perf_counter() - started, 1)
    results["targets"] = targets(results)
    return results


def _preamble(argv: list[str] | None, settings: Settings, plan: Plan) -> dict[str, Any]:
    """What was run, on what, with which settings."""
    return {
        "version": 1,
        "mode": "quick" if plan.quick else "full",
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
        "cases_source": plan.cases_source,
    }


def _run_stages(
    results: dict[str, Any], settings: Settings, plan: Plan, args: argparse.Namespace, tmp: Path
) -> dict[str, list[float]]:
    """Runs the stages into `results`; returns the load average after each."""
    stage_load: dict[str, list[float]] = {}
    pipeline, results["ingest"] = stage_ingest(settings, reps=1 if plan.quick else 3)
    stage_load["ingest"] = load_average()
    cold_reps = args.cold_reps or (1 if plan.quick else 3)
    results["cold_start"] = stage_cold_start(cold_reps, ["fake", "embedded", "embedded-first-run"])
    stage_load["cold_start"] = load_average()
    meta, qa_rows, probe = stage_answers(pipeline, plan.answer_cases)
    stage_load["answers"] = load_average()
    results["answers"] = {**summarise_answers(qa_rows), **meta, "rows": [asdict(r) for r in qa_rows]}
    if probe is None:
        raise RuntimeError(f"the stock comparison needs the embedded llama.cpp model, not {meta['backend']}")
    stock_meta, stock_rows = stage_stock(pipeline, plan.compare_cases, probe, warmup=not plan.quick)
    results["stock"] = {**compare(qa_rows, stock_rows), **stock_meta}
    stage_load["stock"] = load_average()
    pool_size = 32 if plan.quick else 192
    results["retrieval"] = stage_retrieval(
        pipeline, settings, plan.sizes, plan.retrieval_cases, pool_size, tmp / "scale"
    )
    stage_load["retrieval"] = load_average()
    if args.experiments:
        from bench.experiments import run_experiments

        results["experiments"] = run_experiments(pipeline, settings, probe, qa_rows, plan.compare_cases)
    results["memory"] = {
        "peak_rss_mb": results["cold_start"].get("embedded", {}).get("max_rss_mb"),
        "peak_rss_definition": "max ru_maxrss of the `qa ask` (embedded) subprocesses, from wait4",
        "bench_process_peak_rss_mb": peak_rss_mb(),
    }
    return stage_load
