"""PDF, HTML, DOCX and Markdown sources: extracted text is what is stored, shown and quoted.

The fixture files are made here: PDFs as hand-written bytes (and pypdf for the
encrypted one), DOCX with python-docx. Ingest and answers run through the real
pipeline and real Chroma with the fake embedder and fake generator (fast).
"""

from __future__ import annotations

import hashlib
import io
import json
from pathlib import Path

import pytest
from click.testing import CliRunner
from litestar.testing import TestClient

from qa.api import create_app
from qa.cli import main
from qa.formats import PAGE_BREAK, page_of
from qa.pipeline import Pipeline
from qa.sources import SkipFile, read_source, split_into_chunks
from qa.wiring import build_pipeline
from tests.conftest import SEEDS, fake_settings

PAGE_ONE = "Putin gave Kim Jong Un an Aurus Senat limousine in February, the agency said."
PAGE_TWO = "The armoured limousine was delivered by ship to the port of Nampo in the spring."
QUESTION_PAGE_TWO = "Which port received the armoured car?"


# --- fixture files -------------------------------------------------------------------------


def pdf_bytes(*pages: str) -> bytes:
    """A minimal valid PDF, one line of Helvetica text per page (empty string: a page with no text)."""
    n = len(pages)
    objects = ["<< /Type /Catalog /Pages 2 0 R >>"]
    kids = " ".join(f"{4 + 2 * i} 0 R" for i in range(n))
    objects.append(f"<< /Type /Pages /Kids [{kids}] /Count {n} >>")
    objects.append("<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>")
    for i, text in enumerate(pages):
        # A page without text still draws something, as a scanned page would (here a filled box).
        body = f"BT /F1 12 Tf 72 720 Td ({text}) Tj ET" if text else "0 0 1 rg 72 72 400 600 re f"
        objects.append(
            f"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Contents {5 + 2 * i} 0 R "
            "/Resources << /Font << /F1 3 0 R >> >> >>"
        )
        objects.append(f"<< /Length {len(body)} >>\nstream\n{body}\nendstream")
    out = io.BytesIO()
    out.write(b"%PDF-1.4\n")
    offsets = []
    for number, body in enumerate(objects, start=1):
        offsets.append(out.tell())
        out.write(f"{number} 0 obj\n{body}\nendobj\n".encode("latin-1"))
    xref = out.tell()
    out.write(f"xref\n0 {len(objects) + 1}\n0000000000 65535 f \n".encode())
    for offset in offsets:
        out.write(f"{offset:010d} 00000 n \n".encode())
    out.write(f"trailer\n<< /Size {len(objects) + 1} /Root 1 0 R >>\nstartxref\n{xref}\n%%EOF\n".encode())
    return out.getvalue()


def encrypted_pdf_bytes() -> bytes:
    import pypdf

    reader = pypdf.PdfReader(io.BytesIO(pdf_bytes(PAGE_ONE)))
    writer = pypdf.PdfWriter()
    for page in reader.pages:
        writer.add_page(page)
    writer.encrypt(user_password="secret", owner_password="owner", algorithm="RC4-128")
    out = io.BytesIO()
    writer.write(out)
    return out.getvalue()


def docx_bytes(*paragraphs: str) -> bytes:
    import docx

    document = docx.Document()
    for text in paragraphs:
        document.add_paragraph(text)
    out = io.BytesIO()
    document.save(out)
    return out.getvalue()


ARTICLE = [
    "North Korean state media showed leader Kim Jong Un inspecting the new Aurus Senat limousine on Tuesday.",
    "The car was a personal gift from Russian President Vladimir Putin, according to his sister Kim Yo Jong.",
    "She said the present was clear evidence of the special personal relations between the two leaders.",
]


def html_page(paragraphs: list[str]) -> bytes:
    body = "\n".join(f"<p>{p}</p>" for p in paragraphs)
    return f"""<!DOCTYPE html><html><head><title>Kim gets a car</title></head><body>
<nav><ul><li><a href="/">Home</a></li><li><a href="/world">World</a></li><li><a href="/sport">Sport</a></li></ul></nav>
<header><div class="menu">Subscribe now | Sign in | Newsletter</div></header>
<main><article><h1>Kim gets a second Aurus limousine</h1>
{body}
</article></main>
<footer><p>Copyright 2024 Example News Ltd. All rights reserved. Privacy policy. Cookie settings.</p></footer>
</body></html>""".encode()


# --- extraction ----------------------------------------------------------------------------


