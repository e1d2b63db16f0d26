"""The visit day: departure, stops, return — and every refusal."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest
from django.core.exceptions import PermissionDenied, ValidationError

from cuishou.audit.models import AuditEvent
from cuishou.cases.models import ContactAttempt, PromiseToPay
from cuishou.compliance.check import ContactBlocked
from cuishou.compliance.models import ContactHold
from cuishou.visits.choices import (
    EquipmentKind,
    RouteStatus,
    StopStatus,
    VisitCaseStatus,
    VisitPurpose,
)
from cuishou.visits.day import route_depart, route_return, statements, stop_arrive
from cuishou.visits.models import Route, VisitCase
from tests.visits.conftest import approved_route
from tests.visits.dayhelp import (
    ALL_CONDUCT,
    DEBTOR_MET,
    arrive,
    at,
    check_out_all,
    complete,
    depart,
    stop,
)


@pytest.fixture
def route(world, introduction):
    return approved_route(world)


def _errors(excinfo) -> dict[str, list[str]]:  # type: ignore[no-untyped-def]
    return excinfo.value.message_dict


# --- departure -------------------------------------------------------------------------


def test_the_team_departs_with_its_equipment(world, route):
    departed = depart(world, route)
    assert departed.status == RouteStatus.DEPARTED
    assert departed.departed_at == at(9)
    assert set(departed.visitors.all()) == set(world.visitors[:2])
    assert AuditEvent.objects.filter(action="route.depart", object_id=str(route.pk)).exists()


def test_one_visitor_is_refused(world, route):
    check_out_all(world, route)
    with pytest.raises(ValidationError) as e:
        route_depart(actor=world.visitors[0], route=route, visitors=[world.visitors[0]], at=at(9))
    assert "Never alone: a visit needs at least two visitors (1 named)." in _errors(e)["visitors"]
    assert Route.objects.get(pk=route.pk).status == RouteStatus.APPROVED


def test_a_visitor_not_of_the_team_is_refused(world, route):
    check_out_all(world, route)
    with pytest.raises(ValidationError) as e:
        route_depart(
            actor=world.visitors[0],
            route=route,
            visitors=[world.visitors[0], world.visitors[2]],
            at=at(9),
        )
    assert "外访员 吴 not of the team 外访1组" in _errors(e)["visitors"][0]


def test_an_unapproved_route_cannot_start(world, route):
    Route.objects.filter(pk=route.pk).update(status=RouteStatus.SUBMITTED)
    with pytest.raises(ValidationError) as e:
        route_depart(actor=world.visitors[0], route=route, visitors=world.visitors[:2], at=at(9))
    assert "Nobody can start a route that is not approved" in _errors(e)["route"][0]


def test_missing_equipment_at_departure_is_named(world, route):
    check_out_all(world, route, kinds=[EquipmentKind.BADGE, EquipmentKind.INTRODUCTION])
    with pytest.raises(ValidationError) as e:
        route_depart(actor=world.visitors[0], route=route, visitors=world.visitors[:2], at=at(9))
    lines = _errors(e)["equipment"]
    assert any(
        "外访员 孙 has not checked out" in line and "Camera (相机)" in line for line in lines
    )
    assert not any("Work badge" in line for line in lines)


def test_a_stop_blocked_by_compliance_at_departure_is_named_with_its_rule(world, route):
    ContactHold.objects.create(
        case=world.cases[1],
        kind="litigation",
        reason="court order",
        starts_on=at(9).date() - dt.timedelta(days=1),
        created_by=world.risk,
    )
    check_out_all(world, route)
    with pytest.raises(ValidationError) as e:
        route_depart(actor=world.visitors[0], route=route, visitors=world.visitors[:2], at=at(9))
    line = _errors(e)["stops"][0]
    assert line.startswith("Stop 2 (王芳): house.hold")
    assert AuditEvent.objects.filter(action="contact.blocked", case_id=world.cases[1].pk).exists()


def test_only_the_visitors_or_the_risk_manager_record_the_departure(world, route):
    check_out_all(world, route)
    with pytest.raises(PermissionDenied):
        route_depart(actor=world.visitors[2], route=route, visitors=world.visitors[:2], at=at(9))
    departed = route_depart(actor=world.risk, route=route, visitors=world.visitors[:2], at=at(9))
    assert departed.departure_recorded_by == world.risk


# --- arrival ---------------------------------------------------------------------------


def test_an_arrival_is_timed_located_and_a_far_one_flagged(world, route):
    depart(world, route)
    first = arrive(world, stop(route, 1))
    assert first.status == StopStatus.ARRIVED
    assert first.arrival_distance_m == 0 and not first.arrival_far
    complete(world, first)
    # 0.01° of latitude is about 1.1 km: flagged, not refused.
    s2 = stop(route, 2)
    far = stop_arrive(
        actor=world.visitors[1],
        stop=s2,
        at=at(10),
        lat=s2.address.lat + Decimal("0.01"),
        lon=s2.address.lon,
    )
    assert far.arrival_far and 1000 < far.arrival_distance_m < 1200


def test_an_arrival_without_a_location_is_flagged(world, route):
    depart(world, route)
    s = stop_arrive(actor=world.visitors[0], stop=stop(route, 1), at=at(9, 30))
    assert s.arrival_far and s.arrival_distance_m is None


def test_quiet_hours_refuse_an_arrival(world, route):
    depart(world, route)
    with pytest.raises(ContactBlocked) as e:
        arrive(world, stop(route, 1), when=at(22, 30))
    assert "cn.quiet_hours" in e.value.decision.rule_ids
    assert stop(route, 1).status == StopStatus.PLANNED
    assert AuditEvent.objects.filter(action="contact.blocked", case_id=world.cases[0].pk).exists()


def test_a_related_persons_address_only_where_the_third_party_rules_allow(world, route):
    depart(world, route)
    spouse = world.cases[0].debtor.related_persons.get()
    with pytest.raises(ContactBlocked) as e:
        stop_arrive(
            actor=world.visitors[0],
            stop=stop(route, 1),
            at=at(9, 30),
            lat=None,
            lon=None,
            related_person=spouse,
        )
    assert "cn.third_party_only_when_unreachable" in e.value.decision.rule_ids
    # After three failed attempts in a row on the debtor's numbers, it is allowed.
    phone = world.cases[0].debtor.contact_points.get()
    for minutes in (1, 2, 3):
        ContactAttempt.objects.create(
            case=world.cases[0],
            channel="call",
            contact_point=phone,
            party="nobody",
            outcome="no_answer",
            attempted_at=at(9, minutes),
            actor=world.visitors[0],
        )
    s = stop_arrive(
        actor=world.visitors[0], stop=stop(route, 1), at=at(9, 30), related_person=spouse
    )
    assert s.status == StopStatus.ARRIVED


def test_only_the_visitors_who_went_report_arrivals(world, route):
    depart(world, route)
    with pytest.raises(PermissionDenied):
        stop_arrive(actor=world.visitors[2], stop=stop(route, 1), at=at(9, 30))
    with pytest.raises(PermissionDenied):
        stop_arrive(actor=world.lead, stop=stop(route, 1), at=at(9, 30))


def test_a_stop_out_of_order_without_an_accepted_change_is_refused(world, route):
    depart(world, route)
    with pytest.raises(ValidationError) as e:
        arrive(world, stop(route, 2))
    assert "Route change without approval: stop 1 comes first" in _errors(e)["stop"][0]


def test_no_arrival_before_departure(world, route):
    with pytest.raises(ValidationError) as e:
        arrive(world, stop(route, 1))
    assert "out" in _errors(e)["route"][0]


# --- the outcome -----------------------------------------------------------------------


def test_debtor_met_with_a_promise_logs_a_visit_and_the_promise(world, route):
    depart(world, route)
    s = arrive(world, stop(route, 1))
    done = complete(
        world,
        s,
        outcome="debtor_met",
        details=DEBTOR_MET,
        promise=[(at(9).date() + dt.timedelta(days=7), Decimal("3000.00"))],
    )
    assert done.status == StopStatus.DONE
    attempt = ContactAttempt.objects.get(pk=done.contact_attempt_id)
    assert (attempt.channel, attempt.party, attempt.outcome) == ("visit", "debtor", "ptp")
    promise = PromiseToPay.objects.get(pk=done.promise_id)
    assert promise.amount == Decimal("3000.00") and promise.contact_attempt == attempt
    assert VisitCase.objects.get(pk=s.visit_case_id).status == VisitCaseStatus.VISITED


@pytest.mark.parametrize(
    ("outcome", "details", "code", "party"),
    [
        (
            "related_met",
            {
                "name": "张伟的同事",
                "relationship": "colleague",
                "situation": "在外地出差",
                "working_contact": "13900001111",
                "message_passed": True,
                "willing_to_pay": False,
                "notice_signed": True,
            },
            "third_party",
            "related",
        ),
        ("nobody_home", None, "no_answer", "nobody"),
        ("address_invalid", {"reason": "门牌不存在，物业确认"}, "wrong_number", "nobody"),
        (
            "moved",
            {"reason": "邻居说已搬走", "new_address": "浦东新区某路1号"},
            "wrong_number",
            "nobody",
        ),
    ],
)
def test_each_outcome_is_logged_with_its_code(world, route, outcome, details, code, party):
    depart(world, route)
    s = arrive(world, stop(route, 1))
    kwargs = {"outcome": outcome}
    if details is not None:
        kwargs["details"] = details
    done = complete(world, s, **kwargs)
    attempt = ContactAttempt.objects.get(pk=done.contact_attempt_id)
    assert (attempt.outcome, attempt.party) == (code, party)


@pytest.mark.parametrize("where", ["door", "window"])
def test_a_legal_notice_left_in_a_door_or_window_is_refused(world, route, where):
    depart(world, route)
    s = arrive(world, stop(route, 1))
    details = {"home_phone_ringing": "no", "mobile_called": True, "notice_delivery": where}
    with pytest.raises(ValidationError) as e:
        complete(world, s, details=details)
    assert "never left in a door or on a window" in _errors(e)["notice_delivery"][0]
    assert stop(route, 1).status == StopStatus.ARRIVED
    assert not ContactAttempt.objects.exists()


def test_the_conduct_checklist_must_be_confirmed_item_by_item(world, route):
    depart(world, route)
    s = arrive(world, stop(route, 1))
    with pytest.raises(ValidationError) as e:
        complete(world, s, conduct={**ALL_CONDUCT, "no_entry": False, "no_money": False})
    message = _errors(e)["conduct"][0]
    assert "We did not enter the home, even when invited" in message
    assert "We took no cash, cheques or goods" in message
    assert "Both visitors stayed together" not in message


def test_a_met_outcome_needs_the_notice_signed_or_a_reason(world, route):
    depart(world, route)
    s = arrive(world, stop(route, 1))
    with pytest.raises(ValidationError) as e:
        complete(
            world,
            s,
            outcome="debtor_met",
            details={"identity_verified": True, "contacts_verified": True},
        )
    assert "or say why it was not signed" in _errors(e)["notice_signed"][0]
    done = complete(
        world,
        s,
        outcome="debtor_met",
        details={
            "identity_verified": True,
            "contacts_verified": True,
            "notice_unsigned_reason": "拒绝签字",
        },
    )
    assert done.details["notice_unsigned_reason"] == "拒绝签字"


def test_a_fraud_investigation_visit_needs_its_finding(world, route):
    VisitCase.objects.filter(case=world.cases[0]).update(purpose=VisitPurpose.INVESTIGATE)
    depart(world, route)
    s = arrive(world, stop(route, 1))
    with pytest.raises(ValidationError) as e:
        complete(world, s)
    assert "协查" in _errors(e)["fraud_finding"][0]
    done = complete(world, s, fraud_finding="identity_false")
    assert done.fraud_finding == "identity_false"


def test_nobody_home_needs_the_calls(world, route):
    depart(world, route)
    s = arrive(world, stop(route, 1))
    with pytest.raises(ValidationError) as e:
        complete(world, s, details={"notice_delivery": "kept"})
    assert set(_errors(e)) >= {"home_phone_ringing", "mobile_called"}


# --- return ----------------------------------------------------------------------------


def _whole_day(world, route):  # type: ignore[no-untyped-def]
    depart(world, route)
    for seq in (1, 2, 3):
        complete(world, arrive(world, stop(route, seq)))


def test_the_return_is_recorded_the_same_day(world, route):
    _whole_day(world, route)
    back = route_return(actor=world.visitors[1], route=route, at=at(17))
    assert back.status == RouteStatus.RETURNED and back.returned_at == at(17)


def test_a_return_on_another_day_is_refused(world, route):
    _whole_day(world, route)
    with pytest.raises(ValidationError) as e:
        route_return(actor=world.visitors[1], route=route, at=at(9) + dt.timedelta(days=1))
    assert "This route is for" in _errors(e)["at"][0]


def test_a_stop_left_out_without_a_change_refuses_the_return(world, route):
    depart(world, route)
    complete(world, arrive(world, stop(route, 1)))
    arrive(world, stop(route, 2))
    with pytest.raises(ValidationError) as e:
        route_return(actor=world.visitors[1], route=route, at=at(17))
    lines = _errors(e)["stops"]
    assert "Stop 2 (王芳) was arrived at but not completed." in lines
    assert any(line.startswith("Stop 3 (李娜) was not visited") for line in lines)


# --- the statements --------------------------------------------------------------------


def test_the_statements_name_the_time_both_visitors_the_debtor_and_the_address(world, route):
    depart(world, route)
    said = statements(stop(route, 1), at(9, 35))
    opening = said["opening"]["zh"]
    assert opening.startswith("现在是")
    assert "时35分" in opening
    assert "外访员外访员 孙，（另一人应答）外访员外访员 周" in opening
    assert "开始对客户张伟的单位地址上海市浦东新区世纪大道100号进行外访，现在开始录音。" in opening
    assert said["closing"]["zh"].endswith("的外访，现在关闭录音。")
    assert "09:35" in said["opening"]["en"] and "work address" in said["opening"]["en"]


def test_the_case_timeline_reads_the_arrival_and_the_outcome(world, route):
    from django.utils import translation

    from cuishou.web.timeline import describe_event

    depart(world, route)
    complete(world, arrive(world, stop(route, 1)))
    events = AuditEvent.objects.filter(case_id=world.cases[0].pk)
    with translation.override("en"):
        lines = [describe_event(e) for e in events.order_by("seq")]
    assert "visit stop 1: arrived at 上海市浦东新区世纪大道100号 (0 m)" in lines
    assert (
        "visit stop 1: Nobody home (无人应门); legal notice sealed into the debtor's own mailbox"
        in lines
    )
    assert "Visit (外访), Nobody (未接通): No answer (无人接听)" in lines
