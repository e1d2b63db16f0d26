from __future__ import annotations

from dataclasses import dataclass

import pytest

from cuishou.accounts.models import User
from cuishou.cases.models import Case
from tests.factories import (
    CaseFactory,
    ClientFactory,
    ContactPointFactory,
    DebtorFactory,
    InstallmentFactory,
    LoanFactory,
    RelatedPersonFactory,
    TeamFactory,
    UserFactory,
)


@dataclass
class World:
    """Two clients; team North (lead Lin) with collector Chen; collector Zhou elsewhere."""

    chen: User
    zhou: User
    lin: User
    risk: User
    client_user: User
    case_chen: Case
    case_zhou: Case
    case_chen_other_client: Case
    case_unassigned: Case


@pytest.fixture
def world(db) -> World:  # type: ignore[no-untyped-def]
    acme, beta = ClientFactory(code="ACME"), ClientFactory(code="BETA")
    lin = UserFactory(username="lin", role="team_lead")
    north = TeamFactory(name="North", lead=lin)
    chen = UserFactory(username="chen", role="collector", team=north)
    zhou = UserFactory(username="zhou", role="collector")
    risk = UserFactory(username="risk", role="risk_manager")
    client_user = UserFactory(username="acme-viewer", role="client", client=acme)

    debtor = DebtorFactory(id_number="110105198604011114", mobile="13812345678", name="张三")
    case_chen = CaseFactory(client=acme, debtor=debtor, assignee=chen)
    loan = LoanFactory(client=acme, debtor=debtor, contract_no="HT-ACME-1")
    InstallmentFactory(loan=loan, seq=1)
    InstallmentFactory(loan=loan, seq=2)
    spouse = RelatedPersonFactory(debtor=debtor, name="李四", relation="spouse")
    ContactPointFactory(debtor=debtor, value="13987654321", related_person=spouse)
    return World(
        chen=chen,
        zhou=zhou,
        lin=lin,
        risk=risk,
        client_user=client_user,
        case_chen=case_chen,
        case_zhou=CaseFactory(client=acme, assignee=zhou, bucket="M3", dpd=75),
        case_chen_other_client=CaseFactory(client=beta, assignee=chen),
        case_unassigned=CaseFactory(client=beta, assignee=None),
    )
