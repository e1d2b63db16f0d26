"""A collector's day in a real browser (Debian's Chromium via Playwright): the queue, a
case, a logged promise to pay — in Chinese and in English."""

from __future__ import annotations

import datetime as dt

import pytest

from cuishou.core.timeutil import today_shanghai
from tests.web.conftest import PASSWORD, Portfolio
from tests.web.test_browser import pytestmark  # noqa: F401 (Chromium or skip)

LABELS = {
    "zh-hans": {
        "queue": "我的队列",
        "outcome": "承诺还款",
        "submit": "记录联系",
        "logged": "联系已记录。",
        "pending": "待定",
    },
    "en": {
        "queue": "My queue",
        "outcome": "Promise to pay (承诺还款)",
        "submit": "Log the contact",
        "logged": "Contact logged.",
        "pending": "Pending",
    },
}


@pytest.mark.parametrize("language", ["zh-hans", "en"])
def test_a_collector_works_a_case_from_the_queue_to_a_logged_promise(
    live_server,
    browser_portfolio: Portfolio,
    browser,
    language,
    shots,
) -> None:
    words = LABELS[language]
    case = browser_portfolio.zhang_case
    context = browser.new_context(
        viewport={"width": 1280, "height": 900},
        locale="zh-CN" if language == "zh-hans" else "en-US",
    )
    page = context.new_page()
    try:
        page.goto(f"{live_server.url}/accounts/login/")
        page.fill("input[name=username]", "alice")
        page.fill("input[name=password]", PASSWORD)
        page.click("form.login button[type=submit]")
        page.wait_for_load_state()
        if language == "en":
            page.select_option("#language-select", "en")
            page.wait_for_function("document.documentElement.lang === 'en'")

        # The queue: Alice's two cases, the bigger balance first; open it
        page.get_by_role("link", name=words["queue"]).click()
        page.wait_for_url(f"{live_server.url}/queue/")
        rows = page.locator("table.queue tbody tr")
        assert rows.count() == 2
        assert "张三丰" in rows.first.inner_text()
        assert page.locator("[data-count=cases]").inner_text() == "2"
        rows.first.get_by_role("link").first.click()
        page.wait_for_url(f"{live_server.url}/cases/{case.pk}/")

        # Log the call: the debtor answered and promised 1,500 yuan in three days
        due = today_shanghai() + dt.timedelta(days=3)
        form = page.locator("#contact-form")
        form.locator("select[name=channel]").select_option("call")
        form.locator("select[name=contact_point]").select_option(index=1)
        form.locator("select[name=party]").select_option("debtor")
        form.locator("select[name=outcome]").select_option(label=words["outcome"])
        form.locator("textarea[name=notes]").fill("答应发工资后还款")
        form.locator("input[name=promise_amount]").fill("1500.00")
        form.locator("input[name=promise_date]").fill(due.isoformat())
        form.get_by_role("button", name=words["submit"]).click()
        page.wait_for_url(f"{live_server.url}/cases/{case.pk}/#workbench")

        assert words["logged"] in page.locator("ul.messages").inner_text()
        workbench = page.locator("#workbench")
        assert "答应发工资后还款" in workbench.inner_text()
        assert "1,500.00" in workbench.inner_text()
        assert words["pending"] in workbench.inner_text()
        assert "1,500.00" in page.locator("#timeline").inner_text()
        page.screenshot(path=str(shots / f"workbench-{language}.png"), full_page=True)
    finally:
        context.close()
