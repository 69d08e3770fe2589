"""The eval gate: the committed baseline, the limits derived from it, and the check of a run.

`eval/baseline.json` records, per kind of run (`full`, `retrieval`, `verifier`), the
figures of the run it was made from and a fingerprint of what was measured (the
case file's sha256, the backends). `eval/gates.json` holds one limit per gated
(group, metric) of the **test** split: a floor for metrics where higher is better,
a ceiling for the error rates. A run fails the gate when any limit is crossed, or
when its fingerprint differs from the baseline's: a changed case file, split or
backend must come with a new baseline (`qa eval --update-baseline`) in the same commit.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

GATED_SPLIT = "test"
DEFAULT_TOLERANCE = 0.05
EPSILON = 1e-9
LANGUAGES = ("en", "hi", "mr")
GATED_TYPES = ("count", "conflict", "cross_lingual", "unanswerable", "injection")
# Error rates: the gate holds a ceiling on these instead of a floor.
LOWER_IS_BETTER = frozenset({"wrong_and_cited", "false_accept", "false_reject"})
_OVERALL_FULL = (
    "accuracy",
    "wrong_and_cited",
    "citation_precision",
    "citation_recall",
    "faithfulness",
    "refusal_precision",
    "refusal_recall",
)
_PER_LANGUAGE_FULL = ("accuracy", "wrong_and_cited", "refusal_precision", "refusal_recall")
VERIFIER_METRICS = ("false_accept", "false_reject")


class GateSetupError(ValueError):
    """The baseline or gates file is missing or unreadable; the message says how to create it."""


@dataclass(frozen=True)
class GateSpec:
    """One gated figure: `group` is "overall", "language:<code>" or "type:<name>"."""

    group: str
    metric: str


def gate_specs(kind: str, k: int) -> list[GateSpec]:
    """Which figures of the test split a run of this kind is gated on."""
    retrieval = (f"recall@{k}", "mrr")
    if kind == "retrieval":
        return [GateSpec("overall", m) for m in retrieval]
    if kind == "verifier":
        return [GateSpec(g, m) for g in ("overall", *(f"language:{c}" for c in LANGUAGES)) for m in VERIFIER_METRICS]
    specs = [GateSpec("overall", m) for m in (*_OVERALL_FULL, *retrieval)]
    specs += [GateSpec(f"language:{c}", m) for c in LANGUAGES for m in _PER_LANGUAGE_FULL]
    specs += [GateSpec(f"type:{t}", "accuracy") for t in GATED_TYPES]
    return specs


def lookup(metrics: dict[str, Any], group: str, metric: str, split: str = GATED_SPLIT) -> float | None:
    """The value of `metric` for `group` within `split` of an `aggregate`-shaped dict, or None."""
    views = metrics.get("by_split", {}).get(split)
    if views is None:
        return None
    if group == "overall":
        entry = views["overall"].get(metric)
    else:
        dimension, name = group.split(":", 1)
        entry = views[f"by_{'type' if dimension == 'type' else dimension}"].get(name, {}).get(metric)
    if isinstance(entry, dict) and isinstance(entry.get("value"), int | float):
        return float(entry["value"])
    return None


def fingerprint(cases_file: Path, backends: dict[str, str]) -> dict[str, Any]:
    """What a baseline was measured on: the case file's exact bytes and the backends."""
    digest = hashlib.sha256(cases_file.read_bytes()).hexdigest()[:16]
    return {"cases_sha256": digest, "backends": backends}


def derive_limits(metrics: dict[str, Any], kind: str, k: int, tolerance: float) -> list[dict[str, Any]]:
    """A limit for each gated figure: its value minus `tolerance` (plus, for error rates)."""
    limits = []
    for spec in gate_specs(kind, k):
        value = lookup(metrics, spec.group, spec.metric)
        if value is None:
            limit = None
        elif spec.metric in LOWER_IS_BETTER:
            limit = round(min(1.0, value + tolerance), 6)
        else:
            limit = round(max(0.0, value - tolerance), 6)
        limits.append({"group": spec.group, "metric": spec.metric, "baseline": value, "limit": limit})
    return limits


