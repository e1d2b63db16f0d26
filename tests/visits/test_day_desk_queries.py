"""The day's desk pages (the risk manager's equipment desk, the lead's visit day) take as
many queries for two routes out as for one."""

from __future__ import annotations

from django.db import connection
from django.test import Client as Browser
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from tests.visits.conftest import approved_route


def _queries(user, url: str) -> int:  # type: ignore[no-untyped-def]
    b = Browser(headers={"accept-language": "en"})
    b.force_login(user)
    b.get(url)  # warm the session and the caches of the first request
    with CaptureQueriesContext(connection) as seen:
        response = b.get(url)
    assert response.status_code == 200
    return len(seen)


def test_the_equipment_desk_and_the_leads_day_take_a_fixed_number_of_queries(world):
    approved_route(world, team=0)
    equipment_1 = _queries(world.risk, reverse("visits:day-equipment"))
    day_1 = _queries(world.lead, reverse("visits:day-lead"))

    approved_route(world, team=1)  # a second team out today, with its own stops

    assert _queries(world.risk, reverse("visits:day-equipment")) == equipment_1
    assert _queries(world.lead, reverse("visits:day-lead")) == day_1
