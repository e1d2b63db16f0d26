"""Cases: list, detail, timeline and the audited reveal of personal data.

Every handler starts from ``case_visible_queryset``: a case outside the user's scope is
404, exactly as if it did not exist.
"""

from __future__ import annotations

from typing import Any

from django.http import HttpRequest
from django.shortcuts import get_object_or_404
from django.utils.translation import gettext as _
from ninja import Query, Router, Status

from cuishou.api.auth import request_user
from cuishou.api.pii import mask_payload
from cuishou.api.schemas import (
    AddressOut,
    CaseDetailOut,
    CaseListItemOut,
    CaseListOut,
    CaseListQuery,
    ClientOut,
    ContactOut,
    DebtorOut,
    ErrorOut,
    InstallmentOut,
    LoanOut,
    RelatedPersonOut,
    RevealIn,
    RevealOut,
    TimelineEventOut,
    TimelineOut,
)
from cuishou.cases.filtersets import CaseFilterSet
from cuishou.cases.models import Case
from cuishou.cases.selectors import (
    case_file_get,
    case_get_for_user,
    case_timeline_events,
    case_visible_queryset,
)
from cuishou.cases.services import case_reveal_pii
from cuishou.core.masking import mask_contact, mask_id_number, mask_phone
from cuishou.core.money import format_money, format_rate
from cuishou.portfolio.models import ContactPoint, Loan

router = Router(tags=["cases"])


def _case_figures(case: Case) -> dict[str, Any]:
    """The case fields the list item and the detail both show."""
    return {
        "id": case.pk,
        "stage": case.stage,
        "status": case.status,
        "bucket": case.bucket,
        "dpd": case.dpd,
        "overdue_amount": format_money(case.overdue_amount),
        "penalty": format_money(case.penalty),
        "balance": format_money(case.balance),
        "assignee": case.assignee.get_username() if case.assignee is not None else None,
        "opened_on": case.opened_on,
        "computed_as_of": case.computed_as_of,
    }


def _case_list_item(case: Case) -> CaseListItemOut:
    return CaseListItemOut(
        **_case_figures(case),
        client=case.client.code,
        debtor_name=case.debtor.name,
        debtor_id_number=mask_id_number(case.debtor.id_number),
        debtor_mobile=mask_phone(case.debtor.mobile),
    )


@router.get("", response={200: CaseListOut, 422: ErrorOut}, summary="Cases in my scope")
def case_list(request: HttpRequest, filters: Query[CaseListQuery]) -> Any:
    user = request_user(request)
    filterset = CaseFilterSet(
        request.GET,
        queryset=case_visible_queryset(user).select_related("client", "debtor", "assignee"),
        request=request,
    )
    if not filterset.is_valid():
        return Status(422, {"detail": filterset.errors.get_json_data()})
    qs = filterset.qs
    page = list(qs[filters.offset : filters.offset + filters.limit])
    return CaseListOut(
        count=qs.count(),
        limit=filters.limit,
        offset=filters.offset,
        items=[_case_list_item(c) for c in page],
    )


def _loan_out(loan: Loan) -> LoanOut:
    return LoanOut(
        contract_no=loan.contract_no,
        product=loan.product.name,
        principal=format_money(loan.principal),
        annual_rate=format_rate(loan.annual_rate),
        disbursed_on=loan.disbursed_on,
        currency=loan.currency,
        status=loan.status,
        dpd=loan.dpd,
        bucket=loan.bucket,
        overdue_principal=format_money(loan.overdue_principal),
        overdue_interest=format_money(loan.overdue_interest),
        penalty=format_money(loan.penalty),
        balance=format_money(loan.balance),
        computed_as_of=loan.computed_as_of,
        installments=[
            InstallmentOut(
                seq=i.seq,
                due_on=i.due_on,
                principal_due=format_money(i.principal_due),
                interest_due=format_money(i.interest_due),
                principal_paid=format_money(i.principal_paid),
                interest_paid=format_money(i.interest_paid),
            )
            for i in loan.installments.all()
        ],
    )


