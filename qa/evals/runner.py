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
import json
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from qa.config import BadSetting, Settings, load_settings, prepare_process
from qa.evals import gate, verifier
from qa.evals.dataset import EvalCase, check_anchors, load_cases, load_corpus
from qa.evals.gate import DEFAULT_TOLERANCE, GateSetupError
from qa.evals.metrics import CaseResult, RetrievedChunk, aggregate, metric_definitions, recall_at_k, reciprocal_rank
from qa.evals.metrics import score_case as score
from qa.evals.report import CaseRecord, EvalReport, fmt, label, retrieval_view, write_report
from qa.llm import GeneratorUnavailable, Message
from qa.pipeline import Pipeline
from qa.retrieve import Retrieval
from qa.types import Answer, BackendInfo, Turn
from qa.wiring import RELEVANCE_FLOOR, build_pipeline

REPO = Path(__file__).resolve().parents[2]
Progress = Callable[[str], None]


def _repo_path(relative: str) -> Path:
    """`relative` inside the checkout this package runs from, else relative to the working directory."""
    candidate = REPO / relative
    return candidate if candidate.parent.is_dir() else Path(relative)


def recall_ks(k: int) -> tuple[int, ...]:
    return tuple(sorted({n for n in (1, 3) if n < k} | {k}))


# ---------------------------------------------------------------------- arguments


