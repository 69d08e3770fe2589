"""`qa eval`: run the eval cases through the pipeline, score them, report, gate.

Every case goes through the same `Pipeline.answer()` the CLI and the HTTP API
use (follow-ups with their history). Retrieval is scored separately on the
top-k chunks for the very question the pipeline retrieved with (for a
follow-up, its condensed form). `--retrieval-only` loads no LLM at all.

Exit status: 0 done (and the gate passed, if asked), 1 the gate failed,
2 a usage or setup error (bad arguments, no baseline, model unavailable).
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from qa.config import Settings, get_settings
from qa.evals.dataset import EvalCase, check_anchors, load_cases, load_corpus
from qa.evals.metrics import CaseResult, RetrievedChunk, aggregate, metric_definitions, recall_at_k, reciprocal_rank
from qa.evals.metrics import score_case as score
from qa.evals.report import ANSWER_METRICS, CaseRecord, EvalReport, fmt, label, retrieval_view, write_report
from qa.llm import GeneratorUnavailable, Message
from qa.pipeline import Pipeline
from qa.retrieve import Retrieval
from qa.types import Answer, BackendInfo, Turn
from qa.wiring import RELEVANCE_FLOOR, build_pipeline

REPO = Path(__file__).resolve().parents[2]
DEFAULT_TOLERANCE = 0.05
EPSILON = 1e-9
Progress = Callable[[str], None]


def _repo_path(relative: str) -> Path:
    """`relative` inside the checkout this package runs from, else relative to the working directory."""
    candidate = REPO / relative
    return candidate if candidate.parent.is_dir() else Path(relative)


def gated_metrics(kind: str, k: int) -> tuple[str, ...]:
    """The overall metrics the baseline holds for a run of this kind."""
    retrieval = (f"recall@{k}", "mrr")
    return retrieval if kind == "retrieval" else (*ANSWER_METRICS, *retrieval)


def recall_ks(k: int) -> tuple[int, ...]:
    return tuple(sorted({n for n in (1, 3) if n < k} | {k}))


# ---------------------------------------------------------------------- arguments


def parse_args(argv: Sequence[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="qa eval",
        description="Run the eval cases through the pipeline, write a report and optionally gate on the baseline.",
    )
    parser.add_argument(
        "--backend",
        choices=["embedded", "ollama", "fake"],
        default=None,
        help="LLM backend (QA_LLM__BACKEND); default: the configured one, normally embedded llama.cpp.",
    )
    parser.add_argument(
        "--retrieval-only",
        action="store_true",
        help="Score retrieval only (recall@k, MRR): no LLM is loaded; takes seconds.",
    )
    parser.add_argument("--k", type=int, default=5, help="Retrieval depth scored by recall@k and MRR (default 5).")
    parser.add_argument(
        "--cases", type=Path, default=_repo_path("eval/cases.jsonl"), help="Eval cases (default eval/cases.jsonl)."
    )
    parser.add_argument(
        "--out", type=Path, default=_repo_path("eval/reports"), help="Report folder (default eval/reports/)."
    )
    parser.add_argument(
        "--name", default=None, help="Report file stem (default: 'latest', or 'retrieval' with --retrieval-only)."
    )
    parser.add_argument(
        "--baseline", type=Path, default=_repo_path("eval/baseline.json"), help="Baseline file (eval/baseline.json)."
    )
    parser.add_argument("--gate", action="store_true", help="Exit 1 when a gated metric is below baseline - tolerance.")
    parser.add_argument(
        "--update-baseline",
        action="store_true",
        help="Write this run's figures as the new baseline (after gating against the old one, if --gate).",
    )
    parser.add_argument(
        "--tolerance",
        type=float,
        default=None,
        help=f"Allowed drop below the baseline (default: the baseline file's, else {DEFAULT_TOLERANCE}).",
    )
    parser.add_argument("--limit", type=int, default=None, help="Only the first N cases (quick checks).")
    parser.add_argument(
        "--reuse-index",
        action="store_true",
        help="Use the configured QA_HOME index (built if empty) instead of a fresh one in a temporary folder.",
    )
    parser.add_argument("-q", "--quiet", action="store_true", help="No per-case progress lines on stderr.")
    args = parser.parse_args(list(argv))
    if args.k < 1:
        parser.error("--k must be >= 1")
    if args.limit is not None and args.limit < 1:
        parser.error("--limit must be >= 1")
    if args.tolerance is not None and not 0 <= args.tolerance < 1:
        parser.error("--tolerance must be within [0, 1)")
    return args


# ------------------------------------------------------------------------- running


class _NoModel:
    """Stands in for the LLM in retrieval-only runs: loads nothing, answers nothing.

    Its empty JSON makes `Pipeline.condense` take its model-free fallback (the
    previous user question prepended to the follow-up).
    """

    name = "none"

    def generate(
        self,
        messages: list[Message],
        schema: dict[str, Any],
        max_tokens: int,
        on_text: Callable[[str], None] | None = None,
    ) -> str:
        return "{}"


@contextmanager
def recording_retrieval(pipeline: Pipeline) -> Iterator[list[str]]:
    """Record every question `pipeline.retriever.retrieve` is called with inside the block."""
    retriever = pipeline.retriever
    own = vars(retriever)
    had_own, previous = "retrieve" in own, own.get("retrieve")
    inner = retriever.retrieve
    asked: list[str] = []

    def record(question: str, top_k: int | None = None) -> Retrieval:
        asked.append(question)
        return inner(question, top_k)

    own["retrieve"] = record
    try:
        yield asked
    finally:
        if had_own:
            own["retrieve"] = previous
        else:
            del own["retrieve"]


def _history(case: EvalCase) -> list[Turn] | None:
    return [Turn(t.role, t.content) for t in case.history] if case.history else None


def _chunks(retrieval: Retrieval) -> tuple[list[RetrievedChunk], list[float]]:
    chunks = [RetrievedChunk(p.chunk.source, p.chunk.start, p.chunk.end, p.chunk.text) for p in retrieval.passages]
    return chunks, [float(p.score) for p in retrieval.passages]


def evaluate_case(pipeline: Pipeline, case: EvalCase, corpus: dict[str, str], k: int) -> CaseRecord:
    """Answer one case through `Pipeline.answer()`, then score it (retrieval on the top k)."""
    history = _history(case)
    with recording_retrieval(pipeline) as asked:
        started = time.perf_counter()
        answer = pipeline.answer(case.question, history)
        latency_ms = (time.perf_counter() - started) * 1000
    question = asked[0] if asked else _standalone(pipeline, case)
    chunks, scores = _chunks(pipeline.retriever.retrieve(question, top_k=k))
    result = score(case, answer, chunks, corpus, round(latency_ms, 1), recall_ks(k))
    return CaseRecord(result, question, scores)


def _standalone(pipeline: Pipeline, case: EvalCase) -> str:
    question = pipeline.check_question(case.question)
    history = _history(case)
    return pipeline.condense(question, history) if history else question


def evaluate_retrieval(pipeline: Pipeline, case: EvalCase, corpus: dict[str, str], k: int) -> CaseRecord:
    """Retrieval only: the top k chunks for the question the pipeline would retrieve with."""
    question = _standalone(pipeline, case)
    started = time.perf_counter()
    retrieval = pipeline.retriever.retrieve(question, top_k=k)
    latency_ms = (time.perf_counter() - started) * 1000
    chunks, scores = _chunks(retrieval)
    placeholder = Answer(
        question=case.question,
        answer="",
        language=case.language,
        refused=False,
        mode="extractive",
        backend=BackendInfo(llm="none", embedder=pipeline.embedder.name),
    )
    result = CaseResult(case, placeholder, chunks, round(latency_ms, 1))
    result.recall_at = {n: recall_at_k(case, chunks, corpus, n) for n in recall_ks(k)}
    result.reciprocal_rank = reciprocal_rank(case, chunks, corpus)
    if result.reciprocal_rank == 0.0:
        result.why = [f"gold support not retrieved in top {k}"]
    return CaseRecord(result, question, scores)


def run_cases(
    pipeline: Pipeline,
    cases: Sequence[EvalCase],
    corpus: dict[str, str],
    k: int,
    retrieval_only: bool,
    progress: Progress | None = None,
) -> list[CaseRecord]:
    evaluate = evaluate_retrieval if retrieval_only else evaluate_case
    records: list[CaseRecord] = []
    for n, case in enumerate(cases, start=1):
        record = evaluate(pipeline, case, corpus, k)
        records.append(record)
        if progress is not None:
            result = record.result
            if retrieval_only:
                status = "n/a " if result.reciprocal_rank is None else f"RR {result.reciprocal_rank:.2f}"
                detail = ""
            else:
                status = "PASS" if result.correct else "FAIL"
                detail = f"{result.answer.mode:<10} " + "; ".join(result.why)[:100]
            progress(f"[{n:>3}/{len(cases)}] {case.id:<22} {status}  {result.latency_ms / 1000:6.1f} s  {detail}")
    return records


# ------------------------------------------------------------------------ settings


def eval_settings(base: Settings, backend: str | None, home: Path | None) -> Settings:
    """The settings to evaluate with: `backend` overrides the LLM, `home` the index folder.

    Model files stay where the configured settings keep them, so a temporary
    index never re-assembles the 1.1 GB model.
    """
    update: dict[str, Any] = {"models_dir": base.models_dir or base.home / "models"}
    if backend is not None:
        update["llm"] = base.llm.model_copy(update={"backend": backend})
    if home is not None:
        update["home"] = home
    return base.model_copy(update=update)


def display_path(path: Path | None) -> str | None:
    """`path` relative to the checkout when inside it (reports stay machine-independent)."""
    if path is None:
        return None
    try:
        return str(path.resolve().relative_to(REPO))
    except ValueError:
        return str(path)


def settings_info(settings: Settings, pipeline: Pipeline, temporary_index: bool) -> dict[str, Any]:
    """What the report records about the configuration (never the API token)."""
    return {
        "llm": settings.llm.model_dump(mode="json"),
        "embed": settings.embed.model_dump(mode="json"),
        "chunk": settings.chunk.model_dump(mode="json"),
        "retrieve": settings.retrieve.model_dump(mode="json"),
        "relevance_floor": pipeline.relevance_floor,
        "corpus": display_path(settings.corpus),
        "index_home": "(temporary)" if temporary_index else display_path(settings.home),
        "models_dir": display_path(settings.models_dir),
    }


def git_info(repo: Path = REPO) -> dict[str, Any]:
    """Commit and dirtiness of the checkout, read-only; nulls outside a git checkout."""

    def git(*args: str) -> str | None:
        try:
            done = subprocess.run(
                ["git", "--no-optional-locks", "-C", str(repo), *args],
                capture_output=True,
                text=True,
                timeout=10,
                check=False,
            )
        except (OSError, subprocess.SubprocessError):
            return None
        return done.stdout.strip() if done.returncode == 0 else None

    commit = git("rev-parse", "HEAD")
    status = git("status", "--porcelain", "--untracked-files=no") if commit else None
    return {"commit": commit, "dirty": bool(status) if status is not None else None}


def case_ids_digest(cases: Sequence[EvalCase]) -> str:
    return hashlib.sha256("\n".join(c.id for c in cases).encode()).hexdigest()[:16]


# ---------------------------------------------------------------------------- gate


def _overall_value(metrics: dict[str, Any], metric: str) -> float | None:
    entry = metrics["overall"].get(metric)
    if isinstance(entry, dict) and isinstance(entry.get("value"), int | float):
        return float(entry["value"])
    return None


def load_baseline(path: Path) -> dict[str, Any]:
    data = json.loads(path.read_text(encoding="utf-8"))
    if not isinstance(data, dict):
        raise ValueError(f"{path}: not a JSON object")
    return data


def check_gate(
    metrics: dict[str, Any], section: dict[str, Any], tolerance: float, baseline_file: Path
) -> dict[str, Any]:
    """Compare the run's overall metrics with a baseline section; a metric fails below baseline - tolerance."""
    rows: list[dict[str, Any]] = []
    for metric, baseline in section["metrics"].items():
        current = _overall_value(metrics, metric)
        if baseline is None:
            rows.append({"metric": metric, "baseline": None, "floor": None, "current": current, "status": "not gated"})
            continue
        floor = float(baseline) - tolerance
        passed = current is not None and current >= floor - EPSILON
        status = "PASS" if passed else ("FAIL" if current is not None else "FAIL (not measured)")
        rows.append(
            {"metric": metric, "baseline": float(baseline), "floor": floor, "current": current, "status": status}
        )
    return {
        "baseline_file": str(baseline_file),
        "tolerance": tolerance,
        "passed": not any(r["status"].startswith("FAIL") for r in rows),
        "rows": rows,
    }


