"""Build the demo: users for every role, two clients, a synthetic portfolio imported through
the real import path, the portfolio run, and the open cases shared among the collectors."""

from __future__ import annotations

import datetime as dt
import io
from dataclasses import dataclass, field

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils.translation import gettext as _

from cuishou.accounts.choices import Role
from cuishou.accounts.models import Team, User
from cuishou.accounts.services import team_create, user_create
from cuishou.audit.services import AuditEntry, audit_record, audit_record_many, model_snapshot
from cuishou.cases.choices import CaseStatus
from cuishou.cases.models import Case
from cuishou.engine.services import portfolio_recompute
from cuishou.portfolio.demo.generate import DemoClient, generate_portfolio, portfolio_zip
from cuishou.portfolio.demo.visits import demo_visits
from cuishou.portfolio.importer import import_portfolio
from cuishou.portfolio.models import Client, Product
from cuishou.portfolio.services import client_add

DEMO_PASSWORD = "cuishou-demo"
DEMO_TEAM = "电催一组"


@dataclass(frozen=True)
class DemoLogin:
    username: str
    role: str  # a Role value, or "superuser"
    display_name: str


DEMO_LOGINS: tuple[DemoLogin, ...] = (
    DemoLogin("admin", "superuser", "系统管理员"),
    DemoLogin("lead", Role.TEAM_LEAD, "王组长"),
    DemoLogin("collector1", Role.COLLECTOR, "李催收"),
    DemoLogin("collector2", Role.COLLECTOR, "张催收"),
    DemoLogin("visitor1", Role.FIELD_VISITOR, "刘外访"),
    DemoLogin("visitor2", Role.FIELD_VISITOR, "陈外访"),
    DemoLogin("visitor3", Role.FIELD_VISITOR, "杨外访"),
    DemoLogin("visitor4", Role.FIELD_VISITOR, "黄外访"),
    DemoLogin("risk", Role.RISK_MANAGER, "赵风控"),
    DemoLogin("legal", Role.LEGAL_OFFICER, "孙法务"),
    DemoLogin("compliance", Role.COMPLIANCE_OFFICER, "周合规"),
    DemoLogin("finance", Role.FINANCE, "吴财务"),
    DemoLogin("client", Role.CLIENT, "华夏消费金融"),
)
COLLECTORS = ("collector1", "collector2")


class DemoError(Exception):
    """The demo could not be built (the message says why)."""


@dataclass
class DemoResult:
    clients: list[str] = field(default_factory=list)
    loans: int = 0
    engine: dict[str, int] = field(default_factory=dict)
    assigned: dict[str, int] = field(default_factory=dict)
    visit_issue: str = ""
    templates: int = 0


def demo_exists() -> bool:
    return Client.objects.exists()


def _create_admin() -> User:
    admin = User.objects.create_superuser(
        username="admin", email="", password=DEMO_PASSWORD, display_name="系统管理员"
    )
    audit_record(
        actor=admin,
        action="user.create",
        target=admin,
        summary="user admin (superuser)",
        after={**model_snapshot(admin, ["username", "display_name"]), "role": "superuser"},
    )
    return admin


def _create_staff(admin: User, first_client: Client) -> dict[str, User]:
    """One user per role (the collectors in the lead's team, the client user of the first
    client), through ``accounts.services`` so each is audited."""
    users: dict[str, User] = {"admin": admin}
    team: Team | None = None
    for login in DEMO_LOGINS[1:]:
        users[login.username] = user_create(
            actor=admin,
            username=login.username,
            password=DEMO_PASSWORD,
            role=login.role,
            display_name=login.display_name,
            team=team if login.username in COLLECTORS else None,
            client=first_client if login.role == Role.CLIENT else None,
        )
        if login.role == Role.TEAM_LEAD:
            team = team_create(actor=admin, name=DEMO_TEAM, lead=users[login.username])
    return users


