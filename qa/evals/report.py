"""Eval reports: the JSON record, the Markdown a person reads and a bar plot.

Pure rendering from what the runner measured; no pipeline, no models. The
JSON holds everything (per-case results, aggregates, metric definitions,
settings, git commit), the Markdown is built from the same data, and the PNG
plots the main metrics per question language.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from qa.evals.metrics import CaseResult

# The headline metrics of each kind of run, in report order.
ANSWER_METRICS = (
    "accuracy",
    "wrong_and_cited",
    "evidence_shown",
    "citation_precision",
    "citation_recall",
    "faithfulness",
    "refusal_precision",
    "refusal_recall",
)
LABELS = {
    "accuracy": "accuracy",
    "wrong_and_cited": "wrong+cited",
    "evidence_shown": "evidence shown",
    "citation_precision": "citation P",
    "citation_recall": "citation R",
    "faithfulness": "faithfulness",
    "refusal_precision": "refusal P",
    "refusal_recall": "refusal R",
    "mrr": "MRR",
    "evidence_recall": "evidence recall",
}
# Reported after recall@k by every run; with it, all that a retrieval-only run measures (no model is loaded).
RANKING_METRICS = ("mrr", "evidence_recall")
RETRIEVAL_DEFINITIONS = ("recall@k", *RANKING_METRICS, "latency_percentile")
_QUOTE_CHARS = 300


@dataclass
class CaseRecord:
    """One case as the runner saw it: the scored result plus what retrieval was asked."""

    result: CaseResult
    retrieval_question: str
    scores: list[float] = field(default_factory=list)  # retriever scores of `result.retrieved`, same order


@dataclass
class EvalReport:
    """Everything one eval run produced; `to_json` is the stored form."""

    name: str
    kind: str  # "full" or "retrieval"
    k: int
    records: list[CaseRecord]
    metrics: dict[str, Any]
    definitions: dict[str, str]
    info: dict[str, Any]  # settings, backends, git commit, timings, cases file
    gate: dict[str, Any] | None = None

    @property
    def retrieval_only(self) -> bool:
        return self.kind == "retrieval"

    def headline(self) -> list[str]:
        """Metric keys shown in tables and plots, in order."""
        ks = sorted({k for r in self.records for k in r.result.recall_at})
        retrieval = [f"recall@{k}" for k in ks] + list(RANKING_METRICS)
        return retrieval if self.retrieval_only else [*ANSWER_METRICS, *retrieval]

    def to_json(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "kind": self.kind,
            "k": self.k,
            **self.info,
            "metrics": self.metrics,
            "definitions": self.definitions,
            "gate": self.gate,
            "results": [case_json(r, self.retrieval_only) for r in self.records],
        }


def label(metric: str) -> str:
    return LABELS.get(metric, metric)


def case_json(record: CaseRecord, retrieval_only: bool) -> dict[str, Any]:
    """One case's row for the JSON report: metrics, answer, citations, retrieved chunks."""
    result = record.result
    row = result.row()
    retrieved = [
        {"rank": rank, "source": c.source, "start": c.start, "end": c.end, "score": round(score, 4)}
        for rank, (c, score) in enumerate(zip(result.retrieved, record.scores, strict=False), start=1)
    ]
    row["retrieval_question"] = record.retrieval_question
    row["retrieved"] = retrieved
    if retrieval_only:
        for key in ("answer", "refused", "mode", "correct", *ANSWER_METRICS):
            row.pop(key, None)
        return row
    answer = result.answer
    row["answerable"] = result.case.answerable
    row["citations"] = [c.model_dump() for c in answer.citations]
    row["notes"] = list(answer.notes)
    row["timings"] = answer.timings.model_dump()
    return row


# --------------------------------------------------------------------------- files


def write_report(report: EvalReport, out_dir: Path) -> dict[str, Path]:
    """Write `<name>.json`, `<name>.md` and `<name>.png` into `out_dir`; return their paths."""
    out_dir.mkdir(parents=True, exist_ok=True)
    paths = {ext: out_dir / f"{report.name}.{ext}" for ext in ("json", "md", "png")}
    paths["json"].write_text(
        json.dumps(report.to_json(), ensure_ascii=False, indent=1, default=str) + "\n", encoding="utf-8"
    )
    paths["md"].write_text(render_markdown(report), encoding="utf-8")
    plot(report, paths["png"])
    return paths


