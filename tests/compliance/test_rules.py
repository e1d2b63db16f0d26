"""The compliance engine, rule by rule, at and around each boundary, for both packs.

Each scenario builds a case, its history of logged attempts and one planned contact, and
states the decision: allowed, or blocked by exactly these rules."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from cuishou.cases.models import ContactAttempt
from cuishou.compliance.check import contact_check
from tests.factories import (
    AddressFactory,
    CaseFactory,
    ClientFactory,
    ContactPointFactory,
    RelatedPersonFactory,
)

pytestmark = pytest.mark.django_db

SH = ZoneInfo("Asia/Shanghai")
NY = ZoneInfo("America/New_York")


def at(text: str, zone: ZoneInfo = SH) -> dt.datetime:
    return dt.datetime.fromisoformat(text).replace(tzinfo=zone)


@dataclass
class World:
    case: Any
    phone: Any
    phone2: Any
    colleague: Any
    colleague_phone: Any
    guarantor: Any
    guarantor_phone: Any

    def log(
        self,
        when: dt.datetime,
        outcome: str,
        *,
        channel: str = "call",
        to: str = "debtor",
        number: Any = None,
    ) -> None:
        party = {"debtor": "debtor", "colleague": "related", "guarantor": "related"}[to]
        if outcome in ("no_answer", "busy", "switched_off", "wrong_number"):
            party = "nobody"
        person = {"colleague": self.colleague, "guarantor": self.guarantor}.get(to)
        point = (
            number
            or {
                "debtor": self.phone,
                "colleague": self.colleague_phone,
                "guarantor": self.guarantor_phone,
            }[to]
        )
        ContactAttempt.objects.create(
            case=self.case,
            channel=channel,
            party=party,
            outcome=outcome,
            contact_point=point,
            related_person=person if party == "related" else None,
            attempted_at=when,
        )

    def check(
        self,
        when: dt.datetime,
        *,
        channel: str = "call",
        to: str = "debtor",
        number: Any = None,
        **kwargs: Any,
    ) -> list[str]:
        person = {"colleague": self.colleague, "guarantor": self.guarantor}.get(to)
        point = (
            number
            or {
                "debtor": self.phone,
                "colleague": self.colleague_phone,
                "guarantor": self.guarantor_phone,
            }[to]
        )
        decision = contact_check(
            case=self.case,
            channel=channel,
            party="related" if person else "debtor",
            at=when,
            contact_point=point if channel != "visit" else None,
            related_person=person,
            **kwargs,
        )
        assert decision.allowed == (not decision.rules)
        return decision.rule_ids


def world(pack: str = "CN", address: str = "") -> World:
    case = CaseFactory(client=ClientFactory(policy_pack=pack))
    if address:
        AddressFactory(debtor=case.debtor, kind="residence", text=address)
    colleague = RelatedPersonFactory(debtor=case.debtor, relation="colleague", name="同事甲")
    guarantor = RelatedPersonFactory(debtor=case.debtor, relation="guarantor", name="担保人乙")
    return World(
        case=case,
        phone=ContactPointFactory(debtor=case.debtor, value="13800138000", is_primary=True),
        phone2=ContactPointFactory(debtor=case.debtor, value="13800138001"),
        colleague=colleague,
        colleague_phone=ContactPointFactory(
            debtor=case.debtor, related_person=colleague, value="13900139000"
        ),
        guarantor=guarantor,
        guarantor_phone=ContactPointFactory(
            debtor=case.debtor, related_person=guarantor, value="13900139001"
        ),
    )


# --- CN ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("time", "channel", "blocked"),
    [
        ("2026-11-16T07:59:59", "call", True),
        ("2026-11-16T08:00:00", "call", False),
        ("2026-11-16T21:59:59", "sms", False),
        ("2026-11-16T22:00:00", "sms", True),
        ("2026-11-16T23:30:00", "visit", True),
        ("2026-11-16T03:00:00", "email", True),
    ],
)
def test_cn_quiet_hours_in_the_debtors_time(time: str, channel: str, blocked: bool) -> None:
    w = world()
    kwargs = {"visitors": 2, "route_approved": True} if channel == "visit" else {}
    rules = w.check(at(time), channel=channel, **kwargs)
    assert ("cn.quiet_hours" in rules) == blocked
    # The same instant written in UTC is the same decision.
    utc = at(time).astimezone(dt.UTC)
    assert ("cn.quiet_hours" in w.check(utc, channel=channel, **kwargs)) == blocked


@pytest.mark.parametrize(("answered_before", "blocked"), [(2, False), (3, True)])
def test_cn_at_most_three_answered_calls_a_day(answered_before: int, blocked: bool) -> None:
    w = world()
    for n in range(answered_before):
        w.log(at(f"2026-11-16T09:0{n}:00"), "rpc")
    w.log(at("2026-11-15T20:00:00"), "rpc")  # yesterday does not count
    rules = w.check(at("2026-11-16T15:00:00"))
    assert rules == (["cn.answered_calls_per_day"] if blocked else [])
    # The next day starts again at midnight local time.
    assert w.check(at("2026-11-17T09:00:00")) == []


@pytest.mark.parametrize(("unanswered_before", "blocked"), [(5, False), (6, True)])
def test_cn_at_most_six_unanswered_attempts_per_number_a_day(
    unanswered_before: int, blocked: bool
) -> None:
    w = world()
    for n in range(unanswered_before):
        w.log(at(f"2026-11-16T09:1{n}:00"), "no_answer")
    rules = w.check(at("2026-11-16T12:00:00"))
    assert rules == (["cn.unanswered_per_number_per_day"] if blocked else [])
    assert w.check(at("2026-11-16T12:00:00"), number=w.phone2) == []  # another number


def test_cn_third_party_only_after_three_failed_attempts_and_never_after_a_refusal() -> None:
    w = world()
    noon = at("2026-11-16T12:00:00")
    assert w.check(noon, to="colleague") == ["cn.third_party_only_when_unreachable"]
    w.log(at("2026-11-16T09:00:00"), "no_answer")
    w.log(at("2026-11-16T09:30:00"), "switched_off", number=w.phone2)
    assert w.check(noon, to="colleague") == ["cn.third_party_only_when_unreachable"]
    w.log(at("2026-11-16T10:00:00"), "busy")
    assert w.check(noon, to="colleague") == []
    # A guarantor is not a third party: no such condition.
    assert w.check(at("2026-11-16T08:30:00"), to="guarantor") == []
    # Reaching the debtor ends "unreachable".
    w.log(at("2026-11-16T11:00:00"), "rpc")
    assert w.check(noon, to="colleague") == ["cn.third_party_only_when_unreachable"]
    # A third party who refused is never contacted again.
    w.colleague.refused_contact = True
    w.colleague.save()
    assert "cn.third_party_refused" in w.check(noon, to="colleague")


def test_cn_a_message_to_a_third_party_never_mentions_the_debt() -> None:
    w = world()
    for minute in ("00", "10", "20"):
        w.log(at(f"2026-11-16T09:{minute}:00"), "no_answer")
    noon = at("2026-11-16T12:00:00")
    asks = "您好，请转告张先生回电 400-000-0000，谢谢。"
    assert w.check(noon, channel="sms", to="colleague", text=asks) == []
    tells = "您好，张先生的借款已逾期，请转告他尽快还款。"
    assert w.check(noon, channel="sms", to="colleague", text=tells) == [
        "cn.third_party_no_disclosure"
    ]
    # To the debtor the same words are a plain reminder.
    assert w.check(noon, channel="sms", text=tells) == []


@pytest.mark.parametrize(
    ("visitors", "route", "rules"),
    [
        (1, True, ["cn.visit_two_visitors"]),
        (2, False, ["cn.visit_approved_route"]),
        (2, True, []),
        (None, None, ["cn.visit_two_visitors", "cn.visit_approved_route"]),
    ],
)
def test_cn_visits_need_two_visitors_and_an_approved_route(
    visitors: int | None, route: bool | None, rules: list[str]
) -> None:
    w = world()
    assert (
        w.check(at("2026-11-16T10:00:00"), channel="visit", visitors=visitors, route_approved=route)
        == rules
    )


def test_cn_holds_dispute_cease_deceased_and_bad_numbers() -> None:
    w = world()
    ten = at("2026-11-16T10:00:00")
    w.phone.status = "invalid"
    w.phone.save()
    assert w.check(ten) == ["house.contact_point"]
    assert w.check(ten, number=w.phone2) == []
    w.log(at("2026-11-10T10:00:00"), "cease", number=w.phone2)
    assert w.check(ten, number=w.phone2) == ["cn.cease"]
    w.case.status = "paused"
    assert "house.dispute_pause" in w.check(ten, number=w.phone2)
    other = world()
    other.log(at("2026-10-01T10:00:00"), "deceased")  # weeks ago: still holds
    assert other.check(ten) == ["cn.deceased"]


# --- US ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("time", "blocked"),
    [
        ("2026-07-01T07:59:00", True),
        ("2026-07-01T08:00:00", False),
        ("2026-07-01T20:59:00", False),
        ("2026-07-01T21:00:00", True),
    ],
)
def test_us_calling_hours_in_the_debtors_zone_from_the_address(time: str, blocked: bool) -> None:
    la = world("US", "1 Main St, Los Angeles, CA 90012")
    rules = la.check(at(time, ZoneInfo("America/Los_Angeles")))
    assert ("us.inconvenient_time" in rules) == blocked
    # 08:00 in New York is 05:00 in Los Angeles.
    assert "us.inconvenient_time" in la.check(at("2026-07-01T08:00:00", NY))


def test_us_hours_across_the_dst_change() -> None:
    ny = world("US", "5 Broadway, New York, NY 10004")
    # 2026-03-08: clocks go from 02:00 to 03:00. 12:30 UTC is 07:30 before, 08:30 after.
    assert "us.inconvenient_time" in ny.check(dt.datetime(2026, 3, 7, 12, 30, tzinfo=dt.UTC))
    assert ny.check(dt.datetime(2026, 3, 9, 12, 30, tzinfo=dt.UTC)) == []


def test_us_seven_calls_in_seven_days_and_none_within_seven_days_of_a_conversation() -> None:
    w = world("US", "5 Broadway, New York, NY 10004")
    for day in range(1, 8):  # 7 unanswered calls, 1 … 7 July
        w.log(at(f"2026-07-0{day}T10:00:00", NY), "no_answer")
    assert w.check(at("2026-07-08T09:59:00", NY)) == ["us.call_frequency"]
    assert w.check(at("2026-07-08T10:01:00", NY)) == []  # 1 July fell out of the window
    w.log(at("2026-07-08T11:00:00", NY), "rpc")
    assert w.check(at("2026-07-15T10:59:00", NY)) == ["us.call_after_conversation"]
    assert w.check(at("2026-07-15T11:01:00", NY)) == []
    assert w.check(at("2026-07-10T11:00:00", NY), channel="sms") == []  # calls only


def test_us_massachusetts_allows_two_calls_in_seven_days() -> None:
    w = world("US", "1 Beacon St, Boston, MA 02108")
    w.log(at("2026-07-01T10:00:00", NY), "no_answer")
    assert w.check(at("2026-07-03T10:00:00", NY)) == []
    w.log(at("2026-07-02T10:00:00", NY), "no_answer")
    assert w.check(at("2026-07-03T10:00:00", NY)) == ["us.ma.call_frequency"]


def test_us_a_third_party_is_asked_once_and_never_told_about_the_debt() -> None:
    w = world("US", "5 Broadway, New York, NY 10004")
    ten = at("2026-07-01T10:00:00", NY)
    assert w.check(ten, to="colleague") == []
    w.log(at("2026-06-30T10:00:00", NY), "third_party", to="colleague")
    assert w.check(ten, to="colleague") == ["us.location_once"]
    w2 = world("US", "5 Broadway, New York, NY 10004")
    assert w2.check(
        ten,
        channel="sms",
        to="colleague",
        text="Please ask John to call us about his overdue loan. Reply STOP to opt out.",
    ) == ["us.third_party_no_disclosure"]


def test_us_a_cease_request_leaves_only_the_notices_the_rules_allow() -> None:
    w = world("US", "5 Broadway, New York, NY 10004")
    w.log(at("2026-06-01T10:00:00", NY), "cease")
    ten = at("2026-07-01T10:00:00", NY)
    assert w.check(ten, channel="letter") == ["us.cease"]
    assert w.check(ten, channel="letter", purpose="notice") == []


def test_the_case_history_is_what_was_logged_so_a_real_attempt_counts() -> None:
    w = world()
    for minute in range(6):
        w.log(at(f"2026-11-16T09:0{minute}:00"), "busy")
    assert w.check(at("2026-11-16T09:30:00")) == ["cn.unanswered_per_number_per_day"]


def test_a_hold_stops_every_contact_while_it_is_in_force() -> None:
    from cuishou.compliance.models import ContactHold

    w = world()
    ContactHold.objects.create(
        case=w.case,
        kind="bankruptcy",
        reason="破产受理",
        starts_on=dt.date(2026, 11, 10),
        ends_on=dt.date(2026, 11, 20),
    )
    assert w.check(at("2026-11-09T10:00:00")) == []
    assert w.check(at("2026-11-10T10:00:00")) == ["house.hold"]
    assert w.check(at("2026-11-20T21:00:00"), channel="letter") == ["house.hold"]
    assert w.check(at("2026-11-21T10:00:00")) == []


def test_a_client_may_make_a_rule_stricter_never_looser() -> None:
    from django.core.exceptions import ValidationError

    from cuishou.compliance.models import ClientRule

    w = world()
    client = w.case.client
    looser = ClientRule(client=client, rule_id="cn.answered_calls_per_day", params={"max": 5})
    with pytest.raises(ValidationError) as err:
        looser.full_clean()
    assert "max: 5 is not stricter than the pack's 3" in str(err.value.message_dict["params"])
    for bad in ({"from": "23:00"}, {"until": "07:00"}, {"loud": 1}):
        with pytest.raises(ValidationError):
            ClientRule(client=client, rule_id="cn.quiet_hours", params=bad).full_clean()
    with pytest.raises(ValidationError) as err:
        ClientRule(client=client, rule_id="us.call_frequency", params={"max": 1}).full_clean()
    assert "rule_id" in err.value.message_dict  # not a rule of the CN pack
    stricter = ClientRule(client=client, rule_id="cn.quiet_hours", params={"from": "21:00"})
    stricter.full_clean()
    stricter.save()
    # 21:30 is allowed by the pack, not by this client; another client is not affected.
    assert w.check(at("2026-11-16T21:30:00")) == ["cn.quiet_hours"]
    assert world().check(at("2026-11-16T21:30:00")) == []


def test_a_clients_longer_call_window_counts_calls_older_than_a_week() -> None:
    from cuishou.compliance.models import ClientRule

    # Given a client that allows 3 calls in 30 days (the pack: 7 in 7) and 3 calls made
    # 20, 10 and 2 days ago: a fourth is refused, though only one call is this week's.
    w = world("US", address="5 Broadway, New York, NY 10004")
    ClientRule.objects.create(
        client=w.case.client, rule_id="us.call_frequency", params={"max": 3, "days": 30}
    )
    now = dt.datetime(2026, 11, 16, 15, 0, tzinfo=dt.UTC)  # 10:00 in New York
    first = now - dt.timedelta(days=20)
    for when in (first, now - dt.timedelta(days=10), now - dt.timedelta(days=2)):
        w.log(when, "no_answer")
    assert w.check(now) == ["us.call_frequency"]
    # Until thirty days after the first of them; then it is allowed again.
    assert w.check(first + dt.timedelta(days=30, minutes=-1)) == ["us.call_frequency"]
    assert w.check(first + dt.timedelta(days=30)) == []
