"""A real browser (Debian's Chromium via Playwright) through log-in, the case list,
a case page and the language switch."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from tests.web.conftest import CHROMIUM, PASSWORD, Portfolio

pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(
        shutil.which(CHROMIUM) is None,
        reason="Chromium is not installed at /usr/bin/chromium (make system-deps installs it)",
    ),
]


@pytest.mark.parametrize(
    "viewport",
    [{"width": 1280, "height": 900}, {"width": 390, "height": 844}],
    ids=["desktop", "phone"],
)
def test_log_in_open_a_case_and_switch_language(
    live_server, browser_portfolio: Portfolio, browser, viewport, shots: Path
) -> None:
    case = browser_portfolio.zhang_case
    context = browser.new_context(viewport=viewport, locale="zh-CN")
    page = context.new_page()
    try:
        page.goto(f"{live_server.url}/cases/")
        # Not logged in: the login page, in Chinese by default.
        assert "/accounts/login/" in page.url
        assert page.get_attribute("html", "lang") == "zh-hans"
        page.fill("input[name=username]", "alice")
        page.fill("input[name=password]", PASSWORD)
        page.click("form.login button[type=submit]")
        page.wait_for_url(f"{live_server.url}/cases/")

        # The list shows the collector's cases; open Zhang's.
        assert page.locator("#case-results").get_by_text("张三丰").count() >= 1
        assert page.locator("#case-results").get_by_text("王五").count() == 0
        page.locator("#case-results a", has_text="张三丰").first.click()
        page.wait_for_url(f"{live_server.url}/cases/{case.pk}/")

        debtor = page.locator("#debtor")
        assert "张三丰" in debtor.inner_text()
        assert "110***********1114" in debtor.inner_text()
        assert "110105198604011114" not in page.content()
        page.screenshot(path=str(shots / f"case-{viewport['width']}.png"), full_page=True)

        # Reveal the ID number: the value appears in place and the timeline records it.
        events_before = page.locator("#timeline li").count()
        debtor.get_by_role("button").first.click()
        page.wait_for_selector("#pii-id_number.revealed")
        assert "110105198604011114" in debtor.inner_text()
        page.wait_for_function(
            f"document.querySelectorAll('#timeline li').length === {events_before + 1}"
        )

        # Switch to English and back.
        page.select_option("#language-select", "en")
        page.wait_for_function("document.documentElement.lang === 'en'")
        assert page.get_by_role("link", name="Cases", exact=True).count() == 1
        assert "Related persons" in page.locator("nav.sections").inner_text()
        assert page.url.endswith(f"/cases/{case.pk}/")
        page.screenshot(path=str(shots / f"case-en-{viewport['width']}.png"), full_page=True)

        page.select_option("#language-select", "zh-hans")
        page.wait_for_function("document.documentElement.lang === 'zh-hans'")
        assert "张三丰" in page.locator("#debtor").inner_text()

        # Filtering the list narrows it in place (htmx) and keeps the URL shareable.
        page.goto(f"{live_server.url}/cases/")
        page.locator("fieldset.buckets label", has_text="M1 ").click()
        page.wait_for_url("**/cases/?*bucket=M1*")
        page.wait_for_function(
            "!document.querySelector('#case-results').innerText.includes('张三丰')"
        )
        assert "李小龙" in page.locator("#case-results").inner_text()
        page.screenshot(path=str(shots / f"list-{viewport['width']}.png"), full_page=True)
    finally:
        context.close()