# ------------------------------------------------------------------------ markdown


def fmt(value: float | None, digits: int = 2) -> str:
    return "–" if value is None else f"{value:.{digits}f}"


def _cell(group: dict[str, Any], metric: str) -> str:
    entry = group.get(metric)
    if not isinstance(entry, dict) or entry.get("value") is None:
        return "–"
    return f"{entry['value']:.2f} ({entry['n']})"


def summary_table(report: EvalReport) -> list[str]:
    """Markdown table: one row per group (overall, languages, case types), one column per metric."""
    metrics = report.headline()
    head = ["group", "cases", *(label(m) for m in metrics), "p50 ms", "p95 ms"]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    groups: list[tuple[str, dict[str, Any]]] = [("**all cases**", report.metrics["overall"])]
    for split, views in report.metrics.get("by_split", {}).items():
        groups.append((f"**{split}**", views["overall"]))
        groups += [(f"{split} lang `{name}`", g) for name, g in views["by_language"].items()]
        groups += [(f"{split} type `{name}`", g) for name, g in views["by_type"].items()]
    for name, group in groups:
        latency = group["latency_ms"]
        cells = [name, str(group["cases"]), *(_cell(group, m) for m in metrics)]
        cells += [fmt(latency["p50"], 0), fmt(latency["p95"], 0)]
        lines.append("| " + " | ".join(cells) + " |")
    return lines


def gate_table(gate: dict[str, Any]) -> list[str]:
    lines = [f"- problem: {p}" for p in gate["problems"]]
    lines += ["| group | metric | baseline | limit | current | result |", "|---|---|---|---|---|---|"]
    for row in gate["rows"]:
        lines.append(
            f"| {row['group']} | {label(row['metric'])} | {fmt(row['baseline'], 3)} | "
            f"{fmt(row['limit'], 3)} | {fmt(row['current'], 3)} | {row['status']} |"
        )
    return lines


def _quote(text: str) -> str:
    flat = " ".join(text.split())
    return flat if len(flat) <= _QUOTE_CHARS else flat[:_QUOTE_CHARS] + "…"


def _inline(text: str) -> str:
    """Text on one Markdown line."""
    return " ".join(text.split())


def render_markdown(report: EvalReport) -> str:
    info = report.info
    title = "Retrieval eval" if report.retrieval_only else "Eval"
    lines = [f"# {title}: `{report.name}`", ""]
    lines += [
        f"- cases: {len(report.records)} from `{info.get('cases_file')}`"
        + (f" (limited to the first {info['limit']})" if info.get("limit") else ""),
        f"- backends: LLM `{info['backends']['llm']}`, embedder `{info['backends']['embedder']}`",
        f"- commit: `{info.get('git', {}).get('commit') or 'unknown'}`"
        + (" (uncommitted changes)" if info.get("git", {}).get("dirty") else ""),
        f"- started: {info.get('started')}; wall time {info.get('wall_time_s', 0):.0f} s",
        f"- retrieval scored on the top {report.k} chunks"
        + (
            "; no LLM was loaded (follow-ups retrieve with the previous user question prepended)"
            if report.retrieval_only
            else ""
        ),
        "",
        "Values are means over the cases where the metric applies; the number of such cases is in brackets.",
        "Latency is the wall time of one `Pipeline.answer()` call"
        + (" (here: one retrieval)" if report.retrieval_only else "")
        + "; it is reported, not gated.",
        "",
    ]
    if report.gate is not None:
        verdict = "PASS" if report.gate["passed"] else "FAIL"
        lines += [f"## Gate: {verdict}", "", f"Limits from `eval/gates.json`, on the {report.gate['split']} split.", ""]
        lines += [*gate_table(report.gate), ""]
    lines += ["## Summary", "", *summary_table(report), ""]
    lines += _failure_index(report)
    lines += ["## Metric definitions", ""]
    for name, text in report.definitions.items():
        if report.retrieval_only and name not in RETRIEVAL_DEFINITIONS:
            continue
        lines += [f"### {name}", "", *(f"> {line}" if line else ">" for line in text.splitlines()), ""]
    lines += ["## Cases", ""]
    for record in report.records:
        lines += _case_markdown(record, report.retrieval_only)
    return "\n".join(lines).rstrip() + "\n"


