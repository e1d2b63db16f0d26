"""Money in a real browser (Debian's Chromium via Playwright): finance works the
reconciliation queue (a credit confirmed to a candidate with one key, another split
across two loans), and a collector agrees a repayment plan on the case page and sees it
kept or broken after the nightly run."""

from __future__ import annotations

import datetime as dt
import threading
from collections.abc import Callable
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from django.db import connections

from cuishou.accounts.models import User
from cuishou.cases.models import Case
from cuishou.core.timeutil import today_shanghai
from cuishou.engine.batch import batch_run
from cuishou.payments.models import Payment, StatementLine
from cuishou.payments.reconcile import statement_import
from cuishou.payments.services import payment_post
from cuishou.portfolio.models import Loan
from tests.factories import (
    ClientFactory,
    DebtorFactory,
    InstallmentFactory,
    LoanFactory,
    UserFactory,
)
from tests.web.conftest import english_context, log_in
from tests.web.test_browser import pytestmark  # noqa: F401 (Chromium or skip)

TODAY = today_shanghai()
DAY = dt.timedelta(days=1)


def off_loop(work: Callable[[], Any]) -> Any:
    """Run ORM work in a thread of its own: Django refuses ORM calls from the test's
    thread while Playwright's event loop runs in it."""
    result: dict[str, Any] = {}

    def run() -> None:
        try:
            result["value"] = work()
        except BaseException as exc:  # handed back to the test
            result["error"] = exc
        finally:
            connections.close_all()

    thread = threading.Thread(target=run)
    thread.start()
    thread.join()
    if "error" in result:
        raise result["error"]
    return result.get("value")


def press_access_key(page: Any, key: str) -> None:
    """Alt+``key`` as the desktop delivers it on Linux: key down, the character, key up.
    Chromium acts on an access key at the character event, which Playwright's
    ``keyboard.press("Alt+2")`` does not send, so the events go through the DevTools
    protocol."""
    cdp = page.context.new_cdp_session(page)
    code = {"key": key, "code": f"Digit{key}", "windowsVirtualKeyCode": ord(key)}
    cdp.send("Input.dispatchKeyEvent", {"type": "rawKeyDown", "modifiers": 1, **code})
    cdp.send(
        "Input.dispatchKeyEvent",
        {"type": "char", "modifiers": 1, "text": key, "unmodifiedText": key, **code},
    )
    cdp.send("Input.dispatchKeyEvent", {"type": "keyUp", "modifiers": 1, **code})
    cdp.detach()


def _loan(client: Any, name: str, contract_no: str, unpaid: str) -> Loan:
    loan = LoanFactory(
        client=client,
        debtor=DebtorFactory(name=name),
        contract_no=contract_no,
        disbursed_on=TODAY - 200 * DAY,
    )
    InstallmentFactory(
        loan=loan,
        seq=1,
        due_on=TODAY - 40 * DAY,
        principal_due=Decimal(unpaid) - Decimal("75.00"),
        interest_due=Decimal("75.00"),
    )
    return loan


# --- the reconciliation queue ---------------------------------------------------------


@pytest.fixture
def queued_statement(transactional_db: None) -> dict[str, Loan]:
    """Two debtors called 王五 owe 800.00 each (credit T08 of 800.00 from 王五 is queued
    with both); nobody is called 章三 (credit T07 of 1,575.00 is unmatched)."""
    UserFactory(username="fang", display_name="Fang 财务", role="finance")
    client = ClientFactory(code="BANK1", name="华夏消费金融")
    loans = {
        "W1": _loan(client, "王五", "HT-W1", "800.00"),
        "W2": _loan(client, "王五", "HT-W2", "800.00"),
        "A1": _loan(client, "张三", "HT-A1", "1575.00"),
        "B1": _loan(client, "李四", "HT-B1", "1000.00"),
    }
    day = (TODAY - DAY).isoformat()
    data = (
        "txn_id,date,amount,payer_name,payer_account,memo\n"
        f"T08,{day},800.00,王五,6222000011112222,\n"
        f"T07,{day},1575.00,章三,6222000011113333,还款\n"
    ).encode()
    result = statement_import(actor="test", client=client, data=data, file_name="s.csv")
    assert result.summary["queued"] == 1 and result.summary["unmatched"] == 1
    return loans


