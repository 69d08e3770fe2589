"""qa as llama-index components, exercised only through llama-index's own API.

`retriever.retrieve(...)`, `engine.query(...)`, `engine.aquery(...)` and llama-index's
`RetrieverQueryEngine` over our retriever. The fast tests use the fake embedder and the fake
generator (`fake` in their names) over real Chroma; the `slow` one answers with the real embedder
and the real llama.cpp model.
"""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest
from llama_index.core.base.base_query_engine import BaseQueryEngine
from llama_index.core.base.response.schema import Response
from llama_index.core.llms import MockLLM
from llama_index.core.query_engine import RetrieverQueryEngine
from llama_index.core.response_synthesizers.no_text import NoText
from llama_index.core.schema import NodeWithScore

from qa.config import get_settings
from qa.llamaindex import QaQueryEngine, QaRetriever
from qa.llm import FakeGenerator
from qa.pipeline import InvalidQuestion, Pipeline
from qa.types import REFUSAL
from qa.wiring import build_pipeline
from tests.conftest import REPO, SEEDS, fake_settings

QUESTION = "What did Kim Yo Jong say about the car?"


def assert_citation_nodes(nodes: list[NodeWithScore]) -> None:
    """Each source node is a verified span: text == the file's text at [start:end]."""
    assert nodes
    for hit in nodes:
        meta = hit.node.metadata
        assert set(meta) == {"source", "start", "end", "chunk_id"}
        assert (SEEDS / meta["source"]).read_text(encoding="utf-8")[
            meta["start"] : meta["end"]
        ] == hit.node.get_content()


def test_the_retriever_returns_qa_passages_through_llama_index_fake(fake_pipeline: Pipeline) -> None:
    nodes = QaRetriever(fake_pipeline, top_k=3).retrieve(QUESTION)
    expected = fake_pipeline.retriever.retrieve(QUESTION, 3).passages
    assert [n.node.node_id for n in nodes] == [p.chunk.id for p in expected]
    assert [n.score for n in nodes] == [p.score for p in expected]
    for hit, passage in zip(nodes, expected, strict=True):
        assert hit.node.get_content() == passage.chunk.text
        assert hit.node.metadata["source"] == passage.chunk.source
        assert (hit.node.metadata["start"], hit.node.metadata["end"]) == (passage.chunk.start, passage.chunk.end)
        assert hit.node.metadata["chunk_id"] == passage.chunk.id


def test_the_query_engine_answers_with_verified_citations_as_source_nodes_fake(fake_pipeline: Pipeline) -> None:
    engine = QaQueryEngine(pipeline=fake_pipeline)
    assert isinstance(engine, BaseQueryEngine)  # swappable for index.as_query_engine()
    response = engine.query(QUESTION)
    answer = fake_pipeline.answer(QUESTION)
    assert isinstance(response, Response)
    assert str(response) == answer.answer and response.metadata is not None
    assert response.metadata["mode"] == answer.mode and response.metadata["refused"] is answer.refused
    assert [(n.node.metadata["chunk_id"], n.node.get_content()) for n in response.source_nodes] == [
        (c.chunk_id, c.quote) for c in answer.citations
    ]
    assert_citation_nodes(response.source_nodes)


def test_the_async_query_path_gives_the_same_response_fake(fake_pipeline: Pipeline) -> None:
    engine = QaQueryEngine(pipeline=fake_pipeline)
    sync, async_ = engine.query(QUESTION), asyncio.run(engine.aquery(QUESTION))
    assert isinstance(async_, Response)
    assert str(async_) == str(sync)
    assert [n.node.node_id for n in async_.source_nodes] == [n.node.node_id for n in sync.source_nodes]


def test_a_refusal_has_no_source_nodes_fake(isolated_home: Path) -> None:
    refusing = FakeGenerator(reply=lambda _messages: {"answerable": False, "answer": "", "citations": []})
    pipeline = build_pipeline(fake_settings(isolated_home), generator=refusing)
    pipeline.ingest([SEEDS])
    response = QaQueryEngine(pipeline=pipeline).query(QUESTION)
    assert str(response) == REFUSAL and response.source_nodes == []
    assert response.metadata is not None and response.metadata["mode"] == "refused" and response.metadata["refused"]


def test_the_retriever_plugs_into_llama_index_retriever_query_engine_fake(fake_pipeline: Pipeline) -> None:
    # NoText synthesizes nothing; MockLLM keeps llama-index off its global Settings.llm (which would try
    # OpenAI). Built directly: from_args(response_mode="no_text") drops the llm passed to it (0.14.25).
    engine = RetrieverQueryEngine(QaRetriever(fake_pipeline, top_k=4), response_synthesizer=NoText(llm=MockLLM()))
    response = engine.query(QUESTION)
    assert [n.node.node_id for n in response.source_nodes] == [
        p.chunk.id for p in fake_pipeline.retriever.retrieve(QUESTION, 4).passages
    ]


@pytest.mark.parametrize("question", ["", "   ", "x" * 5000])
def test_a_bad_question_is_our_clear_error_through_llama_index_fake(fake_pipeline: Pipeline, question: str) -> None:
    with pytest.raises(InvalidQuestion, match=r"empty|limit"):
        QaQueryEngine(pipeline=fake_pipeline).query(question)
    with pytest.raises(InvalidQuestion, match=r"empty|limit"):
        QaRetriever(fake_pipeline).retrieve(question)


@pytest.mark.slow
def test_a_real_answer_through_the_llama_index_query_engine(real_pipeline: Pipeline) -> None:
    response = QaQueryEngine(pipeline=real_pipeline).query("How much does an Aurus Senat cost?")
    assert response.metadata is not None and response.metadata["mode"] == "generated", response.metadata
    assert "275" in str(response)
    assert_citation_nodes(response.source_nodes)
    assert any("275" in n.node.get_content() for n in response.source_nodes)


def test_the_readme_example_runs_fake(isolated_home: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The README's llama-index example, as written, with the fake backends chosen through QA_* settings."""
    readme = (REPO / "README.md").read_text(encoding="utf-8")
    example = readme.split("### From llama-index", 1)[1].split("```python\n", 1)[1].split("```", 1)[0]
    for name, value in {"QA_EMBED__BACKEND": "fake", "QA_LLM__BACKEND": "fake", "QA_CORPUS": str(SEEDS)}.items():
        monkeypatch.setenv(name, value)
    get_settings.cache_clear()
    namespace: dict[str, object] = {}
    exec(compile(example, "README.md", "exec"), namespace)
    response, nodes = namespace["response"], namespace["nodes"]
    assert isinstance(response, Response) and str(response) and isinstance(nodes, list) and nodes
    assert_citation_nodes(response.source_nodes)