def test_pdf_pages_are_extracted_and_separated_by_page_breaks(tmp_path: Path) -> None:
    path = tmp_path / "report.pdf"
    path.write_bytes(pdf_bytes(PAGE_ONE, PAGE_TWO))
    text = read_source(path)
    pages = text.split(f"\n{PAGE_BREAK}\n")
    assert [p.strip() for p in pages] == [PAGE_ONE, PAGE_TWO]
    assert page_of("report.pdf", text, text.index("Nampo")) == 2
    assert page_of("report.pdf", text, text.index("Putin")) == 1
    assert page_of("report.txt", text, text.index("Nampo")) is None


def test_an_empty_first_page_still_counts_as_page_one(tmp_path: Path) -> None:
    path = tmp_path / "report.pdf"
    path.write_bytes(pdf_bytes("", PAGE_TWO))
    text = read_source(path)
    assert page_of("report.pdf", text, text.index("Nampo")) == 2


def test_html_keeps_the_article_and_drops_navigation_and_footer(tmp_path: Path) -> None:
    path = tmp_path / "page.html"
    path.write_bytes(html_page(ARTICLE))
    text = read_source(path)
    for paragraph in ARTICLE:
        assert paragraph in text
    for furniture in ("Subscribe now", "Sign in", "Copyright 2024", "Cookie settings", "<p>"):
        assert furniture not in text


def test_docx_paragraphs_are_extracted(tmp_path: Path) -> None:
    path = tmp_path / "note.docx"
    path.write_bytes(docx_bytes(*ARTICLE))
    assert read_source(path) == "\n\n".join(ARTICLE) + "\n"


@pytest.mark.parametrize(
    ("name", "data", "reason"),
    [
        ("locked.pdf", encrypted_pdf_bytes(), "encrypted PDF"),
        ("scanned.pdf", pdf_bytes("", ""), "no text layer"),
        ("truncated.pdf", pdf_bytes(PAGE_ONE)[:60], "unreadable PDF"),
        ("not-a-pdf.pdf", b"hello, I am plain text pretending to be a PDF", "unreadable PDF"),
        ("zero.pdf", b"", "empty"),
        ("zero.docx", b"", "empty"),
        ("zero.html", b"", "empty"),
        ("broken.docx", b"PK\x03\x04 this is not really a zip archive", "unreadable DOCX"),
        ("blank.docx", docx_bytes("", "  "), "no paragraph text"),
        ("garbage.html", bytes(range(256)) * 4, "no main text"),
        ("script-only.html", b"<html><head><script>var x = 1;</script></head></html>", "no main text"),
    ],
)
def test_bad_documents_are_skipped_with_a_reason(tmp_path: Path, name: str, data: bytes, reason: str) -> None:
    path = tmp_path / name
    path.write_bytes(data)
    with pytest.raises(SkipFile, match=reason):
        read_source(path)