def check(
    metrics: dict[str, Any], limits: list[dict[str, Any]], measured_on: dict[str, Any], baseline_on: dict[str, Any]
) -> dict[str, Any]:
    """Compare a run with its limits and its fingerprint with the baseline's."""
    rows = []
    for entry in limits:
        current = lookup(metrics, entry["group"], entry["metric"])
        limit = entry["limit"]
        if limit is None:
            status = "not gated"
        elif current is None:
            status = "FAIL (not measured)"
        elif entry["metric"] in LOWER_IS_BETTER:
            status = "PASS" if current <= limit + EPSILON else "FAIL"
        else:
            status = "PASS" if current >= limit - EPSILON else "FAIL"
        rows.append({**entry, "current": current, "status": status})
    problems = fingerprint_problems(measured_on, baseline_on)
    failed = problems or any(r["status"].startswith("FAIL") for r in rows)
    return {"split": GATED_SPLIT, "passed": not failed, "rows": rows, "problems": problems}


def fingerprint_problems(measured_on: dict[str, Any], baseline_on: dict[str, Any]) -> list[str]:
    problems = []
    if measured_on.get("cases_sha256") != baseline_on.get("cases_sha256"):
        problems.append(
            "the case file differs from the one the baseline was measured on "
            f"({measured_on.get('cases_sha256')} vs {baseline_on.get('cases_sha256')}): "
            "re-run `qa eval --update-baseline` and commit the new baseline with the cases"
        )
    if measured_on.get("backends") != baseline_on.get("backends"):
        problems.append(
            f"the backends differ from the baseline's ({measured_on.get('backends')} vs "
            f"{baseline_on.get('backends')}): re-run `qa eval --update-baseline` and commit it"
        )
    return problems


# --------------------------------------------------------------------------- files


def read_json(path: Path, what: str) -> dict[str, Any]:
    if not path.is_file():
        raise GateSetupError(f"no {what} at {path}; create it with `qa eval --update-baseline`")
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise GateSetupError(f"cannot read the {what} {path}: {exc}") from exc
    if not isinstance(data, dict):
        raise GateSetupError(f"the {what} {path} is not a JSON object")
    return data


def load_section(baseline_file: Path, gates_file: Path, kind: str) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """The baseline's section for `kind` and its limits; GateSetupError when either is missing."""
    baseline = read_json(baseline_file, "baseline").get(kind)
    limits = read_json(gates_file, "gates file").get(kind)
    if not baseline or not isinstance(limits, list):
        flag = {"full": "", "retrieval": " --retrieval-only", "verifier": " --verifier"}[kind]
        raise GateSetupError(
            f"{baseline_file} / {gates_file} hold no '{kind}' figures; "
            f"create them with `qa eval{flag} --update-baseline`"
        )
    return baseline, limits


def write_section(path: Path, kind: str, section: Any, about: str) -> None:
    """Replace the `kind` section of a JSON file (creating it), keeping the other kinds."""
    data: dict[str, Any] = {}
    if path.is_file():
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except ValueError:
            data = {}
    data = {"about": about, **{key: value for key, value in data.items() if key != "about"}}
    data[kind] = section
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(data, ensure_ascii=False, indent=2) + "\n", encoding="utf-8")


def baseline_section(info: dict[str, Any], metrics: dict[str, Any], measured_on: dict[str, Any]) -> dict[str, Any]:
    """What the baseline keeps of a run: its fingerprint, test-split overall figures and provenance."""
    overall = metrics.get("by_split", {}).get(GATED_SPLIT, {}).get("overall", {})
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
    baseline_file: Path,
    gates_file: Path,
    run: tuple[str, int, float],
    report_info: dict[str, Any],
    metrics: dict[str, Any],
    measured_on: dict[str, Any],
) -> None:
    """Record a run as the new baseline and set its limits; `run` is (kind, k, tolerance)."""
    kind, k, tolerance = run
    write_section(
        baseline_file,
        kind,
        baseline_section(report_info, metrics, measured_on),
        "What each kind of `qa eval` run measured when its baseline was last set (`qa eval [--retrieval-only|"
        "--verifier] --update-baseline`, from a clean tree). The gate fails when the case file or backends differ.",
    )
    write_section(
        gates_file,
        kind,
        derive_limits(metrics, kind, k, tolerance),
        f"Limits `qa eval --gate` holds on the {GATED_SPLIT} split: 'limit' is a floor, or a ceiling for "
        f"{', '.join(sorted(LOWER_IS_BETTER))}; set by --update-baseline to the run's figure -/+ the tolerance "
        f"({tolerance}). Raise a limit by hand to hold a gain.",
    )
