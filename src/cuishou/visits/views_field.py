"""Pages of the visit day. Thin: read the form, call one service, show what it said.

The visitors' phone pages (today's routes, a route with its departure and return, a stop
with the arrival, the statements, the uploads, the outcome; a change request; the
report) and the desk pages of the day (the risk manager's equipment desk, the team
lead's changes and reports)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from decimal import Decimal
from typing import Any

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied, ValidationError
from django.db.models import Prefetch, Q
from django.http import FileResponse, Http404, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from cuishou.accounts.models import User
from cuishou.compliance.check import ContactBlocked
from cuishou.core.timeutil import SHANGHAI, today_shanghai
from cuishou.portfolio.models import Address, RelatedPerson
from cuishou.visits.changes import route_change_decide, route_change_request, user_may_decide_change
from cuishou.visits.choices import (
    ISSUED_EQUIPMENT,
    ChangeKind,
    ChangeStatus,
    EquipmentKind,
    EvidenceKind,
    FraudFinding,
    RouteStatus,
    StopOutcome,
    StopStatus,
    VisitPurpose,
)
from cuishou.visits.day import (
    ASKED,
    CONDUCT,
    NOTICE_DELIVERY,
    route_depart,
    route_return,
    statements,
    stop_arrive,
    stop_complete,
    user_on_route,
)
from cuishou.visits.equipment import (
    CHECK_OUT_PERMISSION,
    LABELLED,
    equipment_check_out,
    equipment_out,
    equipment_outstanding,
    equipment_return,
    route_members,
)
from cuishou.visits.models import (
    EquipmentLoan,
    Evidence,
    Route,
    RouteChange,
    RouteStop,
    VisitReport,
)
from cuishou.visits.report import (
    flag_text,
    report_draft,
    report_review,
    report_submit,
    user_may_review,
)

DESK_STATUSES = (
    RouteStatus.APPROVED,
    RouteStatus.DEPARTED,
    RouteStatus.RETURNED,
    RouteStatus.REPORTED,
)
DETAIL_KEYS = (
    "identity_verified",
    "contacts_verified",
    "notice_signed",
    "notice_unsigned_reason",
    "related_person",
    "name",
    "relationship",
    "situation",
    "working_contact",
    "message_passed",
    "willing_to_pay",
    "home_phone_ringing",
    "mobile_called",
    "learned",
    "notice_delivery",
    "reason",
    "new_address",
)


def _say(request: HttpRequest, error: Exception) -> None:
    """Show a refusal: the service's reasons, or compliance's rules and why."""
    if isinstance(error, ContactBlocked):
        messages.error(
            request,
            _("Blocked by compliance (%(rules)s): %(why)s")
            % {"rules": ", ".join(error.decision.rule_ids), "why": error.decision.message},
        )
        return
    assert isinstance(error, ValidationError)
    for reasons in error.message_dict.values():
        for reason in reasons:
            messages.error(request, reason)


def _act(request: HttpRequest, call: Callable[[], Any], done: str) -> bool:
    try:
        call()
    except (ValidationError, ContactBlocked) as e:
        _say(request, e)
        return False
    messages.success(request, done)
    return True


def _route_for_visitor(user: Any, pk: int) -> Route:
    route = get_object_or_404(Route.objects.select_related("team", "team__lead"), pk=pk)
    if not user_on_route(user, route):
        raise Http404
    return route


def _stop_for_visitor(user: Any, pk: int) -> RouteStop:
    stop = get_object_or_404(
        RouteStop.objects.select_related(
            "route__team", "visit_case__case__debtor", "address", "promise"
        ),
        pk=pk,
    )
    if not user_on_route(user, stop.route):
        raise Http404
    return stop


def _map_url(address: Address) -> str:
    if address.lat is not None and address.lon is not None:
        return (
            f"https://uri.amap.com/marker?position={address.lon},{address.lat}&name={address.text}"
        )
    return f"https://uri.amap.com/search?keyword={address.text}"


# --- the visitors' pages ---------------------------------------------------------------


@login_required
def today(request: HttpRequest) -> HttpResponse:
    """The routes of the visitor's teams for today (and those still out or to report)."""
    if not request.user.has_perm("visits.change_routestop"):
        raise PermissionDenied
    day = today_shanghai()
    routes = (
        Route.objects.filter(team__members=request.user.pk)
        .filter(
            Q(day=day, status__in=DESK_STATUSES)
            | Q(status__in=[RouteStatus.DEPARTED, RouteStatus.RETURNED])
        )
        .select_related("team")
        .prefetch_related(
            Prefetch(
                "stops",
                queryset=RouteStop.objects.select_related(
                    "visit_case__case__debtor", "address"
                ).order_by("seq"),
            )
        )
        .distinct()
        .order_by("-day")
    )
    return render(request, "visits/field/today.html", {"routes": routes, "day": day})


