"""A field-visit world for the visits tests: a risk manager, a team lead, two field
teams of two visitors, and four visit-stage cases in Shanghai with work and residence
addresses that have coordinates."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from decimal import Decimal

import pytest
from django.utils import timezone

from cuishou.accounts.models import User
from cuishou.cases.models import Case
from cuishou.core.timeutil import today_shanghai
from cuishou.portfolio.models import Address, Client
from cuishou.visits.choices import (
    IssueStatus,
    RouteStatus,
    VisitCaseStatus,
)
from cuishou.visits.models import FieldTeam, Route, RouteStop, VisitCase, VisitIssue
from tests.factories import (
    AddressFactory,
    CaseFactory,
    ClientFactory,
    ContactPointFactory,
    DebtorFactory,
    RelatedPersonFactory,
    UserFactory,
    make_id_number,
)

# Four debtors around Lujiazui, Shanghai (WGS-84), each with a work and a residence.
PLACES = [
    (
        "张伟",
        "上海市浦东新区世纪大道100号",
        (31.2335, 121.5055),
        "上海市浦东新区东方路800弄3号",
        (31.2251, 121.5260),
    ),
    (
        "王芳",
        "上海市浦东新区陆家嘴环路1000号",
        (31.2380, 121.5020),
        "上海市浦东新区浦电路438号",
        (31.2160, 121.5300),
    ),
    (
        "李娜",
        "上海市黄浦区南京东路300号",
        (31.2390, 121.4840),
        "上海市黄浦区福州路666号",
        (31.2340, 121.4790),
    ),
    (
        "刘洋",
        "上海市浦东新区张杨路500号",
        (31.2290, 121.5200),
        "上海市浦东新区崂山路200号",
        (31.2280, 121.5250),
    ),
]
BASE = ("上海市浦东新区银城中路200号 (office)", (31.2370, 121.5000))


@dataclass
class VisitWorld:
    bank: Client
    risk: User  # risk manager
    lead: User  # team lead
    visitors: list[User]  # four field visitors
    teams: list[FieldTeam]  # two teams: visitors[0:2], visitors[2:4]
    cases: list[Case]  # four visit-stage cases, balances 80k, 60k, 40k, 20k
    work: list[Address]
    home: list[Address]


def make_visit_world() -> VisitWorld:
    bank = ClientFactory(code="BANK", name="华夏消费金融")
    risk = UserFactory(username="risk", display_name="风控 赵经理", role="risk_manager")
    lead = UserFactory(username="lead", display_name="组长 钱", role="team_lead")
    visitors = [
        UserFactory(username=f"visitor{i}", display_name=name, role="field_visitor")
        for i, name in enumerate(["外访员 孙", "外访员 周", "外访员 吴", "外访员 郑"], start=1)
    ]
    teams = []
    for n, pair in enumerate([visitors[0:2], visitors[2:4]], start=1):
        team = FieldTeam.objects.create(
            name=f"外访{n}组",
            lead=lead,
            city="上海市",
            base=BASE[0],
            base_lat=Decimal(str(BASE[1][0])),
            base_lon=Decimal(str(BASE[1][1])),
        )
        team.members.set(pair)
        teams.append(team)
    cases, work, home = [], [], []
    for i, (name, wtext, wll, htext, hll) in enumerate(PLACES):
        debtor = DebtorFactory(
            name=name, id_number=make_id_number(100 + i), mobile=f"1380013{i:04d}"
        )
        ContactPointFactory(debtor=debtor, kind="phone", value=debtor.mobile, is_primary=True)
        RelatedPersonFactory(debtor=debtor, name=f"{name}的配偶", relation="spouse")
        work.append(
            AddressFactory(
                debtor=debtor,
                kind="work",
                text=wtext,
                lat=Decimal(str(wll[0])),
                lon=Decimal(str(wll[1])),
            )
        )
        home.append(
            AddressFactory(
                debtor=debtor,
                kind="residence",
                text=htext,
                lat=Decimal(str(hll[0])),
                lon=Decimal(str(hll[1])),
            )
        )
        cases.append(
            CaseFactory(
                client=bank,
                debtor=debtor,
                stage="visit",
                bucket="M3",
                dpd=75,
                balance=Decimal(80000 - 20000 * i),
                overdue_amount=Decimal(8000 - 2000 * i),
            )
        )
    return VisitWorld(bank, risk, lead, visitors, teams, cases, work, home)


@pytest.fixture
def world(db: None) -> VisitWorld:
    return make_visit_world()


def approved_route(world: VisitWorld, *, team: int = 0, day: dt.date | None = None) -> Route:
    """A route for ``world.teams[team]`` over the first three cases' work addresses,
    issued, allocated and approved by the risk manager — written straight to the tables
    for the tests of the day itself (the planning services have their own tests)."""
    day = day or today_shanghai()
    now = timezone.now()
    issue = VisitIssue.objects.create(
        number=f"VI-T{team}-{day:%Y%m%d}",
        issued_by=world.risk,
        team_lead=world.lead,
        issued_at=now,
        declared_count=3,
        declared_amount=sum((c.balance for c in world.cases[:3]), Decimal("0")),
        status=IssueStatus.CONFIRMED,
        counted=3,
        counted_amount=sum((c.balance for c in world.cases[:3]), Decimal("0")),
        confirmed_at=now,
        confirmed_by=world.lead,
    )
    route = Route.objects.create(
        team=world.teams[team],
        day=day,
        status=RouteStatus.APPROVED,
        planned_by=world.lead,
        created_at=now,
        submitted_at=now,
        decided_by=world.risk,
        decided_at=now,
    )
    for seq, (case, address) in enumerate(
        zip(world.cases[:3], world.work[:3], strict=True), start=1
    ):
        vc = VisitCase.objects.create(
            issue=issue,
            case=case,
            amount=case.balance,
            status=VisitCaseStatus.PLANNED,
            team=world.teams[team],
            allocated_at=now,
            address=address,
            address_reason="work address in working hours",
        )
        RouteStop.objects.create(route=route, visit_case=vc, address=address, seq=seq)
    return route


@pytest.fixture
def evday(world: VisitWorld) -> VisitWorld:
    """The world with the first team's route, its first stop arrived at 20 minutes ago
    (``world.route``, ``world.stop``, ``world.visitor``) — the evidence tests' day."""
    from tests.visits.evidencehelp import make_evidence_day

    return make_evidence_day(world)


# --- the visit day (equipment, departure, stops, return, report) ------------------------


def approve_introduction() -> None:
    """The default letters of introduction, written and approved by two compliance
    officers (what an office does once before its first visit day)."""
    from cuishou.notices.defaults import DEFAULTS
    from cuishou.notices.models import NoticeTemplate
    from cuishou.notices.templates import template_create, template_decide

    if NoticeTemplate.objects.filter(kind="introduction", status="approved").exists():
        return
    author = UserFactory(username="gu", display_name="顾合规", role="compliance_officer")
    approver = UserFactory(username="he", display_name="何合规", role="compliance_officer")
    for spec in DEFAULTS:
        if spec["kind"] == "introduction":
            template = template_create(actor=author, **spec)  # type: ignore[arg-type]
            template_decide(actor=approver, template=template, approve=True)


@pytest.fixture
def introduction(world: VisitWorld) -> None:
    approve_introduction()


# The browser tests' fixtures (Chromium through Playwright, screenshots), shared with web.
from tests.web.conftest import browser, shots  # noqa: E402, F401
