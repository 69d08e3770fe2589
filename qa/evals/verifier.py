"""The verifier benchmark: does the answer check accept right answers and reject wrong ones?

`eval/verifier.jsonl` holds (question, proposed answer, the evidence sentences it
cites, label) records in en/hi/mr; the wrong ones are wrong in ways word overlap
cannot see (a number of the right kind for the wrong thing, the other entity of
the same sentence, a negation, the question's own words, a topic word). Each record
goes through the same check the pipeline applies to a model's answer
(`Pipeline.verify_answer`).
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from qa.evals.metrics import percentile
from qa.types import Progress

# A verifier: (question, answer, evidence sentences) -> reasons to reject; empty means accepted.
Verify = Callable[[str, str, list[str]], list[str]]


class VerifierRecord(BaseModel):
    """One proposed answer with the evidence it cites and whether that evidence supports it."""

    model_config = ConfigDict(extra="forbid")

    id: str = Field(pattern=r"^[a-z0-9][a-z0-9_-]*$", description="Unique id, e.g. 'v-en-001'.")
    language: Literal["en", "hi", "mr"] = Field(description="Language of the question.")
    question: str = Field(min_length=1, description="The question as a user asks it.")
    answer: str = Field(min_length=1, description="The proposed short answer.")
    evidence: list[str] = Field(min_length=1, description="Cited sentences, each verbatim from its source file.")
    sources: list[str] = Field(min_length=1, description="The seed file of each evidence string, same order.")
    supported: bool = Field(description="True when the evidence supports the answer to this question.")
    kind: str = Field(description="'right', or how the answer is wrong (wrong_entity_number, negation, ...).")
    split: Literal["dev", "test"] = Field(description="'dev' may be tuned on; 'test' only reports and gates.")
    note: str | None = Field(default=None, description="Why, for humans.")


@dataclass
class VerdictRow:
    record: VerifierRecord
    accepted: bool
    reasons: list[str] = field(default_factory=list)
    latency_ms: float = 0.0

    @property
    def correct(self) -> bool:
        return self.accepted == self.record.supported


def load_records(path: Path) -> list[VerifierRecord]:
    """Read and validate the benchmark; ValueError names the file and line of a bad record."""
    records: list[VerifierRecord] = []
    seen: set[str] = set()
    for lineno, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        if not line.strip():
            continue
        try:
            record = VerifierRecord.model_validate(json.loads(line))
        except (ValueError, ValidationError) as exc:
            raise ValueError(f"{path}:{lineno}: invalid record: {exc}") from exc
        if record.id in seen or len(record.evidence) != len(record.sources):
            raise ValueError(f"{path}:{lineno}: duplicate id or evidence/sources of different lengths")
        seen.add(record.id)
        records.append(record)
    return records


def evidence_problems(records: Sequence[VerifierRecord], corpus: dict[str, str]) -> list[str]:
    """Evidence strings that are not verbatim in their source file."""
    return [
        f"{r.id}: evidence not in {source}: {text[:60]!r}"
        for r in records
        for text, source in zip(r.evidence, r.sources, strict=True)
        if text not in corpus.get(source, "")
    ]


def run(verify: Verify, records: Sequence[VerifierRecord], progress: Progress | None = None) -> list[VerdictRow]:
    rows = []
    for n, record in enumerate(records, start=1):
        started = time.perf_counter()
        reasons = verify(record.question, record.answer, list(record.evidence))
        row = VerdictRow(record, not reasons, reasons, round((time.perf_counter() - started) * 1000, 1))
        rows.append(row)
        if progress is not None:
            mark = "ok  " if row.correct else "MISS"
            verdict = "accepted" if row.accepted else "rejected"
            why = "; ".join(reasons)[:80]
            progress(f"[{n:>3}/{len(records)}] {record.id:<12} {mark} {verdict:<8} {record.kind:<20} {why}")
    return rows


def _summarise(rows: Sequence[VerdictRow]) -> dict[str, Any]:
    wrong = [r for r in rows if not r.record.supported]
    right = [r for r in rows if r.record.supported]

    def share(part: int, whole: list[VerdictRow]) -> dict[str, Any]:
        return {"value": part / len(whole) if whole else None, "n": len(whole)}

    return {
        "cases": len(rows),
        "false_accept": share(sum(r.accepted for r in wrong), wrong),
        "false_reject": share(sum(not r.accepted for r in right), right),
        "accuracy": share(sum(r.correct for r in rows), list(rows)),
        "latency_ms": {"p50": percentile([r.latency_ms for r in rows], 50), "n": len(rows)},
    }


def _views(rows: Sequence[VerdictRow]) -> dict[str, Any]:
    def group(key: Callable[[VerdictRow], str]) -> dict[str, Any]:
        names = sorted({key(r) for r in rows})
        return {name: _summarise([r for r in rows if key(r) == name]) for name in names}

    return {
        "overall": _summarise(rows),
        "by_language": group(lambda r: r.record.language),
        "by_type": group(lambda r: r.record.kind),
    }


def aggregate(rows: Sequence[VerdictRow]) -> dict[str, Any]:
    """False-accept rate (wrong answers accepted / wrong answers) and false-reject rate
    (right answers rejected / right answers), overall, per language and per kind,
    and the same per split."""
    return {
        **_views(rows),
        "by_split": {s: _views(m) for s in ("dev", "test") if (m := [r for r in rows if r.record.split == s])},
    }


def render_markdown(rows: Sequence[VerdictRow], metrics: dict[str, Any], gate_lines: list[str]) -> str:
    lines = ["# Verifier benchmark", "", *gate_lines, "", "| split | group | n | false accept | false reject |"]
    lines.append("|---|---|---|---|---|")
    for split, views in metrics["by_split"].items():
        groups = [("overall", views["overall"])] + [(f"lang {k}", v) for k, v in views["by_language"].items()]
        groups += [(f"kind {k}", v) for k, v in views["by_type"].items()]
        for name, g in groups:
            fa, fr = g["false_accept"]["value"], g["false_reject"]["value"]
            cells = [
                split,
                name,
                str(g["cases"]),
                "–" if fa is None else f"{fa:.2f}",
                "–" if fr is None else f"{fr:.2f}",
            ]
            lines.append("| " + " | ".join(cells) + " |")
    lines += ["", "## Misses", ""]
    for r in rows:
        if not r.correct:
            verdict = "accepted a wrong answer" if r.accepted else "rejected a right answer"
            lines.append(
                f"- `{r.record.id}` ({r.record.split}, {r.record.kind}) {verdict}: {r.record.question} → "
                f"{r.record.answer!r} {('— ' + '; '.join(r.reasons)) if r.reasons else ''}"
            )
    return "\n".join(lines) + "\n"
