"""The `qa` command: a thin shell over the pipeline."""

from __future__ import annotations

import logging
import sys
from pathlib import Path
from typing import TYPE_CHECKING, NoReturn

import click

from qa.types import Answer, citation_lines

if TYPE_CHECKING:
    from qa.pipeline import Pipeline


def fail(message: str) -> NoReturn:
    """One clear line on stderr and a non-zero exit: never a traceback for user errors."""
    click.echo(f"qa: error: {message}", err=True)
    sys.exit(2)


def _pipeline(rebuild: bool = False) -> Pipeline:
    # Imported here so `qa --help` stays instant and import errors become one line.
    from qa.config import BadSetting, load_settings, prepare_process
    from qa.llm import GeneratorUnavailable
    from qa.store import IndexUnavailable
    from qa.wiring import build_pipeline

    prepare_process()
    try:
        return build_pipeline(load_settings(), rebuild_index=rebuild)
    except (BadSetting, IndexUnavailable, GeneratorUnavailable) as exc:
        fail(str(exc))


@click.group()
@click.option("-v", "--verbose", is_flag=True, help="Log at INFO level (questions are still not logged).")
def main(verbose: bool) -> None:
    """Answer questions about a folder of articles, with citations you can check."""
    logging.basicConfig(
        level=logging.INFO if verbose else logging.WARNING, format="%(levelname)s %(name)s: %(message)s"
    )


@main.command("ingest")
@click.argument("paths", nargs=-1, type=click.Path(path_type=Path))
@click.option("--rebuild", is_flag=True, help="Move the index aside (kept as chroma.replaced-*) and build it again.")
def ingest_command(paths: tuple[Path, ...], rebuild: bool) -> None:
    """Index PATHS (default: the seeds/ corpus). The index mirrors exactly these files."""
    from tqdm import tqdm

    from qa.config import get_settings

    targets = list(paths) or [get_settings().corpus]
    for target in targets:
        if not target.exists():
            fail(f"no such file or folder: {target}")
    pipeline = _pipeline(rebuild=rebuild)
    with tqdm(desc="ingest", unit="file", file=sys.stderr) as bar:

        def advance(name: str) -> None:
            bar.set_postfix_str(name[:30])
            bar.update()

        report = pipeline.ingest(targets, progress=advance)
    for name, why in report.skipped.items():
        click.echo(f"qa: warning: skipped {name}: {why}", err=True)
    click.echo(
        f"added {len(report.added)}, updated {len(report.updated)}, unchanged {len(report.unchanged)}, "
        f"removed {len(report.removed)}, skipped {len(report.skipped)}; {report.chunks_written} chunks written; "
        f"{pipeline.store.count()} chunks in the index"
    )


@main.command("ask")
@click.argument("question", required=False)
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object per answer.")
def ask_command(question: str | None, as_json: bool) -> None:
    """Answer QUESTION; without it, read one question per line from stdin."""
    from qa.llm import GeneratorUnavailable
    from qa.pipeline import InvalidQuestion
    from qa.store import IndexUnavailable

    if question is not None and not question.strip():
        fail("the question is empty")
    pipeline = _pipeline()
    try:
        pipeline.ensure_index()
    except IndexUnavailable as exc:
        fail(str(exc))
    questions = [question] if question is not None else (line.rstrip("\n") for line in sys.stdin)
    status = 0
    for text in questions:
        if question is None and not text.strip():
            continue
        try:
            answer = pipeline.answer(text)
        except InvalidQuestion as exc:
            if question is not None:
                fail(str(exc))
            click.echo(f"qa: error: {exc}", err=True)
            status = 2
            continue
        except (GeneratorUnavailable, IndexUnavailable) as exc:
            fail(str(exc))
        click.echo(answer.model_dump_json() if as_json else render(answer))
    sys.exit(status)


@main.command("serve")
@click.option("--host", default=None, help="Bind address (default 127.0.0.1, or QA_SERVER__HOST).")
@click.option("--port", default=None, type=int, help="Port (default 8000, or QA_SERVER__PORT).")
def serve_command(host: str | None, port: int | None) -> None:
    """Run the HTTP API and web chat page."""
    from qa.api import run

    run(host=host, port=port)


@main.command("chat")
def chat_command() -> None:
    """Chat in the terminal, with follow-up questions and numbered sources."""
    from qa.chat import run

    run(_pipeline())


# `--help` goes through to the eval's own argument parser, which lists its options.
@main.command(
    "eval",
    context_settings={"ignore_unknown_options": True, "allow_extra_args": True},
    add_help_option=False,
)
@click.pass_context
def eval_command(ctx: click.Context) -> None:
    """Run the eval set through the pipeline and gate on the baseline (options: `qa eval --help`)."""
    from qa.evals.cli import main as eval_main

    sys.exit(eval_main(list(ctx.args)))


def render(answer: Answer) -> str:
    """The answer for people: text, then numbered sources with their quotes."""
    lines = [answer.answer]
    if answer.citations:
        lines.append("")
        lines.append("Sources:")
    lines += citation_lines(answer.citations)
    lines.append(
        f"\n[{answer.mode}; {answer.timings.total_ms:.0f} ms; {answer.backend.llm}; {answer.backend.embedder}]"
    )
    return "\n".join(lines)


if __name__ == "__main__":  # pragma: no cover
    main()
