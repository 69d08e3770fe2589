"""Read, clean, split and tag source files. Pure text work: no index, no models.

Cleaning never loses track of where text came from: every character of the
cleaned text remembers its [start, end) range in the original file, so a chunk
or sentence can always be quoted exactly from the file.
"""

from __future__ import annotations

import hashlib
import html
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

from qa.formats import Unextractable, extract_text, is_document
from qa.language import detect_language
from qa.text import split_sentences
from qa.types import Chunk, Span

MAX_FILE_BYTES = 5_000_000

# Lines that are page furniture, not article text.
_BOILERPLATE = re.compile(
    r"""^(
        leave\ a\ reply | about\ author | your\ email\ address\ will\ not\ be\ published.* |
        please\ enter\ your\ (comment|name).* | required\ fields\ are\ marked.* |
        (published|updated)\ \w+\ \d.* | reported\ by:.* | .*\blisten\ to\ this\ article |
        .*\d+\ min\ read | source:.* | .*pic\.twitter\.com.* | [•\-–|\s]* |
        (देखो|एबीपी\ लाइव\ पर\ भी\ पढ़ें)\s*\|.* | .*\|\s*image:.*
    )$""",
    re.IGNORECASE | re.VERBOSE,
)
_ENTITY = re.compile(r"&(#x[0-9a-fA-F]+|#\d+|[a-zA-Z]{2,8});")


class SentenceSplitterLike(Protocol):
    def split_text(self, text: str) -> list[str]: ...


class SkipFile(Exception):
    """A file that cannot be ingested; the message says why."""


@dataclass(frozen=True)
class CleanText:
    """Cleaned text plus, for each of its characters, the source range it came from."""

    text: str
    starts: tuple[int, ...]
    ends: tuple[int, ...]
    # Ranges of `text` with no dropped line inside them; chunks never cross a
    # block boundary, so a quote from the original file never includes boilerplate.
    blocks: tuple[tuple[int, int], ...] = ()

    def to_source(self, start: int, end: int) -> Span:
        """Map a cleaned-text range [start, end) to the original file's range."""
        return Span(self.starts[start], self.ends[end - 1])


def read_source(path: Path) -> str:
    """Read a UTF-8 text file, or the text of a PDF, HTML or DOCX file; raise SkipFile saying why not."""
    try:
        size = path.stat().st_size
    except OSError as exc:
        raise SkipFile(f"unreadable: {exc.strerror}") from exc
    if size > MAX_FILE_BYTES:
        raise SkipFile(f"too large ({size} bytes > {MAX_FILE_BYTES})")
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise SkipFile(f"unreadable: {exc.strerror}") from exc
    if is_document(path):
        return _document_text(path, data)
    if b"\x00" in data:
        raise SkipFile("binary file")
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise SkipFile(f"not UTF-8 (byte {exc.start})") from exc
    if not text.strip():
        raise SkipFile("empty")
    return text


def _document_text(path: Path, data: bytes) -> str:
    if not data.strip():
        raise SkipFile("empty")
    try:
        return extract_text(path, data)
    except Unextractable as exc:
        raise SkipFile(str(exc)) from exc


def is_boilerplate(line: str) -> bool:
    """Site navigation, comment forms and bylines; short label lines without punctuation."""
    stripped = line.strip().strip('"').strip()
    if not stripped or _BOILERPLATE.match(stripped):
        return True
    words = stripped.split()
    # Menus, tags and counters: a few words and no sentence punctuation.
    return len(words) < 5 and not re.search(r"[.!?।:,\"“”]", stripped)


def clean(original: str) -> CleanText:
    """Drop boilerplate lines and decode HTML entities, keeping offsets into `original`."""
    chars: list[str] = []
    starts: list[int] = []
    ends: list[int] = []
    blocks: list[tuple[int, int]] = []
    block_start = 0
    dropped = False
    for match in re.finditer(r"[^\n]+", original):
        line = match.group()
        if is_boilerplate(line):
            dropped = True
            continue
        lead = len(line) - len(line.lstrip())
        base = match.start() + lead
        if chars:  # paragraph break between kept lines, anchored at the previous end
            if dropped:
                blocks.append((block_start, len(chars)))
                block_start = len(chars) + 2
            chars.extend("\n\n")
            starts.extend([ends[-1]] * 2)
            ends.extend([ends[-1]] * 2)
        dropped = False
        _append_decoded(line.strip(), base, chars, starts, ends)
    if chars:
        blocks.append((block_start, len(chars)))
    return CleanText("".join(chars), tuple(starts), tuple(ends), tuple(blocks))


