"""The visit day's pages through the test client (a phone's browser sends the same
forms): who may open what, and what a refusal looks like."""

from __future__ import annotations

import pytest
from django.urls import reverse

from cuishou.visits.changes import route_change_request
from cuishou.visits.choices import ChangeStatus, RouteStatus, StopStatus
from cuishou.visits.models import EquipmentLoan, Route, RouteChange
from tests.visits.conftest import approved_route
from tests.visits.dayhelp import check_out_all, depart, stop

PHONE = {"HTTP_USER_AGENT": "Mozilla/5.0 (iPhone; CPU iPhone OS 17_0 like Mac OS X) Mobile"}


@pytest.fixture(autouse=True)
def _english(client, settings):  # type: ignore[no-untyped-def]
    client.cookies[settings.LANGUAGE_COOKIE_NAME] = "en"


@pytest.fixture
def route(world, introduction):
    return approved_route(world)


def _text(response) -> str:  # type: ignore[no-untyped-def]
    return response.content.decode()


def test_a_visitor_sees_todays_route_with_its_stops_in_order_and_map_links(client, world, route):
    client.force_login(world.visitors[0])
    page = _text(client.get(reverse("visits:field-today"), **PHONE))
    assert page.index("张伟") < page.index("王芳") < page.index("李娜")
    route_page = _text(client.get(reverse("visits:field-route", args=[route.pk]), **PHONE))
    assert "uri.amap.com/marker?position=121.505500,31.233500" in route_page
    assert 'name="viewport"' in route_page
    assert "We are leaving now" in route_page


def test_another_teams_visitor_and_the_collector_do_not_see_the_route(client, world, route):
    client.force_login(world.visitors[2])
    assert client.get(reverse("visits:field-route", args=[route.pk])).status_code == 404
    assert client.get(reverse("visits:field-stop", args=[stop(route, 1).pk])).status_code == 404
    assert client.get(reverse("visits:day-equipment")).status_code == 403
    assert client.get(reverse("visits:day-lead")).status_code == 403


def test_departure_without_equipment_is_refused_on_the_page(client, world, route):
    client.force_login(world.visitors[0])
    response = client.post(
        reverse("visits:field-depart", args=[route.pk]),
        {"visitors": [world.visitors[0].pk, world.visitors[1].pk]},
        follow=True,
    )
    assert "外访员 孙 has not checked out" in _text(response)
    assert Route.objects.get(pk=route.pk).status == RouteStatus.APPROVED
    check_out_all(world, route)
    response = client.post(
        reverse("visits:field-depart", args=[route.pk]),
        {"visitors": [world.visitors[0].pk]},
        follow=True,
    )
    assert "Never alone" in _text(response)
    client.post(
        reverse("visits:field-depart", args=[route.pk]),
        {"visitors": [world.visitors[0].pk, world.visitors[1].pk]},
    )
    assert Route.objects.get(pk=route.pk).status == RouteStatus.DEPARTED


def test_the_stop_page_arrival_statements_and_outcome(client, world, route):
    depart(world, route)
    s = stop(route, 1)
    client.force_login(world.visitors[1])
    page = _text(client.get(reverse("visits:field-stop", args=[s.pk]), **PHONE))
    assert "navigator.geolocation" in page and 'id="arrive-form"' in page
    client.post(
        reverse("visits:field-arrive", args=[s.pk]),
        {"lat": "31.2335", "lon": "121.5055"},
    )
    page = _text(client.get(reverse("visits:field-stop", args=[s.pk])))
    assert "0 m from the address" in page
    assert "开始对客户张伟的单位地址上海市浦东新区世纪大道100号进行外访" in page
    assert 'capture="environment"' in page and 'accept="audio/*"' in page
    form = {
        "outcome": "nobody_home",
        "home_phone_ringing": "no",
        "mobile_called": "on",
        "asked": ["neighbours"],
        "notice_delivery": "door",
        **{f"conduct_{k}": "on" for k in ("no_entry", "no_pressure", "together", "no_money")},
    }
    response = client.post(reverse("visits:field-complete", args=[s.pk]), form)
    assert response.status_code == 400
    text = _text(response)
    assert "never left in a door or on a window" in text
    assert "Any payment was made by the debtor in person at a bank counter" in text
    form.update(notice_delivery="mailbox_sealed", conduct_bank_counter="on")
    client.post(reverse("visits:field-complete", args=[s.pk]), form)
    assert stop(route, 1).status == StopStatus.DONE


def test_a_change_asked_on_the_phone_is_decided_on_the_leads_desk(client, world, route):
    depart(world, route)
    client.force_login(world.visitors[0])
    client.post(
        reverse("visits:field-change", args=[stop(route, 3).pk]),
        {"kind": "reorder", "reason": "李娜 asked us to come first"},
    )
    change = RouteChange.objects.get()
    client.force_login(world.lead)
    desk = _text(client.get(reverse("visits:day-lead")))
    assert "李娜 asked us to come first" in desk
    client.post(reverse("visits:day-change-decide", args=[change.pk]), {"decision": "accept"})
    change.refresh_from_db()
    assert change.status == ChangeStatus.ACCEPTED
    assert stop(route, 1).visit_case.case.debtor.name == "李娜"
    # The other team's visitor cannot decide; the page refuses.
    other = route_change_request(
        actor=world.visitors[0], route=route, kind="skip", stop=stop(route, 3), reason="x"
    )
    client.force_login(world.visitors[1])
    assert (
        client.post(
            reverse("visits:day-change-decide", args=[other.pk]), {"decision": "accept"}
        ).status_code
        == 403
    )


def test_the_equipment_desk_checks_out_and_takes_back_with_signatures(client, world, route):
    client.force_login(world.risk)
    page = _text(client.get(reverse("visits:day-equipment")))
    assert "外访员 孙" in page and "Issue the letter" in page
    client.post(
        reverse("visits:day-equipment-out", args=[route.pk]),
        {"visitor": world.visitors[0].pk, "kind": "camera", "label": "CAM-01", "signature": "孙"},
    )
    loan = EquipmentLoan.objects.get()
    assert (loan.label, loan.out_signature) == ("CAM-01", "孙")
    response = client.post(
        reverse("visits:day-equipment-out", args=[route.pk]),
        {"visitor": world.visitors[0].pk, "kind": "recorder", "label": "", "signature": "孙"},
        follow=True,
    )
    assert "Write down the serial or badge number" in _text(response)
    client.post(reverse("visits:day-equipment-back", args=[loan.pk]), {"signature": "孙"})
    loan.refresh_from_db()
    assert loan.returned_at is not None and loan.return_signature == "孙"
    client.force_login(world.visitors[0])
    assert (
        client.post(
            reverse("visits:day-equipment-back", args=[loan.pk]), {"signature": "x"}
        ).status_code
        == 403
    )


def test_the_arrival_shows_on_the_leads_desk_with_a_far_flag(client, world, route):
    depart(world, route)
    s = stop(route, 1)
    from cuishou.visits.day import stop_arrive

    stop_arrive(actor=world.visitors[0], stop=s, lat="31.2435", lon="121.5055")
    client.force_login(world.lead)
    desk = _text(client.get(reverse("visits:day-lead")))
    assert "m away" in desk
