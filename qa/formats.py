"""Plain text out of PDF, HTML and DOCX files. Each parser library is imported here only.

The extracted text is what gets stored, shown and quoted: citations point into it,
never into the original bytes. PDF pages are joined with a form feed on a line of
its own (the `pdftotext` convention), so a citation's page is the number of form
feeds before it plus one, and cleaning treats the break like a dropped line: no
chunk spans two pages.
"""

from __future__ import annotations

import io
import logging
import re
from pathlib import Path

PAGE_BREAK = "\f"
EXTRACTED_SUFFIXES = frozenset({".pdf", ".html", ".htm", ".docx"})

log = logging.getLogger(__name__)


class Unextractable(Exception):
    """A document whose text cannot be extracted; the message says why."""


def is_document(path: Path) -> bool:
    """Whether `path` is a format whose text is extracted rather than read as UTF-8."""
    return path.suffix.lower() in EXTRACTED_SUFFIXES


def extract_text(path: Path, data: bytes) -> str:
    """The text of a PDF, HTML or DOCX file; raises Unextractable saying why not."""
    suffix = path.suffix.lower()
    if suffix == ".pdf":
        text = pdf_text(data)
    elif suffix == ".docx":
        text = docx_text(data)
    else:
        text = html_text(data)
    return _tidy(text)


def page_of(source: str, text: str, offset: int) -> int | None:
    """1-based PDF page holding `offset` of the stored text; None for other formats."""
    if not source.lower().endswith(".pdf"):
        return None
    return text.count(PAGE_BREAK, 0, offset) + 1


def pdf_text(data: bytes) -> str:
    import pypdf

    # Parsers of hostile files raise many kinds of error; every one means "cannot use this file".
    try:
        reader = pypdf.PdfReader(io.BytesIO(data))
        if reader.is_encrypted and not _opens_without_password(reader):
            raise Unextractable("encrypted PDF (needs a password)")
        pages = [_page_text(page) for page in reader.pages]
    except Unextractable:
        raise
    except Exception as exc:
        raise Unextractable(f"unreadable PDF ({_reason(exc)})") from exc
    if not any(page.strip() for page in pages):
        raise Unextractable("PDF has no text layer (scanned pages need OCR)")
    return f"\n{PAGE_BREAK}\n".join(pages)


def _opens_without_password(reader: object) -> bool:
    # Many PDFs are encrypted with an empty user password (only editing is restricted).
    try:
        return bool(reader.decrypt(""))  # type: ignore[attr-defined]
    except Exception:  # pypdf needs `cryptography` for AES; without it, treat as locked
        return False


def _page_text(page: object) -> str:
    text = str(page.extract_text() or "")  # type: ignore[attr-defined]
    return text.replace(PAGE_BREAK, "\n")


def docx_text(data: bytes) -> str:
    import docx

    try:
        document = docx.Document(io.BytesIO(data))
    except Exception as exc:
        raise Unextractable(f"unreadable DOCX ({_reason(exc)})") from exc
    paragraphs = [p.text for p in document.paragraphs]
    if not any(p.strip() for p in paragraphs):
        raise Unextractable("DOCX has no paragraph text")
    return "\n\n".join(paragraphs)


def html_text(data: bytes) -> str:
    import trafilatura

    try:
        text = trafilatura.extract(data, include_comments=False, include_tables=False, favor_recall=True)
    except Exception as exc:
        raise Unextractable(f"unreadable HTML ({_reason(exc)})") from exc
    if not text or not text.strip():
        raise Unextractable("no main text found in the HTML")
    return str(text)


def _tidy(text: str) -> str:
    """Unify line ends and drop trailing spaces; keep the page breaks."""
    text = text.replace("\r\n", "\n").replace("\r", "\n").replace("\x00", "")
    # Strip spaces and newlines only: a leading form feed is the break after an empty first page.
    return re.sub(r"[ \t]+\n", "\n", text).strip(" \t\n") + "\n"


def _reason(exc: Exception) -> str:
    message = " ".join(str(exc).split())[:120]
    return f"{exc.__class__.__name__}: {message}" if message else exc.__class__.__name__
