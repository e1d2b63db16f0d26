"""What a check reads (``compliance.facts``): two statements, nothing cached.

A change made between two checks — a client's stricter rule, a contact logged in the
workbench, a refusal, an opt-out — decides the very next check, even when the caller
still holds the objects it loaded before the change. And the counts the history
statement returns are the counts of the logged attempts, whatever they are."""

from __future__ import annotations

import datetime as dt
import random
from zoneinfo import ZoneInfo

import pytest
from django.utils import timezone

from cuishou.cases.contacts import contact_attempt_log
from cuishou.cases.models import ContactAttempt
from cuishou.compliance.check import ContactBlocked, contact_check
from cuishou.compliance.facts import CONVERSATION_OUTCOMES, check_context, check_history
from cuishou.compliance.models import ClientRule, ComplianceOverride
from tests.factories import (
    AddressFactory,
    CaseFactory,
    ClientFactory,
    ContactPointFactory,
    RelatedPersonFactory,
    UserFactory,
)

pytestmark = pytest.mark.django_db

SH = ZoneInfo("Asia/Shanghai")
NY = ZoneInfo("America/New_York")
FAILED = {"no_answer", "busy", "switched_off", "wrong_number"}


def _rules(case, point, at, **kw) -> list[str]:  # type: ignore[no-untyped-def]
    kw.setdefault("channel", "call")
    kw.setdefault("party", "debtor")
    return contact_check(case=case, contact_point=point, at=at, **kw).rule_ids


# --- nothing is cached ---------------------------------------------------------------------


def test_a_clients_stricter_rule_decides_the_very_next_check() -> None:
    case = CaseFactory(client=ClientFactory(policy_pack="CN"))
    phone = ContactPointFactory(debtor=case.debtor)
    evening = dt.datetime.combine(dt.date(2026, 11, 16), dt.time(21, 30), tzinfo=SH)
    assert _rules(case, phone, evening) == []  # the pack's quiet hours start at 22:00
    rule = ClientRule.objects.create(
        client=case.client, rule_id="cn.quiet_hours", params={"from": "21:00", "until": "08:00"}
    )
    assert _rules(case, phone, evening) == ["cn.quiet_hours"]
    rule.params = {"from": "21:45", "until": "08:00"}
    rule.save(update_fields=["params"])
    assert _rules(case, phone, evening) == []
    rule.params = {"from": "21:00", "until": "08:00"}
    rule.save(update_fields=["params"])
    assert _rules(case, phone, evening) == ["cn.quiet_hours"]
    rule.delete()
    assert _rules(case, phone, evening) == []


def test_a_contact_logged_in_the_workbench_decides_the_very_next_check() -> None:
    collector = UserFactory(username="li", role="collector")
    case = CaseFactory(assignee=collector, client=ClientFactory(policy_pack="CN"))
    phone = ContactPointFactory(debtor=case.debtor)
    now = timezone.now()
    for n in range(3):
        assert _rules(case, phone, now) == []
        contact_attempt_log(
            actor=collector,
            case=case,
            channel="call",
            party="debtor",
            outcome="rpc",
            contact_point=phone,
            attempted_at=now - dt.timedelta(minutes=30 - n),
        )
    # The 4th call of the day, right after the 3rd answered one was logged.
    assert _rules(case, phone, now) == ["cn.answered_calls_per_day"]
    # An SMS is another channel; a cease logged a moment ago stops it too.
    assert _rules(case, phone, now, channel="sms") == []
    ContactAttempt.objects.create(
        case=case,
        channel="call",
        party="debtor",
        outcome="cease",
        contact_point=phone,
        attempted_at=now - dt.timedelta(minutes=1),
    )
    assert _rules(case, phone, now, channel="sms") == ["cn.cease"]


