"""Written collection over HTTP, through the same services and permissions as the pages
(``cuishou.notices.views``): templates (read), a case's documents (render, list), a send
(through the compliance check), the public verification of a document number, and
campaigns (create, status and report).

A case or document outside the user's scope is 404; a service's ValidationError is 422
with the fields it names; a send compliance refuses is 409 with the rules and why (the
refusal is recorded as a ``blocked`` send).
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.core.exceptions import PermissionDenied, ValidationError
from django.http import Http404, HttpRequest
from django.utils.translation import gettext as _
from ninja import Router, Schema, Status

from cuishou.api.auth import request_user
from cuishou.api.schemas import ErrorOut
from cuishou.cases.selectors import case_get_for_user
from cuishou.compliance.check import ContactBlocked
from cuishou.notices.campaigns import campaign_create, campaign_report
from cuishou.notices.choices import TemplateStatus
from cuishou.notices.documents import document_render, verify_url
from cuishou.notices.models import Campaign, Dispatch, Document, NoticeTemplate
from cuishou.notices.selectors import (
    campaign_list,
    case_documents,
    document_by_number,
    document_get_for_user,
    template_list,
    templates_sendable,
)
from cuishou.notices.sends import document_send
from cuishou.portfolio.models import Address, Client, ContactPoint, RelatedPerson

router = Router(tags=["notices"])
case_router = Router(tags=["notices"])


def _invalid(err: ValidationError) -> Status:
    detail = err.message_dict if hasattr(err, "error_dict") else err.messages
    return Status(422, {"detail": detail})


def _require(user: Any, perm: str) -> None:
    if not user.has_perm(perm):
        raise PermissionDenied


def _username(user: Any) -> str | None:
    return user.get_username() if user is not None else None


# --- templates ------------------------------------------------------------------------


class TemplateOut(Schema):
    id: int
    key: str
    version: int
    kind: str
    audience: str
    language: str
    name: str
    status: str
    sendable: bool
    created_by: str | None
    created_at: dt.datetime
    decided_by: str | None
    decided_at: dt.datetime | None
    content_sha256: str


class TemplateDetailOut(TemplateOut):
    subject: str
    body: str


def _template_fields(t: NoticeTemplate, sendable: set[int]) -> dict[str, Any]:
    return {
        "id": t.pk,
        "key": t.key,
        "version": t.version,
        "kind": t.kind,
        "audience": t.audience,
        "language": t.language,
        "name": t.name,
        "status": t.status,
        "sendable": t.pk in sendable,
        "created_by": _username(t.created_by),
        "created_at": t.created_at,
        "decided_by": _username(t.decided_by),
        "decided_at": t.decided_at,
        "content_sha256": t.content_sha256,
    }


@router.get(
    "/templates",
    response={200: list[TemplateOut], 403: ErrorOut},
    summary="Notice templates, every version (sendable: approved and the newest of its key)",
)
def template_list_api(
    request: HttpRequest, status: str | None = None, kind: str | None = None
) -> Any:
    _require(request_user(request), "notices.view_noticetemplate")
    qs = template_list()
    if status:
        qs = qs.filter(status=status)
    if kind:
        qs = qs.filter(kind=kind)
    sendable = {t.pk for t in templates_sendable()}
    return [TemplateOut(**_template_fields(t, sendable)) for t in qs]


@router.get(
    "/templates/{int:template_id}",
    response={200: TemplateDetailOut, 403: ErrorOut, 404: ErrorOut},
    summary="One template version with its text",
)
def template_get_api(request: HttpRequest, template_id: int) -> Any:
    _require(request_user(request), "notices.view_noticetemplate")
    t = template_list().filter(pk=template_id).first()
    if t is None:
        raise Http404(f"no template {template_id}")
    sendable = (
        {s.pk for s in templates_sendable()} if t.status == TemplateStatus.APPROVED else set()
    )
    return TemplateDetailOut(**_template_fields(t, sendable), subject=t.subject, body=t.body)


# --- documents and sends --------------------------------------------------------------


class SendOut(Schema):
    id: int
    document_number: str
    channel: str
    status: str
    reason: str
    compliance_rules: list[str]
    attempts: int
    provider_ref: str
    tracking_number: str
    created_at: dt.datetime
    status_at: dt.datetime


class DocumentOut(Schema):
    number: str
    case_id: int
    kind: str
    language: str
    audience: str
    template_key: str
    template_version: int
    recipient_name: str
    subject: str
    as_of: dt.date
    sha256: str
    verify_url: str
    pdf_url: str | None
    created_at: dt.datetime
    sends: list[SendOut]


class DocumentIn(Schema):
    template_id: int
    related_person_id: int | None = None
    visitors: list[str] = []


class SendIn(Schema):
    channel: str
    contact_point_id: int | None = None
    address_id: int | None = None


class BlockedOut(Schema):
    detail: str
    rules: list[str]
    send: SendOut | None


def _send_out(d: Dispatch, number: str) -> SendOut:
    return SendOut(
        id=d.pk,
        document_number=number,
        channel=d.channel,
        status=d.status,
        reason=d.reason,
        compliance_rules=list(d.compliance_rules or []),
        attempts=d.attempts,
        provider_ref=d.provider_ref,
        tracking_number=d.tracking_number,
        created_at=d.created_at,
        status_at=d.status_at,
    )


def _document_out(doc: Document, sends: list[Dispatch] | None = None) -> DocumentOut:
    if sends is None:
        sends = list(doc.dispatches.order_by("-created_at", "-id"))
    return DocumentOut(
        number=doc.number,
        case_id=doc.case_id,
        kind=doc.kind,
        language=doc.language,
        audience=doc.audience,
        template_key=doc.template.key,
        template_version=doc.template.version,
        recipient_name=doc.recipient_name,
        subject=doc.subject,
        as_of=doc.as_of,
        sha256=doc.sha256,
        verify_url=verify_url(doc.number),
        pdf_url=f"/notices/documents/{doc.number}.pdf",
        created_at=doc.created_at,
        sends=[_send_out(d, doc.number) for d in sends],
    )


@case_router.get(
    "/{int:case_id}/documents",
    response={200: list[DocumentOut], 403: ErrorOut, 404: ErrorOut},
    summary="The case's documents, newest first, each with its sends",
)
def case_document_list(request: HttpRequest, case_id: int) -> Any:
    user = request_user(request)
    _require(user, "notices.view_document")
    case = case_get_for_user(user, case_id)
    return [
        _document_out(
            d, sorted(d.dispatches.all(), key=lambda s: (s.created_at, s.pk), reverse=True)
        )
        for d in case_documents(case)
    ]


@case_router.post(
    "/{int:case_id}/documents",
    response={201: DocumentOut, 403: ErrorOut, 404: ErrorOut, 422: ErrorOut},
    summary="Render an approved template for the case into a new document (PDF for a letter)",
)
def case_document_new(request: HttpRequest, case_id: int, payload: DocumentIn) -> Any:
    user = request_user(request)
    case = case_get_for_user(user, case_id)
    template = NoticeTemplate.objects.filter(pk=payload.template_id).first()
    if template is None:
        return Status(422, {"detail": {"template_id": [_("No such template.")]}})
    person = None
    if payload.related_person_id is not None:
        person = RelatedPerson.objects.filter(
            pk=payload.related_person_id, debtor_id=case.debtor_id
        ).first()
        if person is None:
            return Status(422, {"detail": {"related_person_id": [_("Not in this case's file.")]}})
    try:
        doc = document_render(
            actor=user,
            case=case,
            template=template,
            related_person=person,
            visitors=payload.visitors,
        )
    except ValidationError as err:
        return _invalid(err)
    return Status(201, _document_out(doc, []))


@router.post(
    "/documents/{number}/send",
    response={201: SendOut, 403: ErrorOut, 404: ErrorOut, 409: BlockedOut, 422: ErrorOut},
    summary="Send a document (SMS, e-mail) or queue it for the post, after the compliance check",
)
def document_send_api(request: HttpRequest, number: str, payload: SendIn) -> Any:
    user = request_user(request)
    doc = document_get_for_user(user, number)
    debtor_id = doc.case.debtor_id
    point = address = None
    if payload.contact_point_id is not None:
        point = ContactPoint.objects.filter(
            pk=payload.contact_point_id, debtor_id=debtor_id
        ).first()
        if point is None:
            return Status(422, {"detail": {"contact_point_id": [_("Not in this case's file.")]}})
    if payload.address_id is not None:
        address = Address.objects.filter(pk=payload.address_id, debtor_id=debtor_id).first()
        if address is None:
            return Status(422, {"detail": {"address_id": [_("Not in this case's file.")]}})
    try:
        send = document_send(
            actor=user, document=doc, channel=payload.channel, contact_point=point, address=address
        )
    except ContactBlocked as blocked:
        recorded = Dispatch.objects.filter(document=doc, status="blocked").order_by("-id").first()
        return Status(
            409,
            BlockedOut(
                detail=blocked.decision.message,
                rules=list(blocked.decision.rule_ids),
                send=_send_out(recorded, doc.number) if recorded is not None else None,
            ),
        )
    except ValidationError as err:
        return _invalid(err)
    return Status(201, _send_out(send, doc.number))


class VerifyOut(Schema):
    number: str
    kind: str
    issued_at: dt.datetime
    sha256: str


@router.get(
    "/verify/{number}",
    auth=None,
    response={200: VerifyOut, 404: ErrorOut},
    summary="Public: is this document number ours? Its kind, date and SHA-256 only",
)
def document_verify(request: HttpRequest, number: str) -> Any:
    doc = document_by_number(number)
    if doc is None:
        raise Http404(f"no document {number}")
    return VerifyOut(number=doc.number, kind=doc.kind, issued_at=doc.created_at, sha256=doc.sha256)


# --- campaigns ------------------------------------------------------------------------


class CampaignIn(Schema):
    name: str
    template_id: int
    channel: str
    client: str
    buckets: list[str] = []
    stages: list[str] = []


class RuleCountOut(Schema):
    rule: str
    messages: int


class StatusCountOut(Schema):
    status: str
    messages: int


class BlockedMessageOut(Schema):
    case_id: int
    rules: list[str]
    reason: str


class CampaignOut(Schema):
    id: int
    name: str
    template_id: int
    channel: str
    client: str | None
    buckets: list[str]
    stages: list[str]
    status: str
    total: int
    processed: int
    sent: int
    blocked: int
    failed: int
    created_by: str | None
    created_at: dt.datetime
    started_at: dt.datetime | None
    finished_at: dt.datetime | None
    error: str
    by_rule: list[RuleCountOut]
    by_status: list[StatusCountOut]
    blocked_messages: list[BlockedMessageOut]


BLOCKED_LISTED = 1000


def _campaign_out(c: Campaign) -> CampaignOut:
    report = campaign_report(c)
    return CampaignOut(
        id=c.pk,
        name=c.name,
        template_id=c.template_id,
        channel=c.channel,
        client=c.client.code if c.client is not None else None,
        buckets=list(c.buckets),
        stages=list(c.stages),
        status=c.status,
        total=c.total,
        processed=c.processed,
        sent=c.sent,
        blocked=c.blocked,
        failed=c.failed,
        created_by=_username(c.created_by),
        created_at=c.created_at,
        started_at=c.started_at,
        finished_at=c.finished_at,
        error=c.error,
        by_rule=[RuleCountOut(rule=r, messages=n) for r, n in report["by_rule"]],
        by_status=[StatusCountOut(status=s, messages=n) for s, n in report["by_status"]],
        blocked_messages=[
            BlockedMessageOut(case_id=m.case_id, rules=list(m.rules), reason=m.reason)
            for m in report["blocked"][:BLOCKED_LISTED]
        ],
    )


@router.post(
    "/campaigns",
    response={201: CampaignOut, 403: ErrorOut, 422: ErrorOut},
    summary="Send an approved template to the open cases of a client (buckets, stages)",
)
def campaign_new(request: HttpRequest, payload: CampaignIn) -> Any:
    user = request_user(request)
    template = NoticeTemplate.objects.filter(pk=payload.template_id).first()
    client = Client.objects.filter(code=payload.client).first()
    errors: dict[str, list[str]] = {}
    if template is None:
        errors["template_id"] = [_("No such template.")]
    if client is None:
        errors["client"] = [_("No such client.")]
    if errors:
        return Status(422, {"detail": errors})
    assert template is not None
    try:
        campaign = campaign_create(
            actor=user,
            name=payload.name,
            template=template,
            channel=payload.channel,
            client=client,
            buckets=payload.buckets,
            stages=payload.stages,
        )
    except ValidationError as err:
        return _invalid(err)
    return Status(201, _campaign_out(campaign_list().get(pk=campaign.pk)))


@router.get(
    "/campaigns/{int:campaign_id}",
    response={200: CampaignOut, 403: ErrorOut, 404: ErrorOut},
    summary="A campaign's progress and result report (blocked by rule, sends by status)",
)
def campaign_get(request: HttpRequest, campaign_id: int) -> Any:
    _require(request_user(request), "notices.view_campaign")
    campaign = campaign_list().filter(pk=campaign_id).first()
    if campaign is None:
        raise Http404(f"no campaign {campaign_id}")
    return _campaign_out(campaign)
