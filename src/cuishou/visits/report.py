"""The visit report (上门催收情况报告): generated from the route's stops, with a summary the
visitors edit, submitted to the team lead after the return with all equipment back; its
PDF goes into each visited case's file as evidence. The team lead reviews it."""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.template.loader import render_to_string
from django.utils import timezone
from django.utils.translation import gettext as _

from cuishou.audit.services import audit_record, jsonable
from cuishou.cases.receipts import render_pdf
from cuishou.core.timeutil import SHANGHAI
from cuishou.visits.choices import (
    PHOTO_KINDS,
    ChangeStatus,
    EvidenceFlag,
    EvidenceKind,
    FraudFinding,
    RouteStatus,
    StopOutcome,
    StopStatus,
)
from cuishou.visits.day import ASKED, NOTICE_DELIVERY, visitor_require
from cuishou.visits.equipment import equipment_out
from cuishou.visits.models import Evidence, Route, RouteStop, VisitReport

REVIEW_PERMISSION = "visits.review_visitreport"
SUMMARY_MAX = 5000


def _hm(value: dt.datetime | None) -> str:
    return value.astimezone(SHANGHAI).strftime("%H:%M") if value else ""


def _yes(value: Any) -> str:
    return _("yes") if value else _("no")


def detail_lines(stop: RouteStop) -> list[str]:
    """What was done and learned at ``stop``, one line each, in the active language."""
    d = stop.details or {}
    lines: list[str] = []
    if stop.outcome == StopOutcome.DEBTOR_MET:
        lines.append(_("Identity verified: %(v)s") % {"v": _yes(d.get("identity_verified"))})
        lines.append(
            _("Phones and address verified: %(v)s") % {"v": _yes(d.get("contacts_verified"))}
        )
    elif stop.outcome == StopOutcome.RELATED_MET:
        lines.append(
            _("Met %(name)s (%(relationship)s)")
            % {"name": d.get("name", ""), "relationship": d.get("relationship", "")}
        )
        lines.append(_("The debtor's situation: %(v)s") % {"v": d.get("situation", "")})
        lines.append(_("Working contact: %(v)s") % {"v": d.get("working_contact", "")})
        lines.append(_("Will pass the message on: %(v)s") % {"v": _yes(d.get("message_passed"))})
        lines.append(
            _("Willing to pay on the debtor's behalf: %(v)s") % {"v": _yes(d.get("willing_to_pay"))}
        )
    elif stop.outcome == StopOutcome.NOBODY_HOME:
        ringing = {
            "yes": _("it rang inside"),
            "no": _("no ringing heard inside"),
            "no_home_phone": _("no home phone"),
        }.get(d.get("home_phone_ringing", ""), "")
        lines.append(_("Home phone called: %(v)s") % {"v": ringing})
        lines.append(_("Mobile called: %(v)s") % {"v": _yes(d.get("mobile_called"))})
        asked = [str(ASKED[a]) for a in d.get("asked", []) if a in ASKED]
        lines.append(_("Asked: %(v)s") % {"v": ", ".join(asked) or _("nobody")})
        if d.get("learned"):
            lines.append(_("Learned: %(v)s") % {"v": d["learned"]})
        delivery = NOTICE_DELIVERY.get(d.get("notice_delivery", ""))
        if delivery:
            lines.append(_("Legal notice: %(v)s") % {"v": delivery})
    elif stop.outcome in (StopOutcome.ADDRESS_INVALID, StopOutcome.MOVED):
        lines.append(_("How we know: %(v)s") % {"v": d.get("reason", "")})
        if d.get("new_address"):
            lines.append(_("New address learned: %(v)s") % {"v": d["new_address"]})
    if "notice_signed" in d:
        if d.get("notice_signed"):
            lines.append(_("Collection notice signed"))
        else:
            lines.append(
                _("Collection notice not signed: %(v)s")
                % {"v": d.get("notice_unsigned_reason", "")}
            )
    if stop.fraud_finding:
        lines.append(
            _("Investigation finding: %(v)s") % {"v": FraudFinding(stop.fraud_finding).label}
        )
    if stop.promise is not None:
        lines.append(_("Promise to pay: %(amount)s") % {"amount": f"{stop.promise.amount:,.2f}"})
    if stop.notes:
        lines.append(_("Notes: %(v)s") % {"v": stop.notes})
    return lines


