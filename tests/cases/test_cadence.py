"""A strategy's cadence: the next actions it gives a case, the admin's checks, the queue
and the case page."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest
from django.core.exceptions import ValidationError

from cuishou.cases.cadence import next_actions
from cuishou.cases.models import ContactAttempt, Strategy
from cuishou.cases.queue import queue_counts, queue_for
from cuishou.core.timeutil import SHANGHAI, today_shanghai
from tests.factories import CaseFactory, ClientFactory, UserFactory

pytestmark = pytest.mark.django_db

D = dt.date.fromisoformat
OPENED = D("2026-11-01")


def plan(cadence, last=None, follow_up=None):  # type: ignore[no-untyped-def]
    return [
        (a.channel, a.due_on.isoformat(), a.call_back)
        for a in next_actions(
            cadence=cadence, opened_on=OPENED, last_attempts=last or {}, follow_up_on=follow_up
        )
    ]


def test_every_n_days_counts_from_the_latest_attempt_and_starts_on_the_first_day() -> None:
    assert plan({"call_every_days": 2}) == [("call", "2026-11-01", False)]
    assert plan({"call_every_days": 2}, {"call": D("2026-11-05")}) == [
        ("call", "2026-11-07", False)
    ]


def test_days_of_the_case_are_due_until_an_attempt_on_or_after_them() -> None:
    sms = {"sms_on_days": [7, 1]}
    assert plan(sms) == [("sms", "2026-11-01", False)]
    assert plan(sms, {"sms": D("2026-11-01")}) == [("sms", "2026-11-07", False)]
    assert plan(sms, {"sms": D("2026-11-07")}) == []
    # Both entries and a call-back, earliest first.
    both = {"call_every_days": 3, "sms_on_days": [1, 7]}
    assert plan(both, {"call": D("2026-11-02"), "sms": D("2026-11-01")}, D("2026-11-04")) == [
        ("call", "2026-11-04", True),
        ("call", "2026-11-05", False),
        ("sms", "2026-11-07", False),
    ]


def test_the_admin_refuses_a_strategy_the_night_could_not_act_on() -> None:
    bank = ClientFactory()
    other = Strategy.objects.create(client=ClientFactory(), name="别家")
    strategy = Strategy(
        client=bank,
        name="坏的",
        buckets=["M1", "M9"],
        channel_ladder=["call", "fax"],
        cadence={"fax_every_days": 2, "sms_on_days": 7, "call_every_days": 0},
        escalate_after_days=10,
        challenger_of=other,
        challenger_share=0,
        balance_min=Decimal("5000"),
        balance_max=Decimal("1000"),
    )
    with pytest.raises(ValidationError) as err:
        strategy.full_clean()
    fields = err.value.message_dict
    assert set(fields) >= {
        "buckets",
        "channel_ladder",
        "cadence",
        "escalate_to",
        "challenger_of",
        "challenger_share",
        "balance_max",
    }
    assert len(fields["cadence"]) == 3 and "fax_every_days" in fields["cadence"][0]
    good = Strategy(
        client=bank,
        name="好的",
        buckets=["M1"],
        segments=["新客"],
        channel_ladder=["call", "sms"],
        cadence={"call_every_days": 2, "sms_on_days": [1, 7]},
        escalate_after_days=14,
        escalate_to="visit",
    )
    good.full_clean()


def _attempt(case, channel: str, day: dt.date) -> None:  # type: ignore[no-untyped-def]
    ContactAttempt.objects.create(
        case=case,
        channel=channel,
        party="nobody",
        outcome="no_answer",
        attempted_at=dt.datetime.combine(day, dt.time(10), tzinfo=SHANGHAI),
    )


def test_the_queue_puts_a_case_whose_cadence_is_due_first_among_equals() -> None:
    collector = UserFactory(role="collector")
    bank = ClientFactory()
    every_two = Strategy.objects.create(
        client=bank, name="两天一呼", cadence={"call_every_days": 2}
    )
    today = D("2026-11-20")
    due = CaseFactory(client=bank, assignee=collector, strategy=every_two, balance=Decimal("900"))
    called = CaseFactory(
        client=bank, assignee=collector, strategy=every_two, balance=Decimal("900")
    )
    _attempt(due, "call", today - dt.timedelta(days=2))
    _attempt(called, "call", today)

    items = queue_for(collector, today=today)

    by_case = {i.case.pk: i for i in items}
    assert items[0].case.pk == due.pk
    assert by_case[due.pk].priority - by_case[called.pk].priority >= 200 - 10
    assert by_case[due.pk].next_action.due_on == today
    assert by_case[called.pk].next_action.due_on == today + dt.timedelta(days=2)
    assert queue_counts(collector, items, today=today).actions_due == 1


def test_the_case_page_shows_the_next_action(client) -> None:  # type: ignore[no-untyped-def]
    collector = UserFactory(role="collector")
    client.force_login(collector)
    bank = ClientFactory()
    strategy = Strategy.objects.create(client=bank, name="短信", cadence={"sms_on_days": [1, 7]})
    case = CaseFactory(
        client=bank, assignee=collector, strategy=strategy, opened_on=today_shanghai()
    )
    page = client.get(f"/cases/{case.pk}/", HTTP_ACCEPT_LANGUAGE="en").content.decode()
    assert 'data-next-action="sms"' in page and "day 1 of the case" in page
    page = client.get(f"/cases/{case.pk}/", HTTP_ACCEPT_LANGUAGE="zh-hans").content.decode()
    assert "下一步" in page
