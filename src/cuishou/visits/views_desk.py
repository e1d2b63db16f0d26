"""The desk pages of field visits (team lead, risk manager). Thin: validate, call one
service or selector, render.

Issues (list, new issue, an issue: the lead's count check and the allocation), the
lead's plan of a day (routes with their stops, windows and drawing, the cases left out
and why, a stop moved up or down, submit), the risk manager's approvals."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any

from django.contrib import messages
from django.contrib.auth.decorators import login_required, permission_required
from django.core.exceptions import ValidationError
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils.translation import gettext as _
from django.views.decorators.http import require_http_methods, require_POST

from cuishou.accounts.choices import Role
from cuishou.accounts.models import User
from cuishou.cases.models import Case
from cuishou.core.errors import error_text
from cuishou.core.timeutil import today_shanghai
from cuishou.routing import LeftOutReason
from cuishou.visits.allocation import visit_cases_allocate
from cuishou.visits.choices import IssueStatus, VisitCaseStatus, VisitPurpose
from cuishou.visits.issuing import IssueItem, visit_issue_confirm, visit_issue_create
from cuishou.visits.models import Route, VisitIssue
from cuishou.visits.planning import (
    EDITABLE,
    route_decide,
    route_stop_move,
    route_submit,
    visits_plan,
)
from cuishou.visits.selectors_desk import (
    cases_by_contract,
    day_routes,
    issuable_cases,
    issue_cases,
    issues_for,
    lead_teams,
    routes_decided_recently,
    routes_waiting,
    visit_cases_by_id,
)
from cuishou.visits.svg import route_svg

PAGE_SECONDS = 5.0  # search on the plan page (the command takes longer when asked)


_errors = error_text


def _tomorrow() -> dt.date:
    return today_shanghai() + dt.timedelta(days=1)


def _day(value: str | None) -> dt.date | None:
    if not value:
        return _tomorrow()
    try:
        return dt.date.fromisoformat(value)
    except ValueError:
        return None


# --- issues ---------------------------------------------------------------------------


# An anti-fraud check (协查) or evidence for litigation may be asked for any open case, at
# whatever stage: such cases are added by contract number on the new-issue page.
_OTHER_PURPOSES = (VisitPurpose.INVESTIGATE, VisitPurpose.EVIDENCE)


def _other_items(user: Any, data: Any, *, already: set[int]) -> list[IssueItem]:
    text = data.get("other_contracts", "")
    if not text.strip():
        return []
    purpose = data.get("other_purpose", "")
    if purpose not in _OTHER_PURPOSES:
        raise ValidationError(
            {"other_purpose": [_("Cases added by contract number are for 协查 or evidence.")]}
        )
    due = data.get("other_due", "")
    try:
        due_by = dt.date.fromisoformat(due) if due else None
    except ValueError:
        raise ValidationError({"other_due": [_("The due date is not a date.")]}) from None
    found, missing = cases_by_contract(user, text)
    if missing:
        raise ValidationError(
            {
                "other_contracts": [
                    _("No open case in your scope has the contract number %(numbers)s.")
                    % {"numbers": ", ".join(missing)}
                ]
            }
        )
    return [IssueItem(case=c, purpose=purpose, due_by=due_by) for c in found if c.pk not in already]


@login_required
@permission_required("visits.view_visitissue", raise_exception=True)
def issue_list(request: HttpRequest) -> HttpResponse:
    user: Any = request.user
    issues = list(issues_for(user)[:200])
    return render(
        request,
        "visits/desk/issue_list.html",
        {
            "issues": issues,
            "may_issue": user.has_perm("visits.add_visitissue"),
            "mismatches": sum(1 for i in issues if i.status == IssueStatus.MISMATCH),
        },
    )


@login_required
@permission_required("visits.add_visitissue", raise_exception=True)
@require_http_methods(["GET", "POST"])
def issue_new(request: HttpRequest) -> HttpResponse:
    user: Any = request.user
    cases = issuable_cases(user)
    leads = list(
        User.objects.filter(groups__name=Role.TEAM_LEAD, is_active=True).order_by("username")
    )
    error = ""
    chosen: set[str] = set(request.POST.getlist("case"))
    if request.method == "POST":
        by_id = {str(c.pk): c for c in cases}
        lead = next((u for u in leads if str(u.pk) == request.POST.get("team_lead")), None)
        items = []
        try:
            for cid in request.POST.getlist("case"):
                case: Case | None = by_id.get(cid)
                if case is None:
                    raise ValidationError(
                        {"cases": [_("Case %(id)s cannot be issued.") % {"id": cid}]}
                    )
                purpose = request.POST.get(f"purpose_{cid}") or VisitPurpose.COLLECT
                due = request.POST.get(f"due_{cid}") or ""
                try:
                    due_by = dt.date.fromisoformat(due) if due else None
                except ValueError:
                    raise ValidationError(
                        {"due_by": [_("Case %(id)s: the due date is not a date.") % {"id": cid}]}
                    ) from None
                items.append(IssueItem(case=case, purpose=purpose, due_by=due_by))
            items.extend(_other_items(user, request.POST, already={i.case.pk for i in items}))
            issue = visit_issue_create(
                actor=user, team_lead=lead, items=items, note=request.POST.get("note", "")
            )
        except ValidationError as exc:
            error = _errors(exc)
        else:
            messages.success(
                request,
                _("Issued %(number)s: %(n)d cases, %(amount)s.")
                % {
                    "number": issue.number,
                    "n": issue.declared_count,
                    "amount": issue.declared_amount,
                },
            )
            return redirect("visits:desk-issue", pk=issue.pk)
    return render(
        request,
        "visits/desk/issue_new.html",
        {
            "cases": cases,
            "leads": leads,
            "purposes": VisitPurpose.choices,
            "other_purposes": [(p.value, p.label) for p in _OTHER_PURPOSES],
            "chosen": chosen,
            "error": error,
            "values": request.POST,
        },
        status=400 if error else 200,
    )


@login_required
@permission_required("visits.view_visitissue", raise_exception=True)
def issue_detail(request: HttpRequest, pk: int) -> HttpResponse:
    user: Any = request.user
    issue = get_object_or_404(issues_for(user), pk=pk)
    rows = issue_cases(issue)
    is_lead = issue.team_lead_id == user.pk
    by_team: dict[str, list[Any]] = {}
    for vc in rows:
        if vc.team is not None:
            by_team.setdefault(vc.team.name, []).append(vc)
    return render(
        request,
        "visits/desk/issue_detail.html",
        {
            "issue": issue,
            "rows": rows,
            "may_confirm": is_lead and issue.status != IssueStatus.CONFIRMED,
            "may_allocate": is_lead and any(vc.status == VisitCaseStatus.CONFIRMED for vc in rows),
            "by_team": sorted(by_team.items()),
            "teams": lead_teams(user) if is_lead else [],
            "tomorrow": _tomorrow(),
            "total": sum((vc.amount for vc in rows), Decimal("0.00")),
        },
    )


@login_required
@require_POST
def issue_confirm(request: HttpRequest, pk: int) -> HttpResponse:
    issue = get_object_or_404(VisitIssue, pk=pk)
    try:
        confirmed = visit_issue_confirm(
            actor=request.user,
            issue=issue,
            counted=request.POST.get("counted", ""),  # type: ignore[arg-type]
            counted_amount=request.POST.get("counted_amount", ""),
            note=request.POST.get("note", ""),
        )
    except ValidationError as exc:
        messages.error(request, _errors(exc))
    else:
        if confirmed.status == IssueStatus.CONFIRMED:
            messages.success(request, _("Count and amount match: the cases are confirmed."))
        else:
            messages.warning(
                request,
                _("Count or amount differs from what was issued; the risk department sees it."),
            )
    return redirect("visits:desk-issue", pk=issue.pk)


@login_required
@require_POST
def issue_allocate(request: HttpRequest, pk: int) -> HttpResponse:
    issue = get_object_or_404(VisitIssue, pk=pk)
    day = _day(request.POST.get("day"))
    if day is None:
        messages.error(request, _("The day is not a date."))
        return redirect("visits:desk-issue", pk=issue.pk)
    try:
        result = visit_cases_allocate(actor=request.user, issue=issue, day=day)
    except ValidationError as exc:
        messages.error(request, _errors(exc))
    else:
        messages.success(
            request,
            _(
                "%(n)d cases allocated to %(teams)d teams; %(special)d back to the risk "
                "department for special staff; %(letter)d get a letter instead."
            )
            % {
                "n": result.count,
                "teams": len(result.allocated),
                "special": len(result.special),
                "letter": len(result.letter),
            },
        )
    return redirect("visits:desk-issue", pk=issue.pk)


# --- the plan of a day ----------------------------------------------------------------


def _route_views(routes: list[Route]) -> list[dict[str, Any]]:
    left_ids = [lo["visit_case"] for r in routes for lo in (r.plan or {}).get("left_out", [])]
    left_cases = visit_cases_by_id(left_ids)
    out = []
    for route in routes:
        stops = list(route.stops.all())
        left = [
            (left_cases.get(lo["visit_case"]), LeftOutReason(lo["reason"]).label)
            for lo in (route.plan or {}).get("left_out", [])
            if lo["visit_case"] in left_cases
        ]
        out.append(
            {
                "route": route,
                "stops": stops,
                "left_out": left,
                "svg": route_svg(route, stops),
                "editable": route.status in EDITABLE,
                "depart": _iso((route.plan or {}).get("depart")),
                "back": _iso((route.plan or {}).get("back")),
                "lunch": (route.plan or {}).get("lunch"),
                "members": list(route.team.members.all()),
            }
        )
    return out


def _iso(value: str | None) -> dt.datetime | None:
    return dt.datetime.fromisoformat(value) if value else None


@login_required
@permission_required("visits.add_route", raise_exception=True)
def plan_day(request: HttpRequest) -> HttpResponse:
    day = _day(request.GET.get("day"))
    if day is None:
        messages.error(request, _("The day is not a date."))
        day = _tomorrow()
    routes = day_routes(request.user, day)
    return render(
        request,
        "visits/desk/plan_day.html",
        {
            "day": day,
            "routes": _route_views(routes),
            "teams": lead_teams(request.user),
            "prev_day": day - dt.timedelta(days=1),
            "next_day": day + dt.timedelta(days=1),
        },
    )


def _back_to_day(day: dt.date) -> HttpResponse:
    return redirect(f"{reverse('visits:desk-plan')}?day={day.isoformat()}")


@login_required
@permission_required("visits.add_route", raise_exception=True)
@require_POST
def plan_run(request: HttpRequest) -> HttpResponse:
    day = _day(request.POST.get("day"))
    if day is None:
        messages.error(request, _("The day is not a date."))
        return _back_to_day(_tomorrow())
    try:
        plan = visits_plan(actor=request.user, day=day, seconds=PAGE_SECONDS)
    except ValidationError as exc:
        messages.error(request, _errors(exc))
    else:
        messages.success(
            request,
            _("Planned %(day)s: %(n)d stops, %(m)d cases left out.")
            % {"day": day, "n": plan.planned, "m": plan.left_out},
        )
        for td in plan.teams:
            if td.skipped:
                messages.info(request, f"{td.team}: {td.skipped}")
    return _back_to_day(day)


@login_required
@require_POST
def stop_move(request: HttpRequest, pk: int, stop: int) -> HttpResponse:
    route = get_object_or_404(Route, pk=pk)
    moving = get_object_or_404(route.stops, pk=stop)
    step = -1 if request.POST.get("direction") == "up" else 1
    try:
        route_stop_move(
            actor=request.user, route=route, stop=moving, new_position=moving.seq + step
        )
    except ValidationError as exc:
        messages.error(request, _errors(exc))
    else:
        messages.success(request, _("Stop moved; the times are checked again."))
    return _back_to_day(route.day)


@login_required
@require_POST
def route_submit_view(request: HttpRequest, pk: int) -> HttpResponse:
    route = get_object_or_404(Route, pk=pk)
    try:
        route_submit(actor=request.user, route=route)
    except ValidationError as exc:
        messages.error(request, _errors(exc))
    else:
        messages.success(request, _("%(route)s submitted to the risk manager.") % {"route": route})
    return _back_to_day(route.day)


# --- approvals ------------------------------------------------------------------------


@login_required
@permission_required("visits.approve_route", raise_exception=True)
def approvals(request: HttpRequest) -> HttpResponse:
    return render(
        request,
        "visits/desk/approvals.html",
        {
            "routes": _route_views(routes_waiting(request.user)),
            "recent": routes_decided_recently(),
        },
    )


@login_required
@require_POST
def route_decide_view(request: HttpRequest, pk: int) -> HttpResponse:
    route = get_object_or_404(Route, pk=pk)
    approve = request.POST.get("decision") == "approve"
    try:
        route_decide(
            actor=request.user, route=route, approve=approve, reason=request.POST.get("reason", "")
        )
    except ValidationError as exc:
        messages.error(request, _errors(exc))
    else:
        messages.success(
            request,
            (_("%(route)s approved.") if approve else _("%(route)s rejected.")) % {"route": route},
        )
    return redirect("visits:desk-approvals")