def test_a_refusal_decides_the_next_check_even_on_the_callers_old_copy() -> None:
    collector = UserFactory(username="li", role="collector")
    case = CaseFactory(assignee=collector, client=ClientFactory(policy_pack="CN"))
    phone = ContactPointFactory(debtor=case.debtor)
    colleague = RelatedPersonFactory(debtor=case.debtor, relation="colleague")
    office = ContactPointFactory(debtor=case.debtor, related_person=colleague)
    now = timezone.now()
    kw = {"party": "related", "related_person": colleague}
    assert _rules(case, office, now, **kw) == ["cn.third_party_only_when_unreachable"]
    for n in range(3):  # the debtor is unreachable
        ContactAttempt.objects.create(
            case=case,
            channel="call",
            party="nobody",
            outcome="no_answer",
            contact_point=phone,
            attempted_at=now - dt.timedelta(minutes=40 - n),
        )
    assert _rules(case, office, now, **kw) == []
    contact_attempt_log(
        actor=collector,
        case=case,
        channel="call",
        party="related",
        outcome="refuses",
        contact_point=office,
        related_person=colleague,
        attempted_at=now - dt.timedelta(minutes=5),
    )
    assert colleague.refused_contact is False  # the caller's copy, loaded before
    assert "cn.third_party_refused" in _rules(case, office, now, **kw)


def test_an_opt_out_said_on_a_call_decides_the_next_sms() -> None:
    collector = UserFactory(username="li", role="collector")
    case = CaseFactory(assignee=collector, client=ClientFactory(policy_pack="CN"))
    phone = ContactPointFactory(debtor=case.debtor)
    now = timezone.now()
    assert _rules(case, phone, now, channel="sms") == []
    contact_attempt_log(
        actor=collector,
        case=case,
        channel="call",
        party="debtor",
        outcome="rpc",
        contact_point=phone,
        attempted_at=now - dt.timedelta(minutes=5),
        opt_outs=["sms"],
    )
    assert _rules(case, phone, now, channel="sms") == ["house.opt_out"]
    assert _rules(case, phone, now) == []  # calls are not affected
    with pytest.raises(ContactBlocked):
        contact_attempt_log(
            actor=collector,
            case=case,
            channel="sms",
            party="debtor",
            outcome="rpc",
            contact_point=phone,
            attempted_at=now,
        )


# --- what a check costs ------------------------------------------------------------------


def test_a_check_reads_two_statements_and_overrides_only_when_one_is_in_force(
    django_assert_num_queries,  # type: ignore[no-untyped-def]
) -> None:
    case = CaseFactory(client=ClientFactory(policy_pack="US"))
    AddressFactory(debtor=case.debtor, text="5 Broadway, New York, NY 10004")
    phone = ContactPointFactory(debtor=case.debtor)
    colleague = RelatedPersonFactory(debtor=case.debtor, relation="colleague")
    noon = dt.datetime(2026, 11, 16, 12, tzinfo=NY)
    for n in range(7):
        ContactAttempt.objects.create(
            case=case,
            channel="call",
            party="nobody",
            outcome="no_answer",
            contact_point=phone,
            attempted_at=noon - dt.timedelta(days=1, minutes=n),
        )
    with django_assert_num_queries(2):
        assert _rules(case, phone, noon) == ["us.call_frequency"]  # overridable: none in force
    with django_assert_num_queries(2):
        _rules(case, None, noon, party="related", related_person=colleague)
    asker = UserFactory(username="asker", role="collector")
    officer = UserFactory(username="officer", role="compliance_officer")
    ComplianceOverride.objects.create(
        case=case,
        rule_id="us.call_frequency",
        reason="债务人要求回电",
        status="approved",
        requested_at=noon - dt.timedelta(hours=1),
        requested_by=asker,
        decided_at=noon - dt.timedelta(hours=1),
        decided_by=officer,
        valid_from=noon - dt.timedelta(hours=1),
        valid_until=noon + dt.timedelta(hours=1),
    )
    with django_assert_num_queries(4):  # + is there one of these rules, + which
        decision = contact_check(
            case=case, channel="call", party="debtor", at=noon, contact_point=phone
        )
    assert decision.allowed and decision.overridden_ids == ["us.call_frequency"]


def test_the_context_of_an_unsaved_case_and_number_is_empty() -> None:
    facts = check_context(
        client_id=None,
        debtor_id=None,
        case_id=None,
        contact_point_id=None,
        related_person_id=None,
        consent_channel=None,
        at=timezone.now(),
    )
    assert facts.policy_pack is None and facts.addresses == () and facts.stricter == {}


# --- the history's counts are the logged attempts' -----------------------------------------


