"""Reads only the pages make, on top of ``cuishou.cases.selectors``: the case list's totals,
the case page's contact rows and timeline, and the import runs."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from django.db.models import Count, QuerySet, Sum

from cuishou.audit.models import AuditEvent
from cuishou.cases.models import Case
from cuishou.cases.selectors import CaseFile, case_timeline_events
from cuishou.portfolio.models import ContactPoint, ImportRun, RelatedPerson

TIMELINE_LIMIT = 200


def case_list_totals(cases: QuerySet[Case]) -> dict[str, Any]:
    """``n`` cases, their ``overdue`` amount and ``balance`` summed (None when no case)."""
    return cases.aggregate(n=Count("pk"), overdue=Sum("overdue_amount"), balance=Sum("balance"))


def case_contact_rows(file: CaseFile) -> list[tuple[ContactPoint, RelatedPerson | None]]:
    """The file's contact points with whose they are (None: the debtor's own): the debtor's
    first, then each related person's in the persons' order; primary first within each."""
    persons = {person.pk: person for person in file.related_persons}
    place = {pk: n for n, pk in enumerate(persons)}
    rows = [
        (cp, persons.get(cp.related_person_id) if cp.related_person_id else None)
        for cp in file.contacts
    ]
    # file.contacts is ordered primary first, then by id; the sort is stable.
    return sorted(rows, key=lambda row: -1 if row[1] is None else place[row[1].pk])


def case_timeline(case: Case, *, loan_ids: Iterable[int] | None = None) -> list[AuditEvent]:
    """The case's latest ``TIMELINE_LIMIT`` events, newest first (see ``case_timeline_events``)."""
    return list(case_timeline_events(case, loan_ids=loan_ids).order_by("-seq")[:TIMELINE_LIMIT])


def user_may_see_imports(user: Any) -> bool:
    return bool(
        user.has_perm("portfolio.view_importrun") or user.has_perm("portfolio.add_importrun")
    )


def import_runs() -> QuerySet[ImportRun]:
    """Every import run, newest first, with its client and actor."""
    return ImportRun.objects.select_related("client", "actor").order_by("-started_at", "-pk")
