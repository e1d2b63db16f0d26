from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from decimal import Decimal

import pytest

from cuishou.accounts.models import User
from cuishou.cases.models import Case
from cuishou.notices.models import ClientNoticeProfile, NoticeTemplate
from cuishou.notices.templates import template_create, template_decide
from cuishou.portfolio.models import ContactPoint, RelatedPerson
from tests.factories import (
    AddressFactory,
    CaseFactory,
    ClientFactory,
    ContactPointFactory,
    DebtorFactory,
    InstallmentFactory,
    LoanFactory,
    RelatedPersonFactory,
    UserFactory,
)


@dataclass
class World:
    """Client ACME (CN pack) with a notice profile; collector Chen works case ``case``
    (debtor 张三: a mobile, an e-mail, a mailing address, a colleague with a phone);
    compliance officers Gu and He; legal officer Wang; risk manager Ren."""

    chen: User
    gu: User
    he: User
    wang: User
    ren: User
    case: Case
    mobile: ContactPoint
    email: ContactPoint
    colleague: RelatedPerson
    colleague_phone: ContactPoint


@pytest.fixture
def world(db) -> World:  # type: ignore[no-untyped-def]
    acme = ClientFactory(code="ACME", name="艾克米银行")
    ClientNoticeProfile.objects.create(
        client=acme,
        office_name="示例资产管理有限公司",
        office_address="上海市浦东新区世纪大道100号",
        office_phone="021-55550100",
        office_email="office@example.com",
        office_hours="09:00-18:00",
        how_to_pay="转账至艾克米银行还款账户 6222 0000 1111",
        how_to_dispute="致电 021-55550100 或书面寄至办公地址",
    )
    chen = UserFactory(username="chen", display_name="陈明", role="collector")
    debtor = DebtorFactory(name="张三", mobile="13812345678")
    AddressFactory(debtor=debtor, kind="mailing", text="上海市徐汇区漕溪北路88号")
    case = CaseFactory(
        client=acme,
        debtor=debtor,
        assignee=chen,
        bucket="M2",
        dpd=45,
        opened_on=dt.date(2026, 9, 1),
        balance=Decimal("6000.00"),
    )
    loan = LoanFactory(
        client=acme,
        debtor=debtor,
        contract_no="HT-ACME-1",
        principal=Decimal("6000.00"),
        disbursed_on=dt.date(2026, 5, 1),
    )
    InstallmentFactory(loan=loan, seq=1, due_on=dt.date(2026, 6, 1))
    InstallmentFactory(loan=loan, seq=2, due_on=dt.date(2026, 7, 1))
    colleague = RelatedPersonFactory(debtor=debtor, name="李同事", relation="colleague")
    return World(
        chen=chen,
        gu=UserFactory(username="gu", display_name="顾合规", role="compliance_officer"),
        he=UserFactory(username="he", display_name="何合规", role="compliance_officer"),
        wang=UserFactory(username="wang", display_name="王律师", role="legal_officer"),
        ren=UserFactory(username="ren", display_name="任风控", role="risk_manager"),
        case=case,
        mobile=ContactPointFactory(debtor=debtor, value="13812345678", is_primary=True),
        email=ContactPointFactory(debtor=debtor, kind="email", value="zhangsan@example.com"),
        colleague=colleague,
        colleague_phone=ContactPointFactory(
            debtor=debtor, value="13900001111", related_person=colleague
        ),
    )


def approved(author: User, approver: User, **spec: object) -> NoticeTemplate:
    """A template written by ``author`` and approved by ``approver``."""
    t = template_create(actor=author, **spec)  # type: ignore[arg-type]
    return template_decide(actor=approver, template=t, approve=True)


def default_spec(key: str) -> dict[str, object]:
    from cuishou.notices.defaults import DEFAULTS

    return next(dict(d) for d in DEFAULTS if d["key"] == key)
