"""Running `qa eval`: the cases through the pipeline, scored; the run's provenance. (`cli` drives it.)

Every case goes through the same `Pipeline.answer()` the CLI and the HTTP API
use (follow-ups with their history). Retrieval is scored on that answer's own
search (`Pipeline.answer_traced`): the top k of the ranking it made for the
question as searched (for a follow-up, its condensed form); no second search.
`--retrieval-only` loads no LLM at all.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import tempfile
import time
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from qa.config import BadSetting, Settings, load_settings
from qa.evals import gate, verifier
from qa.evals.dataset import EvalCase, check_anchors, load_cases, load_corpus
from qa.evals.metrics import (
    CaseResult,
    RetrievedChunk,
    aggregate,
    evidence_recall,
    metric_definitions,
    recall_at_k,
    reciprocal_rank,
)
from qa.evals.metrics import score_case as score
from qa.evals.report import RANKING_METRICS, RETRIEVAL_DEFINITIONS, CaseRecord, EvalReport, gate_text, retrieval_view
from qa.llm import GeneratorUnavailable, Message
from qa.pipeline import Pipeline
from qa.retrieve import Retrieval
from qa.types import Answer, BackendInfo, OnText, Passage, Progress, Turn
from qa.wiring import RELEVANCE_FLOOR, build_pipeline

REPO = Path(__file__).resolve().parents[2]


def recall_ks(k: int) -> tuple[int, ...]:
    return tuple(sorted({n for n in (1, 3) if n < k} | {k}))


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
        on_text: OnText | None = None,
    ) -> str:
        return "{}"


def _history(case: EvalCase) -> list[Turn] | None:
    return [Turn(t.role, t.content) for t in case.history] if case.history else None


def _chunks(passages: Sequence[Passage]) -> tuple[list[RetrievedChunk], list[float]]:
    chunks = [RetrievedChunk(p.chunk.source, p.chunk.start, p.chunk.end, p.chunk.text) for p in passages]
    return chunks, [float(p.score) for p in passages]


def _prompt_evidence(pipeline: Pipeline, question: str, retrieval: Retrieval) -> list[RetrievedChunk]:
    """The evidence sentences the model's prompt holds for this search, as spans of their files."""
    chunks, _ = _chunks(pipeline.prompt_evidence(question, retrieval))
    return chunks


def evaluate_case(pipeline: Pipeline, case: EvalCase, corpus: dict[str, str], k: int) -> CaseRecord:
    """Answer one case through the pipeline, then score it, retrieval on the top k of the answer's own search."""
    started = time.perf_counter()
    traced = pipeline.answer_traced(case.question, _history(case))
    latency_ms = (time.perf_counter() - started) * 1000
    chunks, scores = _chunks(traced.retrieval.ranked[:k])
    result = score(case, traced.answer, chunks, corpus, round(latency_ms, 1), recall_ks(k))
    # Recomputed after the answer (same search, cached embeddings), so it adds nothing to the latency.
    shown = _prompt_evidence(pipeline, traced.searched, traced.retrieval)
    result.evidence_recall = evidence_recall(case, shown, corpus)
    return CaseRecord(result, traced.searched, scores)


def evaluate_retrieval(pipeline: Pipeline, case: EvalCase, corpus: dict[str, str], k: int) -> CaseRecord:
    """Retrieval only: the top k chunks of the search the pipeline would make, and its prompt's sentences."""
    question = pipeline.standalone_question(case.question, _history(case))
    started = time.perf_counter()
    retrieval = pipeline.retriever.retrieve(question)  # the answer's own depth; recall@k reads its ranking
    latency_ms = (time.perf_counter() - started) * 1000
    chunks, scores = _chunks(retrieval.ranked[:k])
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
    shown = _prompt_evidence(pipeline, question, retrieval)
    result.evidence_recall = evidence_recall(case, shown, corpus)
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


# ------------------------------------------------------------- settings, provenance


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


# ----------------------------------------------------------------------- the runs


class EvalSetupError(Exception):
    """Bad arguments, files or settings: `qa eval` exits 2 with this message."""


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


def answer_run(args: argparse.Namespace, kind: str, progress: Progress | None) -> tuple[EvalReport, dict[str, Any]]:
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
                pipeline.load_model()  # before timing the first case
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
        metrics = retrieval_view(metrics, [f"recall@{n}" for n in recall_ks(args.k)] + list(RANKING_METRICS))
        definitions = {key: definitions[key] for key in RETRIEVAL_DEFINITIONS}
    name = args.name or ("retrieval" if kind == "retrieval" else "latest")
    report = EvalReport(name, kind, args.k, records, metrics, definitions, info)
    return report, gate.fingerprint(args.cases, info["backends"])


def verifier_run(
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


def write_verifier(
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