@login_required
def route_page(request: HttpRequest, pk: int) -> HttpResponse:
    route = _route_for_visitor(request.user, pk)
    stops = list(route.stops.select_related("visit_case__case__debtor", "address").order_by("seq"))
    for stop in stops:
        stop.map_url = _map_url(stop.address)  # type: ignore[attr-defined]
    members = route_members(route)
    loans = {(loan.visitor_id, loan.kind): loan for loan in route.equipment.all()}
    equipment = [
        {
            "visitor": m,
            "items": [(kind.label, loans.get((m.pk, kind.value))) for kind in ISSUED_EQUIPMENT],
        }
        for m in members
    ]
    changes = route.changes.select_related("stop__visit_case__case__debtor", "requested_by")
    return render(
        request,
        "visits/field/route.html",
        {
            "route": route,
            "stops": stops,
            "members": members,
            "equipment": equipment,
            "changes": changes.order_by("-requested_at"),
            "next_stop": next(
                (s for s in stops if s.status in (StopStatus.PLANNED, StopStatus.ARRIVED)), None
            ),
            "report": VisitReport.objects.filter(route=route).first(),
        },
    )


@login_required
@require_POST
def depart(request: HttpRequest, pk: int) -> HttpResponse:
    route = _route_for_visitor(request.user, pk)
    ids = [int(v) for v in request.POST.getlist("visitors") if v.isdigit()]
    visitors = list(User.objects.filter(pk__in=ids))
    _act(
        request,
        lambda: route_depart(actor=request.user, route=route, visitors=visitors),
        _("Departure recorded. Report the arrival at each stop."),
    )
    return redirect("visits:field-route", pk=route.pk)


@login_required
@require_POST
def return_view(request: HttpRequest, pk: int) -> HttpResponse:
    route = _route_for_visitor(request.user, pk)
    if _act(
        request,
        lambda: route_return(actor=request.user, route=route),
        _("Return recorded. Hand the equipment back and submit the report."),
    ):
        return redirect("visits:field-report", pk=route.pk)
    return redirect("visits:field-route", pk=route.pk)


def _stop_context(request: HttpRequest, stop: RouteStop) -> dict[str, Any]:
    evidence = list(Evidence.objects.filter(stop=stop).order_by("uploaded_at", "pk"))
    for item in evidence:
        item.flag_lines = [flag_text(f) for f in item.flags or []]  # type: ignore[attr-defined]
    return {
        "stop": stop,
        "route": stop.route,
        "case": stop.visit_case.case,
        "map_url": _map_url(stop.address),
        "said": statements(stop, timezone.now()),
        "outcomes": StopOutcome.choices,
        "conduct": list(CONDUCT.items()),
        "asked": list(ASKED.items()),
        "deliveries": list(NOTICE_DELIVERY.items()),
        "findings": FraudFinding.choices,
        "investigate": stop.visit_case.purpose == VisitPurpose.INVESTIGATE,
        "persons": RelatedPerson.objects.filter(debtor_id=stop.visit_case.case.debtor_id),
        "addresses": Address.objects.filter(
            debtor_id=stop.visit_case.case.debtor_id, is_valid=True
        ).exclude(pk=stop.address_id),
        "evidence": evidence,
        "photo_kinds": [
            (EvidenceKind.DOOR_PHOTO.value, EvidenceKind.DOOR_PHOTO.label),
            (EvidenceKind.NEAREST_DOOR_PHOTO.value, EvidenceKind.NEAREST_DOOR_PHOTO.label),
            (EvidenceKind.SEAL_PHOTO.value, EvidenceKind.SEAL_PHOTO.label),
            (EvidenceKind.NOTICE_PHOTO.value, EvidenceKind.NOTICE_PHOTO.label),
            (EvidenceKind.PHOTO.value, EvidenceKind.PHOTO.label),
        ],
        "change_kinds": ChangeKind.choices,
        "open_change": stop.changes.filter(status=ChangeStatus.REQUESTED).first(),
        "today": today_shanghai(),
        "went": stop.route.visitors.filter(pk=request.user.pk or 0).exists(),
    }


