"""Which address a visit case is visited at (the seed's rules) and how the team lead's
allocation orders and groups the cases."""

from __future__ import annotations

from decimal import Decimal

import pytest
from django.core.exceptions import PermissionDenied, ValidationError
from django.utils import timezone

from cuishou.cases.models import ContactAttempt
from cuishou.portfolio.models import Address
from cuishou.visits.allocation import (
    LETTER,
    SPECIAL,
    VISIT,
    address_choose,
    visit_cases_allocate,
)
from cuishou.visits.choices import VisitCaseStatus
from cuishou.visits.models import VisitCase
from tests.factories import AddressFactory
from tests.visits.planning_helpers import confirmed_issue, next_saturday, next_weekday


def _visit_case(world, i=0):
    issue = confirmed_issue(world, [world.cases[i]])
    return issue.cases.get()


def test_work_address_on_a_working_day_and_residence_at_the_weekend(world):
    vc = _visit_case(world)
    weekday = address_choose(vc, next_weekday(), team=world.teams[0])
    weekend = address_choose(vc, next_saturday(), team=world.teams[0])

    assert (weekday.outcome, weekday.address) == (VISIT, world.work[0])
    assert "working hours" in weekday.reason
    assert (weekend.outcome, weekend.address) == (VISIT, world.home[0])


def test_residence_when_there_is_no_work_address(world):
    world.work[1].delete()
    vc = _visit_case(world, 1)
    choice = address_choose(vc, next_weekday(), team=world.teams[0])
    assert (choice.outcome, choice.address) == (VISIT, world.home[1])


def _only_hukou_elsewhere(world, i):
    debtor = world.cases[i].debtor
    Address.objects.filter(debtor=debtor).delete()
    return AddressFactory(
        debtor=debtor,
        kind="hukou",
        text="四川省成都市锦江区春熙路1号",
        province="四川省",
        city="成都市",
        district="锦江区",
    )


def test_out_of_town_hukou_above_the_threshold_goes_to_special_staff(world, settings):
    settings.CUISHOU_VISIT_SPECIAL_BALANCE = "50000.00"
    hukou = _only_hukou_elsewhere(world, 0)  # balance 80,000
    vc = _visit_case(world, 0)
    choice = address_choose(vc, next_weekday(), team=world.teams[0])
    assert (choice.outcome, choice.address) == (SPECIAL, hukou)
    assert "special staff" in choice.reason


def test_out_of_town_hukou_at_or_below_the_threshold_gets_a_letter(world, settings):
    settings.CUISHOU_VISIT_SPECIAL_BALANCE = "50000.00"
    hukou = _only_hukou_elsewhere(world, 2)  # balance 40,000
    vc = _visit_case(world, 2)
    choice = address_choose(vc, next_weekday(), team=world.teams[0])
    assert (choice.outcome, choice.address) == (LETTER, hukou)
    assert "collection notice" in choice.reason


def test_a_hukou_in_the_teams_city_is_visited(world):
    debtor = world.cases[3].debtor
    Address.objects.filter(debtor=debtor).delete()
    hukou = AddressFactory(debtor=debtor, kind="hukou", text="上海市浦东新区崂山路1号")
    vc = _visit_case(world, 3)
    choice = address_choose(vc, next_weekday(), team=world.teams[0])
    assert (choice.outcome, choice.address) == (VISIT, hukou)


def test_allocation_shares_the_cases_between_the_teams_reachable_and_high_balance_first(
    world, settings
):
    settings.CUISHOU_VISIT_SPECIAL_BALANCE = "50000.00"
    _only_hukou_elsewhere(world, 3)  # 20,000 out of town: a letter
    # The lowest-balance visitable case answered the phone: it goes first.
    ContactAttempt.objects.create(
        case=world.cases[2],
        channel="call",
        party="debtor",
        outcome="rpc",
        attempted_at=timezone.now(),
    )
    issue = confirmed_issue(world)

    result = visit_cases_allocate(actor=world.lead, issue=issue, day=next_weekday())

    assert result.count == 3
    assert [vc.case for vc in result.letter] == [world.cases[3]]
    letter = VisitCase.objects.get(case=world.cases[3])
    assert letter.status == VisitCaseStatus.LETTER and "collection notice" in letter.status_reason
    sizes = sorted(len(v) for v in result.allocated.values())
    assert sizes == [1, 2]  # balanced: at most ceil(3 / 2) each
    first_team = result.allocated[world.teams[0].pk]
    assert first_team[0].case == world.cases[2]  # reachable first
    allocated = VisitCase.objects.filter(status=VisitCaseStatus.ALLOCATED)
    assert allocated.count() == 3
    assert all(vc.address is not None and vc.allocated_at for vc in allocated)


def test_neighbouring_addresses_go_to_the_same_team(world):
    # Two pairs of neighbours far apart: each pair should stay together.
    spots = [(31.30, 121.40), (31.301, 121.401), (31.10, 121.60), (31.101, 121.601)]
    for i, (lat, lon) in enumerate(spots):
        Address.objects.filter(pk=world.work[i].pk).update(
            lat=Decimal(str(lat)), lon=Decimal(str(lon))
        )
    issue = confirmed_issue(world)
    visit_cases_allocate(actor=world.lead, issue=issue, day=next_weekday())
    team_of = dict(VisitCase.objects.values_list("case_id", "team_id"))
    c = world.cases
    assert team_of[c[0].pk] == team_of[c[1].pk]
    assert team_of[c[2].pk] == team_of[c[3].pk]
    assert team_of[c[0].pk] != team_of[c[2].pk]


def test_only_the_lead_allocates_and_only_confirmed_cases(world):
    from cuishou.visits.issuing import IssueItem, visit_issue_create

    issue = visit_issue_create(
        actor=world.risk, team_lead=world.lead, items=[IssueItem(case=world.cases[0])]
    )
    with pytest.raises(ValidationError, match="check the count"):
        visit_cases_allocate(actor=world.lead, issue=issue)
    with pytest.raises(PermissionDenied):
        visit_cases_allocate(actor=world.risk, issue=issue)
