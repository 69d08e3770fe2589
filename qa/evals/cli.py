"""`qa eval`'s command line: the arguments, the order of a run, what it prints, the exit status.

The running and scoring live in `runner`, the gate and baseline in `gate`, the report
files and printed tables in `report`.

Exit status: 0 done (and the gate passed, if asked), 1 the gate failed,
2 a usage or setup error (bad arguments, no baseline, model unavailable).
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from qa.config import prepare_process
from qa.evals import gate, verifier
from qa.evals.gate import DEFAULT_TOLERANCE, GateSetupError
from qa.evals.report import gate_text, label, summary_text, verifier_summary, write_report
from qa.evals.runner import (
    REPO,
    EvalSetupError,
    answer_run,
    display_path,
    uncommitted_changes,
    verifier_run,
    write_verifier,
)
from qa.types import Progress


def _repo_path(relative: str) -> Path:
    """`relative` inside the checkout this package runs from, else relative to the working directory."""
    candidate = REPO / relative
    return candidate if candidate.parent.is_dir() else Path(relative)


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


def _check_can_update(args: argparse.Namespace) -> None:
    if not args.update_baseline or not args.baseline.resolve().is_relative_to(REPO):
        return
    changed = uncommitted_changes([args.baseline, args.gates, args.baseline.parent / "reports"])
    if changed:
        raise EvalSetupError(
            "--update-baseline refuses a tree with uncommitted changes (" + ", ".join(changed[:3]) + "): "
            "commit first, so the baseline describes a commit"
        )


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
        info, rows, measured_on = verifier_run(args, progress)
        metrics = verifier.aggregate(rows)
        result = gate.check(metrics, limits, measured_on, baseline_on) if limits is not None else None
        paths = write_verifier(args.out, info, rows, metrics, result)
        if args.update_baseline:
            paths += write_verifier(args.baseline.parent / "reports", info, rows, metrics, result)
        print(verifier_summary(metrics))
    else:
        report, measured_on = answer_run(args, kind, progress)
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
        tolerance = args.tolerance if args.tolerance is not None else DEFAULT_TOLERANCE
        gate.update_baseline(args.baseline, args.gates, (kind, args.k, tolerance), info, metrics, measured_on)
        print(f"\nupdated the '{kind}' figures in {display_path(args.baseline)} and {display_path(args.gates)}")
    return 0 if result is None or result["passed"] else 1


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