def _append_decoded(body: str, base: int, chars: list[str], starts: list[int], ends: list[int]) -> None:
    pos = 0
    for entity in _ENTITY.finditer(body):
        for i in range(pos, entity.start()):
            chars.append(body[i])
            starts.append(base + i)
            ends.append(base + i + 1)
        for ch in html.unescape(entity.group()):
            chars.append(ch)
            starts.append(base + entity.start())
            ends.append(base + entity.end())
        pos = entity.end()
    for i in range(pos, len(body)):
        chars.append(body[i])
        starts.append(base + i)
        ends.append(base + i + 1)


def chunk_id(source: str, start: int, text: str) -> str:
    """Stable content-hash id: the same text at the same place always gets the same id."""
    digest = hashlib.sha256(f"{source}\0{start}\0{text}".encode()).hexdigest()
    return digest[:20]


def split_into_chunks(source: str, original: str, chunk_size: int, chunk_overlap: int) -> list[Chunk]:
    """Clean `original` and split it into chunks with sentence spans and a language tag."""
    # Imported here: llama-index takes ~1.4 s to import, which every `qa ask` would pay.
    from llama_index.core.node_parser import SentenceSplitter

    cleaned = clean(original)
    sentences = split_sentences(cleaned.text)
    splitter = SentenceSplitter(
        chunk_size=chunk_size,
        chunk_overlap=chunk_overlap,
        paragraph_separator="\n\n",
        chunking_tokenizer_fn=lambda t: [t[s:e] + " " for s, e in split_sentences(t)] or [t],
        # Size chunks in words, not BPE tokens: an English BPE tokenizer spends several
        # tokens per Devanagari word, which would make Hindi/Marathi chunks tiny.
        tokenizer=str.split,
    )
    chunks: list[Chunk] = []
    for piece_start, piece_end in _pieces(splitter, cleaned):
        begin, finish = piece_start, piece_end
        chunk_sentences = tuple(
            cleaned.to_source(max(s, begin), min(e, finish)) for s, e in sentences if s < finish and e > begin
        )
        span = cleaned.to_source(begin, finish)
        text = cleaned.text[begin:finish]
        chunks.append(
            Chunk(
                id=chunk_id(source, span.start, text),
                source=source,
                text=text,
                start=span.start,
                end=span.end,
                language=detect_language(text),
                sentences=chunk_sentences,
            )
        )
    return chunks


def _pieces(splitter: SentenceSplitterLike, cleaned: CleanText) -> list[tuple[int, int]]:
    """Chunk ranges in the cleaned text, block by block."""
    ranges: list[tuple[int, int]] = []
    for block_start, block_end in cleaned.blocks:
        block = cleaned.text[block_start:block_end]
        dense = _DenseIndex(block)
        for piece in splitter.split_text(block):
            begin, finish = dense.locate(piece)
            ranges.append((block_start + begin, block_start + finish))
    return ranges


class _DenseIndex:
    """Finds splitter output in the cleaned text while ignoring whitespace.

    The splitter re-joins sentences and may drop or change the whitespace between
    them, so chunks are matched on their non-space characters only.
    """

    def __init__(self, text: str) -> None:
        self._positions = [i for i, ch in enumerate(text) if not ch.isspace()]
        self._dense = "".join(text[i] for i in self._positions)
        self._start = -1  # previous match, in dense coordinates
        self._end = 0

    def locate(self, piece: str) -> tuple[int, int]:
        """Range of `piece` in the text: the first match after the previous chunk that extends past it.

        Chunks come in order and may overlap, so a match must start after the
        previous chunk's start and end after its end; repeated text cannot pull
        a chunk back onto an earlier copy.
        """
        wanted = "".join(piece.split())
        if not wanted:
            raise ValueError("empty chunk")
        found = self._dense.find(wanted, self._end)  # no overlap: right after the previous chunk
        if found < 0:  # overlapping chunks
            found = self._dense.find(wanted, self._start + 1)
            while found >= 0 and found + len(wanted) <= self._end:
                found = self._dense.find(wanted, found + 1)
        if found < 0:
            raise ValueError("chunk text not found in cleaned text")
        self._start, self._end = found, found + len(wanted)
        return self._positions[found], self._positions[found + len(wanted) - 1] + 1


def discover_files(paths: list[Path]) -> dict[str, Path]:
    """Map source names to files. A folder contributes its files by relative path; a file by its name."""
    found: dict[str, Path] = {}
    for root in paths:
        if root.is_file():
            found[root.name] = root
        elif root.is_dir():
            for file in sorted(p for p in root.rglob("*") if p.is_file()):
                if file.name.startswith("."):
                    continue
                found[file.relative_to(root).as_posix()] = file
        else:
            raise FileNotFoundError(f"no such file or folder: {root}")
    return found


def file_hash(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()
