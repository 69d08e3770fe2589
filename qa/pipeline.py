"""The one way through: question → retrieve → generate → verify → Answer.

The CLI, the HTTP API and the eval all call `Pipeline.answer()`.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np

from qa.asks import asks_for_number, asks_for_time, asks_for_year, counted_phrase
from qa.cite import corrected_number, date_without_unstated_years, only_numbers_missing, verify
from qa.config import Settings
from qa.embed import Embedder
from qa.formats import page_of
from qa.ingest import ingest
from qa.injection import looks_like_instruction, strip_instructions
from qa.language import detect_language, has_latin_letters
from qa.llm import Generator, Message, metered_usage, recorded_tokens
from qa.prompts import template
from qa.reply import (
    JUDGE_SCHEMA,
    ModelReply,
    ReplyFormatError,
    answer_certainty,
    answer_schema,
    parse_reply,
    partial_answer,
)
from qa.retrieve import Retrieval, Retriever
from qa.store import ChromaStore, IndexUnavailable
from qa.text import english_number, gloss_numbers, tokens
from qa.types import (
    REFUSAL,
    Answer,
    BackendInfo,
    Chunk,
    Citation,
    Evidence,
    IngestReport,
    Language,
    Mode,
    OnText,
    Passage,
    Progress,
    Span,
    Timings,
    Turn,
)
from qa.values import asked_words_held, count_from_ordinal, other_values, states_asked_value

log = logging.getLogger(__name__)

LANGUAGE_NAMES: dict[Language, str] = {"en": "English", "hi": "Hindi", "mr": "Marathi"}
# Said in the asker's language when the answer is in English.
ANSWERED_IN_ENGLISH: dict[Language, str] = {
    "en": "",
    "hi": "(उत्तर अंग्रेज़ी में है।)",
    "mr": "(उत्तर इंग्रजीत आहे.)",
}
# When no answer passed the checks: said plainly, in the asker's language, before the best sentence.
NO_SUPPORTED_ANSWER: dict[Language, str] = {
    "en": "No supported answer was found in the articles. The closest passage:",
    "hi": "लेखों में इसका समर्थित उत्तर नहीं मिला। सबसे निकट अंश:",
    "mr": "लेखांमध्ये याचे समर्थित उत्तर सापडले नाही. सर्वात जवळचा उतारा:",
}
# When another shown sentence gives a different value that passes the same checks: both versions.
SOURCES_DISAGREE: dict[Language, str] = {
    "en": "{answer}; the sources disagree: another gives {other}",
    "hi": "{answer}; स्रोतों में मतभेद है: दूसरा स्रोत {other} बताता है",
    "mr": "{answer}; स्रोतांमध्ये मतभेद आहे: दुसरा स्रोत {other} सांगतो",
}
# How many other values the judge reads per answer: each is one short model pass.
MAX_OTHER_VERSIONS = 2
# Fewer sentences stating a date/number than this and all sentences are candidates.
MIN_VALUE_SENTENCES = 3


class InvalidQuestion(ValueError):
    """The question is empty, too long or otherwise unusable; the message says which."""


class ModelNeeded(Exception):
    """Raised inside `without_model()` when answering would call the model."""


_model_allowed: ContextVar[bool] = ContextVar("qa_model_allowed", default=True)


@contextmanager
def without_model() -> Iterator[None]:
    """Answer only what needs no model: any model call in this block raises `ModelNeeded`.

    The server runs every question this way first, outside its bounded model queue, so refusals
    and quoted answers come back at once; only a `ModelNeeded` question goes on to the queue.
    """
    token = _model_allowed.set(False)
    try:
        yield
    finally:
        _model_allowed.reset(token)


@dataclass(frozen=True)
class Traced:
    """An answer with what it came from: the question as searched (condensed after a history) and that search."""

    answer: Answer
    searched: str
    retrieval: Retrieval


@dataclass
class _Outcome:
    text: str
    mode: Mode
    citations: list[Citation]
    notes: list[str]


class Pipeline:
    """Holds the loaded backends; build it once per process with `qa.wiring.build_pipeline`."""

    def __init__(
        self,
        settings: Settings,
        store: ChromaStore,
        embedder: Embedder,
        generator_factory: Callable[[], Generator],
        relevance_floor: float,
    ) -> None:
        self.settings = settings
        self.store = store
        self.embedder = embedder
        self.retriever = Retriever(store, embedder, settings.retrieve)
        self._generator_factory = generator_factory
        self._generator: Generator | None = None
        self.relevance_floor = relevance_floor
        self._versions: dict[str, str] = {}

    # --- backends ----------------------------------------------------------------

    @property
    def generator(self) -> Generator:
        """The generator, loaded on first use (a refusal never needs it)."""
        if not _model_allowed.get():
            raise ModelNeeded
        if self._generator is None:
            self._generator = self._generator_factory()
        return self._generator

    def load_model(self) -> None:
        """Load the generator now rather than on the first answer that needs it (servers, chat, the eval)."""
        _ = self.generator

    def backend_info(self) -> BackendInfo:
        llm = self._generator.name if self._generator else self.settings.llm.backend
        return BackendInfo(llm=llm, embedder=self.embedder.name)

    # --- indexing ------------------------------------------------------------------

    def ingest(self, paths: list[Path], progress: Progress | None = None) -> IngestReport:
        """Make the index mirror `paths`. (A rebuild starts from a new store: see `build_pipeline`.)"""
        report = ingest(paths, self.store, self.embedder, self.settings.chunk, progress)
        self.retriever.refresh()
        return report

    def ensure_index(self) -> None:
        """Index the default corpus when the index is empty (first run)."""
        if self.store.count() == 0:
            self.ingest([self.settings.corpus])

    # --- answering -----------------------------------------------------------------

    def answer(self, question: str, history: list[Turn] | None = None, on_text: OnText | None = None) -> Answer:
        """Answer one question, citing the passages used; never an unchecked claim."""
        return self.answer_traced(question, history, on_text).answer

    def answer_traced(self, question: str, history: list[Turn] | None = None, on_text: OnText | None = None) -> Traced:
        """`answer`, with the question as searched and what that one search found (the eval scores both)."""
        started = time.perf_counter()
        question = self.check_question(question)
        language = detect_language(question)
        with metered_usage() as usage:
            standalone = self.condense(question, history) if history else question
            retrieval = self.retriever.retrieve(standalone)
            retrieved_at = time.perf_counter()
            outcome = self._respond(standalone, language, retrieval, on_text)
        finished = time.perf_counter()
        answer = Answer(
            question=question,
            answer=outcome.text,
            language=language,
            refused=outcome.mode != "generated",
            mode=outcome.mode,
            citations=outcome.citations,
            timings=Timings(
                retrieve_ms=round((retrieved_at - started) * 1000, 1),
                generate_ms=round((finished - retrieved_at) * 1000, 1),
                total_ms=round((finished - started) * 1000, 1),
            ),
            usage=usage,
            backend=self.backend_info(),
            notes=outcome.notes,
        )
        return Traced(answer, standalone, retrieval)

    def standalone_question(self, question: str, history: list[Turn] | None = None) -> str:
        """The question as `answer` would search with: checked, and condensed when it follows a history."""
        question = self.check_question(question)
        return self.condense(question, history) if history else question

    def check_question(self, question: str) -> str:
        text = question.strip() if isinstance(question, str) else ""
        if not text:
            raise InvalidQuestion("the question is empty")
        limit = self.settings.max_question_chars
        if len(text) > limit:
            raise InvalidQuestion(f"the question is {len(text)} characters long; the limit is {limit}")
        if "\x00" in text:
            raise InvalidQuestion("the question contains a NUL character")
        if not tokens(text):
            # "???" or "🙂" is close enough to every chunk for the embedder: it would reach the model.
            raise InvalidQuestion("the question has no words (letters or digits)")
        return text

    def _respond(self, question: str, language: Language, retrieval: Retrieval, on_text: OnText | None) -> _Outcome:
        if self.too_weak(retrieval):
            note = f"retrieval too weak (best similarity {retrieval.best_similarity:.3f} < {self.relevance_floor})"
            return _Outcome(REFUSAL, "refused", [], [note])
        sentences = self.prompt_evidence(question, retrieval)
        if not sentences:
            return _Outcome(REFUSAL, "refused", [], ["no evidence sentences"])
        if language not in self.settings.llm.reads and not (asks_for_number(question) or asks_for_time(question)):
            # The model cannot read the question; only a number or a date, which the rules can
            # check on their own, is worth asking it for.
            note = f"the model does not read {LANGUAGE_NAMES[language]} questions; only numbers and dates are asked"
            return self._unsupported(question, language, sentences, [note])
        reply, problems = self._generate(question, language, sentences, on_text)
        if reply is not None and not reply.answerable:
            return _Outcome(REFUSAL, "refused", [], ["the model found no answer in the evidence"])
        notes: list[str] = []
        if reply is not None and only_numbers_missing(problems):
            reply, problems, repair = self._number_repaired(question, sentences, reply, problems)
            if repair:
                notes.append(repair)
        if reply is None or problems:
            return self._count_from_ordinal(question, language, sentences, problems) or self._unsupported(
                question, language, sentences, problems
            )
        return self._answered(question, language, sentences, reply, notes)

    def _answered(
        self, question: str, language: Language, sentences: list[Passage], reply: ModelReply, notes: list[str]
    ) -> _Outcome:
        """The checked answer with its citations; a second version the sources give is named beside it."""
        cited = [sentences[i] for i in reply.cited]
        text = reply.answer
        other = self._other_version(question, reply, sentences)
        if other is not None:
            value, index = other
            text = SOURCES_DISAGREE[self.answer_language(language)].format(answer=text, other=value)
            if index not in reply.cited:
                cited.append(sentences[index])
            notes = [*notes, f"another sentence gives {value}, which passes the same checks: the sources disagree"]
        citations = [self._citation(s.chunk, Span(s.chunk.start, s.chunk.end)) for s in cited]
        if self.answer_language(language) != language and has_latin_letters(text):
            # Not for "20 जून 2024" or "2": copied from a Devanagari sentence, or digits, it is not English.
            text = f"{text}\n{ANSWERED_IN_ENGLISH[language]}"
        return _Outcome(text, "generated", citations, notes)

    def _other_version(self, question: str, reply: ModelReply, sentences: list[Passage]) -> tuple[str, int] | None:
        """A different value for the asked date or number that passes the checks the answer passed (rules,
        then the judge): the sources disagree. It may stand in a sentence the answer cites (the model picked
        both versions and wrote one), or in one it does not cite that holds as much of the question."""
        if not self.settings.llm.judge:
            return None  # the rules alone cannot tell a second version from a neighbouring number
        judged = 0
        held = asked_words_held(question, " ".join(sentences[i].chunk.text for i in reply.cited))
        uncited = sorted(set(range(len(sentences))) - set(reply.cited), key=lambda i: -sentences[i].score)
        for index in [*reply.cited, *uncited]:
            text = sentences[index].chunk.text
            if index not in reply.cited and asked_words_held(question, text) < held:
                continue  # about less of what was asked than the answer's sentences: not the same fact
            for value in other_values(question, reply.answer, text):
                candidate = ModelReply(answerable=True, answer=value, cited=[index])
                if verify(candidate, sentences, question):
                    continue
                if judged == MAX_OTHER_VERSIONS:
                    return None
                judged += 1
                if self._judge(question, value, [text]):
                    return value, index
        return None

    def _count_from_ordinal(
        self, question: str, language: Language, sentences: list[Passage], problems: list[str]
    ) -> _Outcome | None:
        """When the model's count failed the checks: "the second car" in the evidence answers "how many cars"."""
        found = count_from_ordinal(question, sentences)
        if found is None:
            return None
        number = english_number(found.count) if language == "en" else str(found.count)
        sentence = sentences[found.index].chunk
        citation = self._citation(sentence, Span(sentence.start, sentence.end))
        note = f"the model's answer failed the checks ({'; '.join(problems)}); the count is read from an ordinal"
        return _Outcome(f"{number} {counted_phrase(question)}".strip(), "generated", [citation], [note])

    def _number_repaired(
        self, question: str, sentences: list[Passage], reply: ModelReply, problems: list[str]
    ) -> tuple[ModelReply, list[str], str | None]:
        """The model's answer with its one unstated number repaired from its cited sentences, and a note saying
        so: for a date, a year of its own dropped; otherwise the number it miscopied replaced by the only one
        there. The repaired answer is checked like any other (rules, then the judge)."""
        cited_text = strip_instructions(" ".join(sentences[i].chunk.text for i in reply.cited))
        if not asks_for_time(question):
            repaired, how = (
                corrected_number(reply.answer, cited_text),
                "its number is replaced by the one its sentence states",
            )
        elif not asks_for_year(question):
            repaired, how = date_without_unstated_years(reply.answer, cited_text), "the year it added is dropped"
        else:
            return reply, problems, None  # the year is what was asked: never dropped
        if repaired is None:
            return reply, problems, None
        candidate = replace(reply, answer=repaired)
        if self.check_answer(question, candidate, sentences):
            return reply, problems, None
        return candidate, [], f"the model wrote {reply.answer!r}; {how}"

    def answer_language(self, language: Language) -> Language:
        """The asker's language when the model writes it acceptably (settings), else English."""
        return language if language in self.settings.llm.languages else "en"

    def _generate(
        self, question: str, language: Language, sentences: list[Passage], on_text: OnText | None
    ) -> tuple[ModelReply | None, list[str]]:
        messages = build_messages(question, self.answer_language(language), sentences)
        schema = answer_schema(len(sentences))
        streamer = _AnswerStreamer(on_text) if on_text else None
        with recorded_tokens() as token_logprobs:
            raw = self.generator.generate(messages, schema, self.settings.llm.max_tokens, streamer)
        try:
            reply = parse_reply(raw, len(sentences))
        except ReplyFormatError as exc:
            return None, [str(exc)]
        if not reply.answerable:
            return reply, []
        return reply, self.check_answer(question, reply, sentences, answer_certainty(token_logprobs))

    def check_answer(
        self, question: str, reply: ModelReply, sentences: list[Passage], certainty: float | None = None
    ) -> list[str]:
        """The rules of `verify`; then whether the model was sure of what it wrote (`certainty`, when
        the backend reports token probabilities); then the model as a judge of meaning."""
        problems = verify(reply, sentences, question)
        if problems:
            return problems
        floor = self.settings.llm.min_answer_certainty
        if certainty is not None and certainty < floor:
            return [f"the model was guessing (a token of its answer had probability {certainty:.2f} < {floor})"]
        if not self.settings.llm.judge:
            return []
        evidence = [sentences[i].chunk.text for i in reply.cited]
        return [] if self._judge(question, reply.answer, evidence) else ["the judge found the answer unsupported"]

    def _judge(self, question: str, answer: str, evidence: list[str]) -> bool:
        numbered = _numbered(evidence)
        user = template("judge_user").render(evidence=numbered, question=question, answer=answer)
        messages: list[Message] = [_system_message(), {"role": "user", "content": user}]
        raw = self.generator.generate(messages, JUDGE_SCHEMA, 16)
        try:
            return json.loads(raw)["supported"] is True
        except (json.JSONDecodeError, KeyError, TypeError):
            return False

    def verify_answer(self, question: str, answer: str, evidence: list[str]) -> list[str]:
        """Reasons `answer` is not supported by `evidence` as an answer to `question`; empty when it is.

        The rules and the judge a model's answer gets in `answer()` (not the certainty check: a given
        answer has no token probabilities); the verifier benchmark calls it directly.
        """
        sentences = [
            Passage(Chunk(f"evidence-{n}", "evidence", text, 0, len(text), detect_language(text)), 1.0, n)
            for n, text in enumerate(evidence)
        ]
        reply = ModelReply(answerable=True, answer=answer, cited=list(range(len(sentences))))
        return self.check_answer(question, reply, sentences)

    def _unsupported(
        self, question: str, language: Language, sentences: list[Passage], problems: list[str]
    ) -> _Outcome:
        """No supported answer: say so, and show the one sentence closest to the question."""
        best = self.closest_sentence(question, sentences)
        citation = self._citation(best.chunk, Span(best.chunk.start, best.chunk.end))
        text = f"{NO_SUPPORTED_ANSWER[language]} “{' '.join(best.chunk.text.split())}” [1]"
        return _Outcome(text, "extractive", [citation], problems)

    def closest_sentence(self, question: str, sentences: list[Passage]) -> Passage:
        """The evidence sentence most similar to the question, by the embedder's own similarity.

        Not the per-language centred score that chose the evidence: centring lets every
        language's best sentences reach the model, but for the one sentence shown to the
        asker it demotes the asker's own language. Measured on the dev split (docs/performance.md):
        the shown sentence holds the answer for 44 of 85 questions instead of 35.
        """
        return sentences[int(np.argmax(self.similarities(question, [s.chunk.text for s in sentences])))]

    def similarities(self, question: str, texts: list[str]) -> np.ndarray:
        """Cosine similarity of each text to the question (the embedder normalises; its cache holds both)."""
        query = self.embedder.embed([question], "query")[0]
        return np.asarray(self.embedder.embed(texts, "document") @ query, dtype=float)

    def condense(self, question: str, history: list[Turn]) -> str:
        """Turn a follow-up into a standalone question for retrieval.

        The model rewrites it when it reads the language; otherwise (or if the
        rewrite is unusable) the previous user question is prepended, which is
        what retrieval needs to find the same topic again.
        """
        users = [t.content for t in history if t.role == "user"]
        fallback = f"{users[-1]} {question}" if users else question
        if detect_language(question) not in self.settings.llm.languages:
            return fallback
        lines = "\n".join(f"{t.role}: {t.content}" for t in history[-6:])
        prompt = template("condense").render(history=lines, question=question)
        schema = {
            "type": "object",
            "properties": {"question": {"type": "string", "maxLength": 300}},
            "required": ["question"],
        }
        raw = self.generator.generate([{"role": "user", "content": prompt}], schema, 96)
        try:
            rewritten = str(json.loads(raw)["question"]).strip()
        except (json.JSONDecodeError, KeyError, TypeError):
            return fallback
        return rewritten if len(rewritten) >= 3 else fallback

    # --- evidence ------------------------------------------------------------------

    def too_weak(self, retrieval: Retrieval) -> bool:
        """Nothing retrieved is close enough to the question to be about it: refuse without the model."""
        return not retrieval.passages or retrieval.best_similarity < self.relevance_floor

    def prompt_evidence(self, question: str, retrieval: Retrieval) -> list[Passage]:
        """The numbered sentences the model is shown for this retrieval (none when it is too weak)."""
        return [] if self.too_weak(retrieval) else self.evidence_sentences(question, retrieval.evidence_pool())

    def evidence_sentences(self, question: str, passages: list[Passage]) -> list[Passage]:
        """The sentences of the retrieved passages most similar to the question, one `Passage` each.

        Each carries its own span of the source file, so a citation quotes exactly the
        sentence the model picked. Ordered by passage rank, then position.
        """
        chosen = self.best_sentences(question, passages, self.settings.retrieve.prompt_sentences)
        return [
            Passage(
                chunk=replace(e.passage.chunk, text=e.text, start=e.span.start, end=e.span.end, sentences=(e.span,)),
                score=e.score,
                rank=e.passage.rank,
            )
            for e in chosen
        ]

    def best_sentences(self, question: str, pool: list[Passage], limit: int) -> list[Evidence]:
        """The `limit` sentences of `pool` most similar to the question, ordered by passage rank.

        Similarities are centred per language within the pool, as retrieval does for
        chunks: e5 scores sentences in the question's language higher whatever they say.
        """
        candidates: list[tuple[Passage, Span, str]] = []
        for passage in pool:
            original = self.chunk_file_text(passage.chunk)
            for span in passage.chunk.sentences:
                text = " ".join(original[span.start : span.end].split())
                if len(text) >= 12 and not looks_like_instruction(text):
                    candidates.append((passage, span, text))
        # A question asking when or how many is answered by a sentence stating a date or a number.
        stating = [c for c in candidates if states_asked_value(question, c[2])]
        if len(stating) >= MIN_VALUE_SENTENCES:
            candidates = stating
        if not candidates:
            return []
        similarities = self.similarities(question, [text for _, _, text in candidates])
        scores = _centred_by_language(similarities, [p.chunk.language for p, _, _ in candidates])
        order = np.argsort(-scores)[:limit]
        chosen = sorted(order, key=lambda i: (candidates[i][0].rank, candidates[i][1].start))
        return [Evidence(candidates[i][0], candidates[i][1], candidates[i][2], float(scores[i])) for i in chosen]

    # --- citations ------------------------------------------------------------------

    def source_text(self, source: str) -> str:
        """The current indexed text of a source file, by name."""
        text = self.store.source_text(source)
        if text is None:
            raise KeyError(source)
        return text

    def chunk_file_text(self, chunk: Chunk) -> str:
        """The exact file version a chunk's offsets refer to.

        Looked up by content hash, not by name, so a re-ingest running in another
        process can never pair new offsets with old text (or the reverse).
        """
        if chunk.file_hash not in self._versions:
            text = self.store.text_of_version(chunk.file_hash)
            if text is None:
                raise IndexUnavailable(
                    f"the stored copy of {chunk.source} is missing from {self.store.home}; run `qa ingest --rebuild`"
                )
            self._versions[chunk.file_hash] = text
        return self._versions[chunk.file_hash]

    def _citation(self, chunk: Chunk, span: Span) -> Citation:
        text = self.chunk_file_text(chunk)
        quote = text[span.start : span.end]
        page = page_of(chunk.source, text, span.start)
        return Citation(source=chunk.source, chunk_id=chunk.id, quote=quote, start=span.start, end=span.end, page=page)


