"""Token probabilities from llama.cpp: what the answer's certainty check reads."""

from __future__ import annotations

import gc

import pytest

from qa.llm import LlamaCppGenerator, _token_logprobs, chat_request, recorded_tokens, resolve_model
from qa.reply import answer_certainty, answer_schema
from tests.conftest import REPO


def test_requests_ask_for_each_token_probability() -> None:
    request = chat_request([{"role": "user", "content": "?"}], answer_schema(2), 32)
    assert request["logprobs"] is True and request["top_logprobs"] >= 1  # llama.cpp reports none at 0


def test_token_probabilities_are_read_from_whole_results_and_stream_chunks() -> None:
    whole = {"choices": [{"message": {"content": "{}"}, "logprobs": {"content": [{"token": "{", "logprob": -0.5}]}}]}
    chunk = {"choices": [{"delta": {"content": "two"}, "logprobs": {"content": [{"token": "two", "logprob": -1.0}]}}]}
    assert _token_logprobs(whole) == [("{", -0.5)]
    assert _token_logprobs(chunk) == [("two", -1.0)]
    assert _token_logprobs({"choices": [{"delta": {"content": "x"}}]}) == []
    assert _token_logprobs({"timings": {"predicted_n": 3}}) == []


@pytest.mark.slow
def test_the_embedded_model_reports_the_tokens_it_wrote_streamed_or_not() -> None:
    model = resolve_model("qwen2.5-coder-1.5b", None, REPO / ".qa-home" / "models")
    generator = LlamaCppGenerator(model, threads=2, context=1024)
    messages = [
        {"role": "system", "content": "Answer from the numbered evidence sentences, in JSON."},
        {
            "role": "user",
            "content": "[1] The museum in Lindholm opened in 1987.\n[2] It has a red roof.\n"
            "Question: When did the museum in Lindholm open?",
        },
    ]
    for on_text in (None, lambda piece: None):
        with recorded_tokens() as tokens:
            reply = generator.generate(messages, answer_schema(2), 48, on_text)
        assert "".join(token for token, _ in tokens).startswith(reply)  # llama.cpp may add an empty end token
        certainty = answer_certainty(tokens)
        assert certainty is not None and 0.0 < certainty <= 1.0
    del generator
    gc.collect()
