"""Checking planned contacts from a file (``cuishou compliance check FILE.jsonl``).

Each input line is one planned contact::

    {"id", "client", "contract_no", "channel": "call|sms|email|letter|visit",
     "to": "debtor" | a phone number or e-mail from the portfolio's contacts,
     "at": ISO 8601 with an offset, "answered": bool (calls), "outcome": optional code,
     "text": optional, "visitors": optional int, "route_approved": optional bool,
     "purpose": optional, collect|dispute|locate|notice|suit (default: locate for a third
     party, else collect)}

and gets one output line ``{"id", "allowed", "rules", "reason"}`` (plus ``"overridden"``,
the rules an approved override lifted, when any did), or ``{"id", "error"}``
naming the field when the line cannot be read (bad JSON, an unknown client, contract or
contact, a time without an offset); the lines after it are still decided. With
``record``, allowed attempts are stored as made (with their outcome) on the debtor's
case, so later lines see them. Every decision is an audit event (``compliance.decision``).
"""

from __future__ import annotations

import datetime as dt
import json
import re
from collections.abc import Iterable, Iterator
from typing import Any

from django.db import transaction
from django.utils.translation import gettext as _

from cuishou.audit.services import AuditEntry, audit_record_many
from cuishou.cases.choices import UNANSWERED_OUTCOMES, Channel, Outcome, Party
from cuishou.cases.models import Case, ContactAttempt
from cuishou.compliance.check import contact_check
from cuishou.compliance.overrides import override_uses_record
from cuishou.portfolio.models import Client, ContactPoint, Loan


class LineError(ValueError):
    """A line that cannot be decided; the message names the field and why."""


def _phone_key(value: str) -> str:
    digits = re.sub(r"[^\d+]", "", value)
    return digits[3:] if digits.startswith("+86") else digits


def _field(data: dict[str, Any], name: str, kind: type | tuple[type, ...]) -> Any:
    value = data.get(name)
    if value is None or value == "":
        raise LineError(_("%(field)s: missing") % {"field": name})
    if not isinstance(value, kind) or (isinstance(value, bool) and kind is not bool):
        raise LineError(_("%(field)s: wrong type") % {"field": name})
    return value


def _when(value: str) -> dt.datetime:
    try:
        at = dt.datetime.fromisoformat(value)
    except ValueError as exc:
        raise LineError(_("at: not an ISO 8601 time (%(value)s)") % {"value": value}) from exc
    if at.tzinfo is None:
        raise LineError(_("at: %(value)s has no UTC offset (write e.g. +08:00)") % {"value": value})
    return at


class _Resolver:
    """Clients, loans and contact points looked up once per file."""

    def __init__(self) -> None:
        self.clients: dict[str, Client | None] = {}
        self.loans: dict[tuple[int, str], Loan | None] = {}
        self.points: dict[int, list[ContactPoint]] = {}

    def client(self, code: str) -> Client:
        if code not in self.clients:
            self.clients[code] = Client.objects.filter(code=code).first()
        client = self.clients[code]
        if client is None:
            raise LineError(_("client: no client %(code)s") % {"code": code})
        return client

    def loan(self, client: Client, contract_no: str) -> Loan:
        key = (client.pk, contract_no)
        if key not in self.loans:
            self.loans[key] = (
                Loan.objects.select_related("debtor")
                .filter(client=client, contract_no=contract_no)
                .first()
            )
        loan = self.loans[key]
        if loan is None:
            raise LineError(
                _("contract_no: no contract %(no)s with client %(code)s")
                % {"no": contract_no, "code": client.code}
            )
        return loan

    def target(self, loan: Loan, to: str, channel: str) -> tuple[str, Any, Any]:
        """(party, contact point, related person) of ``to``."""
        if loan.debtor_id not in self.points:
            self.points[loan.debtor_id] = list(
                ContactPoint.objects.filter(debtor_id=loan.debtor_id).select_related(
                    "related_person"
                )
            )
        points = self.points[loan.debtor_id]
        if to == "debtor":
            kind = "email" if channel == Channel.EMAIL else "phone"
            own = [p for p in points if p.related_person_id is None and p.kind == kind]
            own.sort(key=lambda p: (not p.is_primary, p.pk))
            return Party.DEBTOR, (own[0] if own and channel != Channel.VISIT else None), None
        key = to.strip().lower() if "@" in to else _phone_key(to)
        for point in points:
            value = point.value.lower() if point.kind == "email" else _phone_key(point.value)
            if value == key:
                if point.related_person_id is None:
                    return Party.DEBTOR, point, None
                return Party.RELATED, point, point.related_person
        raise LineError(
            _("to: %(to)s is not among contract %(no)s's contacts")
            % {"to": to, "no": loan.contract_no}
        )


PURPOSES = ("collect", "dispute", "locate", "notice", "suit")