@login_required
def stop_page(request: HttpRequest, pk: int) -> HttpResponse:
    stop = _stop_for_visitor(request.user, pk)
    return render(request, "visits/field/stop.html", _stop_context(request, stop))


@login_required
@require_POST
def arrive(request: HttpRequest, pk: int) -> HttpResponse:
    stop = _stop_for_visitor(request.user, pk)
    person = None
    person_id = request.POST.get("related_person", "")
    if person_id.isdigit():
        person = RelatedPerson.objects.filter(
            pk=int(person_id), debtor_id=stop.visit_case.case.debtor_id
        ).first()
    _act(
        request,
        lambda: stop_arrive(
            actor=request.user,
            stop=stop,
            lat=request.POST.get("lat") or None,
            lon=request.POST.get("lon") or None,
            related_person=person,
        ),
        _("Arrival reported."),
    )
    return redirect("visits:field-stop", pk=stop.pk)


def _promise_of(post: Any) -> list[tuple[dt.date, Decimal]] | dict[str, str] | None:
    amount, due = post.get("promise_amount", "").strip(), post.get("promise_date", "").strip()
    if not amount and not due:
        return None
    return {"amount": amount, "due_on": due}


@login_required
@require_POST
def complete(request: HttpRequest, pk: int) -> HttpResponse:
    stop = _stop_for_visitor(request.user, pk)
    post = request.POST
    details: dict[str, Any] = {key: post.get(key, "") for key in DETAIL_KEYS}
    details["asked"] = post.getlist("asked")
    conduct = {key: post.get(f"conduct_{key}") == "on" for key in CONDUCT}
    ok = _act(
        request,
        lambda: stop_complete(
            actor=request.user,
            stop=stop,
            outcome=post.get("outcome", ""),
            details=details,
            conduct=conduct,
            promise=_promise_of(post),
            fraud_finding=post.get("fraud_finding", ""),
            notes=post.get("notes", ""),
        ),
        _("Stop recorded. Upload the recording and the signed receipt."),
    )
    if not ok:
        context = _stop_context(request, stop)
        context["values"] = post
        return render(request, "visits/field/stop.html", context, status=400)
    return redirect("visits:field-stop", pk=stop.pk)


@login_required
@require_POST
def upload(request: HttpRequest, pk: int) -> HttpResponse:
    """A photo, the recording or a signed receipt of the stop (``evidence_add``)."""
    stop = _stop_for_visitor(request.user, pk)
    from cuishou.visits.evidence import evidence_add

    upload_file = request.FILES.get("file")
    kind = request.POST.get("kind", "")
    if upload_file is None:
        messages.error(request, _("Choose a file."))
        return redirect("visits:field-stop", pk=stop.pk)

    def parse_time(name: str) -> dt.datetime | None:
        value = request.POST.get(name, "").strip()
        if not value:
            return None
        try:
            clock = dt.time.fromisoformat(value)
        except ValueError as e:
            raise ValidationError({name: [_("Write the time as HH:MM.")]}) from e
        return dt.datetime.combine(stop.route.day, clock, tzinfo=SHANGHAI)

    def call() -> Any:
        return evidence_add(
            actor=request.user,
            case=stop.visit_case.case,
            kind=kind,
            content=upload_file.read(),
            file_name=upload_file.name or "upload",
            content_type=upload_file.content_type or "",
            route=stop.route,
            stop=stop,
            phone_at=timezone.now(),
            phone_lat=request.POST.get("lat") or None,
            phone_lon=request.POST.get("lon") or None,
            declared_start=parse_time("declared_start"),
            declared_end=parse_time("declared_end"),
            note=request.POST.get("note", ""),
        )

    _act(request, call, _("Uploaded."))
    return redirect(reverse("visits:field-stop", args=[stop.pk]) + "#evidence")


