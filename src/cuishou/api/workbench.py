"""The workbench over HTTP: my queue, logging a contact (with a promise), the case's
contact attempts and promises. The same services and the same scope as the pages: a
case outside the user's scope is 404; a contact the compliance check refuses is 409
with its rules."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any

from django.core.exceptions import ValidationError
from django.http import HttpRequest
from ninja import Router, Schema, Status

from cuishou.api.auth import request_user
from cuishou.api.schemas import ErrorOut
from cuishou.cases.contacts import contact_attempt_log
from cuishou.cases.queue import queue_for
from cuishou.cases.selectors import case_file_members, case_get_for_user
from cuishou.compliance.check import ContactBlocked
from cuishou.core.money import format_money

router = Router(tags=["workbench"])


class QueueItemOut(Schema):
    case_id: int
    priority: int
    client: str
    debtor_name: str
    bucket: str
    dpd: int
    balance: str
    last_contact_at: dt.datetime | None
    follow_up_at: dt.datetime | None
    promise_due_today: bool
    broken_promises: int


class PromiseIn(Schema):
    due_on: dt.date
    amount: Decimal


class ContactIn(Schema):
    channel: str
    party: str
    outcome: str
    contact_point_id: int | None = None
    related_person_id: int | None = None
    notes: str = ""
    next_follow_up_at: dt.datetime | None = None
    promise: list[PromiseIn] = []
    opt_outs: list[str] = []  # channels (call, sms, email) the person reached opted out of
    consents: list[str] = []  # channels the person consents to (again)
    employer_forbids_calls: bool = False  # the debtor says the employer forbids calls at work


class ContactOut(Schema):
    id: int
    case_id: int
    channel: str
    party: str
    outcome: str
    related_person_id: int | None
    notes: str
    attempted_at: dt.datetime
    next_follow_up_at: dt.datetime | None
    compliance_rules: list[str]


class BlockedOut(Schema):
    detail: str
    rules: list[str]


class InstalmentOut(Schema):
    seq: int
    due_on: dt.date
    amount: str
    status: str
    paid_amount: str


class PromiseOut(Schema):
    id: int
    promised_on: dt.date
    amount: str
    status: str
    instalments: list[InstalmentOut]


@router.get("/queue", response=list[QueueItemOut], summary="My queue, highest priority first")
def queue(request: HttpRequest) -> Any:
    user = request_user(request)
    return [
        QueueItemOut(
            case_id=item.case.pk,
            priority=item.priority,
            client=item.case.client.code,
            debtor_name=item.case.debtor.name,
            bucket=item.case.bucket,
            dpd=item.case.dpd,
            balance=format_money(item.case.balance),
            last_contact_at=item.last_contact_at,
            follow_up_at=item.follow_up_at,
            promise_due_today=item.promise_due_today,
            broken_promises=item.broken_promises,
        )
        for item in queue_for(user)
    ]


def _contact_out(a: Any) -> ContactOut:
    return ContactOut(
        id=a.pk,
        case_id=a.case_id,
        channel=a.channel,
        party=a.party,
        outcome=a.outcome,
        related_person_id=a.related_person_id,
        notes=a.notes,
        attempted_at=a.attempted_at,
        next_follow_up_at=a.next_follow_up_at,
        compliance_rules=list(a.compliance_rules or []),
    )


@router.post(
    "/cases/{int:case_id}/contacts",
    response={201: ContactOut, 403: ErrorOut, 404: ErrorOut, 409: BlockedOut, 422: ErrorOut},
    summary="Log a contact attempt (checked by compliance first)",
)
def contact_create(request: HttpRequest, case_id: int, payload: ContactIn) -> Any:
    user = request_user(request)
    case = case_get_for_user(user, case_id)
    try:
        point, person = case_file_members(
            case,
            contact_point_id=payload.contact_point_id,
            related_person_id=payload.related_person_id,
        )
        attempt = contact_attempt_log(
            actor=user,
            case=case,
            channel=payload.channel,
            party=payload.party,
            outcome=payload.outcome,
            contact_point=point,
            related_person=person,
            notes=payload.notes,
            next_follow_up_at=payload.next_follow_up_at,
            promise_instalments=[(p.due_on, p.amount) for p in payload.promise] or None,
            opt_outs=payload.opt_outs,
            consents=payload.consents,
            employer_forbids_calls=payload.employer_forbids_calls,
        )
    except ContactBlocked as blocked:
        return Status(409, {"detail": blocked.decision.message, "rules": blocked.decision.rule_ids})
    except ValidationError as err:
        return Status(422, {"detail": err.message_dict})
    return Status(201, _contact_out(attempt))


@router.get(
    "/cases/{int:case_id}/contacts",
    response={200: list[ContactOut], 404: ErrorOut},
    summary="The case's contact attempts, newest first",
)
def contact_list(request: HttpRequest, case_id: int, limit: int = 100) -> Any:
    case = case_get_for_user(request_user(request), case_id)
    return [_contact_out(a) for a in case.contact_attempts.all()[: max(1, min(limit, 500))]]


@router.get(
    "/cases/{int:case_id}/promises",
    response={200: list[PromiseOut], 404: ErrorOut},
    summary="The case's promises to pay, newest first",
)
def promise_list(request: HttpRequest, case_id: int) -> Any:
    case = case_get_for_user(request_user(request), case_id)
    return [
        PromiseOut(
            id=p.pk,
            promised_on=p.promised_on,
            amount=format_money(p.amount),
            status=p.status,
            instalments=[
                InstalmentOut(
                    seq=i.seq,
                    due_on=i.due_on,
                    amount=format_money(i.amount),
                    status=i.status,
                    paid_amount=format_money(i.paid_amount),
                )
                for i in p.instalments.all()
            ],
        )
        for p in case.promises.prefetch_related("instalments")
    ]