def baseline_section(report: EvalReport, cases: Sequence[EvalCase]) -> dict[str, Any]:
    overall = report.metrics["overall"]
    gated = gated_metrics(report.kind, report.k)
    return {
        "metrics": {m: (round(v, 6) if (v := _overall_value(report.metrics, m)) is not None else None) for m in gated},
        "n": {m: overall.get(m, {}).get("n") for m in gated},
        "reported_not_gated": {"latency_ms": overall["latency_ms"], "wall_time_s": report.info["wall_time_s"]},
        "cases": len(cases),
        "case_ids_sha256": case_ids_digest(cases),
        "k": report.k,
        "backends": report.info["backends"],
        "commit": report.info["git"]["commit"],
        "updated": report.info["started"],
    }


def update_baseline(path: Path, report: EvalReport, cases: Sequence[EvalCase], tolerance: float | None) -> None:
    data = load_baseline(path) if path.is_file() else {}
    current_tolerance = data.get("tolerance", DEFAULT_TOLERANCE)
    data = {
        "about": (
            "Figures `qa eval --gate` must hold: each gated metric (overall) may not fall below its value minus "
            "`tolerance`. 'full' is the run through Pipeline.answer(), 'retrieval' the --retrieval-only run. "
            "Change only with `qa eval [--retrieval-only] --update-baseline`. Latency is recorded, not gated."
        ),
        "tolerance": tolerance if tolerance is not None else current_tolerance,
        "full": data.get("full"),
        "retrieval": data.get("retrieval"),
    }
    data[report.kind] = baseline_section(report, cases)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(data, ensure_ascii=False, indent=2) + "\n", encoding="utf-8")


