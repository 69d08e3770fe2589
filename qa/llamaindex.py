"""qa as llama-index components: a retriever and a query engine with verified citations.

For code already built on llama-index: `QaRetriever` is a `BaseRetriever` (qa's cross-lingual
retrieval over its Chroma index), `QaQueryEngine` a `CustomQueryEngine` that answers with
`Pipeline.answer()` and puts each verified citation in `Response.source_nodes` (node text = the
quote, metadata `source`, `start`, `end`, `chunk_id`, with `quote == file_text[start:end]`), so it
can stand in for `index.as_query_engine()`. Neither uses llama-index's global `Settings.llm`.

Why a module of its own and not `qa/sources.py` (the other llama-index import): `sources` sits at the
bottom of `qa` and uses llama-index's sentence splitter internally, while this adapter sits at the
top (beside `api` and `cli`, importing `Pipeline`); one module for both would import in a circle.
Like `api`, nothing in `qa` imports this module.
"""

from __future__ import annotations

from typing import Any

from llama_index.core.base.base_retriever import BaseRetriever
from llama_index.core.base.response.schema import Response
from llama_index.core.query_engine import CustomQueryEngine
from llama_index.core.schema import NodeWithScore, QueryBundle, TextNode
from pydantic import ConfigDict, Field

from qa.pipeline import Pipeline
from qa.types import Answer, Chunk, Citation

# Metadata kept out of what llama-index would embed or show an LLM: offsets and ids are for checking.
_BOOKKEEPING = ["start", "end", "chunk_id", "file_hash"]


class QaRetriever(BaseRetriever):
    """qa's retrieval as a llama-index retriever: `retriever.retrieve("question")`.

    Nodes are the retrieved chunks, best first, scored by qa's language-centred similarity
    (comparable within one result list, not across questions). `text` is the chunk's cleaned
    text; `start`/`end` locate the chunk in its original file.
    """

    def __init__(self, pipeline: Pipeline, top_k: int | None = None) -> None:
        super().__init__()
        self._pipeline = pipeline
        self._top_k = top_k

    def _retrieve(self, query_bundle: QueryBundle) -> list[NodeWithScore]:
        question = self._pipeline.check_question(query_bundle.query_str)
        retrieval = self._pipeline.retriever.retrieve(question, self._top_k)
        return [NodeWithScore(node=chunk_node(p.chunk), score=p.score) for p in retrieval.passages]


class QaQueryEngine(CustomQueryEngine):
    """The whole qa answer as a llama-index query engine: `engine.query("question")`.

    `str(response)` is the answer text; `response.source_nodes` are its verified citations
    (empty for a refusal); `response.metadata` holds `mode`, `refused`, `language`, `notes`.
    """

    model_config = ConfigDict(arbitrary_types_allowed=True)
    pipeline: Pipeline = Field(description="A pipeline from `qa.wiring.build_pipeline()`.")

    def custom_query(self, query_str: str) -> Response:
        return answer_response(self.pipeline.answer(query_str))


def chunk_node(chunk: Chunk) -> TextNode:
    return _node(
        chunk.id,
        chunk.text,
        source=chunk.source,
        start=chunk.start,
        end=chunk.end,
        chunk_id=chunk.id,
        language=chunk.language,
        file_hash=chunk.file_hash,
    )


def citation_node(citation: Citation) -> TextNode:
    # One node per cited span; the same chunk can be cited at two places.
    node_id = f"{citation.chunk_id}:{citation.start}-{citation.end}"
    return _node(
        node_id,
        citation.quote,
        source=citation.source,
        start=citation.start,
        end=citation.end,
        chunk_id=citation.chunk_id,
    )


def _node(node_id: str, text: str, **metadata: str | int) -> TextNode:
    return TextNode(
        id_=node_id,
        text=text,
        metadata=metadata,
        excluded_embed_metadata_keys=_BOOKKEEPING,
        excluded_llm_metadata_keys=_BOOKKEEPING,
    )


def answer_response(answer: Answer) -> Response:
    # Citations are verified spans, not scored retrieval hits: each gets score 1.0.
    nodes = [NodeWithScore(node=citation_node(c), score=1.0) for c in answer.citations]
    metadata: dict[str, Any] = {
        "mode": answer.mode,
        "refused": answer.refused,
        "language": answer.language,
        "notes": list(answer.notes),
        "backend": answer.backend.model_dump(),
    }
    return Response(response=answer.answer, source_nodes=nodes, metadata=metadata)
