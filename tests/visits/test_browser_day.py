"""The whole visit day in a real browser at a phone's size (390×844, touch): from an
approved route, the risk manager hands out the equipment, the two visitors depart, visit
three stops (arrival by the phone's location, photos with and without EXIF, a recording
without and one with a gap, a signed receipt, the outcomes), come back, hand the
equipment in and submit the report; the team lead reviews it."""

from __future__ import annotations

import datetime as dt
import shutil
from pathlib import Path
from typing import Any

import pytest

from cuishou.core.timeutil import SHANGHAI, today_shanghai
from tests.visits.conftest import approve_introduction, approved_route, make_visit_world
from tests.web.conftest import CHROMIUM, log_in

# The uploads go through the evidence service and its test files (another branch).
pytest.importorskip("cuishou.visits.evidence")
from tests.visits.mediafiles import jpeg, wav

pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(shutil.which(CHROMIUM) is None, reason="Chromium is not installed"),
]

PHONE: dict[str, Any] = {
    "viewport": {"width": 390, "height": 844},
    "is_mobile": True,
    "has_touch": True,
    "device_scale_factor": 2,
    "locale": "en-US",
}
ITEMS = ("badge", "introduction", "camera", "recorder", "materials")


@pytest.fixture
def day(transactional_db: None) -> dict[str, Any]:
    # Made (and committed) before Playwright starts its loop in this thread.
    world = make_visit_world()
    approve_introduction()
    route = approved_route(world)
    stops = list(route.stops.select_related("address").order_by("seq"))
    return {
        "world": world,
        "route": route,
        "stops": [
            {"pk": s.pk, "lat": float(s.address.lat), "lon": float(s.address.lon)} for s in stops
        ],
    }


def _phone(browser: Any, url: str, *, geo: dict[str, float] | None = None) -> Any:
    options = dict(PHONE)
    if geo is not None:
        options.update(geolocation=geo, permissions=["geolocation"])
    context = browser.new_context(**options)
    context.add_cookies([{"name": "django_language", "value": "en", "url": url}])
    return context


def _messages(page: Any) -> str:
    return page.locator(".messages").inner_text() if page.locator(".messages").count() else ""


def _hand_out(page: Any, url: str, visitors: list[str]) -> None:
    page.goto(f"{url}/visits/field/desk/equipment/")
    for username in visitors:
        for kind in ITEMS:
            row = page.locator(f"tr[data-visitor='{username}'][data-kind='{kind}']")
            form = row.locator("form.check-out")
            if form.locator("input[name=label]").count():
                form.locator("input[name=label]").fill(f"{kind.upper()}-{username}")
            form.locator("input[name=signature]").fill(username)
            form.locator("button").click()
            page.wait_for_load_state()
            assert "checked out" in _messages(page), _messages(page)


def _take_back(page: Any, url: str, visitors: list[str]) -> None:
    page.goto(f"{url}/visits/field/desk/equipment/")
    for username in visitors:
        for kind in ITEMS:
            form = page.locator(f"tr[data-visitor='{username}'][data-kind='{kind}'] form.return")
            form.locator("input[name=signature]").fill(username)
            form.locator("button").click()
            page.wait_for_load_state()


def _arrive(page: Any, url: str, stop_pk: int) -> None:
    page.goto(f"{url}/visits/field/stop/{stop_pk}/")
    page.wait_for_selector("#geo-status[data-located='1']")
    page.click("#arrive-form button[type=submit]")
    page.wait_for_load_state()
    assert "Arrival reported." in _messages(page), _messages(page)


def _upload(page: Any, form: str, name: str, data: bytes, mime: str, **fields: str) -> None:
    locator = page.locator(form)
    for key, value in fields.items():
        if key == "kind":
            locator.locator("select[name=kind]").select_option(value)
        else:
            locator.locator(f"[name={key}]").fill(value)
    locator.locator("input[type=file]").set_input_files(
        {"name": name, "mimeType": mime, "buffer": data}
    )
    locator.locator("button[type=submit]").click()
    page.wait_for_load_state()


def _conduct(page: Any) -> None:
    for box in page.locator("#conduct input[type=checkbox]").all():
        box.check()


def _recording(page: Any, *, gap: bool) -> None:
    start = page.locator("#recording-form [name=declared_start]").input_value()
    end = page.locator("#recording-form [name=declared_end]").input_value()
    day = today_shanghai()
    t0 = dt.datetime.combine(day, dt.time.fromisoformat(start), tzinfo=SHANGHAI)
    t1 = dt.datetime.combine(day, dt.time.fromisoformat(end), tzinfo=SHANGHAI)
    seconds = max((t1 - t0).total_seconds(), 1.0) + 8.0
    t0 -= dt.timedelta(seconds=4)
    data = wav(seconds, gap_at=2.0 if gap else None, gap_seconds=3.0)
    _upload(
        page,
        "#recording-form",
        "stop.wav",
        data,
        "audio/wav",
        declared_start=t0.strftime("%H:%M:%S"),
        declared_end=(t0 + dt.timedelta(seconds=seconds)).strftime("%H:%M:%S"),
    )