@router.get(
    "/{int:case_id}", response={200: CaseDetailOut, 404: ErrorOut}, summary="One case's file"
)
def case_detail(request: HttpRequest, case_id: int) -> Any:
    case = case_get_for_user(request_user(request), case_id)
    debtor = case.debtor
    file = case_file_get(case)
    persons = {p.pk: p for p in file.related_persons}
    return CaseDetailOut(
        **_case_figures(case),
        client=ClientOut(code=case.client.code, name=case.client.name),
        status_reason=case.status_reason,
        closed_on=case.closed_on,
        debtor=DebtorOut(
            id=debtor.pk,
            name=debtor.name,
            id_number=mask_id_number(debtor.id_number),
            mobile=mask_phone(debtor.mobile),
        ),
        contacts=[
            ContactOut(
                id=c.pk,
                kind=c.kind,
                value=mask_contact(c.kind, c.value),
                status=c.status,
                source=c.source,
                is_primary=c.is_primary,
                related_person_id=c.related_person_id,
                owner=(
                    persons[c.related_person_id].name
                    if c.related_person_id in persons
                    else debtor.name
                ),
            )
            for c in file.contacts
        ],
        related_persons=[
            RelatedPersonOut(
                id=p.pk,
                name=p.name,
                relation=p.relation,
                refused_contact=p.refused_contact,
                is_third_party=p.is_third_party,
            )
            for p in file.related_persons
        ],
        addresses=[
            AddressOut(
                id=a.pk,
                kind=a.kind,
                text=a.text,
                province=a.province,
                city=a.city,
                district=a.district,
                lat=None if a.lat is None else str(a.lat),
                lon=None if a.lon is None else str(a.lon),
                is_valid=a.is_valid,
            )
            for a in file.addresses
        ],
        loans=[_loan_out(loan) for loan in file.loans],
    )


@router.get(
    "/{int:case_id}/timeline",
    response={200: TimelineOut, 404: ErrorOut},
    summary="The case's audit events, oldest first",
)
def case_timeline(request: HttpRequest, case_id: int, limit: int = 100, offset: int = 0) -> Any:
    case = case_get_for_user(request_user(request), case_id)
    limit = max(1, min(limit, 500))
    offset = max(0, offset)
    events = case_timeline_events(case)
    page = list(events[offset : offset + limit])
    return TimelineOut(
        count=events.count(),
        limit=limit,
        offset=offset,
        items=[
            TimelineEventOut(
                seq=e.seq,
                at=e.at,
                actor=e.actor_label,
                action=e.action,
                object_type=e.object_type,
                object_id=e.object_id,
                summary=e.summary,
                before=mask_payload(e.before, contact_values=True),
                after=mask_payload(e.after, contact_values=True),
            )
            for e in page
        ],
    )


@router.post(
    "/{int:case_id}/reveal",
    response={200: RevealOut, 403: ErrorOut, 404: ErrorOut, 422: ErrorOut},
    summary="Reveal one unmasked ID number or phone (audited)",
)
def case_reveal(request: HttpRequest, case_id: int, payload: RevealIn) -> Any:
    user = request_user(request)
    case = case_get_for_user(user, case_id)
    contact_point = None
    if payload.field == "contact":
        if payload.contact_point_id is None:
            return Status(422, {"detail": _("contact_point_id is required for field 'contact'")})
        contact_point = get_object_or_404(
            ContactPoint, pk=payload.contact_point_id, debtor_id=case.debtor_id
        )
    # PermissionDenied (a role that may not reveal) is answered 403 by the API's handler.
    value = case_reveal_pii(actor=user, case=case, field=payload.field, contact_point=contact_point)
    return RevealOut(field=payload.field, contact_point_id=payload.contact_point_id, value=value)
