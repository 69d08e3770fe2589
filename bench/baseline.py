"""Stage 4, the stock baseline: the stock llama-index query engine (`bench.stock`) on the same
questions, collection, embedder and model as qa, and how the two pipelines compare."""

from __future__ import annotations

import time
from dataclasses import asdict, dataclass
from typing import TYPE_CHECKING, Any

from bench.answers import AnswerRow, mean_of
from bench.common import WARMUP_QUESTION, log, uncached
from bench.machine import Stopwatch, summarise
from bench.probe import TimingServer, total
from bench.questions import direct_text_correct
from qa.evals.dataset import EvalCase

if TYPE_CHECKING:
    from qa.pipeline import Pipeline

STOCK_SETTINGS = (
    "VectorStoreIndex.from_vector_store(ChromaVectorStore(one collection with qa's chunks "
    "and vectors)).as_query_engine(llm=...): similarity_top_k=2, response_mode=compact, default "
    "text_qa_template, no streaming"
)
ACCURACY_DEFINITION = (
    "a direct, correct answer: qa.evals.metrics.is_correct for qa; for the stock "
    "engine (no modes) bench.questions.direct_text_correct: accept regex on a text of at most 200 characters"
)


@dataclass
class StockRow:
    """One question answered by the stock engine."""

    id: str
    language: str
    ms: float
    llm: dict[str, float] | None  # llama.cpp's timings summed over the engine's model calls
    correct: bool
    answer: str


def stage_stock(
    pipeline: Pipeline, cases: list[EvalCase], probe: TimingServer, warmup: bool = True
) -> tuple[dict[str, Any], list[StockRow]]:
    """The stock engine over qa's chunks and loaded model, answering `cases` through `probe`."""
    from bench.stock import build_engine, stock_collection
    from qa.embed import CachedEmbedder

    engine = build_engine(
        stock_collection(pipeline.store),
        # A fresh query cache: the stock side must not profit from vectors qa's run computed.
        CachedEmbedder(uncached(pipeline.embedder)),
        probe,
        pipeline.settings.llm.context,
        pipeline.settings.llm.max_tokens,
    )
    # The stock prompt shares only ~30 template tokens between questions, so its warm-up
    # matters far less than qa's (whose system prompt stays in the KV cache); --quick skips it.
    with Stopwatch() as warm:
        if warmup:
            engine.query(WARMUP_QUESTION)
    probe.take()
    rows = []
    for n, case in enumerate(cases, start=1):
        started = time.perf_counter()
        response = engine.query(case.question)
        wall = time.perf_counter() - started
        text = str(response)
        calls = probe.take()
        rows.append(
            StockRow(
                id=case.id,
                language=case.language,
                ms=round(wall * 1000, 1),
                llm=total(calls) if calls else None,
                correct=direct_text_correct(case, text),
                answer=text[:300],
            )
        )
        log(f"stock {n}/{len(cases)} {case.id}: {wall * 1000:.0f} ms")
    return {"warmup_ms": round(warm.wall * 1000, 1) if warmup else None}, rows


def compare(qa_rows: list[AnswerRow], stock_rows: list[StockRow]) -> dict[str, Any]:
    """qa against the stock engine on the questions both answered (stock figures unprefixed, qa's `qa_`)."""
    ids = {r.id for r in stock_rows}
    mine = [r for r in qa_rows if r.id in ids]
    qa_ms = summarise([r.ms for r in mine])
    stock_ms = summarise([r.ms for r in stock_rows])
    stock_llm = [r.llm for r in stock_rows if r.llm]
    return {
        "n": len(stock_rows),
        "case_ids": sorted(ids),
        "qa_p50_ms": qa_ms["p50"],
        "qa_p95_ms": qa_ms["p95"],
        "qa_mean_ms": qa_ms["mean"],
        "p50_ms": stock_ms["p50"],
        "p95_ms": stock_ms["p95"],
        "mean_ms": stock_ms["mean"],
        "speedup_p50": _speedup(stock_ms["p50"], qa_ms["p50"]),
        "speedup_mean": _speedup(stock_ms["mean"], qa_ms["mean"]),
        "model_answered": _model_answered(mine, stock_rows),
        "qa_accuracy": mean_of([r.correct for r in mine]),
        "accuracy": mean_of([r.correct for r in stock_rows]),
        "accuracy_definition": ACCURACY_DEFINITION,
        "stock_prompt_tokens": summarise([c["prompt_n"] for c in stock_llm]),
        "stock_generated_tokens": summarise([c["predicted_n"] for c in stock_llm]),
        "stock_settings": STOCK_SETTINGS,
        "rows": [asdict(r) for r in stock_rows],
    }


def _model_answered(mine: list[AnswerRow], stock_rows: list[StockRow]) -> dict[str, Any]:
    # qa answers Hindi/Marathi questions by quoting (no model call), the stock engine always
    # calls the model: the fair like-for-like figure is over questions where both call it.
    model_ids = {r.id for r in mine if r.llm}
    qa_model = [r for r in mine if r.id in model_ids]
    stock_model = [r for r in stock_rows if r.id in model_ids]
    qa_p50 = summarise([r.ms for r in qa_model])["p50"]
    stock_p50 = summarise([r.ms for r in stock_model])["p50"]
    return {
        "n": len(model_ids),
        "qa_p50_ms": qa_p50,
        "p50_ms": stock_p50,
        "speedup_p50": _speedup(stock_p50, qa_p50),
        "qa_accuracy": mean_of([r.correct for r in qa_model]),
        "accuracy": mean_of([r.correct for r in stock_model]),
    }


def _speedup(stock: float | int | None, qa: float | int | None) -> float | None:
    return round(stock / qa, 2) if qa and stock else None