def test_finance_confirms_a_credit_with_one_key_and_splits_another(
    live_server, queued_statement: dict[str, Loan], browser, shots: Path
) -> None:
    context = english_context(browser, live_server.url)
    page = context.new_page()
    queue = f"{live_server.url}/payments/statements/queue/"
    try:
        log_in(page, live_server.url, "fang")
        page.goto(queue)
        t08 = page.locator("[data-queue-line=T08]")
        candidates = t08.locator("[data-table=candidates] tbody tr")
        assert candidates.count() == 2
        assert "王五" in candidates.nth(0).inner_text() and "王五" in candidates.nth(1).inner_text()
        second = candidates.nth(1).get_attribute("data-candidate")
        assert second in ("HT-W1", "HT-W2")
        assert page.locator("[data-queue-line=T07]").count() == 1
        page.screenshot(path=str(shots / "reconcile-queue.png"), full_page=True)

        # One key: Alt+2 presses the second candidate's Confirm (accesskey 2).
        with page.expect_navigation():
            press_access_key(page, "2")
        messages = page.locator("ul.messages").inner_text()
        assert "Credit T08 confirmed: payment" in messages
        assert page.locator("[data-queue-line=T08]").count() == 0

        # Split 1,575.00 across two loans; a split that does not add up is refused first.
        split = page.locator("[data-queue-line=T07] [data-form=split]")
        split.locator("textarea[name=parts]").fill("HT-A1 575.00\nHT-B1 1000.01")
        with page.expect_navigation():
            split.get_by_role("button", name="Split").click()
        assert "1575.01" in page.locator("ul.messages").inner_text()
        assert page.locator("[data-queue-line=T07]").count() == 1
        split = page.locator("[data-queue-line=T07] [data-form=split]")
        split.locator("textarea[name=parts]").fill("HT-A1 575.00\nHT-B1 1000.00")
        with page.expect_navigation():
            split.get_by_role("button", name="Split").click()
        assert "Credit T07 split into 2 payments." in page.locator("ul.messages").inner_text()
        assert "Nothing is waiting." in page.locator("main").inner_text()
        page.screenshot(path=str(shots / "reconcile-queue-done.png"), full_page=True)
    finally:
        context.close()

    def posted() -> tuple[list[tuple[str, str, Decimal]], set[str]]:
        rows = Payment.objects.order_by("loan__contract_no").values_list(
            "loan__contract_no", "reference", "amount"
        )
        return list(rows), set(StatementLine.objects.values_list("status", flat=True))

    payments, statuses = off_loop(posted)
    assert payments == [
        ("HT-A1", "T07", Decimal("575.00")),
        ("HT-B1", "T07", Decimal("1000.00")),
        (second, "T08", Decimal("800.00")),
    ]
    assert statuses == {"matched"}


# --- a repayment plan on the case page ------------------------------------------------


@dataclass
class PlanCase:
    collector: User
    loan: Loan
    case: Case
    owed: Decimal


@pytest.fixture
def plan_case(transactional_db: None) -> PlanCase:
    """A loan 40 days overdue (3,150.00); last night's run opened its case for Alice."""
    alice = UserFactory(username="alice", display_name="Alice 王", role="collector")
    loan = _loan(ClientFactory(code="BANK2"), "赵六", "HT-Z1", "3150.00")
    batch_run(as_of=TODAY - DAY)
    case = Case.objects.get(debtor=loan.debtor)
    Case.objects.filter(pk=case.pk).update(assignee=alice)
    case.refresh_from_db()
    return PlanCase(alice, loan, case, case.overdue_amount + case.penalty)


def test_a_collector_agrees_a_plan_and_sees_it_decided_by_the_nightly_run(
    live_server, plan_case: PlanCase, browser, shots: Path
) -> None:
    case = plan_case.case
    first = Decimal("1000.00")
    rest = plan_case.owed - first
    context = english_context(browser, live_server.url)
    page = context.new_page()
    url = f"{live_server.url}/cases/{case.pk}/"
    try:
        log_in(page, live_server.url, "alice")
        page.goto(url)
        section = page.locator("#plans")
        covers = section.locator("select[name=covers]")
        assert f"The overdue amount: {plan_case.owed:.2f}" in covers.inner_text()
        covers.select_option("overdue")
        section.locator("textarea[name=installments]").fill(
            f"{TODAY.isoformat()} {first}\n{(TODAY + 30 * DAY).isoformat()} {rest}"
        )
        section.locator("input[name=consent_note]").fill("电话同意，分两期")
        section.get_by_role("button", name="Agree the plan").click()
        page.wait_for_url(f"{url}#plans")
        assert "Repayment plan agreed." in page.locator("ul.messages").inner_text()
        section = page.locator("#plans")
        assert "On a repayment plan" in section.inner_text()
        rows = section.locator("table[data-table^=plan-] tbody tr")
        assert rows.count() == 2
        assert TODAY.isoformat() in rows.nth(0).inner_text()
        assert "Pending" in rows.nth(0).inner_text() and "Pending" in rows.nth(1).inner_text()
        assert "Active" in section.locator("table[data-table^=plan-] caption").inner_text()
        page.screenshot(path=str(shots / "plan-agreed.png"), full_page=True)

        # The debtor pays the first installment; four nights later it shows paid.
        off_loop(
            lambda: payment_post(
                actor=plan_case.collector, loan=plan_case.loan, amount=first, value_date=TODAY
            )
        )
        off_loop(lambda: batch_run(as_of=TODAY + 4 * DAY))
        page.goto(url)
        rows = page.locator("#plans table[data-table^=plan-] tbody tr")
        assert "Paid" in rows.nth(0).inner_text() and "Pending" in rows.nth(1).inner_text()
        assert "On a repayment plan" in page.locator("#plans").inner_text()

        # The second is never paid: past its date and the grace days the plan is broken,
        # and the page offers to agree a new one.
        off_loop(lambda: batch_run(as_of=TODAY + 34 * DAY))
        page.goto(url)
        section = page.locator("#plans")
        caption = section.locator("table[data-table^=plan-] caption").inner_text()
        assert "Broken" in caption
        rows = section.locator("table[data-table^=plan-] tbody tr")
        assert "Paid" in rows.nth(0).inner_text() and "Missed" in rows.nth(1).inner_text()
        assert "On a repayment plan" not in section.inner_text()
        assert section.get_by_role("button", name="Agree the plan").count() == 1
        page.screenshot(path=str(shots / "plan-broken.png"), full_page=True)
    finally:
        context.close()