def _purpose(data: dict[str, Any], third_party: bool) -> str:
    purpose = data.get("purpose")
    if purpose is None or purpose == "":
        return "locate" if third_party else "collect"
    if purpose not in PURPOSES:
        raise LineError(
            _("purpose: %(value)s is not one of %(purposes)s")
            % {"value": purpose, "purposes": ", ".join(PURPOSES)}
        )
    return str(purpose)


def _outcome(data: dict[str, Any], party: str) -> str:
    outcome = data.get("outcome")
    if outcome:
        if outcome not in Outcome.values:
            raise LineError(_("outcome: unknown code %(code)s") % {"code": outcome})
        return str(outcome)
    if data.get("answered") is False:
        return Outcome.NO_ANSWER.value
    return Outcome.THIRD_PARTY.value if party == Party.RELATED else Outcome.RPC.value


def check_lines(
    lines: Iterable[str], *, record: bool = False, actor: Any = "cli"
) -> Iterator[dict[str, Any]]:
    """One output object per non-blank input line, in order."""
    resolver = _Resolver()
    for number, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        line_id: Any = None
        try:
            try:
                data = json.loads(line)
            except json.JSONDecodeError as exc:
                raise LineError(
                    _("line %(n)d: not JSON (%(why)s)") % {"n": number, "why": exc}
                ) from exc
            if not isinstance(data, dict):
                raise LineError(_("line %(n)d: not a JSON object") % {"n": number})
            line_id = data.get("id")
            yield _decide(data, resolver, record=record, actor=actor)
        except LineError as exc:
            yield {"id": line_id, "error": str(exc)}


def _decide(
    data: dict[str, Any], resolver: _Resolver, *, record: bool, actor: Any
) -> dict[str, Any]:
    line_id = _field(data, "id", (str, int))
    client = resolver.client(_field(data, "client", str))
    loan = resolver.loan(client, _field(data, "contract_no", str))
    channel = _field(data, "channel", str)
    if channel not in Channel.values:
        raise LineError(
            _("channel: %(value)s is not one of %(channels)s")
            % {"value": channel, "channels": ", ".join(Channel.values)}
        )
    at = _when(_field(data, "at", str))
    party, point, person = resolver.target(loan, _field(data, "to", str), channel)
    visitors = data.get("visitors")
    if visitors is not None and (not isinstance(visitors, int) or isinstance(visitors, bool)):
        raise LineError(_("visitors: a whole number"))
    text = data.get("text") or ""
    if not isinstance(text, str):
        raise LineError(_("text: wrong type"))
    outcome = _outcome(data, party)
    purpose = _purpose(data, party == Party.RELATED and person.is_third_party)
    case = Case.objects.filter(client=client, debtor_id=loan.debtor_id).first()
    subject = case or Case(client=client, debtor=loan.debtor, status="open")
    decision = contact_check(
        case=subject,
        channel=channel,
        party=party,
        at=at,
        contact_point=point,
        related_person=person,
        purpose=purpose,
        text=text,
        visitors=visitors,
        route_approved=data.get("route_approved"),
    )
    with transaction.atomic():
        recorded = False
        if record and decision.allowed and case is not None:
            made = {
                "case": case,
                "channel": channel,
                "contact_point": point,
                "party": Party.NOBODY if outcome in UNANSWERED_OUTCOMES else party,
                "related_person": person
                if party == Party.RELATED and outcome not in UNANSWERED_OUTCOMES
                else None,
                "outcome": outcome,
                "attempted_at": at,
            }
            # The same line recorded before is not stored twice.
            if not ContactAttempt.objects.filter(**made).exists():
                ContactAttempt.objects.create(
                    **made, notes=text, compliance_rules=decision.applied_ids
                )
                override_uses_record(decision=decision, at=at)
            recorded = True
        audit_record_many(
            actor=actor,
            entries=[
                AuditEntry(
                    action="compliance.decision",
                    object_type="portfolio.loan",
                    object_id=str(loan.pk),
                    case_id=case.pk if case else None,
                    summary=f"{line_id}: {'allowed' if decision.allowed else 'blocked'}",
                    after={
                        "id": line_id,
                        "channel": channel,
                        "party": party,
                        "at": at,
                        "allowed": decision.allowed,
                        "rules": decision.rule_ids,
                        "pack": decision.pack,
                        "recorded": recorded,
                        **(
                            {"overrides": [o.record() for o in decision.overridden]}
                            if decision.overridden
                            else {}
                        ),
                    },
                )
            ],
        )
    reason = decision.message if not decision.allowed else _("allowed")
    out = {"id": line_id, "allowed": decision.allowed, "rules": decision.rule_ids, "reason": reason}
    if decision.overridden:
        out["overridden"] = decision.overridden_ids
        if decision.allowed:
            out["reason"] = _("allowed under an override of %(rules)s") % {
                "rules": ", ".join(decision.overridden_ids)
            }
    return out