def _expected(rows, *, at, zone, point, person, own_points, windows):  # type: ignore[no-untyped-def]
    """The counts, from the rows in Python, as the rules define them."""
    before = sorted((r for r in rows if r.attempted_at < at), key=lambda r: r.attempted_at)
    day = at.astimezone(zone).date()
    today = [r for r in before if r.attempted_at.astimezone(zone).date() == day]
    own = [r for r in before if r.party == "debtor" or r.contact_point_id in own_points]
    reached = max((r.attempted_at for r in own if r.outcome not in FAILED), default=None)
    streak = sum(r.outcome in FAILED and (reached is None or r.attempted_at > reached) for r in own)
    talks = {
        d: [
            r.attempted_at
            for r in before
            if r.channel == "call"
            and r.party == "debtor"
            and r.outcome in CONVERSATION_OUTCOMES
            and r.attempted_at > at - dt.timedelta(days=d)
        ]
        for d in windows
    }
    return {
        "answered_today": sum(
            r.channel == "call" and r.party == "debtor" and r.outcome not in FAILED for r in today
        ),
        "unanswered_here_today": sum(
            r.channel == "call"
            and r.contact_point_id == point
            and r.outcome in FAILED - {"wrong_number"}
            for r in today
        ),
        "calls_within": {
            d: sum(
                r.channel == "call" and r.attempted_at > at - dt.timedelta(days=d) for r in before
            )
            for d in windows
        },
        "last_talk_within": {d: max(talks[d], default=None) for d in windows},
        "failed_in_a_row": streak,
        "with_person": int(any(r.related_person_id == person for r in before)),
        "ceased": any(r.outcome == "cease" for r in before),
        "deceased": any(r.outcome == "deceased" for r in before),
    }


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_the_history_counts_are_the_logged_attempts_counts(seed: int) -> None:
    rng = random.Random(seed)
    outcomes = ["no_answer", "busy", "switched_off", "wrong_number", "rpc", "ptp", "refuses"]
    outcomes += ["third_party", "hardship", "cease", "deceased", "claims_paid", "disputes"]
    # New York crosses a DST change on 2 November 2025: its local days are 23, 24, 25 hours.
    start = dt.datetime(2025, 10, 20, tzinfo=dt.UTC)
    for zone in (NY, SH):
        case = CaseFactory()
        own = [ContactPointFactory(debtor=case.debtor) for _ in range(2)]
        person = RelatedPersonFactory(debtor=case.debtor, relation="colleague")
        theirs = ContactPointFactory(debtor=case.debtor, related_person=person)
        other = CaseFactory()  # another case's attempts never count
        for c in (case, other):
            for _ in range(rng.randrange(20, 120)):
                outcome = rng.choice(outcomes)
                related = c is case and rng.random() < 0.2
                point = theirs if related else rng.choice([*own, None]) if c is case else None
                party = rng.choice(["debtor", "related", "nobody"])
                ContactAttempt.objects.create(
                    case=c,
                    channel=rng.choice(["call", "call", "call", "sms", "visit"]),
                    party=party,
                    outcome=outcome,
                    contact_point=point,
                    related_person=person if related else None,
                    attempted_at=start + dt.timedelta(minutes=rng.randrange(0, 30 * 24 * 60)),
                )
        rows = list(ContactAttempt.objects.filter(case=case))
        for _ in range(25):
            at = start + dt.timedelta(minutes=rng.randrange(0, 32 * 24 * 60))
            if rng.random() < 0.2:  # exactly at a logged attempt: it is not counted
                at = rng.choice(rows).attempted_at
            local = at.astimezone(zone)
            day_start = dt.datetime.combine(local.date(), dt.time(0), tzinfo=zone)
            point = rng.choice([*own, theirs]).pk
            windows = sorted(set(rng.sample([7, 10, 30], rng.randrange(0, 3))))
            got = check_history(
                case_id=case.pk,
                debtor_id=case.debtor_id,
                at=at,
                day_start=day_start.astimezone(dt.UTC),
                contact_point_id=point,
                related_person_id=person.pk,
                windows=windows,
                third_party=True,
            )
            want = _expected(
                rows,
                at=at,
                zone=zone,
                point=point,
                person=person.pk,
                own_points={p.pk for p in own},
                windows=windows,
            )
            assert {k: getattr(got, k) for k in want} == want, (zone, at)
