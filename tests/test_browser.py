"""The web chat page in real headless Chromium against a real `qa serve` (default model).

Needs Debian's `chromium` (/usr/bin/chromium) and the `playwright` Python package;
`playwright install` is never used: the system Chromium is launched directly.
Set QA_UPDATE_SCREENSHOT=1 to refresh docs/screenshot-chat.png from the run.
"""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import REPO
from tests.test_api import sse_events
from tests.test_api_openai import running_server

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
    "--disable-component-update", "--no-first-run", "--disable-sync",
]  # fmt: skip
ANSWER_TIMEOUT_MS = 240_000
SCREENSHOT = REPO / "docs" / "screenshot-chat.png"

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(not CHROMIUM.is_file(), reason="needs /usr/bin/chromium (apt-get install -y chromium)"),
]

# Records whether the answer text was ever shown as a draft while streaming.
WATCH_DRAFTS = """
window.sawDraft = false;
new MutationObserver(() => {
  for (const el of document.querySelectorAll('.text.draft')) if (el.textContent) window.sawDraft = true;
}).observe(document.body, {subtree: true, childList: true, characterData: true});
"""


def ask(page: Any, question: str, answers_before: int) -> dict[str, Any]:
    """Type a question, wait for its answer on the page; the Answer JSON from the stream."""
    with page.expect_response(lambda r: r.url.endswith("/api/chat"), timeout=ANSWER_TIMEOUT_MS) as info:
        page.fill("#question", question)
        page.keyboard.press("Enter")
    page.locator("article.assistant .meta").nth(answers_before).wait_for(timeout=ANSWER_TIMEOUT_MS)
    events = sse_events(info.value.text())
    return dict(next(data for name, data in events if name == "answer"))


def open_citation(page: Any, selector: str) -> str:
    """Click a citation, wait for the highlighted passage, check it is scrolled into view; its text."""
    page.locator(selector).click()
    page.wait_for_selector("#highlight")
    visible = page.evaluate(
        """() => {
          const mark = document.getElementById('highlight').getBoundingClientRect();
          const pane = document.getElementById('source-text').getBoundingClientRect();
          return mark.top >= pane.top - 1 && mark.top < pane.bottom;
        }"""
    )
    assert visible, "the highlighted passage is not scrolled into view"
    return str(page.eval_on_selector("#highlight", "el => el.textContent"))


def test_ask_on_the_page_and_open_a_cited_passage(tmp_path: Path) -> None:
    sync_api = pytest.importorskip("playwright.sync_api", reason="needs the playwright package: pip install playwright")
    with running_server(tmp_path / "home", tmp_path / "serve.log") as url, sync_api.sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        try:
            page = browser.new_page(viewport={"width": 1360, "height": 820})
            errors: list[str] = []
            page.on("pageerror", lambda exc: errors.append(str(exc)))
            page.goto(url)
            page.wait_for_selector('#status[data-state="ok"]', timeout=30_000)
            page.evaluate(WATCH_DRAFTS)

            answer = ask(page, "What did Kim Yo Jong say about the car?", 0)
            assert answer["citations"], json.dumps(answer)
            assert page.evaluate("window.sawDraft") or answer["mode"] != "generated"
            shown = page.locator("article.assistant .citations .citation")
            assert shown.count() == len(answer["citations"])
            assert open_citation(page, "article.assistant .citation >> nth=0") == answer["citations"][0]["quote"]
            assert page.inner_text("#source-name") == answer["citations"][0]["source"]
            _screenshot(page, tmp_path)

            # A follow-up in Marathi: quoted evidence, opened from its inline [n] marker.
            follow_up = ask(page, "किमला किती ऑरस गाड्या मिळाल्या?", 1)
            assert follow_up["language"] == "mr" and follow_up["citations"]
            last = page.locator("article.assistant").nth(1)
            assert last.locator(".marker").count() == len(follow_up["citations"])
            quote = open_citation(page, "article.assistant >> nth=1 >> .marker >> nth=-1")
            assert quote == follow_up["citations"][-1]["quote"]
            assert errors == []
        finally:
            browser.close()


def _screenshot(page: Any, tmp_path: Path) -> None:
    target = tmp_path / "screenshot-chat.png"
    page.wait_for_timeout(300)  # let the highlight scroll settle
    page.screenshot(path=str(target))
    if os.environ.get("QA_UPDATE_SCREENSHOT") == "1":
        shutil.copyfile(target, SCREENSHOT)
