"""Changes of route on the day (the seed: 如有特殊情况，外访员须事先向客户负责人报告并征得
同意后方可修改行程): a visitor asks, the team lead or the risk manager accepts or refuses,
and both are recorded. An accepted change applies at once; a refused one changes nothing.

Kinds: ``reorder`` — do this stop next (it moves right after the stops already done);
``skip`` — leave this stop out; ``address`` — visit another address of the same case
(``payload["address"]``)."""

from __future__ import annotations

from typing import Any

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.db.models import Max
from django.utils import timezone
from django.utils.translation import gettext as _

from cuishou.audit.services import audit_record
from cuishou.portfolio.models import Address
from cuishou.visits.choices import ChangeKind, ChangeStatus, RouteStatus, StopStatus
from cuishou.visits.day import visitor_require
from cuishou.visits.models import Route, RouteChange, RouteStop

DECIDE_PERMISSION = "visits.decide_routechange"
OPEN_ROUTE = (RouteStatus.APPROVED, RouteStatus.DEPARTED)
REASON_MAX = 1000


def user_may_decide_change(user: Any, route: Route) -> bool:
    """The route's team lead, or a risk manager."""
    if not getattr(user, "is_authenticated", False) or not user.has_perm(DECIDE_PERMISSION):
        return False
    return bool(user.has_perm("visits.approve_route") or route.team.lead_id == user.pk)


def _address_of(payload: dict[str, Any], stop: RouteStop) -> Address:
    address_id = (payload or {}).get("address")
    address = (
        Address.objects.filter(
            pk=int(str(address_id)), debtor_id=stop.visit_case.case.debtor_id
        ).first()
        if str(address_id or "").isdigit()
        else None
    )
    if address is None:
        raise ValidationError({"payload": [_("Choose another address of this case's debtor.")]})
    if address.pk == stop.address_id:
        raise ValidationError({"payload": [_("That is the address already on the route.")]})
    if not address.is_valid:
        raise ValidationError({"payload": [_("That address is marked invalid.")]})
    return address


def _applicable(change_kind: str, stop: RouteStop | None, payload: dict[str, Any]) -> None:
    if stop is None:
        raise ValidationError({"stop": [_("Say which stop the change is about.")]})
    if stop.status != StopStatus.PLANNED:
        raise ValidationError(
            {
                "stop": [
                    _("Stop %(seq)d is %(status)s: it cannot be changed.")
                    % {"seq": stop.seq, "status": stop.get_status_display()}
                ]
            }
        )
    if change_kind == ChangeKind.ADDRESS:
        _address_of(payload, stop)


def route_change_request(
    *,
    actor: Any,
    route: Route,
    kind: str,
    stop: RouteStop | None,
    reason: str,
    payload: dict[str, Any] | None = None,
) -> RouteChange:
    """A visitor of the route asks for a change; it waits for the approver."""
    route = Route.objects.select_related("team").get(pk=route.pk)
    visitor_require(actor, route)
    payload = dict(payload or {})
    errors: dict[str, list[str]] = {}
    if route.status not in OPEN_ROUTE:
        errors["route"] = [
            _("The route is %(status)s: it is not changed any more.")
            % {"status": route.get_status_display()}
        ]
    if kind not in ChangeKind.values:
        errors["kind"] = [_("Say what should change.")]
    reason = (reason or "").strip()
    if not reason:
        errors["reason"] = [_("Say why the route should change.")]
    elif len(reason) > REASON_MAX:
        errors["reason"] = [_("At most %(n)d characters.") % {"n": REASON_MAX}]
    if stop is not None and stop.route_id != route.pk:
        errors["stop"] = [_("That stop is not on this route.")]
    if errors:
        raise ValidationError(errors)
    if stop is not None:
        stop = RouteStop.objects.select_related("visit_case__case").get(pk=stop.pk)
    _applicable(kind, stop, payload)
    assert stop is not None
    if RouteChange.objects.filter(stop=stop, status=ChangeStatus.REQUESTED).exists():
        raise ValidationError(
            {"stop": [_("A change of this stop is already waiting for a decision.")]}
        )
    payload = {"address": int(payload["address"])} if kind == ChangeKind.ADDRESS else {}
    with transaction.atomic():
        change = RouteChange.objects.create(
            route=route,
            kind=kind,
            stop=stop,
            payload=payload,
            reason=reason,
            requested_by=actor,
            requested_at=timezone.now(),
        )
        audit_record(
            actor=actor,
            action="route.change_request",
            target=change,
            case_id=stop.visit_case.case_id,
            summary=f"{kind} stop {stop.seq}: {reason}",
            after={"route": route.pk, "kind": kind, "seq": stop.seq, "payload": payload},
        )
    return change


