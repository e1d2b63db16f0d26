"""A change of route on the day: asked by a visitor, accepted or refused by the team
lead or the risk manager; only an accepted change applies."""

from __future__ import annotations

import pytest
from django.core.exceptions import PermissionDenied, ValidationError

from cuishou.audit.models import AuditEvent
from cuishou.visits.changes import route_change_decide, route_change_request
from cuishou.visits.choices import ChangeStatus, StopStatus
from tests.visits.conftest import approved_route
from tests.visits.dayhelp import arrive, complete, depart, stop


@pytest.fixture
def route(world, introduction):
    r = approved_route(world)
    depart(world, r)
    return r


def _ask(world, route, kind, seq, **kw):  # type: ignore[no-untyped-def]
    return route_change_request(
        actor=world.visitors[0],
        route=route,
        kind=kind,
        stop=stop(route, seq),
        reason=kw.pop("reason", "地铁停运"),
        payload=kw.pop("payload", None),
    )


def test_an_accepted_reorder_lets_the_team_take_a_later_stop_first(world, route):
    third = stop(route, 3)
    change = _ask(world, route, "reorder", 3)
    assert change.status == ChangeStatus.REQUESTED
    route_change_decide(actor=world.lead, change=change, accept=True, note="同意")
    third.refresh_from_db()
    assert third.seq == 1
    assert [s.visit_case.case.debtor.name for s in route.stops.order_by("seq")] == [
        "李娜",
        "张伟",
        "王芳",
    ]
    assert arrive(world, third).status == StopStatus.ARRIVED


def test_a_reorder_after_a_done_stop_moves_right_after_it(world, route):
    complete(world, arrive(world, stop(route, 1)))
    change = _ask(world, route, "reorder", 3)
    route_change_decide(actor=world.risk, change=change, accept=True)
    assert [s.visit_case.case.debtor.name for s in route.stops.order_by("seq")] == [
        "张伟",
        "李娜",
        "王芳",
    ]


def test_a_refused_change_changes_nothing_and_the_stop_stays_out_of_turn(world, route):
    change = _ask(world, route, "skip", 1)
    with pytest.raises(ValidationError, match="Say why the change is refused"):
        route_change_decide(actor=world.lead, change=change, accept=False)
    refused = route_change_decide(actor=world.lead, change=change, accept=False, note="按原计划")
    assert refused.status == ChangeStatus.REFUSED and refused.decided_by == world.lead
    assert stop(route, 1).status == StopStatus.PLANNED
    with pytest.raises(ValidationError, match="Route change without approval"):
        arrive(world, stop(route, 2))
    with pytest.raises(ValidationError, match="already Refused"):
        route_change_decide(actor=world.lead, change=change, accept=True)


def test_a_skip_accepted_leaves_the_stop_out(world, route):
    route_change_decide(actor=world.lead, change=_ask(world, route, "skip", 1), accept=True)
    assert stop(route, 1).status == StopStatus.SKIPPED
    assert arrive(world, stop(route, 2)).status == StopStatus.ARRIVED


def test_another_address_of_the_same_case(world, route):
    home = world.home[0]
    change = _ask(world, route, "address", 1, payload={"address": home.pk})
    route_change_decide(actor=world.lead, change=change, accept=True)
    assert stop(route, 1).address == home
    with pytest.raises(ValidationError, match="another address of this case's debtor"):
        _ask(world, route, "address", 2, payload={"address": world.home[0].pk})


def test_who_asks_and_who_decides(world, route):
    with pytest.raises(PermissionDenied):
        route_change_request(
            actor=world.visitors[2], route=route, kind="skip", stop=stop(route, 1), reason="x"
        )
    change = _ask(world, route, "skip", 1)
    for nobody in (world.visitors[1], world.visitors[2]):
        with pytest.raises(PermissionDenied):
            route_change_decide(actor=nobody, change=change, accept=True)
    with pytest.raises(ValidationError, match="already waiting"):
        _ask(world, route, "skip", 1)
    with pytest.raises(ValidationError, match="Say why"):
        _ask(world, route, "skip", 2, reason=" ")
    assert AuditEvent.objects.filter(action="route.change_request").count() == 1