def test_the_whole_visit_day_at_a_phone_viewport(live_server, day, browser, shots: Path) -> None:
    url = live_server.url
    route_pk = day["route"].pk
    s1, s2, s3 = day["stops"]

    # The risk manager hands out the five items to each visitor, signed.
    risk = _phone(browser, url)
    desk = risk.new_page()
    log_in(desk, url, "risk")
    _hand_out(desk, url, ["visitor1", "visitor2"])
    assert desk.locator("tr[data-kind='introduction'] .mono").first.inner_text().startswith("N")
    desk.screenshot(path=str(shots / "day-equipment.png"), full_page=True)

    # The visitors' phone, at the first address.
    phone = _phone(browser, url, geo={"latitude": s1["lat"], "longitude": s1["lon"]})
    page = phone.new_page()
    log_in(page, url, "visitor1")
    page.goto(f"{url}/visits/field/")
    assert page.evaluate("document.documentElement.scrollWidth") <= 390
    page.click(f"a[href='/visits/field/route/{route_pk}/']")
    page.wait_for_load_state()
    page.click("#depart-form button[type=submit]")
    page.wait_for_load_state()
    assert "Out on the route" in page.locator("#route-status").inner_text()

    # Stop 1: the debtor is met, signs, promises; door photo with EXIF, a nearest-door
    # photo without; an unbroken recording; the signed receipt.
    _arrive(page, url, s1["pk"])
    assert "0 m from the address" in page.content()
    assert page.locator("#far-flag").count() == 0
    assert "张伟" in page.locator("#opening").inner_text()
    now = dt.datetime.now(SHANGHAI)
    _upload(
        page,
        "#photo-form",
        "door.jpg",
        jpeg(taken=now, gps=(s1["lat"], s1["lon"])),
        "image/jpeg",
        kind="door_photo",
    )
    _upload(
        page,
        "#photo-form",
        "nearest.jpg",
        jpeg(seed=3),
        "image/jpeg",
        kind="nearest_door",
        note="门牌被遮挡，拍最近门牌",
    )
    listed = page.locator("#evidence-list").inner_text()
    assert "no capture time" in listed.lower()
    page.select_option("#outcome", "debtor_met")
    page.check("[name=identity_verified]")
    page.check("[name=contacts_verified]")
    page.check("[name=notice_signed]")
    page.fill("[name=promise_amount]", "2000")
    page.fill("[name=promise_date]", (today_shanghai() + dt.timedelta(days=7)).isoformat())
    _conduct(page)
    page.click("#outcome-form button[type=submit]")
    page.wait_for_load_state()
    assert "Stop recorded." in _messages(page), _messages(page)
    _recording(page, gap=False)
    _upload(
        page, "#receipt-form", "receipt.jpg", jpeg(taken=dt.datetime.now(SHANGHAI)), "image/jpeg"
    )
    page.screenshot(path=str(shots / "day-stop1.png"), full_page=True)

    # Stop 2: the phone is 1 km off (flagged); nobody home; the legal notice in the door
    # is refused, the sealed mailbox accepted; a recording with a gap is flagged.
    phone.set_geolocation({"latitude": s2["lat"] + 0.01, "longitude": s2["lon"]})
    _arrive(page, url, s2["pk"])
    assert page.locator("#far-flag").count() == 1
    page.select_option("#outcome", "nobody_home")
    page.select_option("[name=home_phone_ringing]", "no")
    page.check("[name=mobile_called]")
    page.check("input[name=asked][value=neighbours]")
    page.check("input[name=asked][value=property]")
    page.select_option("[name=notice_delivery]", "door")
    _conduct(page)
    page.click("#outcome-form button[type=submit]")
    page.wait_for_load_state()
    assert "never left in a door or on a window" in _messages(page)
    page.select_option("#outcome", "nobody_home")
    page.select_option("[name=home_phone_ringing]", "no")
    page.check("[name=mobile_called]")
    page.select_option("[name=notice_delivery]", "mailbox_sealed")
    _conduct(page)
    page.click("#outcome-form button[type=submit]")
    page.wait_for_load_state()
    assert "Stop recorded." in _messages(page), _messages(page)
    _recording(page, gap=True)
    assert "gap" in page.locator("#evidence-list").inner_text().lower()

    # Stop 3: the address is invalid.
    phone.set_geolocation({"latitude": s3["lat"], "longitude": s3["lon"]})
    _arrive(page, url, s3["pk"])
    page.select_option("#outcome", "address_invalid")
    page.fill("textarea[name=reason]", "门牌号不存在，物业确认无此单位")
    _conduct(page)
    page.click("#outcome-form button[type=submit]")
    page.wait_for_load_state()
    _recording(page, gap=False)

    # Back at the office; the report waits for the equipment.
    page.goto(f"{url}/visits/field/route/{route_pk}/")
    page.click("#return-form button[type=submit]")
    page.wait_for_load_state()
    assert "Return recorded." in _messages(page), _messages(page)
    page.click("#report-form button[type=submit]")
    page.wait_for_load_state()
    assert "Hand back the equipment first" in _messages(page)
    _take_back(desk, url, ["visitor1", "visitor2"])
    page.fill("#summary", "三户：1户承诺还款，1户无人，1户地址无效。")
    page.click("#report-form button[type=submit]")
    page.wait_for_load_state()
    assert "Report submitted to the team lead." in _messages(page), _messages(page)
    assert page.locator("#report-submitted a.button").count() == 1
    page.screenshot(path=str(shots / "day-report.png"), full_page=True)

    # The team lead reviews it.
    lead = _phone(browser, url)
    lead_page = lead.new_page()
    log_in(lead_page, url, "lead")
    lead_page.goto(f"{url}/visits/field/desk/day/")
    lead_page.locator("#reports a").first.click()
    lead_page.wait_for_load_state()
    assert "三户" in lead_page.locator("#report-summary").inner_text()
    assert "Arrival reported" in lead_page.content()  # the far arrival of stop 2
    lead_page.click("#review button[type=submit]")
    lead_page.wait_for_load_state()
    assert "Reviewed by" in lead_page.locator("#review").inner_text()
    for context in (risk, phone, lead):
        context.close()
