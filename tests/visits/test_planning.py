"""Planning the day before: drafts stored per team, replaced on a new plan but never
once submitted; a stop moved by hand is checked; submit, approve, reject."""

from __future__ import annotations

import datetime as dt

import pytest
from django.core.exceptions import PermissionDenied, ValidationError

from cuishou.audit.models import AuditEvent
from cuishou.core.timeutil import SHANGHAI
from cuishou.portfolio.models import Address
from cuishou.visits.choices import RouteStatus, VisitCaseStatus
from cuishou.visits.models import Route, RouteStop, VisitCase
from cuishou.visits.planning import (
    route_decide,
    route_stop_move,
    route_submit,
    visits_plan,
)
from tests.visits.planning_helpers import allocated, next_weekday


def plan(world, day):
    return visits_plan(actor=world.lead, day=day, seconds=1)


def test_the_plan_stores_a_draft_route_per_team_with_times_and_windows(world):
    day = next_weekday()
    allocated(world, day)

    result = plan(world, day)

    assert result.planned == 4 and result.left_out == 0
    routes = Route.objects.filter(day=day)
    assert routes.count() == 2
    assert set(routes.values_list("status", flat=True)) == {RouteStatus.DRAFT}
    for stop in RouteStop.objects.filter(route__day=day):
        assert stop.window_start <= stop.expected_at <= stop.window_end
        assert stop.expected_at.astimezone(SHANGHAI).date() == day
        # The planner chose one of the case's own addresses.
        assert stop.address.debtor_id == stop.visit_case.case.debtor_id
    assert set(VisitCase.objects.values_list("status", flat=True)) == {VisitCaseStatus.PLANNED}
    assert AuditEvent.objects.filter(action="visit.route_plan").count() == 2


def test_planning_again_replaces_the_draft_but_never_a_submitted_route(world):
    day = next_weekday()
    allocated(world, day)
    plan(world, day)
    first, second = Route.objects.filter(day=day).order_by("team__name")
    route_submit(actor=world.lead, route=first)
    stops_before = list(first.stops.values_list("pk", "seq", "expected_at"))

    again = plan(world, day)

    first.refresh_from_db()
    assert first.status == RouteStatus.SUBMITTED
    assert list(first.stops.values_list("pk", "seq", "expected_at")) == stops_before
    skipped = next(t for t in again.teams if t.team == first.team)
    assert "not planned again" in skipped.skipped
    assert Route.objects.get(pk=second.pk).status == RouteStatus.DRAFT
    assert RouteStop.objects.filter(route=second).count() == 2


def test_a_case_without_coordinates_is_left_out_with_the_reason(world):
    day = next_weekday()
    Address.objects.filter(debtor=world.cases[3].debtor).update(lat=None, lon=None)
    allocated(world, day)

    result = plan(world, day)

    left = [lo for t in result.teams for lo in t.left_out]
    assert [(lo.visit_case.case, lo.reason) for lo in left] == [(world.cases[3], "no_coordinates")]
    vc = VisitCase.objects.get(case=world.cases[3])
    assert vc.status == VisitCaseStatus.ALLOCATED and vc.status_reason
    route = Route.objects.get(team=vc.team, day=day)
    assert route.plan["left_out"] == [{"visit_case": vc.pk, "reason": "no_coordinates"}]


def test_moving_a_stop_is_rechecked_and_an_infeasible_move_is_refused(world):
    day = next_weekday()
    allocated(world, day)
    plan(world, day)
    route = Route.objects.filter(day=day, stops__isnull=False).distinct().first()
    stops = list(route.stops.order_by("seq"))
    assert len(stops) == 2

    route_stop_move(actor=world.lead, route=route, stop=stops[1], new_position=1)
    order = list(route.stops.order_by("seq").values_list("pk", flat=True))
    assert order == [stops[1].pk, stops[0].pk]
    for s in route.stops.all():
        assert s.window_start <= s.expected_at <= s.window_end

    assert AuditEvent.objects.filter(action="visit.route_stop_move").count() == 1
    with pytest.raises(ValidationError, match="from 1 to 2"):
        route_stop_move(actor=world.lead, route=route, stop=stops[0], new_position=5)


def test_a_move_that_breaks_a_window_is_refused_with_the_violation(world, monkeypatch):
    import cuishou.visits.planning as planning

    day = next_weekday()
    allocated(world, day)
    plan(world, day)
    route = Route.objects.filter(day=day, stops__isnull=False).distinct().first()
    # Make every work address open only 09:00-09:40: two stops can no longer both fit.
    monkeypatch.setattr(planning, "WORK_HOURS", ((dt.time(9), dt.time(9, 40)),))
    monkeypatch.setattr(planning, "RESIDENCE_WEEKDAY", ((dt.time(9), dt.time(9, 40)),))
    stops = list(route.stops.order_by("seq"))
    before = [(s.pk, s.seq) for s in stops]

    with pytest.raises(ValidationError, match="does not work"):
        route_stop_move(actor=world.lead, route=route, stop=stops[1], new_position=1)
    assert [(s.pk, s.seq) for s in route.stops.order_by("seq")] == before


def test_an_approved_route_is_not_moved_by_hand(world):
    from tests.visits.conftest import approved_route

    route = approved_route(world, day=next_weekday())
    stop = route.stops.get(seq=3)
    with pytest.raises(ValidationError, match="route change"):
        route_stop_move(actor=world.lead, route=route, stop=stop, new_position=1)


def test_submit_approve_and_reject_follow_the_status_machine(world):
    day = next_weekday()
    allocated(world, day)
    plan(world, day)
    first, second = Route.objects.filter(day=day).order_by("team__name")

    with pytest.raises(ValidationError, match="submitted"):
        route_decide(actor=world.risk, route=first, approve=True)
    route_submit(actor=world.lead, route=first)
    route_submit(actor=world.lead, route=second)
    with pytest.raises(PermissionDenied):
        route_decide(actor=world.lead, route=first, approve=True)
    with pytest.raises(ValidationError, match="why"):
        route_decide(actor=world.risk, route=first, approve=False, reason=" ")

    route_decide(actor=world.risk, route=first, approve=True)
    route_decide(actor=world.risk, route=second, approve=False, reason="too late for stop 2")

    first.refresh_from_db()
    second.refresh_from_db()
    assert first.status == RouteStatus.APPROVED and first.decided_by == world.risk
    assert second.status == RouteStatus.REJECTED
    assert second.decision_note == "too late for stop 2"
    # The rejected route is the lead's again: it can be moved and submitted again.
    stops = list(second.stops.order_by("seq"))
    route_stop_move(actor=world.lead, route=second, stop=stops[1], new_position=1)
    second.refresh_from_db()
    assert second.status == RouteStatus.DRAFT
    route_submit(actor=world.lead, route=second)
    second.refresh_from_db()
    assert second.status == RouteStatus.SUBMITTED
    with pytest.raises(ValidationError):
        route_submit(actor=world.lead, route=first)


def test_a_visitor_cannot_plan_and_bad_input_is_named(world):
    with pytest.raises(PermissionDenied):
        visits_plan(actor=world.visitors[0], day=next_weekday())
    with pytest.raises(ValidationError, match="past"):
        visits_plan(actor=world.lead, day=dt.date(2020, 1, 1))
    with pytest.raises(ValidationError, match="seconds"):
        visits_plan(actor=world.lead, day=next_weekday(), seconds=0)
