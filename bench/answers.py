"""Stage 3, answers: `Pipeline.answer(q, on_text=...)` over the eval questions: latency, time to
the first streamed token, llama.cpp's prompt and generation timings, and accuracy."""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

from bench.common import WARMUP_QUESTION, log
from bench.machine import Stopwatch, summarise
from bench.probe import TimingServer, instrument, total
from bench.questions import history
from qa.evals.dataset import EvalCase
from qa.evals.metrics import is_correct

if TYPE_CHECKING:
    from qa.pipeline import Pipeline


@dataclass
class AnswerRow:
    """One question answered by qa."""

    id: str
    language: str
    type: str
    mode: str
    ms: float
    first_token_ms: float | None  # None when the answer was not streamed (it arrived whole)
    retrieve_ms: float
    generate_ms: float
    cpu_ms: float
    llm: dict[str, float] | None  # llama.cpp's timings summed over the answer's model calls (None: no call)
    correct: bool
    answer: str


def stage_answers(
    pipeline: Pipeline, cases: list[EvalCase]
) -> tuple[dict[str, Any], list[AnswerRow], TimingServer | None]:
    """Answers `cases` after one warm-up question; returns the load figures, the rows and the probe."""
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
        rows.append(_answer(pipeline, case, probe))
        log(f"answer {n}/{len(cases)} {case.id}: {rows[-1].mode} {rows[-1].ms:.0f} ms")
    if probe:
        probe.keep_requests = 0  # only qa's requests are replayed, never the stock pipeline's
    meta = {"model_load_s": round(load.wall, 3), "warmup_ms": round(warm.wall * 1000, 1), "backend": generator.name}
    return meta, rows, probe


def _answer(pipeline: Pipeline, case: EvalCase, probe: TimingServer | None) -> AnswerRow:
    first: list[float] = []

    def on_text(piece: str) -> None:
        if not first:
            first.append(time.perf_counter())

    started = time.perf_counter()
    cpu0 = time.process_time()
    answer = pipeline.answer(case.question, history=history(case), on_text=on_text)
    wall = time.perf_counter() - started
    cpu = time.process_time() - cpu0
    calls = probe.take() if probe else []
    return AnswerRow(
        id=case.id,
        language=case.language,
        type=case.type,
        mode=answer.mode,
        ms=round(wall * 1000, 1),
        first_token_ms=round((first[0] - started) * 1000, 1) if first else None,
        retrieve_ms=answer.timings.retrieve_ms,
        generate_ms=answer.timings.generate_ms,
        cpu_ms=round(cpu * 1000, 1),
        llm=total(calls) if calls else None,
        correct=is_correct(case, answer),
        answer=answer.answer[:300],
    )


def summarise_answers(rows: list[AnswerRow]) -> dict[str, Any]:
    # Answers that are not streamed (refusals, extractive quotes) arrive whole: first token = total.
    first = summarise([r.first_token_ms if r.first_token_ms is not None else r.ms for r in rows])
    latency = summarise([r.ms for r in rows])
    generated = [r for r in rows if r.llm]
    return {
        "n": len(rows),
        "p50_ms": latency["p50"],
        "p95_ms": latency["p95"],
        "first_token_p50_ms": first["p50"],
        "first_token_p95_ms": first["p95"],
        "model_answers": {
            "n": len(generated),
            "ms": summarise([r.ms for r in generated]),
            "first_token_ms": summarise([r.first_token_ms for r in generated if r.first_token_ms is not None]),
        },
        "by_mode": _by_mode(rows),
        "retrieve_ms": summarise([r.retrieve_ms for r in rows]),
        "cpu_per_wall": round(sum(r.cpu_ms for r in rows) / max(sum(r.ms for r in rows), 1e-9), 2),
        "accuracy": mean_of([r.correct for r in rows]),
        "accuracy_definition": "qa.evals.metrics.is_correct (accept regex, or refusal when unanswerable)",
        "llm": _llm_summary(generated) if generated else None,
    }


def mean_of(values: list[bool]) -> float | None:
    """The share of true values, rounded as the results show it (None for no values)."""
    return round(float(np.mean(values)), 3) if values else None


def _by_mode(rows: list[AnswerRow]) -> dict[str, dict[str, Any]]:
    by_mode = {}
    for mode in sorted({r.mode for r in rows}):
        members = [r for r in rows if r.mode == mode]
        by_mode[mode] = {"n": len(members), "ms": summarise([r.ms for r in members])}
    return by_mode


def _llm_summary(generated: list[AnswerRow]) -> dict[str, Any]:
    """llama.cpp's own figures over the answers that called the model."""
    calls = [r.llm for r in generated if r.llm]
    prompt_n, prompt_ms = [c["prompt_n"] for c in calls], [c["prompt_ms"] for c in calls]
    predicted_n, predicted_ms = [c["predicted_n"] for c in calls], [c["predicted_ms"] for c in calls]
    return {
        "answers_calling_model": len(calls),
        "prompt_tokens": summarise(prompt_n),
        "cached_prompt_tokens": summarise([c["cache_n"] for c in calls]),
        "prompt_ms": summarise(prompt_ms),
        "generated_tokens": summarise(predicted_n),
        "generation_ms": summarise(predicted_ms),
        "prompt_tok_per_s": _rate(prompt_n, prompt_ms),
        "gen_tok_per_s": _rate(predicted_n, predicted_ms),
        "share_of_answer_time": _shares(generated),
    }


def _rate(tokens: list[float], ms: list[float]) -> float | None:
    return round(sum(tokens) / (sum(ms) / 1000), 1) if sum(ms) else None


def _shares(rows: list[AnswerRow]) -> dict[str, float]:
    wall = sum(r.ms for r in rows)
    prompt = sum(r.llm["prompt_ms"] for r in rows if r.llm)
    gen = sum(r.llm["predicted_ms"] for r in rows if r.llm)
    retrieve = sum(r.retrieve_ms for r in rows)
    return {
        "prompt_eval": round(prompt / wall, 3),
        "generation": round(gen / wall, 3),
        "retrieval": round(retrieve / wall, 3),
        "other": round(1 - (prompt + gen + retrieve) / wall, 3),
    }
