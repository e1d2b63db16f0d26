"""A small portfolio for the page tests: two collectors, three cases, one full case file."""

from __future__ import annotations

import datetime as dt
import os
from collections.abc import Iterator
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from cuishou.accounts.models import User
from cuishou.audit.services import audit_record
from cuishou.cases.models import Case
from cuishou.portfolio.models import Client, Debtor, Loan, RelatedPerson
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

PASSWORD = "pw-Secret-123"


@dataclass
class Portfolio:
    bank: Client
    shop: Client
    alice: User  # collector with cases 1 and 2
    bob: User  # collector with case 3
    zhang: Debtor
    zhang_case: Case
    zhang_loan: Loan
    spouse: RelatedPerson
    li_case: Case
    wang_case: Case


def make_portfolio() -> Portfolio:
    bank = ClientFactory(code="BANK", name="华夏消费金融")
    shop = ClientFactory(code="SHOP", name="好物分期")
    alice = UserFactory(username="alice", display_name="Alice 王", role="collector")
    bob = UserFactory(username="bob", display_name="Bob 李", role="collector")

    zhang = DebtorFactory(name="张三丰", id_number="110105198604011114", mobile="13800138000")
    loan = LoanFactory(client=bank, debtor=zhang, contract_no="HT-ZS-001")
    InstallmentFactory(
        loan=loan,
        seq=1,
        due_on=dt.date(2026, 8, 10),
        principal_due=Decimal("1500.00"),
        interest_due=Decimal("75.00"),
        principal_paid=Decimal("1500.00"),
        interest_paid=Decimal("75.00"),
    )
    InstallmentFactory(
        loan=loan,
        seq=2,
        due_on=dt.date(2026, 9, 10),
        principal_due=Decimal("1512.34"),
        interest_due=Decimal("68.25"),
    )
    spouse = RelatedPersonFactory(debtor=zhang, name="李四娘", relation="spouse")
    ContactPointFactory(debtor=zhang, kind="phone", value="13800138000", is_primary=True)
    ContactPointFactory(debtor=zhang, related_person=spouse, kind="phone", value="13912345678")
    AddressFactory(
        debtor=zhang,
        kind="work",
        text="上海市浦东新区张杨路500号华润时代广场",
        city="上海市",
        district="浦东新区",
        lat=Decimal("31.229000"),
        lon=Decimal("121.520000"),
    )
    zhang_case = CaseFactory(
        client=bank,
        debtor=zhang,
        assignee=alice,
        bucket="M3",
        dpd=66,
        stage="phone",
        overdue_amount=Decimal("1580.59"),
        balance=Decimal("20000.00"),
    )
    li_case = CaseFactory(
        client=shop,
        debtor=DebtorFactory(name="李小龙"),
        assignee=alice,
        bucket="M1",
        dpd=12,
        stage="reminder",
        balance=Decimal("3000.00"),
    )
    wang_case = CaseFactory(
        client=bank,
        debtor=DebtorFactory(name="王五"),
        assignee=bob,
        bucket="M5",
        dpd=140,
        stage="visit",
        balance=Decimal("88000.00"),
    )
    audit_record(
        actor=alice,
        action="case.stage_change",
        target=zhang_case,
        case_id=zhang_case.pk,
        summary="stage reminder → phone",
    )
    return Portfolio(
        bank=bank,
        shop=shop,
        alice=alice,
        bob=bob,
        zhang=zhang,
        zhang_case=zhang_case,
        zhang_loan=loan,
        spouse=spouse,
        li_case=li_case,
        wang_case=wang_case,
    )


@pytest.fixture
def portfolio(db: None) -> Portfolio:
    return make_portfolio()


@pytest.fixture(autouse=True)
def _english_pages(client, settings):  # type: ignore[no-untyped-def]
    """Page tests read English text; the default (Chinese) is tested on its own."""
    client.cookies[settings.LANGUAGE_COOKIE_NAME] = "en"


# --- the browser tests' fixtures ---------------------------------------------------

CHROMIUM = "/usr/bin/chromium"
LAUNCH_ARGS = [
    "--headless=new",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


@pytest.fixture
def browser_portfolio(transactional_db: None) -> Portfolio:
    # Created (and committed) before Playwright starts its event loop in this thread:
    # Django refuses ORM calls from a thread with a running loop.
    return make_portfolio()


@pytest.fixture
def browser() -> Iterator[object]:
    sync_api = pytest.importorskip("playwright.sync_api")
    with sync_api.sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=LAUNCH_ARGS)
        try:
            yield browser
        finally:
            browser.close()


@pytest.fixture
def shots(tmp_path: Path) -> Path:
    """Where screenshots go: a temporary folder, or CUISHOU_SCREENSHOT_DIR to keep them."""
    folder = Path(os.environ.get("CUISHOU_SCREENSHOT_DIR") or tmp_path)
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def log_in(page: Any, url: str, username: str) -> None:
    """Sign in through the login form of the live server at ``url``."""
    page.goto(f"{url}/accounts/login/")
    page.fill("input[name=username]", username)
    page.fill("input[name=password]", PASSWORD)
    page.click("form.login button[type=submit]")
    page.wait_for_load_state()


def english_context(browser: Any, url: str) -> Any:
    """A desktop-sized browser context that sees the pages of ``url`` in English."""
    context = browser.new_context(viewport={"width": 1280, "height": 900}, locale="en-US")
    context.add_cookies([{"name": "django_language", "value": "en", "url": url}])
    return context