def stop_problems(stop: RouteStop, evidence: list[Evidence]) -> list[str]:
    """What the lead should look at: a far arrival, missing or flagged evidence."""
    out: list[str] = []
    if stop.status != StopStatus.DONE:
        return out
    if stop.arrival_far:
        if stop.arrival_distance_m is None:
            out.append(_("Arrival reported without a location"))
        else:
            out.append(
                _("Arrival reported %(m)d m from the address") % {"m": stop.arrival_distance_m}
            )
    kinds = {e.kind for e in evidence}
    if not kinds & {EvidenceKind.DOOR_PHOTO, EvidenceKind.NEAREST_DOOR_PHOTO}:
        out.append(_("No photo of the door number"))
    if EvidenceKind.RECORDING not in kinds:
        out.append(_("No recording"))
    if (stop.details or {}).get("notice_signed") and EvidenceKind.RECEIPT not in kinds:
        out.append(_("Notice signed but no receipt uploaded"))
    for e in evidence:
        for flag in e.flags or []:
            out.append(f"{e.get_kind_display()}: {flag_text(flag)}")
    return out


def flag_text(flag: Any) -> str:
    """An evidence flag ({"code", "detail"}) as a reader sees it: the flag's label in the
    active language, then what the check saw."""
    code = flag.get("code", "") if isinstance(flag, dict) else str(flag)
    detail = flag.get("detail", "") if isinstance(flag, dict) else ""
    try:
        label = str(EvidenceFlag(code).label)
    except ValueError:
        label = code
    return f"{label} ({detail})" if detail else label


def report_draft(route: Route) -> dict[str, Any]:
    """The report as generated from the route: the day, the visitors, each stop (arrival,
    outcome, details, evidence and what to look at), the changes, the equipment."""
    route = Route.objects.select_related("team", "team__lead").get(pk=route.pk)
    stops = list(
        route.stops.select_related("visit_case__case__debtor", "address", "promise").order_by("seq")
    )
    evidence: dict[int, list[Evidence]] = {}
    for e in Evidence.objects.filter(stop__route=route).order_by("uploaded_at", "pk"):
        evidence.setdefault(e.stop_id or 0, []).append(e)
    rows = []
    for stop in stops:
        items = evidence.get(stop.pk, [])
        rows.append(
            {
                "seq": stop.seq,
                "case": stop.visit_case.case_id,
                "debtor": stop.visit_case.case.debtor.name,
                "address": stop.address.text,
                "address_kind": stop.address.get_kind_display(),
                "status": stop.get_status_display(),
                "arrived_at": _hm(stop.arrived_at),
                "departed_at": _hm(stop.departed_at),
                "distance_m": stop.arrival_distance_m,
                "far": stop.arrival_far,
                "outcome": stop.get_outcome_display() if stop.outcome else "",
                "lines": detail_lines(stop),
                "photos": sum(1 for e in items if e.kind in PHOTO_KINDS),
                "recordings": sum(1 for e in items if e.kind == EvidenceKind.RECORDING),
                "receipts": sum(1 for e in items if e.kind == EvidenceKind.RECEIPT),
                "problems": stop_problems(stop, items),
            }
        )
    changes = [
        {
            "kind": c.get_kind_display(),
            "seq": c.stop.seq if c.stop else None,
            "status": c.get_status_display(),
            "reason": c.reason,
            "note": c.decision_note,
        }
        for c in route.changes.select_related("stop").order_by("requested_at", "pk")
    ]
    equipment = [
        {
            "visitor": str(loan.visitor),
            "item": loan.get_kind_display(),
            "label": loan.label,
            "out": _hm(loan.checked_out_at),
            "back": _hm(loan.returned_at),
        }
        for loan in route.equipment.select_related("visitor").order_by("visitor__username", "kind")
    ]
    visitors = [str(v) for v in sorted(route.visitors.all(), key=lambda u: u.pk)]
    done = [s for s in stops if s.status == StopStatus.DONE]
    met = sum(1 for s in done if s.outcome in (StopOutcome.DEBTOR_MET, StopOutcome.RELATED_MET))
    summary = _(
        "%(team)s (%(visitors)s) visited %(done)d of %(stops)d stops on %(day)s, left at "
        "%(out)s and were back at %(back)s; somebody was met at %(met)d."
    ) % {
        "team": route.team,
        "visitors": ", ".join(visitors),
        "done": len(done),
        "stops": len(stops),
        "day": route.day.isoformat(),
        "out": _hm(route.departed_at),
        "back": _hm(route.returned_at),
        "met": met,
    }
    return jsonable(
        {
            "route": route.pk,
            "team": str(route.team),
            "lead": str(route.team.lead),
            "day": route.day.isoformat(),
            "visitors": visitors,
            "departed_at": _hm(route.departed_at),
            "returned_at": _hm(route.returned_at),
            "stops": rows,
            "changes": changes,
            "equipment": equipment,
            "summary": summary,
        }
    )


