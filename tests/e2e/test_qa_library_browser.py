"""A QA lead's rule work in a real browser: a phrase list and a rule that names it, the
rule tried before saving, edited into a second version with its diff, then the list
edited so that the rule gets a third; a reviewer sees the same library read-only."""

from __future__ import annotations

from typing import Any

import pytest

from tests.e2e.conftest import ARTIFACTS, Server
from tests.e2e.test_qa_review_browser import qa_server  # noqa: F401  (the fixture)

pytestmark = [pytest.mark.browser]

RULE = "en_disclosure_landlord"


def _sign_in(page: Any, server: Server, username: str, display_name: str) -> None:
    from playwright.sync_api import expect

    page.goto(f"{server.url}/login")
    page.fill("input[name=username]", username)
    page.fill("input[name=password]", "parley-demo")
    page.click("button[type=submit]")
    expect(page.get_by_test_id("current-user")).to_have_text(display_name)


def test_a_lead_writes_a_rule_on_a_phrase_list_and_edits_both(
    qa_server: Server,  # noqa: F811
    browser_page: Any,
) -> None:
    from playwright.sync_api import expect

    page = browser_page
    _sign_in(page, qa_server, "sara", "Sara Okafor")
    page.get_by_role("link", name="Rules", exact=True).click()
    page.wait_for_url("**/qa/library")

    # A list with a mistake first: the error shows and what was typed stays.
    page.get_by_test_id("new-list").click()
    page.get_by_test_id("list-name").fill("land lords")
    page.get_by_test_id("entries-en").fill("landlord\nlandlady")
    page.get_by_test_id("save-list").click()
    expect(page.get_by_test_id("list-error")).to_contain_text("letters, digits or underscores")
    expect(page.get_by_test_id("entries-en")).to_have_value("landlord\nlandlady")
    page.get_by_test_id("list-name").fill("landlords")
    page.get_by_test_id("save-list").click()
    expect(page.get_by_test_id("list-saved")).to_have_text("Saved as version 1.")

    # A rule naming the list, tried on a sentence before it is saved.
    page.goto(f"{qa_server.url}/qa/library")
    page.get_by_test_id("new-rule").click()
    page.fill("input[name=key]", RULE)
    page.select_option("select[name=category]", "disclosure")
    page.get_by_test_id("phrases").fill("tell your {landlords}")
    page.get_by_test_id("utterance").fill("Pay today or I will tell your landlady everything.")
    page.get_by_test_id("test-rule").click()
    expect(page.get_by_test_id("test-result").locator("mark")).to_have_text("tell your landlady")
    page.get_by_test_id("save-rule").click()
    expect(page.get_by_test_id("saved")).to_have_text("Saved as version 1.")
    expect(page.get_by_test_id("rule-version")).to_have_text("v1")

    # An edit makes version 2, and the history shows what changed.
    page.get_by_test_id("phrases").fill("tell your {landlords}\nwe will call your {landlords}")
    page.fill("input[name=note]", "catch calls too")
    page.get_by_test_id("save-rule").click()
    expect(page.get_by_test_id("rule-version")).to_have_text("v2")
    second = page.get_by_test_id("rule-history").locator("li[data-version='2']")
    expect(second.locator("ins")).to_have_text("+- we will call your {landlords}")
    expect(second).to_contain_text("catch calls too")

    # Editing the list gives the rule naming it a third version.
    page.goto(f"{qa_server.url}/qa/library")
    listed = page.locator("tr[data-list='landlords']")
    expect(listed).to_contain_text(RULE)
    listed.get_by_role("link", name="{landlords}").click()
    used_by = page.get_by_test_id("list-rules").locator(f"tr[data-rule='{RULE}']")
    expect(used_by.get_by_test_id("rule-version")).to_have_text("v2")
    page.get_by_test_id("entries-en").fill("landlord\nlandlady\nletting agent")
    page.get_by_test_id("save-list").click()
    expect(page.get_by_test_id("list-saved")).to_have_text("Saved as version 2.")
    expect(used_by.get_by_test_id("rule-version")).to_have_text("v3")
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "qa_list_edit.png"), full_page=True)

    used_by.get_by_role("link", name=RULE).click()
    expect(page.get_by_test_id("rule-version")).to_have_text("v3")
    third = page.get_by_test_id("rule-history").locator("li[data-version='3']")
    expect(third).to_contain_text("list {landlords} changed")
    expect(third.locator("ins")).to_have_text("+    - letting agent")
    page.screenshot(path=str(ARTIFACTS / "qa_rule_history.png"), full_page=True)


def test_a_reviewer_sees_the_library_without_edit_controls(
    qa_server: Server,  # noqa: F811
    browser_page: Any,
) -> None:
    from playwright.sync_api import expect

    page = browser_page
    _sign_in(page, qa_server, "quinn", "Quinn Harper")
    expect(page.get_by_role("link", name="Rules", exact=True)).to_have_count(0)
    page.goto(f"{qa_server.url}/qa/library")
    expect(page.get_by_test_id("rule-library")).to_be_visible()
    expect(page.locator("tr[data-list]").first).to_be_visible()
    for control in ("new-rule", "new-list", "import-form"):
        expect(page.get_by_test_id(control)).to_have_count(0)
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "qa_library_reviewer.png"), full_page=True)

    page.locator("tr[data-list='third_party']").get_by_role("link", name="{third_party}").click()
    expect(page.get_by_test_id("entries-en")).to_have_attribute("readonly", "")
    expect(page.get_by_test_id("entries-en")).to_contain_text("landlord")
    expect(page.get_by_test_id("save-list")).to_have_count(0)
    expect(page.get_by_text("Only QA leads (supervisors) can change phrase lists.")).to_be_visible()

    page.get_by_role("link", name="← Rule library").click()
    page.get_by_test_id("rule-library").locator("tr[data-rule] a").first.click()
    expect(page.get_by_test_id("rule-version")).to_be_visible()
    expect(page.get_by_test_id("save-rule")).to_have_count(0)
    page.get_by_test_id("test-rule").click()  # trying a rule is open to reviewers too
    expect(page.get_by_test_id("test-result")).to_contain_text("No hit")