def _gate_warnings(section: dict[str, Any], report: EvalReport, cases: Sequence[EvalCase]) -> list[str]:
    warnings = []
    if section.get("case_ids_sha256") != case_ids_digest(cases):
        warnings.append(
            f"the baseline was measured on {section.get('cases')} different cases; this run has {len(cases)}"
        )
    if section.get("backends") != report.info["backends"]:
        warnings.append(f"the baseline used backends {section.get('backends')}, this run {report.info['backends']}")
    return warnings


# -------------------------------------------------------------------------- output


def summary_text(report: EvalReport) -> str:
    """Plain-text table of the headline metrics overall, by language and by case type."""
    metrics = report.headline()
    head = ["group", "cases", *(label(m) for m in metrics), "p50 ms", "p95 ms"]
    groups: list[tuple[str, dict[str, Any]]] = [("overall", report.metrics["overall"])]
    groups += [(f"lang {n}", g) for n, g in report.metrics["by_language"].items()]
    groups += [(f"type {n}", g) for n, g in report.metrics["by_type"].items()]
    rows = [head]
    for name, group in groups:
        cells = [name, str(group["cases"])]
        for metric in metrics:
            entry = group.get(metric, {})
            cells.append("–" if entry.get("value") is None else f"{entry['value']:.3f}/{entry['n']}")
        cells += [fmt(group["latency_ms"]["p50"], 0), fmt(group["latency_ms"]["p95"], 0)]
        rows.append(cells)
    widths = [max(len(row[i]) for row in rows) for i in range(len(head))]
    lines = ["  ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=True)) for row in rows]
    lines.insert(1, "  ".join("-" * w for w in widths))
    return "\n".join(lines) + "\n(value/number of cases the metric applies to)"


def gate_text(gate: dict[str, Any]) -> str:
    rows = [["metric", "baseline", "floor", "current", "result"]]
    for row in gate["rows"]:
        rows.append(
            [label(row["metric"]), fmt(row["baseline"], 3), fmt(row["floor"], 3), fmt(row["current"], 3), row["status"]]
        )
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    lines = ["  ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)) for r in rows]
    verdict = "PASS" if gate["passed"] else "FAIL"
    return f"gate {verdict} (tolerance {gate['tolerance']:.3f}, baseline {gate['baseline_file']})\n" + "\n".join(lines)


# ---------------------------------------------------------------------------- main


def main(argv: list[str] | None = None) -> int:
    """Entry point of `qa eval`; returns the exit status."""
    os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
    args = parse_args(sys.argv[1:] if argv is None else argv)
    kind = "retrieval" if args.retrieval_only else "full"
    name = args.name or ("retrieval" if args.retrieval_only else "latest")
    progress: Progress | None = None if args.quiet else (lambda line: print(line, file=sys.stderr, flush=True))

    def error(message: str) -> int:
        print(f"qa eval: error: {message}", file=sys.stderr)
        return 2

    baseline: dict[str, Any] | None = None
    if args.gate:
        if not args.baseline.is_file():
            return error(f"no baseline at {args.baseline}; create it with `qa eval --update-baseline`")
        try:
            baseline = load_baseline(args.baseline)
        except (ValueError, OSError) as exc:
            return error(f"cannot read the baseline: {exc}")
        if not baseline.get(kind):
            flag = " --retrieval-only" if args.retrieval_only else ""
            return error(f"{args.baseline} has no '{kind}' figures; create them with `qa eval{flag} --update-baseline`")
    try:
        cases = load_cases(args.cases)
    except (ValueError, OSError) as exc:
        return error(str(exc))
    if args.limit is not None:
        cases = cases[: args.limit]
    try:
        configured = get_settings()
    except ValidationError as exc:
        first = exc.errors()[0]
        return error(f"bad QA_* setting: {first['loc']}: {first['msg']}")
    problems = check_anchors(cases, configured.corpus)
    if problems:
        return error(f"the cases do not match the corpus {configured.corpus}: " + "; ".join(problems[:5]))
    corpus = load_corpus(configured.corpus)

    with tempfile.TemporaryDirectory(prefix="qa-eval-", ignore_cleanup_errors=True) as tmp:
        settings = eval_settings(configured, args.backend, None if args.reuse_index else Path(tmp) / "home")
        started_at = datetime.now(UTC).isoformat(timespec="seconds")
        git = git_info()  # before the run: the code that was imported, not what landed meanwhile
        wall_start = time.perf_counter()
        try:
            pipeline = build_pipeline(settings, generator=_NoModel() if args.retrieval_only else None)
            index_start = time.perf_counter()
            pipeline.ensure_index()
            index_s = time.perf_counter() - index_start
            load_s = 0.0
            if not args.retrieval_only:
                load_start = time.perf_counter()
                _ = pipeline.generator  # load the model before timing the first case
                load_s = time.perf_counter() - load_start
            if progress:
                progress(
                    f"qa eval: {len(cases)} cases, {kind} run, LLM {pipeline.backend_info().llm}, "
                    f"index {index_s:.1f} s, model load {load_s:.1f} s"
                )
            records = run_cases(pipeline, cases, corpus, args.k, args.retrieval_only, progress)
        except GeneratorUnavailable as exc:
            return error(str(exc))
        wall_s = time.perf_counter() - wall_start
        metrics = aggregate([r.result for r in records])
        definitions = metric_definitions()
        if args.retrieval_only:
            metrics = retrieval_view(metrics, [f"recall@{n}" for n in recall_ks(args.k)] + ["mrr"])
            definitions = {key: definitions[key] for key in ("recall@k", "mrr", "latency_percentile")}
        info: dict[str, Any] = {
            "started": started_at,
            "wall_time_s": round(wall_s, 1),
            "index_s": round(index_s, 1),
            "model_load_s": round(load_s, 1),
            "cases_file": display_path(args.cases),
            "cases": len(cases),
            "limit": args.limit,
            "git": git,
            "backends": pipeline.backend_info().model_dump(),
            "relevance_floor_default": RELEVANCE_FLOOR.get(settings.embed.backend),
            "settings": settings_info(settings, pipeline, temporary_index=not args.reuse_index),
        }
    report = EvalReport(name, kind, args.k, records, metrics, definitions, info)

    status = 0
    warnings: list[str] = []
    if baseline is not None:
        section = baseline[kind]
        tolerance = (
            args.tolerance if args.tolerance is not None else float(baseline.get("tolerance", DEFAULT_TOLERANCE))
        )
        report.gate = check_gate(metrics, section, tolerance, args.baseline)
        warnings = _gate_warnings(section, report, cases)
        status = 0 if report.gate["passed"] else 1
    paths = write_report(report, args.out)

    print(summary_text(report))
    print(f"\nwall time {wall_s:.0f} s; wrote " + ", ".join(str(p) for p in paths.values()))
    for warning in warnings:
        print(f"qa eval: warning: {warning}", file=sys.stderr)
    if report.gate is not None:
        print("\n" + gate_text(report.gate))
        for row in report.gate["rows"]:
            if row["status"].startswith("FAIL"):
                current = "not measured" if row["current"] is None else f"{row['current']:.3f}"
                print(
                    f"qa eval: {label(row['metric'])} fell below baseline - tolerance: {current} < "
                    f"{row['baseline']:.3f} - {report.gate['tolerance']:.3f} = {row['floor']:.3f}",
                    file=sys.stderr,
                )
    if args.update_baseline:
        update_baseline(args.baseline, report, cases, args.tolerance)
        print(f"\nupdated the '{kind}' figures in {args.baseline}")
    return status


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
