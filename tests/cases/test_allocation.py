"""Allocation: capacity, skills, the seed's priorities, hand-set assignments, audit."""

from __future__ import annotations

from decimal import Decimal

import pytest
from django.core.management import call_command

from cuishou.audit.models import AuditEvent
from cuishou.cases.allocation import case_reassign, cases_allocate
from cuishou.cases.models import Case, CollectorProfile
from tests.factories import (
    AddressFactory,
    CaseFactory,
    ClientFactory,
    ContactPointFactory,
    UserFactory,
)

pytestmark = pytest.mark.django_db
D = Decimal


def _collector(name: str, capacity: int, **skills: object) -> object:
    user = UserFactory(username=name, role="collector")
    clients = skills.pop("clients", [])
    profile = CollectorProfile.objects.create(user=user, capacity=capacity, **skills)
    profile.clients.set(clients)
    return user


def _case(balance: str, *, reachable: bool = True, **kw: object) -> Case:
    case = CaseFactory(balance=D(balance), **kw)
    if reachable:
        ContactPointFactory(debtor=case.debtor)
    return case


def test_capacity_is_respected_and_the_highest_reachable_balances_go_first() -> None:
    a = _collector("a", 2)
    b = _collector("b", 1)
    big_unreachable = _case("90000.00", reachable=False)
    cases = [_case("5000.00"), _case("3000.00"), _case("1000.00"), _case("500.00")]
    result = cases_allocate(actor="test")
    assert (result.assigned, result.unallocated) == (3, 2)
    loads = {u.pk: Case.objects.filter(assignee=u).count() for u in (a, b)}
    assert loads == {a.pk: 2, b.pk: 1}
    # the three reachable cases with the highest balances have someone; the rest wait
    assert {c.pk for c in Case.objects.filter(assignee__isnull=False)} == {c.pk for c in cases[:3]}
    assert Case.objects.get(pk=big_unreachable.pk).assignee is None
    assert AuditEvent.objects.filter(action="case.assign").count() == 3


def test_skills_decide_who_may_take_a_case() -> None:
    bank, other = ClientFactory(code="BK"), ClientFactory(code="OT")
    m1_bank = _collector("m1", 10, buckets=["M1"], clients=[bank])
    cantonese = _collector("yue", 10, languages=["yue"])
    plain = CaseFactory(client=bank, bucket="M1")
    m3 = CaseFactory(client=bank, bucket="M3")
    other_client = CaseFactory(client=other, bucket="M1")
    speaks = CaseFactory(client=other, bucket="M2", debtor__language="yue")
    cases_allocate(actor="test")
    assignee = {c.pk: c.assignee_id for c in Case.objects.all()}
    assert assignee[plain.pk] in {m1_bank.pk, cantonese.pk}
    assert assignee[m3.pk] == cantonese.pk  # not M1: only the one without bucket limits
    assert assignee[other_client.pk] == cantonese.pk
    assert assignee[speaks.pk] == cantonese.pk


def test_visit_cases_in_one_district_go_to_the_same_visitor() -> None:
    v1 = UserFactory(username="v1", role="field_visitor")
    v2 = UserFactory(username="v2", role="field_visitor")
    client = ClientFactory(code="SH")
    pudong = [CaseFactory(client=client, stage="visit", balance=D("1000")) for _ in range(3)]
    for c in pudong:
        AddressFactory(debtor=c.debtor, city="上海市", district="浦东新区")
    xuhui = [CaseFactory(client=client, stage="visit", balance=D("900")) for _ in range(2)]
    for c in xuhui:
        AddressFactory(debtor=c.debtor, city="上海市", district="徐汇区")
    cases_allocate(actor="test")
    assert len({Case.objects.get(pk=c.pk).assignee_id for c in pudong}) == 1
    assert len({Case.objects.get(pk=c.pk).assignee_id for c in xuhui}) == 1
    assert {
        Case.objects.get(pk=pudong[0].pk).assignee_id,
        Case.objects.get(pk=xuhui[0].pk).assignee_id,
    } == {
        v1.pk,
        v2.pk,
    }


def test_a_hand_set_assignment_stays_and_rebalance_moves_the_rest() -> None:
    a = _collector("a", 10)
    b = _collector("b", 10)
    lead = UserFactory(username="lead", role="risk_manager")
    cases = [_case(str(1000 + n)) for n in range(4)]
    for case in cases:
        case.assignee = a
        case.save()
    case_reassign(actor=lead, case=cases[0], assignee=a, reason="客户指定")
    result = cases_allocate(actor="test")
    assert result.assigned == 0  # everything has an eligible person
    result = cases_allocate(actor="test", rebalance=True)
    loads = {u.pk: Case.objects.filter(assignee=u).count() for u in (a, b)}
    assert loads == {a.pk: 2, b.pk: 2}
    assert Case.objects.get(pk=cases[0].pk).assignee == a  # hand-set: kept


def test_a_case_of_someone_who_left_is_given_to_another() -> None:
    gone = _collector("gone", 10)
    stays = _collector("stays", 10)
    case = _case("1000.00", assignee=gone)
    gone.is_active = False
    gone.save()
    cases_allocate(actor="test")
    assert Case.objects.get(pk=case.pk).assignee == stays


def test_the_command_prints_what_it_did_and_a_dry_run_writes_nothing(capsys) -> None:
    _collector("a", 5)
    _case("1000.00")
    call_command("allocate", "--dry-run")
    assert "Dry run, nothing written. 1 open cases: 1 allocated" in capsys.readouterr().out
    assert not Case.objects.filter(assignee__isnull=False).exists()
    call_command("allocate")
    assert Case.objects.filter(assignee__isnull=False).count() == 1
