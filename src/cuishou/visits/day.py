"""The visit day (外访流程): departure, each stop (arrival, outcome), return; the
standard statements that open and close each stop's recording.

What is enforced here: nobody starts a route that is not approved; at least two visitors,
exactly the team's members ("always the same two together"), each carrying the issued
equipment; every stop is checked by the compliance engine (channel ``visit``, with the
number of visitors and the approval) at departure for the time it is expected and again
at arrival (quiet hours in the debtor's local time, a related person's address only where
the third-party rules allow it); stops are done in the approved order, a stop left out
or taken out of turn needs an accepted change (``visits.changes``); the legal notice only
goes into the debtor's own mailbox in a sealed envelope; the conduct checklist is
confirmed at each stop; a 协查 visit records its finding. A far arrival is flagged, not
refused.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from decimal import Decimal, InvalidOperation
from typing import Any
from zoneinfo import ZoneInfo

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy, override

from cuishou.audit.services import audit_record
from cuishou.cases.choices import Channel, Outcome, Party
from cuishou.cases.models import ContactAttempt
from cuishou.cases.promises import promise_create
from cuishou.compliance.check import ContactBlocked, Decision, contact_check
from cuishou.core.timeutil import SHANGHAI, require_aware
from cuishou.portfolio.models import RelatedPerson
from cuishou.visits import conf
from cuishou.visits.choices import (
    FraudFinding,
    RouteStatus,
    StopOutcome,
    StopStatus,
    VisitCaseStatus,
    VisitPurpose,
)
from cuishou.visits.equipment import equipment_missing, route_members
from cuishou.visits.geo import coordinate, distance_m
from cuishou.visits.models import Route, RouteStop, VisitCase

STOP_PERMISSION = "visits.change_routestop"
DEPART_DESK_PERMISSION = "visits.add_equipmentloan"  # the risk manager records departures too

# The conduct rules a visitor confirms at every stop (the seed's 访问 rules).
CONDUCT: dict[str, Any] = {
    "no_entry": gettext_lazy("We did not enter the home, even when invited"),
    "no_pressure": gettext_lazy(
        "No shouting, banging or repeated ringing; no insults, threats or physical contact"
    ),
    "together": gettext_lazy("Both visitors stayed together the whole time"),
    "no_money": gettext_lazy("We took no cash, cheques or goods"),
    "bank_counter": gettext_lazy(
        "Any payment was made by the debtor in person at a bank counter (or none was made)"
    ),
}

# What the legal notice was done with when nobody was home.
NOTICE_MAILBOX = "mailbox_sealed"
NOTICE_KEPT = "kept"
NOTICE_DELIVERY: dict[str, Any] = {
    NOTICE_MAILBOX: gettext_lazy(
        "In a sealed envelope marked 非本人请勿拆阅, into the debtor's own mailbox"
    ),
    NOTICE_KEPT: gettext_lazy("Not left (no mailbox of the debtor's own): brought back"),
    "door": gettext_lazy("Left in the door"),
    "window": gettext_lazy("Left on a window or window sill"),
}
REFUSED_DELIVERY = ("door", "window")

# Whom the visitors asked when nobody was home.
ASKED: dict[str, Any] = {
    "neighbours": gettext_lazy("Neighbours (邻居)"),
    "property": gettext_lazy("Property management (物业)"),
    "committee": gettext_lazy("Residents' committee (居委会)"),
    "police": gettext_lazy("Community police (片警)"),
    "security": gettext_lazy("Security guard (保安)"),
}

RINGING = ("yes", "no", "no_home_phone")

# The ContactAttempt each outcome is logged as.
OUTCOME_CODE = {
    StopOutcome.DEBTOR_MET: Outcome.RPC,
    StopOutcome.RELATED_MET: Outcome.THIRD_PARTY,
    StopOutcome.NOBODY_HOME: Outcome.NO_ANSWER,
    StopOutcome.ADDRESS_INVALID: Outcome.WRONG_NUMBER,
    StopOutcome.MOVED: Outcome.WRONG_NUMBER,
}
OUTCOME_PARTY = {
    StopOutcome.DEBTOR_MET: Party.DEBTOR,
    StopOutcome.RELATED_MET: Party.RELATED,
    StopOutcome.NOBODY_HOME: Party.NOBODY,
    StopOutcome.ADDRESS_INVALID: Party.NOBODY,
    StopOutcome.MOVED: Party.NOBODY,
}
TEXT_MAX = 2000

_ADDRESS_KIND_ZH = {
    "residence": "住宅",
    "work": "单位",
    "mailing": "邮寄",
    "hukou": "户籍",
    "other": "其他",
}
_ADDRESS_KIND_EN = {
    "residence": "residence",
    "work": "work",
    "mailing": "mailing",
    "hukou": "hukou (registered)",
    "other": "other",
}


# --- who may act -----------------------------------------------------------------------


def user_on_route(user: Any, route: Route) -> bool:
    """Is ``user`` one of the visitors of ``route`` (its team's members)?"""
    return bool(
        getattr(user, "is_authenticated", False)
        and user.has_perm(STOP_PERMISSION)
        and route.team.members.filter(pk=user.pk).exists()
    )


def visitor_require(actor: Any, route: Route, *, went: bool = False) -> None:
    """PermissionDenied unless ``actor`` is a visitor of ``route`` (``went``: one of the
    visitors who departed on it)."""
    if not user_on_route(actor, route):
        raise PermissionDenied(_("Only the visitors of this route's team may do this."))
    if went and not route.visitors.filter(pk=actor.pk).exists():
        raise PermissionDenied(_("Only the visitors who went out on this route may do this."))


def _visitors_or_desk(actor: Any, route: Route) -> None:
    if actor.has_perm(DEPART_DESK_PERMISSION) or user_on_route(actor, route):
        return
    raise PermissionDenied(_("The route's visitors or the risk manager record this."))


def _local(at: dt.datetime) -> dt.datetime:
    return at.astimezone(SHANGHAI)


def _same_day(route: Route, at: dt.datetime, field: str) -> None:
    if _local(at).date() != route.day:
        raise ValidationError(
            {
                field: [
                    _("This route is for %(day)s: that time is on %(other)s.")
                    % {"day": route.day.isoformat(), "other": _local(at).date().isoformat()}
                ]
            }
        )


def _blocked_line(stop: RouteStop, decision: Decision) -> str:
    return _("Stop %(seq)d (%(debtor)s): %(rules)s — %(why)s") % {
        "seq": stop.seq,
        "debtor": stop.visit_case.case.debtor.name,
        "rules": ", ".join(decision.rule_ids),
        "why": decision.message,
    }


def _audit_blocked(actor: Any, stop: RouteStop, decision: Decision, party: str) -> None:
    case = stop.visit_case.case
    audit_record(
        actor=actor,
        action="contact.blocked",
        object_type="cases.case",
        object_id=case.pk,
        case_id=case.pk,
        summary=decision.message,
        after={"channel": Channel.VISIT, "party": party, "rules": decision.rule_ids},
    )


def _stops(route: Route) -> list[RouteStop]:
    return list(
        route.stops.select_related(
            "visit_case__case__debtor", "visit_case__case__client", "address"
        )
        .order_by("seq")
        .all()
    )


# --- departure -------------------------------------------------------------------------


def route_depart(
    *, actor: Any, route: Route, visitors: Sequence[Any], at: dt.datetime | None = None
) -> Route:
    """Record the departure of ``visitors`` on ``route`` at ``at`` (now).

    Refused (ValidationError naming the field) unless the route is approved, the visitors
    are at least two and exactly the team's members, each has the issued equipment
    checked out, and the compliance check allows every stop (the blocked ones are listed
    with the rule and the reason, and audited on their cases)."""
    _visitors_or_desk(actor, route)
    at = require_aware(at or timezone.now())
    route = Route.objects.select_related("team").get(pk=route.pk)
    if route.status != RouteStatus.APPROVED:
        raise ValidationError(
            {
                "route": [
                    _("Nobody can start a route that is not approved: this one is %(status)s.")
                    % {"status": route.get_status_display()}
                ]
            }
        )
    _same_day(route, at, "at")
    chosen = list({v.pk: v for v in visitors}.values())
    members = route_members(route)
    member_ids = {m.pk for m in members}
    errors: dict[str, list[str]] = {}
    if len(chosen) < 2:
        errors.setdefault("visitors", []).append(
            _("Never alone: a visit needs at least two visitors (%(n)d named).")
            % {"n": len(chosen)}
        )
    strangers = [v for v in chosen if v.pk not in member_ids]
    if strangers:
        errors.setdefault("visitors", []).append(
            _("%(names)s not of the team %(team)s: the team's visitors always go together.")
            % {"names": ", ".join(str(v) for v in strangers), "team": route.team}
        )
    absent = [m for m in members if m.pk not in {v.pk for v in chosen}]
    if absent and len(chosen) >= 2 and not strangers:
        errors.setdefault("visitors", []).append(
            _("The team goes out together: %(names)s is missing.")
            % {"names": ", ".join(str(m) for m in absent)}
        )
    if errors:
        raise ValidationError(errors)
    missing = equipment_missing(route, chosen)
    if missing:
        raise ValidationError(
            {
                "equipment": [
                    _("%(name)s has not checked out: %(items)s.")
                    % {"name": visitor, "items": ", ".join(items)}
                    for visitor, items in missing.items()
                ]
            }
        )
    blocked = []
    for stop in _stops(route):
        if stop.status == StopStatus.SKIPPED:
            continue
        when = max(at, stop.window_start or stop.expected_at or at)
        decision = contact_check(
            case=stop.visit_case.case,
            channel=Channel.VISIT,
            party=Party.DEBTOR,
            at=when,
            actor=actor,
            visitors=len(chosen),
            route_approved=True,
        )
        if not decision.allowed:
            blocked.append((stop, decision))
    if blocked:
        with transaction.atomic():
            for stop, decision in blocked:
                _audit_blocked(actor, stop, decision, Party.DEBTOR)
        raise ValidationError(
            {
                "stops": [
                    *(_blocked_line(stop, decision) for stop, decision in blocked),
                    _("Ask for a change of route to leave the blocked stops out."),
                ]
            }
        )
    with transaction.atomic():
        locked = Route.objects.select_for_update().get(pk=route.pk)
        if locked.status != RouteStatus.APPROVED:
            raise ValidationError({"route": [_("The route has just changed: reload it.")]})
        locked.status = RouteStatus.DEPARTED
        locked.departed_at = at
        locked.departure_recorded_by = actor
        locked.save(update_fields=["status", "departed_at", "departure_recorded_by"])
        locked.visitors.set(chosen)
        audit_record(
            actor=actor,
            action="route.depart",
            target=locked,
            summary=f"{locked} departed",
            after={"at": at, "visitors": [v.pk for v in chosen]},
        )
    return locked


# --- arrival ---------------------------------------------------------------------------


def _order_require(stop: RouteStop) -> None:
    """Stops are visited in the approved order: every earlier stop done or left out."""
    earlier = (
        RouteStop.objects.filter(route_id=stop.route_id, seq__lt=stop.seq)
        .exclude(status__in=[StopStatus.DONE, StopStatus.SKIPPED])
        .order_by("seq")
        .first()
    )
    if earlier is not None:
        raise ValidationError(
            {
                "stop": [
                    _(
                        "Route change without approval: stop %(seq)d comes first. Ask for a "
                        "change (reorder or leave it out) and wait for it to be accepted."
                    )
                    % {"seq": earlier.seq}
                ]
            }
        )


def stop_arrive(
    *,
    actor: Any,
    stop: RouteStop,
    at: dt.datetime | None = None,
    lat: Any = None,
    lon: Any = None,
    related_person: RelatedPerson | None = None,
) -> RouteStop:
    """Report the arrival at ``stop`` at ``at`` with the phone's location (``lat``,
    ``lon``; none when the phone gave none). ``related_person``: the address is that
    person's (a visit to them), checked against the third-party rules.

    Refused when the stop is out of turn, or when compliance blocks the visit then
    (``ContactBlocked``, audited on the case); an arrival farther than
    ``conf.far_metres()`` from the address, or without a location, is flagged."""
    route = Route.objects.select_related("team").get(pk=stop.route_id)
    visitor_require(actor, route)
    at = require_aware(at or timezone.now())
    if route.status != RouteStatus.DEPARTED:
        raise ValidationError(
            {
                "route": [
                    _("Report arrivals on a route that is out (this one is %(status)s).")
                    % {"status": route.get_status_display()}
                ]
            }
        )
    visitor_require(actor, route, went=True)
    stop = RouteStop.objects.select_related(
        "visit_case__case__debtor", "visit_case__case__client", "address"
    ).get(pk=stop.pk)
    if stop.status != StopStatus.PLANNED:
        raise ValidationError(
            {"stop": [_("This stop is %(status)s.") % {"status": stop.get_status_display()}]}
        )
    _order_require(stop)
    _same_day(route, at, "at")
    if route.departed_at is not None and at < route.departed_at:
        raise ValidationError({"at": [_("The arrival is before the departure.")]})
    lat_d, lon_d = coordinate(lat, "lat", 90), coordinate(lon, "lon", 180)
    if (lat_d is None) != (lon_d is None):
        raise ValidationError({"lat": [_("Give both latitude and longitude, or neither.")]})
    case = stop.visit_case.case
    if related_person is not None and related_person.debtor_id != case.debtor_id:
        raise ValidationError({"related_person": [_("That person is not in this case's file.")]})
    party = Party.RELATED if related_person is not None else Party.DEBTOR
    decision = contact_check(
        case=case,
        channel=Channel.VISIT,
        party=party,
        at=at,
        actor=actor,
        related_person=related_person,
        visitors=route.visitors.count(),
        route_approved=True,
    )
    if not decision.allowed:
        _audit_blocked(actor, stop, decision, party)
        raise ContactBlocked(decision)
    zone = ZoneInfo(decision_zone(case))
    opens, closes = conf.visit_hours()
    local = at.astimezone(zone).time()
    if not opens <= local < closes:
        raise ValidationError(
            {
                "at": [
                    _("No visit before %(opens)s or after %(closes)s local time.")
                    % {"opens": opens.strftime("%H:%M"), "closes": closes.strftime("%H:%M")}
                ]
            }
        )
    distance = None
    far = True  # no location: flagged
    if lat_d is not None and stop.address.lat is not None and stop.address.lon is not None:
        distance = distance_m(lat_d, lon_d, stop.address.lat, stop.address.lon)
        far = distance >= conf.far_metres()
    elif lat_d is not None:
        far = False  # the address has no coordinates: nothing to compare
    with transaction.atomic():
        locked = RouteStop.objects.select_for_update().get(pk=stop.pk)
        if locked.status != StopStatus.PLANNED:
            raise ValidationError({"stop": [_("This stop has just changed: reload it.")]})
        locked.status = StopStatus.ARRIVED
        locked.arrived_at = at
        locked.arrival_lat, locked.arrival_lon = lat_d, lon_d
        locked.arrival_distance_m = distance
        locked.arrival_far = far
        locked.save(
            update_fields=[
                "status",
                "arrived_at",
                "arrival_lat",
                "arrival_lon",
                "arrival_distance_m",
                "arrival_far",
            ]
        )
        audit_record(
            actor=actor,
            action="visit.arrive",
            target=locked,
            case_id=case.pk,
            summary=f"arrived at stop {locked.seq}",
            after={
                "route": route.pk,
                "seq": locked.seq,
                "address": stop.address.text,
                "at": at,
                "distance_m": distance,
                "far": far,
                "located": lat_d is not None,
                "related_person_id": related_person.pk if related_person else None,
            },
        )
    locked.visit_case = stop.visit_case
    locked.address = stop.address
    return locked


def decision_zone(case: Any) -> str:
    """The debtor's time zone as the compliance engine reads it."""
    from cuishou.compliance.check import debtor_zone
    from cuishou.compliance.packs import pack_get

    return debtor_zone(case.debtor, pack_get(case.client.policy_pack))[0]


# --- the outcome -----------------------------------------------------------------------


def _text(details: Mapping[str, Any], key: str) -> str:
    value = details.get(key)
    return str(value).strip() if value not in (None, "") else ""


def _flag(details: Mapping[str, Any], key: str) -> bool | None:
    value = details.get(key)
    if value in (True, "true", "on", "yes", "1", 1):
        return True
    if value in (False, "false", "off", "no", "0", 0):
        return False
    return None


def _notice_errors(details: Mapping[str, Any], out: dict[str, Any], bad: Any) -> None:
    signed = _flag(details, "notice_signed")
    out["notice_signed"] = bool(signed)
    if signed:
        return
    reason = _text(details, "notice_unsigned_reason")
    if not reason:
        bad(
            "notice_signed",
            _("Have the collection notice signed, or say why it was not signed."),
        )
    out["notice_unsigned_reason"] = reason


def stop_details_clean(
    outcome: str, details: Mapping[str, Any], case: Any
) -> tuple[dict[str, Any], dict[str, list[str]], RelatedPerson | None]:
    """The details of ``outcome`` as stored, the errors (field → reasons), and the related
    person met (when one from the file is named)."""
    errors: dict[str, list[str]] = {}
    out: dict[str, Any] = {}
    person = None

    def bad(field: str, message: str) -> None:
        errors.setdefault(field, []).append(message)

    if outcome == StopOutcome.DEBTOR_MET:
        for key, message in (
            ("identity_verified", _("Verify the debtor's identity (ID card).")),
            ("contacts_verified", _("Verify the debtor's phones and address.")),
        ):
            if not _flag(details, key):
                bad(key, message)
            out[key] = bool(_flag(details, key))
        _notice_errors(details, out, bad)
    elif outcome == StopOutcome.RELATED_MET:
        person_id = details.get("related_person")
        if person_id not in (None, ""):
            person = RelatedPerson.objects.filter(pk=person_id, debtor_id=case.debtor_id).first()
            if person is None:
                bad("related_person", _("That person is not in this case's file."))
            else:
                out["related_person"] = person.pk
                out["name"] = person.name
                out["relationship"] = str(person.get_relation_display())
        else:
            out["name"] = _text(details, "name")
            out["relationship"] = _text(details, "relationship")
            if not out["name"] or not out["relationship"]:
                bad(
                    "relationship",
                    _("Say who was met and their relationship to the debtor."),
                )
        out["situation"] = _text(details, "situation")
        if not out["situation"]:
            bad("situation", _("Write down what was learned of the debtor's situation."))
        out["working_contact"] = _text(details, "working_contact")
        if not out["working_contact"]:
            bad("working_contact", _("Ask for a working contact for the debtor (or write none)."))
        passed = _flag(details, "message_passed")
        if passed is None:
            bad("message_passed", _("Say whether they will pass the message on."))
        out["message_passed"] = bool(passed)
        willing = _flag(details, "willing_to_pay")
        if willing is None:
            bad("willing_to_pay", _("Say whether they are willing to pay on the debtor's behalf."))
        out["willing_to_pay"] = bool(willing)
        _notice_errors(details, out, bad)
    elif outcome == StopOutcome.NOBODY_HOME:
        ringing = _text(details, "home_phone_ringing")
        if ringing not in RINGING:
            bad(
                "home_phone_ringing",
                _("Call the home phone and say whether it rang inside (or there is none)."),
            )
        out["home_phone_ringing"] = ringing
        mobile = _flag(details, "mobile_called")
        if not mobile:
            bad("mobile_called", _("Call the debtor's mobile."))
        out["mobile_called"] = bool(mobile)
        asked = details.get("asked") or []
        if isinstance(asked, str):
            asked = [asked]
        unknown = [a for a in asked if a not in ASKED]
        if unknown:
            bad("asked", _("Unknown: %(what)s.") % {"what": ", ".join(unknown)})
        out["asked"] = [a for a in ASKED if a in asked]
        out["learned"] = _text(details, "learned")
        delivery = _text(details, "notice_delivery")
        if delivery in REFUSED_DELIVERY:
            bad(
                "notice_delivery",
                _(
                    "The legal notice is never left in a door or on a window, where others "
                    "may open it: put it in a sealed envelope marked 非本人请勿拆阅 into the "
                    "debtor's own mailbox, or bring it back."
                ),
            )
        elif delivery not in NOTICE_DELIVERY:
            bad("notice_delivery", _("Say what was done with the legal notice."))
        out["notice_delivery"] = delivery
    elif outcome in (StopOutcome.ADDRESS_INVALID, StopOutcome.MOVED):
        out["reason"] = _text(details, "reason")
        if not out["reason"]:
            bad("reason", _("Say how you know (what you saw, whom you asked)."))
        out["new_address"] = _text(details, "new_address")
    else:
        bad("outcome", _("Say what happened at the stop."))
    for key, value in out.items():
        if isinstance(value, str) and len(value) > TEXT_MAX:
            bad(key, _("At most %(n)d characters.") % {"n": TEXT_MAX})
    return out, errors, person


def _promise_instalments(promise: Any) -> list[tuple[dt.date, Decimal]]:
    """``promise``: a sequence of (due date, amount), or a mapping with ``amount`` and
    ``due_on``."""
    if isinstance(promise, Mapping):
        items = [(promise.get("due_on"), promise.get("amount"))]
    else:
        items = list(promise)
    out = []
    for due, amount in items:
        if isinstance(due, str):
            try:
                due = dt.date.fromisoformat(due)
            except ValueError as e:
                raise ValidationError({"promise": [_("The date is not a date.")]}) from e
        if not isinstance(due, dt.date):
            raise ValidationError({"promise": [_("A promise needs an amount and a date.")]})
        try:
            value = Decimal(str(amount)).quantize(Decimal("0.01"))
        except (InvalidOperation, ValueError) as e:
            raise ValidationError({"promise": [_("The amount is not a number.")]}) from e
        if value <= 0:
            raise ValidationError({"promise": [_("The amount must be more than zero.")]})
        out.append((due, value))
    return out


def stop_complete(
    *,
    actor: Any,
    stop: RouteStop,
    outcome: str,
    details: Mapping[str, Any],
    conduct: Mapping[str, Any],
    departed_at: dt.datetime | None = None,
    promise: Any = None,
    fraud_finding: str = "",
    notes: str = "",
) -> RouteStop:
    """Record what happened at ``stop`` and when the visitors left: the details of the
    outcome, the conduct checklist, a promise to pay, the finding of a 协查 visit.

    Logs the visit as a contact attempt (channel visit), creates the promise through
    ``cases.promises.promise_create``, marks the visit case visited."""
    route = Route.objects.select_related("team").get(pk=stop.route_id)
    visitor_require(actor, route)
    departed_at = require_aware(departed_at or timezone.now(), field="departed_at")
    stop = RouteStop.objects.select_related(
        "visit_case__case__debtor", "visit_case__case__client", "address"
    ).get(pk=stop.pk)
    if route.status != RouteStatus.DEPARTED:
        raise ValidationError(
            {"route": [_("The route is %(status)s.") % {"status": route.get_status_display()}]}
        )
    visitor_require(actor, route, went=True)
    if stop.status != StopStatus.ARRIVED:
        raise ValidationError({"stop": [_("Report the arrival at this stop first.")]})
    case = stop.visit_case.case
    errors: dict[str, list[str]] = {}
    if stop.arrived_at is not None and departed_at < stop.arrived_at:
        errors["departed_at"] = [_("The visitors leave after they arrive.")]
    if outcome not in StopOutcome.values:
        errors["outcome"] = [_("Say what happened at the stop.")]
        clean: dict[str, Any] = {}
        person = None
    else:
        clean, detail_errors, person = stop_details_clean(outcome, details, case)
        for key, reasons in detail_errors.items():
            errors.setdefault(key, []).extend(reasons)
    unconfirmed = [str(label) for key, label in CONDUCT.items() if not _flag(conduct, key)]
    if unconfirmed:
        errors["conduct"] = [
            _("Confirm the conduct rules: %(items)s.") % {"items": "; ".join(unconfirmed)}
        ]
    investigate = stop.visit_case.purpose == VisitPurpose.INVESTIGATE
    fraud_finding = (fraud_finding or "").strip()
    if investigate and fraud_finding not in FraudFinding.values:
        errors["fraud_finding"] = [_("This is a 协查 visit: record the investigation finding.")]
    elif not investigate and fraud_finding:
        errors["fraud_finding"] = [_("Only a 协查 visit records an investigation finding.")]
    instalments: list[tuple[dt.date, Decimal]] = []
    if promise:
        if outcome not in (StopOutcome.DEBTOR_MET, StopOutcome.RELATED_MET):
            errors.setdefault("promise", []).append(
                _("A promise to pay is made by the debtor or a related person met.")
            )
        else:
            try:
                instalments = _promise_instalments(promise)
            except ValidationError as e:
                errors.setdefault("promise", []).extend(e.message_dict["promise"])
    notes = (notes or "").strip()
    if len(notes) > TEXT_MAX:
        errors["notes"] = [_("At most %(n)d characters.") % {"n": TEXT_MAX}]
    if errors:
        raise ValidationError(errors)
    code = OUTCOME_CODE[StopOutcome(outcome)]
    if outcome == StopOutcome.DEBTOR_MET and instalments:
        code = Outcome.PTP
    party = OUTCOME_PARTY[StopOutcome(outcome)]
    with transaction.atomic():
        locked = RouteStop.objects.select_for_update().get(pk=stop.pk)
        if locked.status != StopStatus.ARRIVED:
            raise ValidationError({"stop": [_("This stop has just changed: reload it.")]})
        attempt = ContactAttempt.objects.create(
            case=case,
            channel=Channel.VISIT,
            party=party,
            related_person=person,
            outcome=code,
            notes=notes,
            attempted_at=stop.arrived_at or departed_at,
            actor=actor,
            compliance_rules=[],
        )
        audit_record(
            actor=actor,
            action="contact.attempt",
            target=attempt,
            case_id=case.pk,
            summary=f"visit {party} {code}",
            after={
                "channel": Channel.VISIT,
                "party": party,
                "outcome": code,
                "contact_point_id": None,
                "related_person_id": person.pk if person else None,
                "next_follow_up_at": None,
                "notes": notes,
                "stop": locked.pk,
            },
        )
        made = None
        if instalments:
            made = promise_create(
                actor=actor, case=case, instalments=instalments, contact_attempt=attempt
            )
        locked.status = StopStatus.DONE
        locked.departed_at = departed_at
        locked.outcome = outcome
        locked.details = clean
        locked.conduct = {key: True for key in CONDUCT}
        locked.fraud_finding = fraud_finding
        locked.notes = notes
        locked.contact_attempt = attempt
        locked.promise = made
        locked.save(
            update_fields=[
                "status",
                "departed_at",
                "outcome",
                "details",
                "conduct",
                "fraud_finding",
                "notes",
                "contact_attempt",
                "promise",
            ]
        )
        VisitCase.objects.filter(pk=stop.visit_case_id).update(
            status=VisitCaseStatus.VISITED, status_reason=outcome
        )
        audit_record(
            actor=actor,
            action="visit.stop",
            target=locked,
            case_id=case.pk,
            summary=f"stop {locked.seq}: {outcome}",
            after={
                "route": route.pk,
                "seq": locked.seq,
                "outcome": outcome,
                "arrived_at": locked.arrived_at,
                "departed_at": departed_at,
                "fraud_finding": fraud_finding,
                "promise": made.pk if made else None,
                "notice_delivery": clean.get("notice_delivery", ""),
                "notice_signed": clean.get("notice_signed"),
            },
        )
    locked.visit_case = stop.visit_case
    locked.address = stop.address
    return locked


# --- return ----------------------------------------------------------------------------


def route_return(*, actor: Any, route: Route, at: dt.datetime | None = None) -> Route:
    """Record the team's return at ``at`` (now): the same day, every stop done or left
    out by an accepted change."""
    _visitors_or_desk(actor, route)
    at = require_aware(at or timezone.now())
    route = Route.objects.select_related("team").get(pk=route.pk)
    if route.status != RouteStatus.DEPARTED:
        raise ValidationError(
            {
                "route": [
                    _("Only a route that is out returns (this one is %(status)s).")
                    % {"status": route.get_status_display()}
                ]
            }
        )
    _same_day(route, at, "at")
    if route.departed_at is not None and at < route.departed_at:
        raise ValidationError({"at": [_("The return is before the departure.")]})
    open_stops = [s for s in _stops(route) if s.status in (StopStatus.PLANNED, StopStatus.ARRIVED)]
    if open_stops:
        raise ValidationError(
            {
                "stops": [
                    (
                        _("Stop %(seq)d (%(debtor)s) was arrived at but not completed.")
                        if s.status == StopStatus.ARRIVED
                        else _(
                            "Stop %(seq)d (%(debtor)s) was not visited: a stop is left out "
                            "only by an accepted change of route."
                        )
                    )
                    % {"seq": s.seq, "debtor": s.visit_case.case.debtor.name}
                    for s in open_stops
                ]
            }
        )
    with transaction.atomic():
        locked = Route.objects.select_for_update().get(pk=route.pk)
        locked.status = RouteStatus.RETURNED
        locked.returned_at = at
        locked.return_recorded_by = actor
        locked.save(update_fields=["status", "returned_at", "return_recorded_by"])
        audit_record(
            actor=actor,
            action="route.return",
            target=locked,
            summary=f"{locked} returned",
            after={"at": at},
        )
    return locked


# --- the standard statements -----------------------------------------------------------


def statement_visitors(route: Route) -> list[str]:
    went = sorted(route.visitors.all(), key=lambda u: u.pk)
    return [str(v) for v in (went or route_members(route))]


def statements(stop: RouteStop, at: dt.datetime | None = None) -> dict[str, dict[str, str]]:
    """The recording's opening and closing statements for ``stop`` at ``at`` (now),
    filled in: {"opening": {"zh": …, "en": …}, "closing": {…}}."""
    at = _local(require_aware(at or timezone.now()))
    names = statement_visitors(stop.route)
    first = names[0] if names else "—"
    second = names[1] if len(names) > 1 else "—"
    debtor = stop.visit_case.case.debtor.name
    address = stop.address.text
    zh_time = f"{at.year}年{at.month}月{at.day}日{at.hour}时{at.minute}分"
    kind_zh = _ADDRESS_KIND_ZH.get(stop.address.kind, "")
    kind_en = _ADDRESS_KIND_EN.get(stop.address.kind, stop.address.kind)
    with override("en"):
        en_time = at.strftime("%H:%M on %d %B %Y")
    zh_open = (
        f"现在是{zh_time}，外访员{first}，（另一人应答）外访员{second}，"
        f"开始对客户{debtor}的{kind_zh}地址{address}进行外访，现在开始录音。"
    )
    zh_close = (
        f"现在是{zh_time}，外访员{first}，（另一人应答）外访员{second}，"
        f"完成对客户{debtor}的{kind_zh}地址{address}的外访，现在关闭录音。"
    )
    en_open = (
        f"It is now {en_time}. Field visitor {first} — (the other answers) field visitor "
        f"{second} — starting the visit to customer {debtor} at the {kind_en} address "
        f"{address}. Recording starts now."
    )
    en_close = (
        f"It is now {en_time}. Field visitor {first} — (the other answers) field visitor "
        f"{second} — the visit to customer {debtor} at the {kind_en} address {address} is "
        f"complete. Recording stops now."
    )
    return {"opening": {"zh": zh_open, "en": en_open}, "closing": {"zh": zh_close, "en": en_close}}
