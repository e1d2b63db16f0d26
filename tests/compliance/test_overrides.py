"""Compliance overrides: a rule the pack marks overridable, lifted on one case for the rest
of the debtor's day, asked for with a reason and approved by a second person who is a
compliance officer — and nothing else lifted, ever."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any
from zoneinfo import ZoneInfo

import pytest
import time_machine
from django.contrib.auth.models import Group
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import IntegrityError, transaction

from cuishou.audit.models import AuditEvent
from cuishou.cases.contacts import contact_attempt_log
from cuishou.cases.models import ContactAttempt
from cuishou.compliance.check import ContactBlocked, contact_check
from cuishou.compliance.models import ComplianceOverride, OverrideStatus
from cuishou.compliance.overrides import override_decide, override_request
from tests.compliance.test_command import line, run
from tests.factories import (
    AddressFactory,
    CaseFactory,
    ClientFactory,
    ContactPointFactory,
    LoanFactory,
    TeamFactory,
    UserFactory,
)

pytestmark = pytest.mark.django_db

SH = ZoneInfo("Asia/Shanghai")
NY = ZoneInfo("America/New_York")
CALLS = "cn.answered_calls_per_day"


def sh(text: str) -> dt.datetime:
    return dt.datetime.fromisoformat(text).replace(tzinfo=SH)


def ny(text: str) -> dt.datetime:
    return dt.datetime.fromisoformat(text).replace(tzinfo=NY)


T0 = sh("2026-11-16T10:00")


@contextmanager
def clock(when: dt.datetime) -> Iterator[None]:
    with time_machine.travel(when, tick=False):
        yield


@dataclass
class Desk:
    collector: Any
    lead: Any
    officer: Any
    case: Any
    phone: Any


def _desk(pack: str = "CN", address: str = "") -> Desk:
    lead = UserFactory(username=f"lead-{pack}", role="team_lead")
    team = TeamFactory(lead=lead)
    collector = UserFactory(username=f"li-{pack}", role="collector", team=team)
    officer = UserFactory(username=f"he-{pack}", display_name="He 合规", role="compliance_officer")
    case = CaseFactory(client=ClientFactory(policy_pack=pack), assignee=collector)
    if address:
        AddressFactory(debtor=case.debtor, kind="residence", text=address)
    phone = ContactPointFactory(debtor=case.debtor, value="13800138000", is_primary=True)
    return Desk(collector, lead, officer, case, phone)


@pytest.fixture
def desk() -> Desk:
    return _desk()


def log(case: Any, phone: Any, outcome: str, *times: dt.datetime) -> None:
    for when in times:
        ContactAttempt.objects.create(
            case=case,
            channel="call",
            party="nobody" if outcome == "no_answer" else "debtor",
            outcome=outcome,
            contact_point=phone,
            attempted_at=when,
        )


def call(case: Any, phone: Any, when: dt.datetime) -> Any:
    return contact_check(case=case, channel="call", party="debtor", at=when, contact_point=phone)


def approved(d: Desk, rule_id: str, asked: dt.datetime, reason: str = "债务人要求下午回电") -> Any:
    with clock(asked):
        o = override_request(actor=d.collector, case=d.case, rule_id=rule_id, reason=reason)
    with clock(asked + dt.timedelta(minutes=5)):
        return override_decide(actor=d.officer, override=o, approve=True)


# --- what an override lifts ------------------------------------------------------------


def test_an_approved_override_lifts_its_rule_on_its_case_until_the_debtors_day_ends(
    desk: Desk,
) -> None:
    # Given three answered calls this morning: a fourth is refused.
    log(desk.case, desk.phone, "rpc", sh("2026-11-16T08:00"), sh("2026-11-16T08:10"))
    log(desk.case, desk.phone, "rpc", sh("2026-11-16T08:20"))
    other = CaseFactory(client=desk.case.client, assignee=desk.collector)
    other_phone = ContactPointFactory(debtor=other.debtor)
    log(other, other_phone, "rpc", *(sh(f"2026-11-16T08:{m}0") for m in range(3)))
    assert call(desk.case, desk.phone, sh("2026-11-16T11:00")).rule_ids == [CALLS]

    # When the collector asks, the request alone lifts nothing.
    with clock(T0):
        o = override_request(
            actor=desk.collector, case=desk.case, rule_id=CALLS, reason="债务人要求下午回电"
        )
    assert o.valid_until == sh("2026-11-17T00:00")  # the end of the debtor's day
    assert call(desk.case, desk.phone, sh("2026-11-16T11:00")).rule_ids == [CALLS]

    # When a compliance officer approves at 10:05, the call is allowed, under the override.
    with clock(T0 + dt.timedelta(minutes=5)):
        override_decide(actor=desk.officer, override=o, approve=True)
    decision = call(desk.case, desk.phone, sh("2026-11-16T11:00"))
    assert decision.allowed and decision.rule_ids == []
    assert decision.overridden_ids == [CALLS]
    assert decision.overridden[0].override_id == o.pk
    assert decision.overridden[0].approved_by == "He 合规"
    assert decision.applied_ids == [f"override:{CALLS}"]
    assert call(desk.case, desk.phone, sh("2026-11-16T21:59")).allowed

    # Not before its approval, not on the next day, not on another case.
    assert call(desk.case, desk.phone, sh("2026-11-16T10:04")).rule_ids == [CALLS]
    log(desk.case, desk.phone, "rpc", *(sh(f"2026-11-17T08:{m}0") for m in range(3)))
    assert call(desk.case, desk.phone, sh("2026-11-17T11:00")).rule_ids == [CALLS]
    assert call(other, other_phone, sh("2026-11-16T11:00")).rule_ids == [CALLS]

    # Another rule still blocks, and the decision still says what was lifted.
    late = call(desk.case, desk.phone, sh("2026-11-16T22:30"))
    assert not late.allowed
    assert late.rule_ids == ["cn.quiet_hours"] and late.overridden_ids == [CALLS]


def test_a_us_override_lifts_only_the_rule_it_names() -> None:
    d = _desk("US", "5 Broadway, New York, NY 10004")
    # Seven unanswered calls in the last three days: the presumption of 12 CFR 1006.14(b)(2).
    log(d.case, d.phone, "no_answer", *(ny(f"2026-11-1{4 + n % 3}T09:0{n}") for n in range(7)))
    assert call(d.case, d.phone, ny("2026-11-16T11:00")).rule_ids == ["us.call_frequency"]
    o = approved(d, "us.call_frequency", ny("2026-11-16T10:00"), "Debtor asked us to call today")
    assert o.valid_until == ny("2026-11-17T00:00")  # midnight in New York, not Shanghai
    assert call(d.case, d.phone, ny("2026-11-16T11:00")).allowed
    # A conversation at 10:30: the 7-day rule after it is not lifted by this override.
    log(d.case, d.phone, "rpc", ny("2026-11-16T10:30"))
    decision = call(d.case, d.phone, ny("2026-11-16T11:00"))
    assert decision.rule_ids == ["us.call_after_conversation"]
    assert decision.overridden_ids == ["us.call_frequency"]


@pytest.mark.parametrize(
    ("pack", "rule_id", "said"),
    [
        ("CN", "cn.quiet_hours", "cn.quiet_hours cannot be overridden"),
        ("CN", "cn.unanswered_per_number_per_day", "cannot be overridden"),
        ("CN", "cn.third_party_only_when_unreachable", "cannot be overridden"),
        ("CN", "cn.third_party_no_disclosure", "cannot be overridden"),
        ("CN", "cn.prohibited_language", "cannot be overridden"),
        ("CN", "cn.visit_two_visitors", "cannot be overridden"),
        ("CN", "cn.cease", "cannot be overridden"),
        ("CN", "house.hold", "house.hold cannot be overridden"),
        ("CN", "house.dispute_pause", "cannot be overridden"),
        ("CN", "us.call_frequency", "The CN pack has no rule us.call_frequency"),
        ("US", "us.inconvenient_time", "us.inconvenient_time cannot be overridden"),
        ("US", "us.ma.call_frequency", "us.ma.call_frequency cannot be overridden"),
        ("US", "us.location_once", "cannot be overridden"),
        ("US", "us.cease", "cannot be overridden"),
    ],
)
def test_a_rule_the_pack_does_not_mark_overridable_cannot_be_asked_for(
    pack: str, rule_id: str, said: str
) -> None:
    d = _desk(pack)
    with pytest.raises(ValidationError) as refused:
        override_request(actor=d.collector, case=d.case, rule_id=rule_id, reason="债务人同意")
    assert said in " ".join(refused.value.message_dict["rule_id"])
    assert not ComplianceOverride.objects.exists()
    assert not AuditEvent.objects.filter(action="compliance.override_request").exists()


def test_an_approved_row_for_a_rule_that_is_not_overridable_lifts_nothing(desk: Desk) -> None:
    # Written around the service (by hand, in the database): the engine still refuses.
    ComplianceOverride.objects.create(
        case=desk.case,
        rule_id="cn.quiet_hours",
        reason="by hand",
        status=OverrideStatus.APPROVED,
        requested_at=T0,
        requested_by=desk.collector,
        decided_at=T0,
        decided_by=desk.officer,
        valid_from=T0,
        valid_until=sh("2026-11-17T00:00"),
    )
    decision = call(desk.case, desk.phone, sh("2026-11-16T23:00"))
    assert decision.rule_ids == ["cn.quiet_hours"] and decision.overridden == ()


def test_a_reason_is_required(desk: Desk) -> None:
    with pytest.raises(ValidationError) as refused:
        override_request(actor=desk.collector, case=desk.case, rule_id=CALLS, reason="   ")
    assert "reason" in refused.value.message_dict
    assert not ComplianceOverride.objects.exists()


# --- who decides -------------------------------------------------------------------------


def test_nobody_approves_their_own_request(desk: Desk) -> None:
    # A collector who is also a compliance officer asks: they may not approve it.
    both = UserFactory(username="both", role="collector")
    both.groups.add(Group.objects.get(name="compliance_officer"))
    desk.case.assignee = both
    desk.case.save(update_fields=["assignee"])
    o = override_request(actor=both, case=desk.case, rule_id=CALLS, reason="债务人要求回电")
    with pytest.raises(PermissionDenied, match="Somebody else"):
        override_decide(actor=both, override=o, approve=True)
    o.refresh_from_db()
    assert o.status == OverrideStatus.REQUESTED and o.decided_by is None
    # Nor around the service: the database refuses the same person twice.
    with pytest.raises(IntegrityError), transaction.atomic():
        ComplianceOverride.objects.filter(pk=o.pk).update(decided_by=both)


def test_only_a_compliance_officer_decides(desk: Desk) -> None:
    o = override_request(actor=desk.collector, case=desk.case, rule_id=CALLS, reason="回电")
    others = [
        desk.lead,
        UserFactory(username="rm", role="risk_manager"),
        UserFactory(username="root", is_superuser=True),
    ]
    for other in others:
        with pytest.raises(PermissionDenied, match="compliance officer"):
            override_decide(actor=other, override=o, approve=True)
    o.refresh_from_db()
    assert o.status == OverrideStatus.REQUESTED
    assert not AuditEvent.objects.filter(action="compliance.override_approve").exists()


def test_a_rejected_request_lifts_nothing_and_the_same_rule_may_be_asked_again(
    desk: Desk,
) -> None:
    log(desk.case, desk.phone, "rpc", *(sh(f"2026-11-16T08:{m}0") for m in range(3)))
    with clock(T0):
        o = override_request(actor=desk.collector, case=desk.case, rule_id=CALLS, reason="回电")
        # While it waits, the same rule on the same case is not asked for twice.
        with pytest.raises(ValidationError, match="already waiting"):
            override_request(actor=desk.lead, case=desk.case, rule_id=CALLS, reason="回电")
        override_decide(actor=desk.officer, override=o, approve=False, note="没有录音")
    assert call(desk.case, desk.phone, sh("2026-11-16T11:00")).rule_ids == [CALLS]
    with pytest.raises(ValidationError, match="already decided"):
        override_decide(actor=desk.officer, override=o, approve=True)
    event = AuditEvent.objects.get(action="compliance.override_reject")
    assert event.actor_id == desk.officer.pk and event.case_id == desk.case.pk
    assert event.after["status"] == "rejected" and event.after["note"] == "没有录音"
    # A new request, with the recording this time, may be approved.
    with clock(T0 + dt.timedelta(minutes=30)):
        again = override_request(
            actor=desk.collector, case=desk.case, rule_id=CALLS, reason="回电，有录音"
        )
        override_decide(actor=desk.officer, override=again, approve=True)
    assert call(desk.case, desk.phone, sh("2026-11-16T11:00")).allowed


def test_a_request_whose_day_has_ended_can_no_longer_be_approved(desk: Desk) -> None:
    with clock(sh("2026-11-16T23:50")):
        o = override_request(actor=desk.collector, case=desk.case, rule_id=CALLS, reason="回电")
    with clock(sh("2026-11-17T00:10")), pytest.raises(ValidationError, match="ask again"):
        override_decide(actor=desk.officer, override=o, approve=True)
    o.refresh_from_db()
    assert o.status == OverrideStatus.REQUESTED
    assert o.state_at(sh("2026-11-17T00:10")) == "Expired"


# --- the paths that make contacts, and the audit --------------------------------------


def test_the_workbench_logs_a_contact_under_the_override_and_the_audit_shows_each_step(
    desk: Desk,
) -> None:
    log(desk.case, desk.phone, "rpc", *(sh(f"2026-11-16T08:{m}0") for m in range(3)))

    def ring() -> ContactAttempt:
        return contact_attempt_log(
            actor=desk.collector,
            case=desk.case,
            channel="call",
            party="debtor",
            outcome="rpc",
            contact_point=desk.phone,
        )

    with clock(T0), pytest.raises(ContactBlocked):
        ring()
    o = approved(desk, CALLS, T0, reason="债务人上午来电，要求下午三点回电")

    asked = AuditEvent.objects.get(action="compliance.override_request")
    assert asked.actor_id == desk.collector.pk and asked.case_id == desk.case.pk
    assert "要求下午三点回电" in asked.summary and asked.after["rule"] == CALLS
    approval = AuditEvent.objects.get(action="compliance.override_approve")
    assert approval.actor_id == desk.officer.pk and approval.object_id == str(o.pk)
    assert approval.after["status"] == "approved"
    assert approval.after["requested_by"] == desk.collector.pk

    with clock(sh("2026-11-16T15:00")):
        attempt = ring()
    assert attempt.compliance_rules == [f"override:{CALLS}"]
    made = AuditEvent.objects.get(action="contact.attempt", object_id=str(attempt.pk))
    assert made.after["overrides"] == [{"rule": CALLS, "override": o.pk, "approved_by": "He 合规"}]
    o.refresh_from_db()
    assert o.uses == 1 and o.last_used_at == sh("2026-11-16T15:00")
    with clock(sh("2026-11-16T16:00")):
        ring()
    o.refresh_from_db()
    assert o.uses == 2
    # Tomorrow the override is over: a fourth answered call is refused again.
    log(desk.case, desk.phone, "rpc", *(sh(f"2026-11-17T08:{m}0") for m in range(3)))
    with clock(sh("2026-11-17T10:00")), pytest.raises(ContactBlocked):
        ring()


def test_the_cli_check_honours_the_override_and_records_its_use(desk: Desk, tmp_path) -> None:  # type: ignore[no-untyped-def]
    desk.case.client.code = "SP"
    desk.case.client.save(update_fields=["code"])
    LoanFactory(client=desk.case.client, debtor=desk.case.debtor, contract_no="SP-1")
    log(desk.case, desk.phone, "rpc", *(sh(f"2026-11-16T08:{m}0") for m in range(3)))
    plan = [line("afternoon", at="2026-11-16T15:00:00+08:00")]
    assert run(tmp_path, plan)[0]["rules"] == [CALLS]

    o = approved(desk, CALLS, T0)
    out = run(tmp_path, plan, "--record")[0]
    assert out["allowed"] is True and out["rules"] == [] and out["overridden"] == [CALLS]
    assert CALLS in str(out["reason"])
    attempt = ContactAttempt.objects.get(case=desk.case, attempted_at=sh("2026-11-16T15:00"))
    assert attempt.compliance_rules == [f"override:{CALLS}"]
    o.refresh_from_db()
    assert o.uses == 1
    decided = AuditEvent.objects.filter(action="compliance.decision").order_by("-seq").first()
    assert decided is not None and decided.after["overrides"][0]["override"] == o.pk
