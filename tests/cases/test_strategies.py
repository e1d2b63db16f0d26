"""Strategy matching and the champion/challenger split."""

from __future__ import annotations

from decimal import Decimal

import pytest

from cuishou.audit.models import AuditEvent
from cuishou.cases.models import Case, Strategy
from cuishou.cases.strategies import challenger_roll, strategies_assign
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
