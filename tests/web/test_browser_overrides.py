"""A compliance override in a real browser (Debian's Chromium via Playwright): a collector's
fourth call of the day is refused, the collector asks for an override from the case page,
a compliance officer approves it on the compliance page, and the call goes through."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest

from cuishou.cases.models import ContactAttempt
from cuishou.core.timeutil import SHANGHAI, today_shanghai
from tests.factories import UserFactory
from tests.web.conftest import Portfolio, english_context, log_in
from tests.web.test_browser import pytestmark  # noqa: F401 (Chromium or skip)

RULE = "cn.answered_calls_per_day"


@pytest.fixture
def three_calls_today(browser_portfolio: Portfolio) -> Portfolio:
    """Zhang answered three calls this morning; a compliance officer works here too."""
    case = browser_portfolio.zhang_case
    phone = case.debtor.contact_points.get(related_person=None)
    morning = dt.datetime.combine(today_shanghai(), dt.time(8), tzinfo=SHANGHAI)
    for n in range(3):
        ContactAttempt.objects.create(
            case=case,
            channel="call",
            party="debtor",
            outcome="rpc",
            contact_point=phone,
            attempted_at=morning + dt.timedelta(minutes=10 * n),
        )
    UserFactory(username="he", display_name="He 合规", role="compliance_officer")
    return browser_portfolio


def _call(page) -> None:  # type: ignore[no-untyped-def]
    form = page.locator("#contact-form")
    form.locator("select[name=channel]").select_option("call")
    form.locator("select[name=contact_point]").select_option(index=1)
    form.locator("select[name=party]").select_option("debtor")
    form.locator("select[name=outcome]").select_option("rpc")
    form.get_by_role("button", name="Log the contact").click()
    page.wait_for_load_state()


def test_a_collector_asks_a_compliance_officer_approves_and_the_call_goes_through(
    live_server, three_calls_today: Portfolio, browser, shots: Path
) -> None:
    case = three_calls_today.zhang_case
    context = english_context(browser, live_server.url)
    page = context.new_page()
    try:
        # The collector's fourth call is refused; the page offers an override of that rule.
        log_in(page, live_server.url, "alice")
        page.goto(f"{live_server.url}/cases/{case.pk}/")
        _call(page)
        assert "already taken 3 calls today" in page.locator("#contact-form").inner_text()
        hints = page.locator("[data-override-hints]")
        assert RULE in hints.inner_text()
        hints.get_by_role("link", name="Ask for an override").click()
        page.wait_for_url(f"**/compliance/overrides/new/?case={case.pk}&rule={RULE}")
        assert page.locator("select[name=rule_id]").input_value() == RULE
        page.fill("textarea[name=reason]", "债务人上午来电，要求下午三点回电")
        page.get_by_role("button", name="Ask for the override").click()
        page.wait_for_url(f"{live_server.url}/cases/{case.pk}/#overrides")
        assert "waits for a compliance officer" in page.locator("ul.messages").inner_text()
        assert "Waiting for approval" in page.locator("[data-table=case-overrides]").inner_text()
        page.locator("form.logout button").click()
        page.wait_for_load_state()

        # The compliance officer approves it with one click.
        log_in(page, live_server.url, "he")
        page.goto(f"{live_server.url}/compliance/")
        waiting = page.locator("[data-table=overrides-waiting] tbody tr")
        assert waiting.count() == 1
        assert "要求下午三点回电" in waiting.inner_text() and "Alice 王" in waiting.inner_text()
        page.screenshot(path=str(shots / "override-waiting.png"), full_page=True)
        waiting.get_by_role("button", name="Approve").click()
        page.wait_for_url(f"{live_server.url}/compliance/#overrides")
        assert "approved: in force until" in page.locator("ul.messages").inner_text()
        assert page.locator("[data-count=overrides-waiting]").inner_text() == "0"
        latest = page.locator("[data-table=overrides-recent] tbody tr").first
        assert "In force" in latest.inner_text() and "He 合规" in latest.inner_text()
        page.screenshot(path=str(shots / "override-approved.png"), full_page=True)
        page.locator("form.logout button").click()
        page.wait_for_load_state()

        # The collector's call now goes through, under the override.
        log_in(page, live_server.url, "alice")
        page.goto(f"{live_server.url}/cases/{case.pk}/")
        _call(page)
        assert "Contact logged." in page.locator("ul.messages").inner_text()
        assert "1" in page.locator("[data-table=case-overrides] td.num").inner_text()
    finally:
        context.close()