def parse_args(argv: Sequence[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="qa eval",
        description="Run the eval cases through the pipeline, write a report and optionally gate on the baseline.",
    )
    _add_case_arguments(parser)
    _add_output_arguments(parser)
    _add_gate_arguments(parser)
    args = parser.parse_args(list(argv))
    _check_arguments(parser, args)
    if args.gates is None:
        args.gates = args.baseline.with_name("gates.json")
    return args


def _add_case_arguments(parser: argparse.ArgumentParser) -> None:
    """What to run: backend, cases, their selection."""
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
    parser.add_argument("--limit", type=int, default=None, help="Only the first N cases (quick checks).")
    parser.add_argument(
        "--split",
        choices=["dev", "test"],
        default=None,
        help="Only this split's cases (tune on dev; test is for reports and the gate).",
    )
    parser.add_argument("--type", default=None, help="Only cases of this type (e.g. conflict).")
    parser.add_argument(
        "--reuse-index",
        action="store_true",
        help="Use the configured QA_HOME index (built if empty) instead of a fresh one in a temporary folder.",
    )
    parser.add_argument("-q", "--quiet", action="store_true", help="No per-case progress lines on stderr.")


def _add_output_arguments(parser: argparse.ArgumentParser) -> None:
    """Where the report goes."""
    parser.add_argument(
        "--out",
        type=Path,
        default=_repo_path("eval/runs"),
        help="Report folder (default eval/runs/, not committed); --update-baseline also writes reports/ beside "
        "the baseline (eval/reports/, committed).",
    )
    parser.add_argument(
        "--name", default=None, help="Report file stem (default: 'latest', or 'retrieval' with --retrieval-only)."
    )
    parser.add_argument(
        "--baseline", type=Path, default=_repo_path("eval/baseline.json"), help="Baseline file (eval/baseline.json)."
    )
    parser.add_argument(
        "--gates", type=Path, default=None, help="Limits file (default: gates.json beside the baseline)."
    )


def _add_gate_arguments(parser: argparse.ArgumentParser) -> None:
    """The verifier benchmark, the gate and the baseline."""
    parser.add_argument(
        "--verifier",
        action="store_true",
        help="Run the verifier benchmark (eval/verifier.jsonl): false-accept and false-reject rates.",
    )
    parser.add_argument(
        "--verifier-cases", type=Path, default=_repo_path("eval/verifier.jsonl"), help="Verifier benchmark records."
    )
    parser.add_argument(
        "--gate",
        action="store_true",
        help="Exit 1 when a test-split figure crosses its limit in the gates file, or the cases/backends changed.",
    )
    parser.add_argument(
        "--update-baseline",
        action="store_true",
        help="Write this run's figures as the new baseline (after gating against the old one, if --gate).",
    )
    parser.add_argument(
        "--tolerance",
        type=float,
        default=None,
        help=f"With --update-baseline: the limits' distance from this run's figures (default {DEFAULT_TOLERANCE}).",
    )


def _check_arguments(parser: argparse.ArgumentParser, args: argparse.Namespace) -> None:
    """Combinations argparse cannot express; parser.error exits with one line."""
    if args.k < 1:
        parser.error("--k must be >= 1")
    if args.limit is not None and args.limit < 1:
        parser.error("--limit must be >= 1")
    if args.tolerance is not None and not 0 <= args.tolerance < 1:
        parser.error("--tolerance must be within [0, 1)")
    if args.verifier and args.retrieval_only:
        parser.error("--verifier and --retrieval-only are separate runs")
    if args.update_baseline and (args.split or args.type or args.limit):
        parser.error("--update-baseline records the whole case file: no --split, --type or --limit")
    if args.gate and (args.type or args.split == "dev"):
        parser.error("--gate reads the test split: use it alone or with --split test")


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
    update: dict[str, Any] = {"models_dir": base.model_folder}
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


def _git(repo: Path, *args: str) -> str | None:
    """A read-only git command's output, or None when git fails or this is no checkout."""
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
    return done.stdout if done.returncode == 0 else None


def git_info(repo: Path = REPO) -> dict[str, Any]:
    """Commit and dirtiness of the checkout, read-only; nulls outside a git checkout."""
    commit = _git(repo, "rev-parse", "HEAD")
    status = _git(repo, "status", "--porcelain", "--untracked-files=no") if commit else None
    return {"commit": commit.strip() if commit else None, "dirty": bool(status.strip()) if status is not None else None}


def uncommitted_changes(outputs: Sequence[Path], repo: Path = REPO) -> list[str] | None:
    """Tracked files with uncommitted changes, other than `outputs` (files or folders) that the
    update itself writes; None outside a git checkout."""
    status = _git(repo, "status", "--porcelain", "--untracked-files=no")
    if status is None:
        return None
    own = [str(p.resolve().relative_to(repo)) for p in outputs if p.resolve().is_relative_to(repo)]
    changed = [line[3:].strip() for line in status.splitlines() if line.strip()]
    return [path for path in changed if not any(path == o or path.startswith(o + "/") for o in own)]


# ---------------------------------------------------------------------------- gate


def baseline_section(info: dict[str, Any], metrics: dict[str, Any], measured_on: dict[str, Any]) -> dict[str, Any]:
    """What the baseline keeps of a run: its fingerprint, test-split overall figures and provenance."""
    overall = metrics.get("by_split", {}).get(gate.GATED_SPLIT, {}).get("overall", {})
    figures = {key: entry["value"] for key, entry in overall.items() if isinstance(entry, dict) and "value" in entry}
    return {
        **measured_on,
        "cases": info["cases"],
        "test_split_overall": figures,
        "reported_not_gated": {"wall_time_s": info["wall_time_s"]},
        "commit": info["git"]["commit"],
        "updated": info["started"],
    }


def update_baseline(
    args: argparse.Namespace,
    kind: str,
    report_info: dict[str, Any],
    metrics: dict[str, Any],
    measured_on: dict[str, Any],
) -> None:
    tolerance = args.tolerance if args.tolerance is not None else DEFAULT_TOLERANCE
    gate.write_section(
        args.baseline,
        kind,
        baseline_section(report_info, metrics, measured_on),
        "What each kind of `qa eval` run measured when its baseline was last set (`qa eval [--retrieval-only|"
        "--verifier] --update-baseline`, from a clean tree). The gate fails when the case file or backends differ.",
    )
    gate.write_section(
        args.gates,
        kind,
        gate.derive_limits(metrics, kind, args.k, tolerance),
        f"Limits `qa eval --gate` holds on the {gate.GATED_SPLIT} split: 'limit' is a floor, or a ceiling for "
        f"{', '.join(sorted(gate.LOWER_IS_BETTER))}; set by --update-baseline to the run's figure -/+ the tolerance "
        f"({tolerance}). Raise a limit by hand to hold a gain.",
    )


def gate_text(result: dict[str, Any]) -> str:
    rows = [["group", "metric", "baseline", "limit", "current", "result"]]
    for row in result["rows"]:
        rows.append(
            [
                row["group"],
                label(row["metric"]),
                fmt(row["baseline"], 3),
                fmt(row["limit"], 3),
                fmt(row["current"], 3),
                row["status"],
            ]
        )
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    lines = ["  ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)) for r in rows]
    verdict = "PASS" if result["passed"] else "FAIL"
    head = f"gate {verdict} ({result['split']} split)"
    return "\n".join([head, *(f"  problem: {p}" for p in result["problems"]), *lines])


def print_gate(result: dict[str, Any]) -> None:
    print("\n" + gate_text(result))
    for problem in result["problems"]:
        print(f"qa eval: gate: {problem}", file=sys.stderr)
    for row in result["rows"]:
        if row["status"].startswith("FAIL"):
            current = "not measured" if row["current"] is None else f"{row['current']:.3f}"
            side = "above its ceiling" if row["metric"] in gate.LOWER_IS_BETTER else "below its floor"
            print(
                f"qa eval: {row['group']} {label(row['metric'])} is {side}: {current} vs {row['limit']:.3f}",
                file=sys.stderr,
            )


# ---------------------------------------------------------------------------- main


class EvalSetupError(Exception):
    """Bad arguments, files or settings: `qa eval` exits 2 with this message."""


def summary_text(report: EvalReport) -> str:
    """Plain-text table of the headline metrics: all cases, then each split by language and by type."""
    metrics = report.headline()
    head = ["group", "cases", *(label(m) for m in metrics), "p50 ms"]
    groups: list[tuple[str, dict[str, Any]]] = [("all", report.metrics["overall"])]
    for split, views in report.metrics.get("by_split", {}).items():
        groups.append((f"{split}", views["overall"]))
        groups += [(f"{split} lang {n}", g) for n, g in views["by_language"].items()]
        groups += [(f"{split} type {n}", g) for n, g in views["by_type"].items()]
    rows = [head]
    for name, group in groups:
        cells = [name, str(group["cases"])]
        for metric in metrics:
            entry = group.get(metric, {})
            cells.append("–" if entry.get("value") is None else f"{entry['value']:.3f}/{entry['n']}")
        rows.append([*cells, fmt(group["latency_ms"]["p50"], 0)])
    widths = [max(len(row[i]) for row in rows) for i in range(len(head))]
    lines = ["  ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=True)) for row in rows]
    lines.insert(1, "  ".join("-" * w for w in widths))
    return "\n".join(lines) + "\n(value/number of cases the metric applies to)"


def _settings() -> Settings:
    try:
        return load_settings()
    except BadSetting as exc:
        raise EvalSetupError(str(exc)) from exc


def _load_cases(args: argparse.Namespace, corpus_dir: Path) -> list[EvalCase]:
    try:
        cases = load_cases(args.cases)
    except (ValueError, OSError) as exc:
        raise EvalSetupError(str(exc)) from exc
    cases = [c for c in cases if args.split in (None, c.split) and args.type in (None, c.type)]
    cases = cases[: args.limit] if args.limit is not None else cases
    problems = check_anchors(cases, corpus_dir)
    if problems:
        raise EvalSetupError(f"the cases do not match the corpus {corpus_dir}: " + "; ".join(problems[:5]))
    return cases


def _check_can_update(args: argparse.Namespace) -> None:
    if not args.update_baseline or not args.baseline.resolve().is_relative_to(REPO):
        return
    changed = uncommitted_changes([args.baseline, args.gates, args.baseline.parent / "reports"])
    if changed:
        raise EvalSetupError(
            "--update-baseline refuses a tree with uncommitted changes (" + ", ".join(changed[:3]) + "): "
            "commit first, so the baseline describes a commit"
        )


def _answer_run(args: argparse.Namespace, kind: str, progress: Progress | None) -> tuple[EvalReport, dict[str, Any]]:
    configured = _settings()
    cases = _load_cases(args, configured.corpus)
    corpus = load_corpus(configured.corpus)
    with tempfile.TemporaryDirectory(prefix="qa-eval-", ignore_cleanup_errors=True) as tmp:
        settings = eval_settings(configured, args.backend, None if args.reuse_index else Path(tmp) / "home")
        started_at = datetime.now(UTC).isoformat(timespec="seconds")
        git = git_info()  # before the run: the code that was imported, not what landed meanwhile
        wall_start = time.perf_counter()
        try:
            pipeline = build_pipeline(settings, generator=_NoModel() if kind == "retrieval" else None)
            index_start = time.perf_counter()
            pipeline.ensure_index()
            index_s = time.perf_counter() - index_start
            load_s = 0.0
            if kind != "retrieval":
                load_start = time.perf_counter()
                _ = pipeline.generator  # load the model before timing the first case
                load_s = time.perf_counter() - load_start
            if progress:
                progress(
                    f"qa eval: {len(cases)} cases, {kind} run, LLM {pipeline.backend_info().llm}, "
                    f"index {index_s:.1f} s, model load {load_s:.1f} s"
                )
            records = run_cases(pipeline, cases, corpus, args.k, kind == "retrieval", progress)
        except GeneratorUnavailable as exc:
            raise EvalSetupError(str(exc)) from exc
        wall_s = time.perf_counter() - wall_start
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
    metrics = aggregate([r.result for r in records])
    definitions = metric_definitions()
    if kind == "retrieval":
        metrics = retrieval_view(metrics, [f"recall@{n}" for n in recall_ks(args.k)] + ["mrr"])
        definitions = {key: definitions[key] for key in ("recall@k", "mrr", "latency_percentile")}
    name = args.name or ("retrieval" if kind == "retrieval" else "latest")
    report = EvalReport(name, kind, args.k, records, metrics, definitions, info)
    return report, gate.fingerprint(args.cases, info["backends"])


def _verifier_run(
    args: argparse.Namespace, progress: Progress | None
) -> tuple[dict[str, Any], list[verifier.VerdictRow], dict[str, Any]]:
    configured = _settings()
    try:
        records = verifier.load_records(args.verifier_cases)
    except (ValueError, OSError) as exc:
        raise EvalSetupError(str(exc)) from exc
    records = [r for r in records if args.split in (None, r.split)]
    records = records[: args.limit] if args.limit is not None else records
    problems = verifier.evidence_problems(records, load_corpus(configured.corpus))
    if problems:
        raise EvalSetupError("verifier records do not match the corpus: " + "; ".join(problems[:5]))
    started_at = datetime.now(UTC).isoformat(timespec="seconds")
    git = git_info()
    wall_start = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="qa-eval-", ignore_cleanup_errors=True) as tmp:
        try:
            pipeline = build_pipeline(eval_settings(configured, args.backend, Path(tmp) / "home"))
            rows = verifier.run(pipeline.verify_answer, records, progress)
        except GeneratorUnavailable as exc:
            raise EvalSetupError(str(exc)) from exc
    info: dict[str, Any] = {
        "started": started_at,
        "wall_time_s": round(time.perf_counter() - wall_start, 1),
        "cases_file": display_path(args.verifier_cases),
        "cases": len(records),
        "git": git,
        "backends": pipeline.backend_info().model_dump(),
    }
    return info, rows, gate.fingerprint(args.verifier_cases, info["backends"])


def _write_verifier(
    out: Path,
    info: dict[str, Any],
    rows: list[verifier.VerdictRow],
    metrics: dict[str, Any],
    result: dict[str, Any] | None,
) -> list[Path]:
    out.mkdir(parents=True, exist_ok=True)
    data = {
        **info,
        "metrics": metrics,
        "gate": result,
        "results": [
            {
                "id": r.record.id,
                "language": r.record.language,
                "split": r.record.split,
                "kind": r.record.kind,
                "supported": r.record.supported,
                "accepted": r.accepted,
                "reasons": r.reasons,
                "latency_ms": r.latency_ms,
            }
            for r in rows
        ],
    }
    json_path, md_path = out / "verifier.json", out / "verifier.md"
    json_path.write_text(json.dumps(data, ensure_ascii=False, indent=1) + "\n", encoding="utf-8")
    md_path.write_text(verifier.render_markdown(rows, metrics, [gate_text(result)] if result else []), encoding="utf-8")
    return [json_path, md_path]


def verifier_summary(metrics: dict[str, Any]) -> str:
    lines = []
    for split, views in metrics["by_split"].items():
        for name, g in [("overall", views["overall"]), *views["by_language"].items()]:
            fa, fr = g["false_accept"]["value"], g["false_reject"]["value"]
            lines.append(f"{split:<5} {name:<8} n={g['cases']:<4} false accept {fmt(fa, 3)}  false reject {fmt(fr, 3)}")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    """Entry point of `qa eval`; returns the exit status."""
    prepare_process()
    args = parse_args(sys.argv[1:] if argv is None else argv)
    try:
        return _main(args)
    except (EvalSetupError, GateSetupError) as exc:
        print(f"qa eval: error: {exc}", file=sys.stderr)
        return 2


def _main(args: argparse.Namespace) -> int:
    kind = "verifier" if args.verifier else "retrieval" if args.retrieval_only else "full"
    progress: Progress | None = None if args.quiet else (lambda line: print(line, file=sys.stderr, flush=True))
    _check_can_update(args)
    limits: list[dict[str, Any]] | None = None
    baseline_on: dict[str, Any] = {}
    if args.gate:
        baseline_on, limits = gate.load_section(args.baseline, args.gates, kind)
    if kind == "verifier":
        info, rows, measured_on = _verifier_run(args, progress)
        metrics = verifier.aggregate(rows)
        result = gate.check(metrics, limits, measured_on, baseline_on) if limits is not None else None
        paths = _write_verifier(args.out, info, rows, metrics, result)
        if args.update_baseline:
            paths += _write_verifier(args.baseline.parent / "reports", info, rows, metrics, result)
        print(verifier_summary(metrics))
    else:
        report, measured_on = _answer_run(args, kind, progress)
        info, metrics = report.info, report.metrics
        result = gate.check(metrics, limits, measured_on, baseline_on) if limits is not None else None
        report.gate = result
        paths = list(write_report(report, args.out).values())
        if args.update_baseline:
            paths += list(write_report(report, args.baseline.parent / "reports").values())
        print(summary_text(report))
    print(f"\nwall time {info['wall_time_s']:.0f} s; wrote " + ", ".join(str(display_path(p)) for p in paths))
    if result is not None:
        print_gate(result)
    if args.update_baseline:
        update_baseline(args, kind, info, metrics, measured_on)
        print(f"\nupdated the '{kind}' figures in {display_path(args.baseline)} and {display_path(args.gates)}")
    return 0 if result is None or result["passed"] else 1


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
