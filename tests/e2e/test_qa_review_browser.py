"""A QA reviewer's morning, in a real browser: the queue, a flag in context with its audio,
a dismissal by keyboard, and the queue that no longer shows it."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.e2e.conftest import ARTIFACTS, Server, free_port

pytestmark = [pytest.mark.browser]


@pytest.fixture
def qa_server(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Server]:
    """The console with demo data; a remote transcription URL keeps the model unloaded,
    since reviewing needs no transcription (``/health`` is enough to start)."""
    monkeypatch.setenv("PARLEY_TRANSCRIPTION_URL", "ws://127.0.0.1:9")
    port = free_port()
    srv = Server(url=f"http://127.0.0.1:{port}", data_dir=tmp_path / "data", port=port)
    srv.data_dir.mkdir()
    try:
        srv.start()
        yield srv
    finally:
        srv.stop()


def test_reviewer_dismisses_a_flag_by_keyboard(qa_server: Server, browser_page: Any) -> None:
    from playwright.sync_api import expect

    page = browser_page
    page.goto(f"{qa_server.url}/login")
    page.fill("input[name=username]", "quinn")
    page.fill("input[name=password]", "parley-demo")
    page.click("button[type=submit]")
    expect(page.get_by_test_id("current-user")).to_have_text("Quinn Harper")

    page.get_by_role("link", name="QA review").click()
    rows = page.locator("tr[data-flag-id]")
    expect(rows.first).to_have_class(re.compile(r"\bselected\b"))
    open_before = rows.count()
    assert open_before >= 4
    expect(rows.first).to_contain_text("you will be arrested")  # most severe first

    page.keyboard.press("j")
    expect(rows.nth(1)).to_have_class(re.compile(r"\bselected\b"))
    page.keyboard.press("k")
    expect(rows.first).to_have_class(re.compile(r"\bselected\b"))
    flag_id = rows.first.get_attribute("data-flag-id")
    page.keyboard.press("Enter")
    page.wait_for_url(f"**/qa/flags/{flag_id}?*")

    expect(page.get_by_test_id("flag-evidence")).to_have_text("you will be arrested")
    # The recording is cued two seconds before the flagged words (21.08 s into the call).
    page.wait_for_function(
        "() => { const a = document.getElementById('flag-audio');"
        " return a && a.readyState >= 1 && Math.abs(a.currentTime - 19.08) < 0.3; }"
    )

    page.keyboard.press("d")
    dialog = page.locator("#review-dialog")
    expect(dialog).to_be_visible()
    page.keyboard.press("4")  # "Phrase used in another sense"
    expect(dialog.locator("input[value=wrong_context]")).to_be_checked()
    page.keyboard.press("Tab")
    page.keyboard.type("Reading the script's own warning aloud.")
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "qa_flag.png"), full_page=True)
    page.keyboard.press("Enter")
    # Saved: the page moves on to the next flag of the queue.
    page.wait_for_url(re.compile(rf"/qa/flags/(?!{flag_id}\b)\d+\?"))

    page.keyboard.press("Escape")
    page.wait_for_url(re.compile(r"/qa\?"))
    expect(page.locator(f"#flag-row-{flag_id}")).to_have_count(0)
    expect(rows).to_have_count(open_before - 1)

    # Confirming from the queue swaps the row in place and moves the selection on.
    confirmed_id = rows.first.get_attribute("data-flag-id")
    page.keyboard.press("c")
    expect(page.locator("#review-dialog")).to_be_visible()
    page.keyboard.press("Enter")
    confirmed_row = page.locator(f"#flag-row-{confirmed_id}")
    expect(confirmed_row.get_by_test_id("flag-status")).to_contain_text("confirmed")
    expect(rows.nth(1)).to_have_class(re.compile(r"\bselected\b"))
    expect(page.locator("#review-dialog")).to_be_hidden()

    page.get_by_test_id("filter-status").select_option("dismissed")
    dismissed = page.locator(f"#flag-row-{flag_id}")
    expect(dismissed).to_contain_text("dismissed")
    expect(dismissed).to_contain_text("Phrase used in another sense")
    expect(dismissed).to_contain_text("Quinn Harper")
    assert "status=dismissed" in page.url, "the filters are in the address, so reload keeps them"

    page.screenshot(path=str(ARTIFACTS / "qa_review.png"), full_page=True)


def test_a_re_reviewed_flag_shows_both_decisions(qa_server: Server, browser_page: Any) -> None:
    from playwright.sync_api import expect

    page = browser_page
    page.goto(f"{qa_server.url}/login")
    page.fill("input[name=username]", "quinn")
    page.fill("input[name=password]", "parley-demo")
    page.click("button[type=submit]")
    expect(page.get_by_test_id("current-user")).to_have_text("Quinn Harper")

    page.goto(f"{qa_server.url}/qa?sort=oldest")
    flag_id = page.locator("tr[data-flag-id]").first.get_attribute("data-flag-id")
    flag_url = f"{qa_server.url}/qa/flags/{flag_id}?sort=oldest"
    page.goto(flag_url)
    expect(page.get_by_test_id("review-history")).to_have_count(0)

    page.keyboard.press("c")
    expect(page.locator("#review-dialog")).to_be_visible()
    page.keyboard.type("Sounds like a threat.")
    page.keyboard.press("Enter")
    page.wait_for_url(re.compile(rf"/qa/flags/(?!{flag_id}\b)\d+\?"))

    page.goto(flag_url)
    expect(page.get_by_test_id("flag-status")).to_have_text("confirmed")
    page.keyboard.press("d")
    page.keyboard.press("2")  # "Said by the debtor, not the agent"
    page.keyboard.press("Tab")
    page.keyboard.type("Listened again: the debtor said it.")
    page.keyboard.press("Enter")
    page.wait_for_url(re.compile(rf"/qa/flags/(?!{flag_id}\b)\d+\?"))

    page.goto(flag_url)
    expect(page.get_by_test_id("flag-status")).to_have_text("dismissed")
    decisions = page.get_by_test_id("review-history").locator("li")
    expect(decisions).to_have_count(2)
    expect(decisions.nth(0)).to_have_attribute("data-review-status", "dismissed")
    expect(decisions.nth(0)).to_contain_text("Said by the debtor, not the agent")
    expect(decisions.nth(0)).to_contain_text("Listened again: the debtor said it.")
    expect(decisions.nth(0).get_by_test_id("current-decision")).to_be_visible()
    expect(decisions.nth(1)).to_have_attribute("data-review-status", "confirmed")
    expect(decisions.nth(1)).to_contain_text("Sounds like a threat.")
    expect(decisions.nth(1)).to_contain_text("by Quinn Harper")
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "qa_review_history.png"), full_page=True)
