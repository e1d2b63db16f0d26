"""Request and response shapes of the API. Money is a string with two decimals."""

from __future__ import annotations

import datetime as dt
from typing import Any, Literal

from ninja import Field, Schema

Money = str


class ErrorOut(Schema):
    detail: Any


class MeOut(Schema):
    id: int
    username: str
    display_name: str
    roles: list[str]
    team: str | None
    client: str | None = Field(None, description="client code, for client users")
    may_reveal_pii: bool


class CaseListQuery(Schema):
    """Filters of ``cuishou.cases.filtersets.CaseFilterSet`` plus paging."""

    q: str | None = Field(None, description="part of the debtor's name or a contract number")
    bucket: list[str] = Field(default_factory=list, description="M0 … M6, M7+ (repeatable)")
    stage: str | None = None
    status: str | None = None
    client: str | None = Field(None, description="client code")
    assignee: str | None = Field(None, description="assignee username")
    amount_min: str | None = Field(None, description="outstanding balance from")
    amount_max: str | None = Field(None, description="outstanding balance to")
    dpd_min: int | None = None
    dpd_max: int | None = None
    limit: int = Field(50, ge=1, le=500)
    offset: int = Field(0, ge=0)


class CaseListItemOut(Schema):
    id: int
    client: str
    debtor_name: str
    debtor_id_number: str = Field(description="masked")
    debtor_mobile: str = Field(description="masked")
    stage: str
    status: str
    bucket: str
    dpd: int
    overdue_amount: Money
    penalty: Money
    balance: Money
    assignee: str | None
    opened_on: dt.date
    computed_as_of: dt.date | None


class CaseListOut(Schema):
    count: int
    limit: int
    offset: int
    items: list[CaseListItemOut]


class ClientOut(Schema):
    code: str
    name: str


class DebtorOut(Schema):
    id: int
    name: str
    id_number: str = Field(description="masked; POST …/reveal for the full value")
    mobile: str = Field(description="masked; POST …/reveal for the full value")


class ContactOut(Schema):
    id: int
    kind: str
    value: str = Field(description="masked")
    status: str
    source: str
    is_primary: bool
    related_person_id: int | None
    owner: str = Field(description="the debtor's or the related person's name")


class RelatedPersonOut(Schema):
    id: int
    name: str
    relation: str
    refused_contact: bool
    is_third_party: bool


class AddressOut(Schema):
    id: int
    kind: str
    text: str
    province: str
    city: str
    district: str
    lat: str | None
    lon: str | None
    is_valid: bool


class InstallmentOut(Schema):
    seq: int
    due_on: dt.date
    principal_due: Money
    interest_due: Money
    principal_paid: Money
    interest_paid: Money


class LoanOut(Schema):
    contract_no: str
    product: str
    principal: Money
    annual_rate: str
    disbursed_on: dt.date
    currency: str
    status: str
    dpd: int
    bucket: str
    overdue_principal: Money
    overdue_interest: Money
    penalty: Money
    balance: Money
    computed_as_of: dt.date | None
    installments: list[InstallmentOut]


class CaseDetailOut(Schema):
    id: int
    client: ClientOut
    stage: str
    status: str
    status_reason: str
    bucket: str
    dpd: int
    overdue_amount: Money
    penalty: Money
    balance: Money
    assignee: str | None
    opened_on: dt.date
    closed_on: dt.date | None
    computed_as_of: dt.date | None
    debtor: DebtorOut
    contacts: list[ContactOut]
    related_persons: list[RelatedPersonOut]
    addresses: list[AddressOut]
    loans: list[LoanOut]


class TimelineEventOut(Schema):
    seq: int
    at: dt.datetime
    actor: str
    action: str
    object_type: str
    object_id: str
    summary: str
    before: Any = Field(None, description="personal data masked")
    after: Any = Field(None, description="personal data masked")


class TimelineOut(Schema):
    count: int
    limit: int
    offset: int
    items: list[TimelineEventOut]


class RevealIn(Schema):
    field: Literal["id_number", "mobile", "contact"]
    contact_point_id: int | None = Field(None, description="required when field is contact")


class RevealOut(Schema):
    field: str
    contact_point_id: int | None
    value: str
