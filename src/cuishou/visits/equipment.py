"""Equipment for a route (外访物品): checked out to each visitor by the risk manager
against a signature and a time, returned the same way.

The letter of introduction (介绍信) is made for the visit: a new numbered document from
the approved introduction template (``notices``), naming both visitors, whose number is
the item's label. Anything still out when the route's day is over is an alert
(``equipment_outstanding``), shown on the risk manager's equipment desk and on the team
lead's desk — a page, not a command: the people who act on it are the ones who look.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from cuishou.audit.services import audit_record
from cuishou.core.timeutil import SHANGHAI, require_aware, today_shanghai
from cuishou.notices.choices import TemplateKind, TemplateStatus
from cuishou.notices.documents import document_render
from cuishou.notices.models import NoticeTemplate
from cuishou.visits.choices import ISSUED_EQUIPMENT, EquipmentKind, RouteStatus
from cuishou.visits.models import EquipmentLoan, Route

CHECK_OUT_PERMISSION = "visits.add_equipmentloan"
RETURN_PERMISSION = "visits.change_equipmentloan"
# The key of the default letter of introduction (notices.defaults) preferred when several
# introduction templates are approved.
INTRODUCTION_KEYS = ("introduction-zh", "introduction-en")
# Items that carry a serial or badge number the risk manager writes down.
LABELLED = (EquipmentKind.BADGE, EquipmentKind.CAMERA, EquipmentKind.RECORDER)
# Routes whose equipment can still be handed out.
CHECK_OUT_STATUSES = (RouteStatus.APPROVED, RouteStatus.DEPARTED)


def route_members(route: Route) -> list[Any]:
    """The route's team members, in a stable order (as they were added)."""
    return sorted(route.team.members.all(), key=lambda u: u.pk)


def introduction_template() -> NoticeTemplate:
    """The approved letter of introduction to render (the default Chinese one first).
    ValidationError when compliance has approved none."""
    approved = list(
        NoticeTemplate.objects.filter(
            kind=TemplateKind.INTRODUCTION, status=TemplateStatus.APPROVED
        ).order_by("key", "-version")
    )
    if not approved:
        raise ValidationError(
            {
                "kind": [
                    _(
                        "No letter of introduction template is approved: a compliance "
                        "officer approves one (Templates) before equipment is handed out."
                    )
                ]
            }
        )
    rank = {key: n for n, key in enumerate(INTRODUCTION_KEYS)}
    return min(approved, key=lambda t: (rank.get(t.key, len(rank)), t.key))


def _require_risk(actor: Any, permission: str) -> None:
    if not actor.has_perm(permission):
        raise PermissionDenied(_("Only the risk manager hands out and takes back equipment."))


def _signature(signature: str) -> str:
    signature = (signature or "").strip()
    if not signature:
        raise ValidationError({"signature": [_("The visitor signs for the item.")]})
    if len(signature) > 100:
        raise ValidationError({"signature": [_("A signature is at most 100 characters.")]})
    return signature


@transaction.atomic
def equipment_check_out(
    *,
    actor: Any,
    route: Route,
    visitor: Any,
    kind: str,
    signature: str,
    label: str = "",
    at: dt.datetime | None = None,
) -> EquipmentLoan:
    """Hand ``kind`` to ``visitor`` for ``route``, signed for by the visitor. The letter of
    introduction is rendered now and its document number is the label."""
    _require_risk(actor, CHECK_OUT_PERMISSION)
    at = require_aware(at or timezone.now())
    route = Route.objects.select_for_update().select_related("team").get(pk=route.pk)
    errors: dict[str, list[str]] = {}
    if route.status not in CHECK_OUT_STATUSES:
        errors.setdefault("route", []).append(
            _("Equipment is handed out for an approved route only (this one is %(status)s).")
            % {"status": route.get_status_display()}
        )
    members = route_members(route)
    if visitor.pk not in {m.pk for m in members}:
        errors.setdefault("visitor", []).append(
            _("%(name)s is not a visitor of this route's team.") % {"name": visitor}
        )
    if kind not in EquipmentKind.values:
        errors.setdefault("kind", []).append(_("Unknown item."))
    signature_errors: list[str] = []
    try:
        signature = _signature(signature)
    except ValidationError as e:
        signature_errors = e.message_dict["signature"]
    if signature_errors:
        errors["signature"] = signature_errors
    label = (label or "").strip()
    if kind in LABELLED and not label:
        errors.setdefault("label", []).append(
            _("Write down the serial or badge number of the %(item)s.")
            % {"item": EquipmentKind(kind).label}
        )
    if len(label) > 64:
        errors.setdefault("label", []).append(_("At most 64 characters."))
    if errors:
        raise ValidationError(errors)
    existing = EquipmentLoan.objects.filter(route=route, visitor=visitor, kind=kind).first()
    if existing is not None:
        raise ValidationError(
            {
                "kind": [
                    _("%(item)s was already checked out to %(name)s for this route at %(at)s.")
                    % {
                        "item": EquipmentKind(kind).label,
                        "name": visitor,
                        "at": existing.checked_out_at.astimezone(SHANGHAI).strftime("%H:%M"),
                    }
                ]
            }
        )
    document = None
    if kind == EquipmentKind.INTRODUCTION:
        stop = route.stops.select_related("visit_case__case").order_by("seq").first()
        if stop is None:
            raise ValidationError({"route": [_("The route has no stops.")]})
        document = document_render(
            actor=actor,
            case=stop.visit_case.case,
            template=introduction_template(),
            visitors=[str(m) for m in members],
        )
        label = document.number
    loan = EquipmentLoan.objects.create(
        route=route,
        visitor=visitor,
        kind=kind,
        label=label,
        document=document,
        checked_out_at=at,
        checked_out_by=actor,
        out_signature=signature,
    )
    audit_record(
        actor=actor,
        action="equipment.check_out",
        target=loan,
        summary=f"{kind} {label} → {visitor}",
        after={
            "route": route.pk,
            "visitor": visitor.pk,
            "kind": kind,
            "label": label,
            "signature": signature,
            "at": at,
        },
    )
    return loan