def _passed(record: CaseRecord, retrieval_only: bool) -> bool:
    result = record.result
    if retrieval_only:
        return result.reciprocal_rank != 0.0
    return result.correct


def _failure_index(report: EvalReport) -> list[str]:
    failing = [r for r in report.records if not _passed(r, report.retrieval_only)]
    lines = ["## Failing cases", ""]
    if report.retrieval_only:
        if not failing:
            return []
        lines.append(
            "Gold support not among the retrieved chunks: " + ", ".join(f"`{r.result.case.id}`" for r in failing)
        )
        return [*lines, ""]
    wrong = [r.result.case.id for r in failing]
    other = [r.result.case.id for r in report.records if r.result.correct and r.result.why]
    lines.append("Wrong answer: " + (", ".join(f"`{i}`" for i in wrong) or "none"))
    lines.append("")
    lines.append(
        "Correct, with a citation, faithfulness or retrieval remark (see each case): "
        + (", ".join(f"`{i}`" for i in other) or "none")
    )
    return [*lines, ""]


def _case_markdown(record: CaseRecord, retrieval_only: bool) -> list[str]:
    result, case = record.result, record.result.case
    mark = "PASS" if _passed(record, retrieval_only) else "FAIL"
    lines = [f"### {mark} `{case.id}` ({case.language}, {case.type}, {case.split})", ""]
    lines.append(f"- **question**: {_inline(case.question)}")
    if case.history:
        for turn in case.history:
            lines.append(f"  - history, {turn.role}: {_inline(turn.content)}")
    if record.retrieval_question != case.question:
        lines.append(f"- **retrieved with**: {_inline(record.retrieval_question)}")
    if not retrieval_only:
        answer = result.answer
        lines.append(f"- **answer** ({answer.mode}, {result.latency_ms:.0f} ms): {_inline(answer.answer)}")
        if answer.citations:
            lines.append("- **citations**:")
            for n, cite in enumerate(answer.citations, start=1):
                lines.append(f"  {n}. `{cite.source}` chars {cite.start}-{cite.end}: “{_inline(_quote(cite.quote))}”")
        else:
            lines.append("- **citations**: none")
        expected = "a refusal" if not case.answerable else " or ".join(f"`{_inline(p)}`" for p in case.accept)
        lines.append(f"- **expected**: {expected}")
        lines.append(
            f"- **scores**: correct {result.correct} (direct {result.direct}, evidence shown "
            f"{fmt(result.evidence_shown)}, wrong+cited {result.wrong_and_cited:.0f}); "
            f"citation P {fmt(result.citation_precision)}, "
            f"R {fmt(result.citation_recall)}; faithfulness {fmt(result.faithfulness)}; "
            f"recall@{max(result.recall_at, default=0)} {fmt(result.recall_at.get(max(result.recall_at, default=0)))}; "
            f"RR {fmt(result.reciprocal_rank)}; evidence recall {fmt(result.evidence_recall)}"
        )
        if answer.notes:
            lines.append("- **pipeline notes**: " + "; ".join(_inline(n) for n in answer.notes))
    else:
        ks = sorted(result.recall_at)
        lines.append(
            "- **scores**: "
            + ", ".join(f"recall@{k} {fmt(result.recall_at[k])}" for k in ks)
            + f"; RR {fmt(result.reciprocal_rank)}; evidence recall {fmt(result.evidence_recall)}"
            + f"; {result.latency_ms:.0f} ms"
        )
    if case.answerable:
        lines.append(f"- **gold**: {', '.join(f'`{s}`' for s in case.gold_sources)}")
    ranked = ", ".join(f"{n}. `{c.source}` {c.start}-{c.end}" for n, c in enumerate(result.retrieved, start=1))
    lines.append(f"- **retrieved**: {ranked or 'nothing'}")
    if retrieval_only:
        lines.append(f"- **result**: {mark}" + ("" if mark == "PASS" else " (gold support not retrieved)"))
    else:
        issues = "; ".join(_inline(w) for w in result.why)
        lines.append(f"- **result**: {mark}" + (f" — {issues}" if issues else ""))
    return [*lines, ""]


