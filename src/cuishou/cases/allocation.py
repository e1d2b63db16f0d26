"""Allocation: open cases to collectors and field visitors, by capacity and skill.

The seed's priorities: higher balances first, reachable accounts (a phone that is not
marked wrong) first, and visit-stage cases with neighbouring addresses (same city and
district) kept together. Each person's capacity is a number of open cases; their skills
(``CollectorProfile``) say which clients, buckets, stages and languages they take (empty:
any). A collector without a profile takes any phone-stage case up to the default
capacity; a field visitor any visit-stage case.

``cases_allocate`` reads the cases and people in a few queries, plans in memory (a heap
of the least-loaded eligible person per kind of case) and writes the changes in one
batch, each audited (``case.assign``). A case given to someone by hand
(``case_reassign``) stays where it is unless that person no longer works cases.
"""

from __future__ import annotations

import heapq
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any, NamedTuple

from django.contrib.auth import get_user_model
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.db.models import Count, Exists, OuterRef, Q
from django.utils.translation import gettext as _

from cuishou.accounts.choices import Role
from cuishou.accounts.models import Team
from cuishou.audit.services import AuditEntry, audit_record_many
from cuishou.cases.choices import OPEN_STATUSES, Stage
from cuishou.cases.models import Case, CollectorProfile
from cuishou.cases.selectors import case_require_in_scope
from cuishou.cases.services import case_assign, cases_bulk_set
from cuishou.core.sqlite import run_page_cache
from cuishou.portfolio.choices import AddressKind, ContactKind, ContactStatus
from cuishou.portfolio.models import Address, Client, ContactPoint

DEFAULT_CAPACITY = 400
_TOLERANCE_CASES = 2
COLLECTOR_STAGES = [Stage.REMINDER.value, Stage.PHONE.value, Stage.WRITTEN.value, Stage.LEGAL.value]
VISITOR_STAGES = [Stage.VISIT.value]


@dataclass
class Person:
    user_id: int
    team_id: int | None
    capacity: int
    load: int
    clients: frozenset[int]
    buckets: frozenset[str]
    stages: frozenset[str]
    languages: frozenset[str]

    def takes(self, client_id: int, bucket: str, stage: str, language: str) -> bool:
        return (
            (not self.clients or client_id in self.clients)
            and (not self.buckets or bucket in self.buckets)
            and stage in self.stages
            and (not language or language in self.languages)
        )


class CaseRow(NamedTuple):
    case_id: int
    client_id: int
    bucket: str
    stage: str
    balance: Decimal
    language: str
    assignee_id: int | None
    pinned: bool
    reachable: bool
    area: str  # city and district of the visit address, for grouping neighbours


@dataclass
class AllocationResult:
    """What an allocation did (or, in a dry run, would do)."""

    considered: int = 0
    assigned: int = 0  # cases whose assignee changed
    kept: int = 0  # cases already with an eligible person, left there
    unallocated: int = 0  # no eligible person with room
    changes: list[tuple[int, int | None, int]] = field(default_factory=list)
    loads: dict[int, int] = field(default_factory=dict)
    reasons: dict[str, int] = field(default_factory=dict)


def _people(*, team: Team | None) -> dict[int, Person]:
    user_model = get_user_model()
    roles = {Role.COLLECTOR.value: COLLECTOR_STAGES, Role.FIELD_VISITOR.value: VISITOR_STAGES}
    users = user_model.objects.filter(is_active=True, groups__name__in=list(roles)).distinct()
    if team is not None:
        users = users.filter(team=team)
    rows = users.values_list("pk", "team_id")
    role_of: dict[int, list[str]] = defaultdict(list)
    for user_id, group in user_model.groups.through.objects.filter(
        user_id__in=[pk for pk, _t in rows], group__name__in=list(roles)
    ).values_list("user_id", "group__name"):
        role_of[user_id].append(group)
    profiles = {
        p.user_id: p for p in CollectorProfile.objects.filter(user_id__in=[pk for pk, _t in rows])
    }
    clients: dict[int, set[int]] = defaultdict(set)
    for user_id, client_id in CollectorProfile.clients.through.objects.filter(
        collectorprofile__user_id__in=list(profiles)
    ).values_list("collectorprofile__user_id", "client_id"):
        clients[user_id].add(client_id)
    loads = dict(
        Case.objects.filter(status__in=OPEN_STATUSES, assignee_id__in=[pk for pk, _t in rows])
        .values_list("assignee_id")
        .annotate(n=Count("pk"))
        .values_list("assignee_id", "n")
    )
    people: dict[int, Person] = {}
    for user_id, team_id in rows:
        profile = profiles.get(user_id)
        if profile is not None and not profile.active:
            continue
        default_stages = [s for role in role_of[user_id] for s in roles[role]]
        people[user_id] = Person(
            user_id=user_id,
            team_id=team_id,
            capacity=profile.capacity if profile else DEFAULT_CAPACITY,
            load=int(loads.get(user_id, 0)),
            clients=frozenset(clients.get(user_id, ())),
            buckets=frozenset(profile.buckets if profile else ()),
            stages=frozenset(profile.stages if profile and profile.stages else default_stages),
            languages=frozenset(profile.languages if profile else ()),
        )
    return people


