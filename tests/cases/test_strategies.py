"""Strategy matching and the champion/challenger split."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest

from cuishou.audit.models import AuditEvent
from cuishou.cases.models import Case, PromiseToPay, Strategy, VisitRequest
from cuishou.cases.strategies import challenger_roll, strategies_assign, strategies_escalate
from cuishou.payments.models import Payment
from tests.factories import CaseFactory, ClientFactory, LoanFactory, ProductFactory

pytestmark = pytest.mark.django_db


def test_the_first_matching_strategy_in_order_wins() -> None:
    bank = ClientFactory(code="BK")
    car = ProductFactory(client=bank, name="车贷")
    Strategy.objects.create(
        client=bank, name="M1 小额", position=1, buckets=["M1"], balance_max=Decimal("5000")
    )
    Strategy.objects.create(
        client=bank,
        name="M1",
        position=2,
        buckets=["M1"],
        channel_ladder=["call", "sms"],
        cadence={"call_every_days": 2},
    )
    car_rule = Strategy.objects.create(client=bank, name="车贷", position=0)
    car_rule.products.set([car])
    Strategy.objects.create(client=bank, name="停用", position=0, active=False)
    small = CaseFactory(client=bank, bucket="M1", balance=Decimal("4999.99"))
    big = CaseFactory(client=bank, bucket="M1", balance=Decimal("5000.00"))
    m3 = CaseFactory(client=bank, bucket="M3", balance=Decimal("100.00"))
    with_car = CaseFactory(client=bank, bucket="M1", balance=Decimal("100.00"))
    LoanFactory(client=bank, debtor=with_car.debtor, product=car)
    counts = strategies_assign()
    names = {c.pk: (c.strategy.name if c.strategy else None) for c in Case.objects.all()}
    assert names == {small.pk: "M1 小额", big.pk: "M1", m3.pk: None, with_car.pk: "车贷"}
    assert counts["strategy_assigned"] == 3
    assert AuditEvent.objects.filter(action="case.strategy").count() == 3
    assert strategies_assign() == {"strategy_assigned": 0, "strategy_challengers": 0}


def test_a_challenger_gets_a_random_recorded_share_of_new_cases() -> None:
    bank = ClientFactory(code="BK")
    champion = Strategy.objects.create(client=bank, name="电催标准", position=1)
    Strategy.objects.create(
        client=bank,
        name="短信先行",
        challenger_of=champion,
        challenger_share=30,
        channel_ladder=["sms", "call"],
    )
    cases = [CaseFactory(client=bank) for _ in range(400)]
    counts = strategies_assign()
    arms = dict(Case.objects.values_list("pk", "strategy_arm"))
    challengers = [pk for pk, arm in arms.items() if arm == "challenger"]
    assert counts["strategy_challengers"] == len(challengers)
    assert 80 <= len(challengers) <= 160  # 30 % of 400 is 120
    # the split is the recorded roll of each case, and it does not change on a re-run
    assert all((challenger_roll(c.pk, champion.pk) < 30) == (c.pk in challengers) for c in cases)
    strategies_assign(reassign=True)
    assert dict(Case.objects.values_list("pk", "strategy_arm")) == arms


def test_a_strategy_for_segments_takes_cases_with_a_loan_in_one_of_them() -> None:
    bank = ClientFactory(code="BK")
    Strategy.objects.create(client=bank, name="新客关怀", position=0, segments=["新客"])
    Strategy.objects.create(client=bank, name="其余", position=1)
    new = CaseFactory(client=bank)
    LoanFactory(client=bank, debtor=new.debtor, segment="老客")
    LoanFactory(client=bank, debtor=new.debtor, segment="新客")
    old = CaseFactory(client=bank)
    LoanFactory(client=bank, debtor=old.debtor, segment="老客")
    # A segment with another client does not count.
    elsewhere = CaseFactory(client=bank)
    LoanFactory(client=ClientFactory(), debtor=elsewhere.debtor, segment="新客")
    strategies_assign()
    names = dict(Case.objects.values_list("pk", "strategy__name"))
    assert names == {new.pk: "新客关怀", old.pk: "其余", elsewhere.pk: "其余"}


def test_an_escalation_point_moves_a_quiet_case_and_a_result_restarts_the_clock() -> None:
    bank = ClientFactory(code="BK")
    strategy = Strategy.objects.create(
        client=bank, name="两周无果外访", escalate_after_days=14, escalate_to="visit"
    )
    opened = dt.date(2026, 11, 1)
    quiet = CaseFactory(client=bank, strategy=strategy, stage="phone", opened_on=opened)
    promised = CaseFactory(client=bank, strategy=strategy, stage="phone", opened_on=opened)
    PromiseToPay.objects.create(
        case=promised, promised_on=dt.date(2026, 11, 20), amount=Decimal("100.00")
    )
    paid = CaseFactory(client=bank, strategy=strategy, stage="phone", opened_on=opened)
    loan = LoanFactory(client=bank, debtor=paid.debtor)
    Payment.objects.create(
        loan=loan,
        amount=Decimal("50.00"),
        value_date=dt.date(2026, 11, 10),
        channel="bank_transfer",
    )
    legal = CaseFactory(client=bank, strategy=strategy, stage="legal", opened_on=opened)

    assert strategies_escalate(as_of=dt.date(2026, 11, 14)) == 0  # 13 days: not yet
    assert strategies_escalate(as_of=dt.date(2026, 11, 15)) == 1

    stages = dict(Case.objects.values_list("pk", "stage"))
    assert stages == {quiet.pk: "visit", promised.pk: "phone", paid.pk: "phone", legal.pk: "legal"}
    moved = Case.objects.get(pk=quiet.pk)
    assert moved.stage_set_by_hand  # a floor: the nightly ladder does not take it back
    assert VisitRequest.objects.filter(case=quiet).count() == 1
    event = AuditEvent.objects.get(action="case.stage", case_id=quiet.pk)
    assert event.after["rule"] == "strategy" and "两周无果外访" in event.summary
    assert "14 days without a result" in event.summary
    # The payment on 11-10 counts from then: 14 days later it moves too, once.
    assert strategies_escalate(as_of=dt.date(2026, 11, 24)) == 1
    assert Case.objects.get(pk=paid.pk).stage == "visit"
    assert strategies_escalate(as_of=dt.date(2026, 11, 24)) == 0
