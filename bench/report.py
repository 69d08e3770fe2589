"""The report: the targets (each number defined once, in `GOALS`), the printed table, and the
floors check that makes `python -m bench` exit 1."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any


@dataclass(frozen=True)
class Goal:
    """A target a measured figure should meet: `value >= limit` (at_least) or `value <= limit`."""

    limit: float
    at_least: bool
    unit: str = ""  # as the report shows the goal: the limit divided by `scale`, then this
    scale: float = 1.0

    def met(self, value: float) -> bool:
        return value >= self.limit if self.at_least else value <= self.limit

    def text(self) -> str:
        """How the report states the goal, e.g. '<= 3 s' for 3000 ms."""
        return f"{'>=' if self.at_least else '<='} {self.limit / self.scale:g}{self.unit}"


GOALS = {
    "ingest_chunks_per_s": Goal(30.0, at_least=True, unit=" chunks/s"),
    "retrieval_p50_ms": Goal(30.0, at_least=False, unit=" ms"),
    "answer_p50_ms": Goal(3000.0, at_least=False, unit=" s", scale=1000),
    "first_token_p50_ms": Goal(1000.0, at_least=False, unit=" s", scale=1000),
    "cold_start_s": Goal(4.0, at_least=False, unit=" s"),
    "peak_rss_mb": Goal(1024.0, at_least=False, unit=" GiB", scale=1024),
    "speedup_vs_stock": Goal(2.0, at_least=True, unit="x"),
    "accuracy_lead": Goal(0.0, at_least=True),
}


def accuracy_lead(stock: dict[str, Any]) -> float | None:
    """qa's accuracy minus the stock engine's on the comparison questions."""
    if stock["qa_accuracy"] is None or stock["accuracy"] is None:
        return None
    return round(float(stock["qa_accuracy"]) - float(stock["accuracy"]), 3)


def _target(name: str, goal: str, value: float | None, unit: str, note: str = "") -> dict[str, Any]:
    met = GOALS[goal].met
    return {
        "name": name,
        "target": GOALS[goal].text(),
        "value": value,
        "unit": unit,
        "pass": bool(value is not None and met(value)),
        "note": note,
    }


def targets(results: dict[str, Any]) -> list[dict[str, Any]]:
    """Each target with its measured value, in the order the report lists them."""
    return [*_speed_targets(results), *_cold_start_targets(results), *_stock_targets(results["stock"])]


def _speed_targets(results: dict[str, Any]) -> list[dict[str, Any]]:
    sizes = results["retrieval"]["sizes"]
    largest = max(sizes, key=int)
    note = "" if int(largest) >= 100_000 else f"measured at {largest} chunks only (--quick)"
    answers = results["answers"]
    model = answers["model_answers"]
    return [
        _target("ingest throughput", "ingest_chunks_per_s", results["ingest"]["chunks_per_s"], "chunks/s"),
        _target(f"retrieval p50 @ {int(largest):,} chunks", "retrieval_p50_ms", sizes[largest]["p50_ms"], "ms", note),
        _target("answer p50 (all questions)", "answer_p50_ms", answers["p50_ms"], "ms"),
        _target("first token p50 (all questions)", "first_token_p50_ms", answers["first_token_p50_ms"], "ms"),
        _target("answer p50 (model-generated only)", "answer_p50_ms", model["ms"]["p50"], "ms"),
        _target("first token p50 (model-generated only)", "first_token_p50_ms", model["first_token_ms"]["p50"], "ms"),
    ]


def _cold_start_targets(results: dict[str, Any]) -> list[dict[str, Any]]:
    cold = results["cold_start"].get("embedded", {})
    memory = f"anonymous {cold.get('peak_rss_anon_mb')} MiB + file-backed {cold.get('peak_rss_file_mb')} MiB"
    return [
        _target("`qa ask` cold start (embedded default)", "cold_start_s", cold.get("wall_s"), "s"),
        _target("peak RSS (`qa ask`, embedded)", "peak_rss_mb", cold.get("max_rss_mb"), "MiB", memory),
    ]


def _stock_targets(stock: dict[str, Any]) -> list[dict[str, Any]]:
    both = stock["model_answered"]
    both_note = f"{both['n']} questions; accuracy qa {both['qa_accuracy']} vs stock {both['accuracy']}"
    lead_note = f"qa {stock['qa_accuracy']} vs stock {stock['accuracy']} on {stock['n']} questions"
    return [
        _target("speed-up vs stock llama-index (p50)", "speedup_vs_stock", stock["speedup_p50"], "x"),
        _target("speed-up, questions both send to the model", "speedup_vs_stock", both["speedup_p50"], "x", both_note),
        _target("accuracy vs stock (qa - stock)", "accuracy_lead", accuracy_lead(stock), "", lead_note),
    ]


def check_floors(results: dict[str, Any], path: Path) -> list[str]:
    """qa against the stock pipeline in the same run: the ratios must hold the committed floors.

    Absolute times depend on the machine and are reported only; ratios measured in one run on
    one machine are what CI can hold.
    """
    floors = json.loads(path.read_text(encoding="utf-8"))
    stock = results["stock"]
    measured = {
        "speedup_p50_model_answered": stock["model_answered"]["speedup_p50"],
        "accuracy_lead": accuracy_lead(stock),
    }
    failures = []
    for name, floor in floors["floors"].items():
        value = measured.get(name)
        if value is None or value < floor:
            failures.append(f"{name} = {value} is below its floor {floor} ({path.name})")
    return failures


# --- the printed table ---------------------------------------------------------------------------

Row = tuple[str, Any, str]


def table(results: dict[str, Any]) -> str:
    lines = [_header(results), "", f"{'figure':<52} {'value':>12}", "-" * 65]
    figures = [
        *_ingest_rows(results["ingest"]),
        *_retrieval_rows(results["retrieval"]),
        *_answer_rows(results["answers"]),
        *_cold_start_rows(results["cold_start"]),
        *_stock_rows(results["stock"]),
        ("bench process peak RSS", results["memory"]["bench_process_peak_rss_mb"], "MiB"),
    ]
    lines += [_figure_line(*figure) for figure in figures]
    lines += ["", f"{'target':<44} {'goal':>14} {'value':>14}  result", "-" * 82]
    lines += [_target_line(t) for t in results["targets"]]
    lines += ["", "Large corpora: " + results["retrieval"]["method"]]
    return "\n".join(lines)


def _header(results: dict[str, Any]) -> str:
    m = results["machine"]
    return (
        f"qa benchmark ({results['mode']}) - {m['cpu']}, {m['cores']} cores, {m['ram_gib']} GiB, "
        f"Python {m['python']}; threads llm={results['settings']['llm_threads']} "
        f"embed={results['settings']['embed_threads']}; load avg {results['load_average']['start']} -> "
        f"{results['load_average']['end']}"
    )


def _figure_line(name: str, value: Any, unit: str = "") -> str:
    text = "n/a" if value is None else (f"{value:,.1f}" if isinstance(value, float) else str(value))
    return f"{name:<52} {text:>12} {unit}"


def _target_line(t: dict[str, Any]) -> str:
    value = "n/a" if t["value"] is None else f"{t['value']:,.1f} {t['unit']}".strip()
    return f"{t['name']:<44} {t['target']:>14} {value:>14}  {'PASS' if t['pass'] else 'MISS'}" + (
        f"  ({t['note']})" if t["note"] else ""
    )


def _ingest_rows(ing: dict[str, Any]) -> list[Row]:
    return [
        (f"ingest ({ing['chunks']} chunks, median of {ing['median_of_runs']})", ing["chunks_per_s"], "chunks/s"),
        ("  of which embedding", ing["breakdown_s"]["embed_s"], "s"),
    ]


def _retrieval_rows(retrieval: dict[str, Any]) -> list[Row]:
    rows: list[Row] = []
    for size, r in retrieval["sizes"].items():
        rows += [
            (f"retrieve p50 / p95 @ {int(size):,}", f"{r['p50_ms']} / {r['p95_ms']}", "ms"),
            ("  search only (query vector cached) p50", r["search_only_p50_ms"], "ms"),
            ("  reference: numpy exact search p50", r["numpy_exact_3_languages_p50_ms"], "ms"),
        ]
    return rows


def _answer_rows(a: dict[str, Any]) -> list[Row]:
    rows: list[Row] = [
        (f"answer p50 / p95 ({a['n']} questions)", f"{a['p50_ms']:.0f} / {a['p95_ms']:.0f}", "ms"),
        ("first token p50 / p95", f"{a['first_token_p50_ms']:.0f} / {a['first_token_p95_ms']:.0f}", "ms"),
    ]
    mg = a["model_answers"]
    if mg["n"]:
        first = mg["first_token_ms"]["p50"] or 0
        rows.append(
            (f"  model answers ({mg['n']}): p50 total / first token", f"{mg['ms']['p50']:.0f} / {first:.0f}", "ms")
        )
    llm = a["llm"]
    if llm:
        prompt = f"{llm['prompt_tokens']['p50']:.0f} ({llm['cached_prompt_tokens']['p50']:.0f})"
        rows.append(("  prompt tokens p50 (cached p50)", prompt, ""))
        rows.append(
            ("  prompt eval / generation speed", f"{llm['prompt_tok_per_s']} / {llm['gen_tok_per_s']}", "tok/s")
        )
    rows.append(("accuracy (qa.evals is_correct)", a["accuracy"], ""))
    return rows


COLD_START_LABELS = {
    "fake": "fake LLM",
    "embedded": "embedded default",
    "embedded-first-run": "embedded, no saved prompt state",
}


def _cold_start_rows(cold_start: dict[str, Any]) -> list[Row]:
    rows: list[Row] = []
    for backend, label in COLD_START_LABELS.items():
        c = cold_start.get(backend)
        if c:
            memory = f"{c['peak_rss_anon_mb']} / {c['peak_rss_file_mb']}"
            rows += [
                (f"`qa ask` cold start ({label})", c["wall_s"], "s"),
                (f"  peak RSS ({label})", c["max_rss_mb"], "MiB"),
                ("    of which anonymous / file-backed (model mmap)", memory, ""),
            ]
    return rows


def _stock_rows(s: dict[str, Any]) -> list[Row]:
    rows: list[Row] = [
        (f"stock llama-index p50 vs qa p50 ({s['n']} questions)", f"{s['p50_ms']:.0f} / {s['qa_p50_ms']:.0f}", "ms"),
        ("speed-up (stock p50 / qa p50; mean / mean)", f"{s['speedup_p50']} / {s['speedup_mean']}", "x"),
    ]
    both = s["model_answered"]
    if both["n"]:
        label = f"  where both call the model ({both['n']}): stock / qa p50"
        rows.append((label, f"{both['p50_ms']:.0f} / {both['qa_p50_ms']:.0f}", "ms"))
    rows.append(("accuracy stock / qa (same scorer)", f"{s['accuracy']} / {s['qa_accuracy']}", ""))
    return rows