# ---------------------------------------------------------------------------- plot


def plot(report: EvalReport, path: Path) -> None:
    """Grouped bar chart: the headline metrics (x) for overall and each question language (bars)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    metrics = report.headline()
    groups: list[tuple[str, dict[str, Any]]] = [("overall", report.metrics["overall"])]
    groups += list(report.metrics["by_language"].items())
    if report.retrieval_only and "cross_lingual" in report.metrics["by_type"]:
        groups.append(("cross-lingual", report.metrics["by_type"]["cross_lingual"]))
    width = 0.8 / max(len(groups), 1)
    fig, ax = plt.subplots(figsize=(max(6.0, 1.3 * len(metrics) + 2), 4.5), dpi=100)
    positions = list(range(len(metrics)))
    for i, (name, group) in enumerate(groups):
        values = [_value(group, m) for m in metrics]
        xs = [p + (i - (len(groups) - 1) / 2) * width for p in positions]
        bars = ax.bar(xs, [v if v is not None else 0.0 for v in values], width, label=f"{name} ({group['cases']})")
        for bar, value in zip(bars, values, strict=True):
            text = "n/a" if value is None else f"{value:.2f}"
            ax.annotate(
                text,
                (bar.get_x() + bar.get_width() / 2, bar.get_height()),
                ha="center",
                va="bottom",
                fontsize=6,
                rotation=90,
                xytext=(0, 2),
                textcoords="offset points",
            )
    ax.set_xticks(positions)
    ax.set_xticklabels([label(m) for m in metrics], rotation=20, ha="right")
    ax.set_ylim(0, 1.18)
    ax.set_ylabel("score")
    backends = report.info["backends"]
    if report.retrieval_only:
        title = f"qa retrieval eval by question language — {backends['embedder']}"
    else:
        title = f"qa eval by question language — {backends['llm']}, {backends['embedder']}"
    ax.set_title(title, fontsize=9)
    ax.legend(fontsize=8, loc="upper right", ncols=len(groups))
    ax.grid(axis="y", alpha=0.3)
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)


def _value(group: dict[str, Any], metric: str) -> float | None:
    entry = group.get(metric)
    if isinstance(entry, dict) and isinstance(entry.get("value"), int | float):
        return float(entry["value"])
    return None


def retrieval_view(metrics: dict[str, Any], keep: Sequence[str]) -> dict[str, Any]:
    """`aggregate` output reduced to the given metric keys (plus case counts and latency)."""

    def reduce(group: dict[str, Any]) -> dict[str, Any]:
        return {key: value for key, value in group.items() if key in {"cases", "latency_ms", *keep}}

    def views(part: dict[str, Any]) -> dict[str, Any]:
        return {
            "overall": reduce(part["overall"]),
            "by_language": {name: reduce(g) for name, g in part["by_language"].items()},
            "by_type": {name: reduce(g) for name, g in part["by_type"].items()},
        }

    return {**views(metrics), "by_split": {s: views(v) for s, v in metrics.get("by_split", {}).items()}}


# ---------------------------------------------------------------- printed text


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


def verifier_summary(metrics: dict[str, Any]) -> str:
    lines = []
    for split, views in metrics["by_split"].items():
        for name, g in [("overall", views["overall"]), *views["by_language"].items()]:
            fa, fr = g["false_accept"]["value"], g["false_reject"]["value"]
            lines.append(f"{split:<5} {name:<8} n={g['cases']:<4} false accept {fmt(fa, 3)}  false reject {fmt(fr, 3)}")
    return "\n".join(lines)
