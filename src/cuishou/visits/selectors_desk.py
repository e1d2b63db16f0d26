"""Reads for the desk pages (team lead, risk manager): issues, the cases one may issue,
an issue's cases, a day's routes, the routes waiting for approval."""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.db.models import Count, Exists, OuterRef, Prefetch, Q, QuerySet

from cuishou.cases.choices import OPEN_STATUSES, HandOverStatus, Stage
from cuishou.cases.models import Case, VisitRequest
from cuishou.cases.selectors import case_visible_queryset
from cuishou.core.timeutil import today_shanghai
from cuishou.visits.choices import OPEN_VISIT_CASE, RouteStatus
from cuishou.visits.models import FieldTeam, Route, RouteStop, VisitCase, VisitIssue


def issues_for(user: Any) -> QuerySet[VisitIssue]:
    """The issues ``user`` sees: all for the risk department, one's own for a lead."""
    qs = VisitIssue.objects.select_related("issued_by", "team_lead", "confirmed_by").annotate(
        open_cases=Count("cases", filter=Q(cases__status__in=OPEN_VISIT_CASE))
    )
    if user.is_superuser or user.has_perm("visits.add_visitissue"):
        return qs
    return qs.filter(team_lead=user)


def issuable_cases(user: Any, *, limit: int = 300) -> list[Case]:
    """Open cases the risk manager may issue: at the visit stage or with an open visit
    request, and not open in a visit case already; highest balance first."""
    open_request = VisitRequest.objects.filter(case=OuterRef("pk"), status=HandOverStatus.OPEN)
    in_visit = VisitCase.objects.filter(case=OuterRef("pk"), status__in=OPEN_VISIT_CASE)
    return list(
        case_visible_queryset(user)
        .filter(status__in=OPEN_STATUSES)
        .annotate(requested=Exists(open_request), in_visit=Exists(in_visit))
        .filter(Q(stage=Stage.VISIT) | Q(requested=True), in_visit=False)
        .select_related("debtor", "client")
        .order_by("-balance", "pk")[:limit]
    )


def cases_by_contract(user: Any, text: str) -> tuple[list[Case], list[str]]:
    """The open cases (in ``user``'s scope) of the contract numbers in ``text`` (one per
    line, or separated by commas or spaces), in the order given, and the numbers that name
    no such case."""
    from cuishou.portfolio.models import Loan

    numbers = list(dict.fromkeys(n for n in text.replace(",", " ").split() if n))
    if not numbers:
        return [], []
    loans = Loan.objects.filter(contract_no__in=numbers).values_list(
        "contract_no", "client_id", "debtor_id"
    )
    keys: dict[str, set[tuple[int, int]]] = {}
    for number, client_id, debtor_id in loans:
        keys.setdefault(number, set()).add((client_id, debtor_id))
    pairs = {pair for found in keys.values() for pair in found}
    open_cases = {
        (c.client_id, c.debtor_id): c
        for c in case_visible_queryset(user)
        .filter(status__in=OPEN_STATUSES, debtor_id__in={d for _c, d in pairs})
        .select_related("debtor", "client")
    }
    found: list[Case] = []
    missing: list[str] = []
    for number in numbers:
        hits = [open_cases[p] for p in sorted(keys.get(number, ())) if p in open_cases]
        if hits:
            found.extend(h for h in hits if h not in found)
        else:
            missing.append(number)
    return found, missing


def issue_cases(issue: VisitIssue) -> list[VisitCase]:
    return list(
        issue.cases.select_related("case__debtor", "team", "address").order_by("-amount", "pk")
    )


def lead_teams(user: Any) -> list[FieldTeam]:
    return list(FieldTeam.objects.filter(lead=user, active=True).prefetch_related("members"))


def _with_stops(qs: QuerySet[Route]) -> QuerySet[Route]:
    stops = RouteStop.objects.select_related(
        "visit_case__case__debtor", "visit_case__issue", "address"
    ).order_by("seq")
    return qs.select_related("team", "planned_by", "decided_by").prefetch_related(
        Prefetch("stops", queryset=stops), "team__members"
    )


def day_routes(user: Any, day: dt.date) -> list[Route]:
    qs = Route.objects.filter(day=day)
    if not user.is_superuser:
        qs = qs.filter(team__lead=user)
    return list(_with_stops(qs).order_by("team__name"))


def routes_waiting(user: Any) -> list[Route]:
    """Submitted routes of today and later, the earliest day first."""
    qs = Route.objects.filter(status=RouteStatus.SUBMITTED, day__gte=today_shanghai())
    return list(_with_stops(qs).order_by("day", "team__name"))


def routes_decided_recently(limit: int = 20) -> list[Route]:
    return list(
        Route.objects.filter(decided_at__isnull=False)
        .select_related("team", "decided_by")
        .order_by("-decided_at")[:limit]
    )


def visit_cases_by_id(ids: list[int]) -> dict[int, VisitCase]:
    return {
        vc.pk: vc
        for vc in VisitCase.objects.filter(pk__in=ids).select_related("case__debtor", "issue")
    }