def test_hostile_documents_in_a_corpus_are_skipped_by_name_never_a_traceback(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    (corpus / "good.docx").write_bytes(docx_bytes(*ARTICLE))
    bad = {
        "locked.pdf": encrypted_pdf_bytes(),
        "scanned.pdf": pdf_bytes(""),
        "zero.pdf": b"",
        "broken.html": b"<html><body><div><p><<<>>></span></td></html",
        "broken.docx": b"PK\x03\x04 not a zip",
    }
    for name, data in bad.items():
        (corpus / name).write_bytes(data)
    monkeypatch.setenv("QA_EMBED__BACKEND", "fake")
    monkeypatch.setenv("QA_LLM__BACKEND", "fake")
    result = CliRunner().invoke(main, ["ingest", str(corpus)])
    assert result.exit_code == 0, result.output
    assert "Traceback" not in result.output and "added 1," in result.stdout
    warned = [line for line in result.stderr.splitlines() if line.startswith("qa: warning: skipped")]
    assert sorted(name for name in bad if any(name in line for line in warned)) == sorted(bad)


def test_txt_chunks_are_unchanged_by_the_new_formats() -> None:
    """Pinned digest of every seed chunk (ids, offsets, text, language, sentence spans), computed
    at the commit before source formats were added: `.txt` ingest must stay byte-identical."""
    digest = hashlib.sha256()
    for path in sorted(SEEDS.glob("*.txt")):
        for chunk in split_into_chunks(path.name, read_source(path), 60, 0):
            spans = [(s.start, s.end) for s in chunk.sentences]
            row = [chunk.id, chunk.start, chunk.end, chunk.text, chunk.language, spans]
            digest.update(json.dumps(row, ensure_ascii=False).encode())
    assert digest.hexdigest() == SEED_CHUNKS_SHA256


SEED_CHUNKS_SHA256 = "f755b3d7b1b3f2c583cf761142b250c78a9b4dd8faeb807d7792dd8bb1acd53f"


# --- ingest, answers, the API and the CLI ------------------------------------------------------


def write_corpus(folder: Path) -> Path:
    folder.mkdir()
    (folder / "report.pdf").write_bytes(pdf_bytes(PAGE_ONE, PAGE_TWO))
    (folder / "page.html").write_bytes(html_page(ARTICLE))
    (folder / "note.docx").write_bytes(docx_bytes(*ARTICLE))
    (folder / "notes.md").write_text("# Aurus\n\n" + "\n\n".join(ARTICLE) + "\n", encoding="utf-8")
    (folder / "scanned.pdf").write_bytes(pdf_bytes(""))
    return folder


@pytest.fixture
def corpus_pipeline(isolated_home: Path, tmp_path: Path) -> Pipeline:
    corpus = write_corpus(tmp_path / "corpus")
    pipeline = build_pipeline(fake_settings(isolated_home, corpus=corpus))
    report = pipeline.ingest([corpus])
    assert sorted(report.added) == ["note.docx", "notes.md", "page.html", "report.pdf"]
    assert report.skipped == {"scanned.pdf": "PDF has no text layer (scanned pages need OCR)"}
    return pipeline


def test_every_format_is_stored_as_its_extracted_text_and_chunks_quote_it(
    corpus_pipeline: Pipeline, tmp_path: Path
) -> None:
    for name in ("report.pdf", "page.html", "note.docx", "notes.md"):
        stored = corpus_pipeline.source_text(name)
        assert stored == read_source(tmp_path / "corpus" / name)
    for row in corpus_pipeline.store.rows():
        stored = corpus_pipeline.source_text(row.chunk.source)
        # Cleaning may re-space the chunk text, never change a character of it.
        assert stored[row.chunk.start : row.chunk.end].split() == row.chunk.text.split()


def test_a_pdf_citation_carries_its_page_and_quotes_the_stored_text(corpus_pipeline: Pipeline) -> None:
    answer = corpus_pipeline.answer(QUESTION_PAGE_TWO)
    assert answer.mode == "generated", answer.notes
    pdf_citations = [c for c in answer.citations if c.source == "report.pdf"]
    assert pdf_citations, answer.citations
    stored = corpus_pipeline.source_text("report.pdf")
    for citation in answer.citations:
        assert corpus_pipeline.source_text(citation.source)[citation.start : citation.end] == citation.quote
        assert (citation.page is not None) == (citation.source == "report.pdf")
    for citation in pdf_citations:
        assert citation.page == 2 and citation.quote in stored.split(PAGE_BREAK)[1]


def test_api_ask_shows_the_page_and_the_source_route_serves_the_extracted_text(corpus_pipeline: Pipeline) -> None:
    with TestClient(create_app(corpus_pipeline)) as client:
        response = client.post("/api/ask", json={"question": QUESTION_PAGE_TWO})
        assert response.status_code == 200, response.text
        citations = [c for c in response.json()["citations"] if c["source"] == "report.pdf"]
        assert citations and all(c["page"] == 2 for c in citations)
        for citation in citations:
            source = client.get(f"/api/sources/{citation['source']}").json()
            assert source["text"][citation["start"] : citation["end"]] == citation["quote"]
        html_source = client.get("/api/sources/page.html").json()["text"]
        assert ARTICLE[0] in html_source and "<p>" not in html_source


def test_cli_ask_json_shows_the_page(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    corpus = write_corpus(tmp_path / "corpus")
    monkeypatch.setenv("QA_EMBED__BACKEND", "fake")
    monkeypatch.setenv("QA_LLM__BACKEND", "fake")
    monkeypatch.setenv("QA_CORPUS", str(corpus))
    runner = CliRunner()
    ingested = runner.invoke(main, ["ingest", str(corpus)])
    assert ingested.exit_code == 0, ingested.output
    assert "Traceback" not in ingested.output and "scanned.pdf" in ingested.stderr
    result = runner.invoke(main, ["ask", "--json", QUESTION_PAGE_TWO])
    assert result.exit_code == 0, result.output
    answer = json.loads(result.stdout.strip().splitlines()[-1])
    pages = {c["source"]: c["page"] for c in answer["citations"]}
    assert pages.get("report.pdf") == 2, answer
