"""The foundation's promise, in a real browser: sign in, simulate a call, watch it live."""

from __future__ import annotations

from typing import Any

import pytest

from tests.e2e.conftest import ARTIFACTS, Server

pytestmark = [pytest.mark.browser, pytest.mark.model]
LIVE_TIMEOUT_MS = 90_000


def test_collector_watches_a_simulated_call_with_suggestions_and_warning(
    server: Server, browser_page: Any
) -> None:
    from playwright.sync_api import expect

    page = browser_page
    page.goto(f"{server.url}/login")
    page.fill("input[name=username]", "alice")
    page.fill("input[name=password]", "parley-demo")
    page.click("button[type=submit]")
    expect(page.get_by_test_id("current-user")).to_have_text("Alice Chen")

    page.get_by_role("link", name="NW-100231").click()
    expect(page.locator(".case-file")).to_contain_text("$4,200.00")
    page.get_by_test_id("simulate-call").click()
    page.wait_for_url("**/calls/*")

    transcript = page.get_by_test_id("transcript")
    expect(transcript).to_contain_text("lost my job", timeout=LIVE_TIMEOUT_MS)
    expect(page.locator("[data-testid=suggestion][data-intent=hardship]").first).to_be_visible(
        timeout=10_000
    )
    banner = page.locator("#warning-banner")
    expect(banner).to_be_visible(timeout=LIVE_TIMEOUT_MS)
    expect(banner).to_contain_text("False legal threat")
    expect(banner).to_contain_text("arrested")

    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "console.png"), full_page=True)


def test_collector_cannot_open_another_collectors_case(server: Server, browser_page: Any) -> None:
    from playwright.sync_api import expect

    page = browser_page
    page.goto(f"{server.url}/login")
    page.fill("input[name=username]", "bob")
    page.fill("input[name=password]", "parley-demo")
    page.click("button[type=submit]")
    expect(page.get_by_test_id("current-user")).to_be_visible()
    expect(page.get_by_role("link", name="NW-100231")).to_have_count(0)
    response = page.goto(f"{server.url}/cases/1")
    assert response is not None and response.status == 404
