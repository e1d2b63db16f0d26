"""The day before, in a real browser: the team lead plans the day of both field teams
(routes drawn over the coordinates), submits them; the risk manager approves one and
rejects the other with a reason; the visitors' phones show which route may start (the
day itself is ``test_browser_day``)."""

from __future__ import annotations

import shutil
from typing import Any

import pytest

from cuishou.core.timeutil import today_shanghai
from tests.visits.conftest import make_visit_world
from tests.visits.planning_helpers import allocated
from tests.web.conftest import CHROMIUM, english_context, log_in

pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(shutil.which(CHROMIUM) is None, reason="Chromium is not installed"),
]

PHONE: dict[str, Any] = {
    "viewport": {"width": 390, "height": 844},
    "is_mobile": True,
    "has_touch": True,
    "locale": "en-US",
}


@pytest.fixture
def planned_world(transactional_db: None) -> Any:
    # Made (and committed) before Playwright starts its loop in this thread.
    world = make_visit_world()
    allocated(world, today_shanghai())  # issued, counted, allocated to the two teams
    return world


def _messages(page: Any) -> str:
    return page.locator(".messages").inner_text() if page.locator(".messages").count() else ""


def test_the_lead_plans_and_submits_the_risk_manager_approves_and_rejects(
    live_server, planned_world, browser, shots
) -> None:
    # No ORM from here on: Playwright runs an event loop in this thread.
    url, day = live_server.url, today_shanghai().isoformat()

    # The team lead plans the day at the desk: one route per team, drawn, then submitted.
    lead_context = english_context(browser, url)
    lead = lead_context.new_page()
    log_in(lead, url, "lead")
    lead.goto(f"{url}/visits/plan/?day={day}")
    lead.click("form[action='/visits/plan/run/'] button[type=submit]")
    lead.wait_for_load_state()
    assert "Planned" in _messages(lead), _messages(lead)
    routes = lead.locator("article.route")
    assert routes.count() == 2
    assert lead.locator("svg.route-map").count() == 2
    planned = lead.locator("ol.stops li").count()
    assert planned == 4  # every case of the world fits in the two teams' day
    lead.screenshot(path=str(shots / "plan-day.png"), full_page=True)
    for _ in range(2):
        lead.locator(
            "article.route[data-status='draft'] form[action$='/submit/'] button"
        ).first.click()
        lead.wait_for_load_state()
    assert lead.locator("article.route[data-status='submitted']").count() == 2

    # The risk manager approves the first team's route and rejects the second's.
    first, second = lead.locator("article.route").evaluate_all(
        "els => els.map(e => e.dataset.route)"
    )
    risk_context = english_context(browser, url)
    risk = risk_context.new_page()
    log_in(risk, url, "risk")
    risk.goto(f"{url}/visits/approvals/")
    risk.click(f"article[data-route='{first}'] button[value=approve]")
    risk.wait_for_load_state()
    risk.click(f"article[data-route='{second}'] button[value=reject]")
    risk.wait_for_load_state()
    assert "Say why the route is rejected." in _messages(risk)  # refused without a reason
    risk.fill(f"#reason-{second}", "第二站与第三站顺序绕路，请重排")
    risk.click(f"article[data-route='{second}'] button[value=reject]")
    risk.wait_for_load_state()

    # The lead sees which was approved, and the reason on the rejected route.
    lead.goto(f"{url}/visits/plan/?day={day}")
    assert lead.locator(f"article[data-route='{first}']").get_attribute("data-status") == (
        "approved"
    )
    assert lead.locator(f"article[data-route='{second}']").get_attribute("data-status") == (
        "rejected"
    )
    assert "第二站与第三站顺序绕路" in lead.locator(f"article[data-route='{second}']").inner_text()

    # On the phones: the approved route may start, the rejected one may not.
    phone, other_phone = browser.new_context(**PHONE), browser.new_context(**PHONE)
    for context in (phone, other_phone):
        context.add_cookies([{"name": "django_language", "value": "en", "url": url}])
    page = phone.new_page()
    log_in(page, url, "visitor1")
    page.goto(f"{url}/visits/field/route/{first}/")
    assert page.locator("#depart-form").count() == 1
    assert page.evaluate("document.documentElement.scrollWidth") <= 390
    other = other_phone.new_page()
    log_in(other, url, "visitor3")
    other.goto(f"{url}/visits/field/route/{second}/")
    assert other.locator("#depart-form").count() == 0
    for context in (lead_context, risk_context, phone, other_phone):
        context.close()