def _centred_by_language(scores: np.ndarray, languages: list[str]) -> np.ndarray:
    centred = scores.astype(float).copy()
    for language in set(languages):
        mask = np.array([lang == language for lang in languages])
        centred[mask] -= scores[mask].mean()
    return centred


def build_messages(question: str, language: Language, passages: list[Passage]) -> list[Message]:
    numbered = _numbered([p.chunk.text for p in passages])
    user = template("answer_user").render(passages=numbered, question=question, language_name=LANGUAGE_NAMES[language])
    return [_system_message(), {"role": "user", "content": user}]


def _numbered(sentences: list[str]) -> str:
    """Evidence as the model sees it: numbered lines, Hindi/Marathi number words glossed with digits."""
    return "\n".join(f"[{n}] {gloss_numbers(' '.join(text.split()))}" for n, text in enumerate(sentences, start=1))


def _system_message() -> Message:
    """One system prompt for the answer and the judge pass, so its KV state is shared and saved once."""
    return {"role": "system", "content": template("answer_system").render(refusal=REFUSAL)}


class _AnswerStreamer:
    """Forwards only the text of the JSON "answer" field as the model writes it."""

    def __init__(self, on_text: OnText) -> None:
        self._on_text = on_text
        self._raw = ""
        self._sent = 0

    def __call__(self, piece: str) -> None:
        self._raw += piece
        current = partial_answer(self._raw)
        if len(current) > self._sent:
            self._on_text(current[self._sent :])
            self._sent = len(current)