def _areas(debtor_ids: Any) -> dict[int, str]:
    """City and district of each debtor's work address, else residence, for grouping
    visit-stage neighbours (``debtor_ids``: a subquery of debtor ids)."""
    areas: dict[int, tuple[int, str]] = {}
    rank = {AddressKind.WORK.value: 0, AddressKind.RESIDENCE.value: 1}
    for debtor_id, kind, city, district in (
        Address.objects.filter(debtor_id__in=debtor_ids, kind__in=list(rank))
        .order_by("id")
        .values_list("debtor_id", "kind", "city", "district")
    ):
        best = areas.get(debtor_id)
        if best is None or rank[kind] < best[0]:
            areas[debtor_id] = (rank[kind], f"{city}/{district}")
    return {debtor_id: area for debtor_id, (_rank, area) in areas.items()}


def _cases(*, client: Client | None, team: Team | None, people: dict[int, Person]) -> list[CaseRow]:
    reachable = ContactPoint.objects.filter(
        debtor_id=OuterRef("debtor_id"), kind=ContactKind.PHONE
    ).exclude(status__in=[ContactStatus.INVALID, ContactStatus.DO_NOT_CONTACT])
    qs = Case.objects.filter(status__in=OPEN_STATUSES)
    if client is not None:
        qs = qs.filter(client=client)
    if team is not None:
        # A team lead allocates the team's own cases and the unassigned ones.
        qs = qs.filter(Q(assignee__isnull=True) | Q(assignee__team=team))
    rows = list(
        qs.annotate(reachable=Exists(reachable)).values_list(
            "pk",
            "client_id",
            "bucket",
            "stage",
            "balance",
            "debtor__language",
            "assignee_id",
            "assignment_pinned",
            "reachable",
            "debtor_id",
        )
    )
    # The debtors as a subquery, not a list: SQLite limits a statement's parameters.
    areas = _areas(qs.filter(stage=Stage.VISIT).values("debtor_id"))
    return [
        CaseRow(
            pk,
            client_id,
            bucket,
            stage,
            balance,
            language or "",
            assignee_id,
            bool(pinned),
            bool(reach),
            areas.get(debtor_id, "/"),
        )
        for (
            pk,
            client_id,
            bucket,
            stage,
            balance,
            language,
            assignee_id,
            pinned,
            reach,
            debtor_id,
        ) in rows
    ]


class _Pool:
    """The people who take one kind of case, least loaded (relative to capacity) first."""

    def __init__(self, members: Iterable[Person]) -> None:
        self.heap = [(p.load / p.capacity, p.user_id, p) for p in members if p.capacity > 0]
        heapq.heapify(self.heap)

    def pick(self) -> Person | None:
        while self.heap:
            ratio, user_id, person = self.heap[0]
            if person.load >= person.capacity:
                heapq.heappop(self.heap)
                continue
            current = person.load / person.capacity
            # Loaded through another pool since it was pushed: take it while it is within
            # a couple of cases of its place (loads stay even within that), else re-sort.
            if current - ratio > _TOLERANCE_CASES / person.capacity:
                heapq.heapreplace(self.heap, (current, user_id, person))
                continue
            return person
        return None

    def took(self, person: Person) -> None:
        heapq.heapreplace(self.heap, (person.load / person.capacity, person.user_id, person))