def report_pdf(report: VisitReport) -> bytes:
    html = render_to_string(
        "visits/report_pdf.html",
        {"report": report, "content": report.content, "summary": report.summary},
    )
    return render_pdf(html)


def report_submit(*, actor: Any, route: Route, summary: str) -> VisitReport:
    """Submit the day's report with the visitors' ``summary``: after the return, with every
    item handed back. Its PDF becomes a REPORT evidence in each visited case's file."""
    route = Route.objects.select_related("team").get(pk=route.pk)
    visitor_require(actor, route, went=True)
    if route.status != RouteStatus.RETURNED:
        raise ValidationError(
            {
                "route": [
                    _("The report is submitted after the return (the route is %(status)s).")
                    % {"status": route.get_status_display()}
                ]
            }
        )
    out = equipment_out(route)
    if out:
        raise ValidationError(
            {
                "equipment": [
                    _("Hand back the equipment first: %(items)s.")
                    % {
                        "items": "; ".join(
                            f"{loan.visitor} — {loan.get_kind_display()} {loan.label}".strip()
                            for loan in out
                        )
                    }
                ]
            }
        )
    summary = (summary or "").strip()
    if not summary:
        raise ValidationError({"summary": [_("Write the summary of the day.")]})
    if len(summary) > SUMMARY_MAX:
        raise ValidationError({"summary": [_("At most %(n)d characters.") % {"n": SUMMARY_MAX}]})
    from cuishou.visits.evidence import evidence_add

    content = report_draft(route)
    now = timezone.now()
    with transaction.atomic():
        locked = Route.objects.select_for_update().get(pk=route.pk)
        if (
            locked.status != RouteStatus.RETURNED
            or VisitReport.objects.filter(route=locked).exists()
        ):
            raise ValidationError({"route": [_("The report of this route is already submitted.")]})
        report = VisitReport.objects.create(
            route=locked, summary=summary, content=content, submitted_by=actor, submitted_at=now
        )
        pdf = report_pdf(report)
        first = None
        cases: list[Any] = []
        for stop in locked.stops.select_related("visit_case__case").order_by("seq"):
            case = stop.visit_case.case
            if case.pk in {c.pk for c in cases}:
                continue
            cases.append(case)
            item = evidence_add(
                actor=actor,
                case=case,
                kind=EvidenceKind.REPORT,
                content=pdf,
                file_name=f"visit-report-{locked.day:%Y%m%d}-{locked.pk}.pdf",
                content_type="application/pdf",
                route=locked,
                note=str(_("Visit report of %(day)s") % {"day": locked.day.isoformat()}),
            )
            first = first or item
        report.pdf = first
        report.save(update_fields=["pdf"])
        locked.status = RouteStatus.REPORTED
        locked.save(update_fields=["status"])
        for case in cases:
            audit_record(
                actor=actor,
                action="visit.report",
                target=report,
                case_id=case.pk,
                summary=f"visit report {locked.day}",
                after={
                    "route": locked.pk,
                    "day": locked.day,
                    "sha256": first.sha256 if first else "",
                },
            )
    return report


def user_may_review(user: Any, route: Route) -> bool:
    return bool(
        getattr(user, "is_authenticated", False)
        and user.has_perm(REVIEW_PERMISSION)
        and route.team.lead_id == user.pk
    )


def report_review(*, actor: Any, report: VisitReport) -> VisitReport:
    """The team lead of the route's team reviews (receives) the submitted report."""
    route = Route.objects.select_related("team").get(pk=report.route_id)
    if not user_may_review(actor, route):
        raise PermissionDenied(_("The team's lead reviews its visit reports."))
    with transaction.atomic():
        locked = VisitReport.objects.select_for_update().get(pk=report.pk)
        if locked.reviewed_at is not None:
            raise ValidationError({"report": [_("This report is already reviewed.")]})
        locked.reviewed_by = actor
        locked.reviewed_at = timezone.now()
        locked.save(update_fields=["reviewed_by", "reviewed_at"])
        audit_record(
            actor=actor,
            action="visit.report_review",
            target=locked,
            summary=f"reviewed {route}",
            after={"route": route.pk},
        )
    return locked


def route_changes_open(route: Route) -> int:
    return route.changes.filter(status=ChangeStatus.REQUESTED).count()