@transaction.atomic
def equipment_return(
    *, actor: Any, loan: EquipmentLoan, signature: str, at: dt.datetime | None = None
) -> EquipmentLoan:
    """Take ``loan``'s item back, signed by the visitor handing it in."""
    _require_risk(actor, RETURN_PERMISSION)
    at = require_aware(at or timezone.now())
    signature = _signature(signature)
    loan = EquipmentLoan.objects.select_for_update().get(pk=loan.pk)
    if loan.returned_at is not None:
        raise ValidationError(
            {
                "loan": [
                    _("%(item)s was already returned at %(at)s.")
                    % {
                        "item": loan.get_kind_display(),
                        "at": loan.returned_at.astimezone(SHANGHAI).strftime("%H:%M"),
                    }
                ]
            }
        )
    if at < loan.checked_out_at:
        raise ValidationError({"at": [_("An item is returned after it was checked out.")]})
    loan.returned_at = at
    loan.returned_to = actor
    loan.return_signature = signature
    loan.save(update_fields=["returned_at", "returned_to", "return_signature"])
    audit_record(
        actor=actor,
        action="equipment.return",
        target=loan,
        summary=f"{loan.kind} {loan.label} ← {loan.visitor}",
        after={"route": loan.route_id, "kind": loan.kind, "signature": signature, "at": at},
    )
    return loan


def equipment_missing(route: Route, visitors: list[Any]) -> dict[Any, list[str]]:
    """visitor → the issued items (labels) they do not have checked out and in hand."""
    held = set(
        EquipmentLoan.objects.filter(route=route, returned_at__isnull=True).values_list(
            "visitor_id", "kind"
        )
    )
    out: dict[Any, list[str]] = {}
    for visitor in visitors:
        missing = [str(k.label) for k in ISSUED_EQUIPMENT if (visitor.pk, k.value) not in held]
        if missing:
            out[visitor] = missing
    return out


def equipment_out(route: Route) -> list[EquipmentLoan]:
    """The route's items not handed back yet."""
    return list(
        EquipmentLoan.objects.filter(route=route, returned_at__isnull=True)
        .select_related("visitor")
        .order_by("visitor__username", "kind")
    )


@dataclass(frozen=True)
class Outstanding:
    """An item not returned by the end of its route's day."""

    loan: EquipmentLoan
    day: dt.date

    @property
    def message(self) -> str:
        return _("%(item)s %(label)s checked out to %(name)s on %(day)s is not returned.") % {
            "item": self.loan.get_kind_display(),
            "label": self.loan.label,
            "name": self.loan.visitor,
            "day": self.day.isoformat(),
        }


def equipment_outstanding(day: dt.date | None = None, *, team_ids: Any = None) -> list[Outstanding]:
    """The alerts as of ``day`` (today in Shanghai): every item of a route on an earlier
    day still out (the end of that day has passed). ``team_ids`` limits it to those teams."""
    day = day or today_shanghai()
    loans = EquipmentLoan.objects.filter(returned_at__isnull=True, route__day__lt=day)
    if team_ids is not None:
        loans = loans.filter(route__team_id__in=list(team_ids))
    return [
        Outstanding(loan=loan, day=loan.route.day)
        for loan in loans.select_related("route", "visitor").order_by(
            "route__day", "visitor__username", "kind"
        )
    ]