def _create_products(actor: User, client: Client, spec: DemoClient) -> None:
    """The client's products with their own terms (an import would create unknown products
    with the client's default terms, marked for review)."""
    products = Product.objects.bulk_create(
        [
            Product(
                client=client,
                name=p.name,
                annual_rate=p.annual_rate,
                penalty_annual_rate=p.penalty_annual_rate,
                grace_days=p.grace_days,
                annual_cost_cap=client.default_annual_cost_cap,
            )
            for p in spec.products
        ]
    )
    audit_record_many(
        actor=actor,
        entries=[
            AuditEntry(
                action="product.create",
                object_type="portfolio.product",
                object_id=str(p.pk),
                summary=f"{client.code} {p.name}",
                after=model_snapshot(
                    p, ["client_id", "name", "annual_rate", "penalty_annual_rate", "grace_days"]
                ),
            )
            for p in products
        ],
    )


def _assign_round_robin(actor: User, collectors: list[User]) -> dict[str, int]:
    """Share the open cases among ``collectors``, the highest balances first, in turn.

    One UPDATE for all cases and one batch of ``case.assign`` audit events (the same
    before/after as ``cases.services.case_assign``, which locks and audits one case at a
    time and is too slow for tens of thousands of demo cases)."""
    ids = list(
        Case.objects.filter(status=CaseStatus.OPEN, assignee__isnull=True)
        .order_by("-balance", "id")
        .values_list("id", flat=True)
    )
    # The i-th case goes to collector i mod n: collector k gets ids[k::n].
    shares = [(user, ids[k :: len(collectors)]) for k, user in enumerate(collectors)]
    for user, mine in shares:
        for start in range(0, len(mine), 2000):
            Case.objects.filter(id__in=mine[start : start + 2000]).update(assignee=user)
    audit_record_many(
        actor=actor,
        entries=[
            AuditEntry(
                action="case.assign",
                object_type="cases.case",
                object_id=str(case_id),
                case_id=case_id,
                summary="demo: open cases shared among the collectors, highest balance first",
                before={"assignee_id": None},
                after={"assignee_id": collectors[i % len(collectors)].pk},
            )
            for i, case_id in enumerate(ids)
        ],
    )
    return {user.username: len(mine) for user, mine in shares}


def demo_build(*, accounts: int, seed: int, today: dt.date) -> DemoResult:
    """Build the whole demo in one transaction: it is there entirely, or not at all."""
    if accounts < 2:
        raise DemoError(_("the demo needs at least 2 accounts"))
    if demo_exists():
        raise DemoError(_("the database already holds a portfolio; use --if-empty"))
    portfolios = generate_portfolio(accounts=accounts, seed=seed, today=today)
    result = DemoResult()
    with transaction.atomic():
        admin = _create_admin()
        clients: list[Client] = []
        for portfolio in portfolios:
            try:
                client = client_add(
                    actor=admin, code=portfolio.client.code, name=portfolio.client.name
                )
            except ValidationError as exc:
                raise DemoError("; ".join(exc.messages)) from exc
            _create_products(admin, client, portfolio.client)
            clients.append(client)
        users = _create_staff(admin, clients[0])
        for client, portfolio in zip(clients, portfolios, strict=True):
            imported = import_portfolio(
                client=client,
                source=io.BytesIO(portfolio_zip(portfolio)),
                file_name=f"demo-{client.code}.zip",
                actor=admin,
                today=today,
            )
            if not imported.ok:
                raise DemoError(
                    _("the demo portfolio did not import:\n%(report)s")
                    % {"report": imported.report_text()}
                )
            result.loans += portfolio.loans.height
        result.clients = [c.code for c in clients]
        result.engine = portfolio_recompute(as_of=today, actor=admin)
        result.assigned = _assign_round_robin(admin, [users[name] for name in COLLECTORS])
        result.templates = _approve_default_templates(users)
        result.visit_issue = demo_visits(admin=admin, users=users, today=today)
    return result


def _approve_default_templates(users: dict[str, User]) -> int:
    """The standard notice templates, written by the legal officer and approved by the
    compliance officer (as an office does before its first letter or visit day), so the
    demo can send notices and hand out letters of introduction."""
    from cuishou.notices.defaults import defaults_load
    from cuishou.notices.templates import template_decide

    made = defaults_load(actor=users["legal"])
    for template in made:
        template_decide(actor=users["compliance"], template=template, approve=True)
    return len(made)