def allocation_plan(
    *, client: Client | None = None, team: Team | None = None, rebalance: bool = False
) -> AllocationResult:
    """What ``cases_allocate`` would do, without writing anything."""
    people = _people(team=team)
    cases = _cases(client=client, team=team, people=people)
    result = AllocationResult(considered=len(cases))
    pools: dict[tuple[int, str, str, str], _Pool] = {}

    def pool_for(row: CaseRow) -> _Pool:
        key = (row.client_id, row.bucket, row.stage, row.language)
        pool = pools.get(key)
        if pool is None:
            pool = pools[key] = _Pool(p for p in people.values() if p.takes(*key))
        return pool

    todo: list[CaseRow] = []
    for row in cases:
        holder = people.get(row.assignee_id) if row.assignee_id is not None else None
        fits = holder is not None and holder.takes(
            row.client_id, row.bucket, row.stage, row.language
        )
        if holder is not None and (row.pinned or (fits and not rebalance)):
            result.kept += 1
            continue
        if holder is not None:
            holder.load -= 1  # it gives the case up
        todo.append(row)

    # Visit-stage cases in neighbourhoods (same kind of case, same city and district),
    # the others one by one; both reachable first, then by balance.
    singles = [r for r in todo if r.stage != Stage.VISIT]
    singles.sort(key=lambda r: (not r.reachable, -r.balance, r.case_id))
    groups: dict[tuple[Any, ...], list[CaseRow]] = defaultdict(list)
    for r in todo:
        if r.stage == Stage.VISIT:
            groups[(r.client_id, r.bucket, r.stage, r.language, r.area)].append(r)
    ordered_groups = sorted(
        groups.values(),
        key=lambda g: (not any(r.reachable for r in g), -sum(r.balance for r in g), g[0].case_id),
    )

    def give(row: CaseRow, person: Person | None) -> None:
        if person is None:
            result.unallocated += 1
            reason = _("no eligible person with room")
            result.reasons[reason] = result.reasons.get(reason, 0) + 1
            return
        person.load += 1
        if person.user_id != row.assignee_id:
            result.changes.append((row.case_id, row.assignee_id, person.user_id))
        else:
            result.kept += 1

    for row in singles:
        pool = pool_for(row)
        person = pool.pick()
        give(row, person)
        if person is not None:
            pool.took(person)
    for group in ordered_groups:
        group.sort(key=lambda r: (not r.reachable, -r.balance, r.case_id))
        pool = pool_for(group[0])
        person = pool.pick()
        for row in group:
            if person is not None and person.load >= person.capacity:
                pool.took(person)
                person = pool.pick()
            give(row, person)
        if person is not None:
            pool.took(person)
    result.assigned = len(result.changes)
    result.loads = {p.user_id: p.load for p in people.values()}
    return result


def cases_allocate(
    *,
    actor: Any,
    client: Client | None = None,
    team: Team | None = None,
    rebalance: bool = False,
    dry_run: bool = False,
) -> AllocationResult:
    """Allocate the open cases in scope; write and audit each change (unless
    ``dry_run``). ``rebalance`` also moves cases that already have an eligible person
    (never hand-set ones)."""
    with run_page_cache(), transaction.atomic():
        # One allocation at a time: lock the cases' assignment by locking the clients.
        clients = Client.objects.select_for_update().order_by("pk")
        list(clients.filter(pk=client.pk) if client else clients)
        result = allocation_plan(client=client, team=team, rebalance=rebalance)
        if dry_run or not result.changes:
            return result
        by_person: dict[int, list[int]] = defaultdict(list)
        for case_id, _old, new in result.changes:
            by_person[new].append(case_id)
        for person_id, case_ids in by_person.items():  # one UPDATE per person
            cases_bulk_set(case_ids=case_ids, assignee_id=person_id, assignment_pinned=False)
        audit_record_many(
            actor=actor,
            entries=[
                AuditEntry(
                    action="case.assign",
                    object_type="cases.case",
                    object_id=str(case_id),
                    case_id=case_id,
                    summary="allocated",
                    before={"assignee_id": old},
                    after={"assignee_id": new, "rule": "allocation"},
                )
                for case_id, old, new in result.changes
            ],
        )
    return result


def case_reassign(*, actor: Any, case: Case, assignee: Any, reason: str) -> Case:
    """Give ``case`` to ``assignee`` by hand, with a reason; allocation then leaves it
    there (until that person no longer works cases)."""
    reason = (reason or "").strip()
    if not reason:
        raise ValidationError({"reason": [_("Say why the case is reassigned.")]})
    if not actor.has_perm("cases.change_case"):
        raise PermissionDenied(_("This role may not reassign cases."))
    case_require_in_scope(actor, case)
    if assignee is not None and not (
        assignee.is_active
        and (assignee.has_role(Role.COLLECTOR) or assignee.has_role(Role.FIELD_VISITOR))
    ):
        raise ValidationError({"assignee": [_("Cases go to collectors and field visitors.")]})
    return case_assign(actor=actor, case=case, assignee=assignee, reason=reason, pinned=True)