@login_required
def change_request(request: HttpRequest, pk: int) -> HttpResponse:
    stop = _stop_for_visitor(request.user, pk)
    if request.method == "POST":
        post = request.POST
        payload = {"address": post.get("address", "")} if post.get("kind") == "address" else {}
        if _act(
            request,
            lambda: route_change_request(
                actor=request.user,
                route=stop.route,
                kind=post.get("kind", ""),
                stop=stop,
                reason=post.get("reason", ""),
                payload=payload,
            ),
            _("Change asked for: wait for the decision before you change the route."),
        ):
            return redirect("visits:field-route", pk=stop.route_id)
    return redirect("visits:field-stop", pk=stop.pk)


@login_required
def report_page(request: HttpRequest, pk: int) -> HttpResponse:
    route = _route_for_visitor(request.user, pk)
    report = VisitReport.objects.filter(route=route).first()
    if (
        request.method == "POST"
        and report is None
        and _act(
            request,
            lambda: report_submit(
                actor=request.user, route=route, summary=request.POST.get("summary", "")
            ),
            _("Report submitted to the team lead."),
        )
    ):
        return redirect("visits:field-report", pk=route.pk)
    content = report.content if report else report_draft(route)
    return render(
        request,
        "visits/field/report.html",
        {
            "route": route,
            "report": report,
            "content": content,
            "summary": request.POST.get("summary")
            or (report.summary if report else content["summary"]),
            "out": equipment_out(route),
        },
    )


@login_required
def report_pdf(request: HttpRequest, pk: int) -> FileResponse:
    report = get_object_or_404(VisitReport.objects.select_related("route__team", "pdf"), pk=pk)
    route = report.route
    if not (
        user_on_route(request.user, route)
        or user_may_review(request.user, route)
        or request.user.has_perm("visits.approve_route")
    ):
        raise Http404
    if report.pdf is None:
        raise Http404
    return FileResponse(
        report.pdf.file.open("rb"),
        content_type="application/pdf",
        filename=f"visit-report-{route.day:%Y%m%d}-{route.pk}.pdf",
    )


# --- the desk pages of the day ---------------------------------------------------------


@login_required
def equipment_desk(request: HttpRequest) -> HttpResponse:
    """The risk manager's desk: today's routes, each visitor's items out and back, the
    alerts for items not returned by the end of their day."""
    if not request.user.has_perm(CHECK_OUT_PERMISSION):
        raise PermissionDenied
    day = today_shanghai()
    routes = list(
        Route.objects.filter(day=day, status__in=DESK_STATUSES)
        .select_related("team")
        .prefetch_related("team__members", "equipment")
        .order_by("team__name")
    )
    rows = []
    for route in routes:
        loans = {(loan.visitor_id, loan.kind): loan for loan in route.equipment.all()}
        for member in route_members(route):
            rows.append(
                {
                    "route": route,
                    "visitor": member,
                    "items": [
                        {
                            "kind": kind.value,
                            "label": kind.label,
                            "loan": loans.get((member.pk, kind.value)),
                            "needs_label": kind in LABELLED,
                        }
                        for kind in ISSUED_EQUIPMENT
                    ],
                }
            )
    return render(
        request,
        "visits/field/equipment.html",
        {"rows": rows, "day": day, "alerts": equipment_outstanding(day)},
    )


@login_required
@require_POST
def equipment_out_view(request: HttpRequest, pk: int) -> HttpResponse:
    if not request.user.has_perm(CHECK_OUT_PERMISSION):
        raise PermissionDenied
    route = get_object_or_404(Route, pk=pk)
    visitor = get_object_or_404(User, pk=request.POST.get("visitor") or 0)
    kind = request.POST.get("kind", "")
    _act(
        request,
        lambda: equipment_check_out(
            actor=request.user,
            route=route,
            visitor=visitor,
            kind=kind,
            label=request.POST.get("label", ""),
            signature=request.POST.get("signature", ""),
        ),
        _("%(item)s checked out to %(name)s.")
        % {
            "item": EquipmentKind(kind).label if kind in EquipmentKind.values else kind,
            "name": visitor,
        },
    )
    return redirect(reverse("visits:day-equipment") + f"#v{route.pk}-{visitor.pk}")