def _reorder_next(stop: RouteStop) -> None:
    """Move ``stop`` right after the stops already arrived at, done or left out; the other
    planned stops keep their order after it."""
    stops = list(
        RouteStop.objects.select_for_update().filter(route_id=stop.route_id).order_by("seq")
    )
    settled = [s for s in stops if s.status != StopStatus.PLANNED]
    waiting = [s for s in stops if s.status == StopStatus.PLANNED and s.pk != stop.pk]
    order = [*settled, stop, *waiting]
    top = RouteStop.objects.filter(route_id=stop.route_id).aggregate(m=Max("seq"))["m"] or 0
    # Two steps: out of the way of the unique (route, seq), then into place.
    for n, s in enumerate(order, start=1):
        RouteStop.objects.filter(pk=s.pk).update(seq=top + n)
    for n, s in enumerate(order, start=1):
        RouteStop.objects.filter(pk=s.pk).update(seq=n)


def route_change_decide(
    *, actor: Any, change: RouteChange, accept: bool, note: str = ""
) -> RouteChange:
    """Accept (the change applies now) or refuse (nothing changes) a requested change."""
    route = Route.objects.select_related("team").get(pk=change.route_id)
    if not user_may_decide_change(actor, route):
        raise PermissionDenied(_("The team lead or the risk manager decides changes of route."))
    note = (note or "").strip()
    if not accept and not note:
        raise ValidationError({"note": [_("Say why the change is refused.")]})
    with transaction.atomic():
        locked = RouteChange.objects.select_for_update().get(pk=change.pk)
        if locked.status != ChangeStatus.REQUESTED:
            raise ValidationError(
                {
                    "change": [
                        _("This change was already %(status)s.")
                        % {"status": locked.get_status_display()}
                    ]
                }
            )
        stop = (
            RouteStop.objects.select_for_update()
            .select_related("visit_case__case", "address")
            .get(pk=int(locked.stop_id or 0))
        )
        before: dict[str, Any] = {"seq": stop.seq, "address": stop.address_id}
        if accept:
            if route.status not in OPEN_ROUTE:
                raise ValidationError(
                    {
                        "route": [
                            _("The route is %(status)s: it is not changed any more.")
                            % {"status": route.get_status_display()}
                        ]
                    }
                )
            _applicable(locked.kind, stop, locked.payload)
            if locked.kind == ChangeKind.SKIP:
                stop.status = StopStatus.SKIPPED
                stop.save(update_fields=["status"])
            elif locked.kind == ChangeKind.ADDRESS:
                stop.address = _address_of(locked.payload, stop)
                stop.save(update_fields=["address"])
            else:
                _reorder_next(stop)
        locked.status = ChangeStatus.ACCEPTED if accept else ChangeStatus.REFUSED
        locked.decided_by = actor
        locked.decided_at = timezone.now()
        locked.decision_note = note
        locked.save(update_fields=["status", "decided_by", "decided_at", "decision_note"])
        stop.refresh_from_db(fields=["seq", "address", "status"])
        audit_record(
            actor=actor,
            action="route.change_decide",
            target=locked,
            case_id=stop.visit_case.case_id,
            summary=f"{locked.kind} {locked.status}: {note}",
            before=before,
            after={
                "route": route.pk,
                "kind": locked.kind,
                "status": locked.status,
                "note": note,
                "seq": stop.seq,
                "address": stop.address_id,
            },
        )
    return locked