@login_required
@require_POST
def equipment_back_view(request: HttpRequest, pk: int) -> HttpResponse:
    if not request.user.has_perm("visits.change_equipmentloan"):
        raise PermissionDenied
    loan = get_object_or_404(EquipmentLoan.objects.select_related("visitor"), pk=pk)
    _act(
        request,
        lambda: equipment_return(
            actor=request.user, loan=loan, signature=request.POST.get("signature", "")
        ),
        _("%(item)s returned by %(name)s.")
        % {"item": loan.get_kind_display(), "name": loan.visitor},
    )
    return redirect(reverse("visits:day-equipment") + f"#v{loan.route_id}-{loan.visitor_id}")


def _lead_routes(user: Any) -> Any:
    routes = Route.objects.select_related("team")
    if not user.has_perm("visits.approve_route"):
        routes = routes.filter(team__lead=user)
    return routes


@login_required
def lead_desk(request: HttpRequest) -> HttpResponse:
    """The team lead's day: the routes out (arrivals as they are reported), the changes
    to decide, the reports to review, the equipment alerts."""
    if not request.user.has_perm("visits.decide_routechange"):
        raise PermissionDenied
    day = today_shanghai()
    routes = _lead_routes(request.user)
    today_routes = (
        routes.filter(day=day, status__in=DESK_STATUSES)
        .prefetch_related(
            Prefetch(
                "stops",
                queryset=RouteStop.objects.select_related(
                    "visit_case__case__debtor", "address"
                ).order_by("seq"),
            ),
            "visitors",
        )
        .order_by("team__name")
    )
    changes = (
        RouteChange.objects.filter(route__in=routes, status=ChangeStatus.REQUESTED)
        .select_related(
            "route__team", "stop__visit_case__case__debtor", "stop__address", "requested_by"
        )
        .order_by("requested_at")
    )
    address_ids = [c.payload.get("address") for c in changes if c.payload.get("address")]
    addresses = {a.pk: a for a in Address.objects.filter(pk__in=address_ids)}
    for change in changes:
        change.new_address = addresses.get(change.payload.get("address"))  # type: ignore[attr-defined]
    reports = (
        VisitReport.objects.filter(route__in=routes)
        .select_related("route__team", "submitted_by", "reviewed_by")
        .order_by("reviewed_at", "-submitted_at")[:50]
    )
    team_ids = (
        None
        if request.user.has_perm("visits.approve_route")
        else routes.values_list("team_id", flat=True)
    )
    return render(
        request,
        "visits/field/lead.html",
        {
            "day": day,
            "routes": today_routes,
            "changes": changes,
            "reports": reports,
            "alerts": equipment_outstanding(day, team_ids=team_ids),
        },
    )


@login_required
@require_POST
def change_decide(request: HttpRequest, pk: int) -> HttpResponse:
    change = get_object_or_404(RouteChange.objects.select_related("route__team"), pk=pk)
    if not user_may_decide_change(request.user, change.route):
        raise PermissionDenied
    accept = request.POST.get("decision") == "accept"
    _act(
        request,
        lambda: route_change_decide(
            actor=request.user, change=change, accept=accept, note=request.POST.get("note", "")
        ),
        _("Change accepted: the route is changed.") if accept else _("Change refused."),
    )
    return redirect("visits:day-lead")


@login_required
def lead_report(request: HttpRequest, pk: int) -> HttpResponse:
    report = get_object_or_404(
        VisitReport.objects.select_related("route__team", "submitted_by", "reviewed_by"), pk=pk
    )
    route = report.route
    if not (user_may_review(request.user, route) or request.user.has_perm("visits.approve_route")):
        raise Http404
    if request.method == "POST":
        _act(
            request,
            lambda: report_review(actor=request.user, report=report),
            _("Report reviewed."),
        )
        return redirect("visits:day-report", pk=report.pk)
    return render(
        request,
        "visits/field/lead_report.html",
        {
            "report": report,
            "route": route,
            "content": report.content,
            "may_review": user_may_review(request.user, route) and report.reviewed_at is None,
        },
    )
