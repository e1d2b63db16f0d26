"""Posting a payment the way finance does: the product's waterfall (worked out by hand),
an idempotency key that makes a retried request post once (also under two concurrent
requests on PostgreSQL), the two-person reversal that restores the exact prior state, and
the three ways in: ``cuishou payments post``, the API and the payments page."""

from __future__ import annotations

import datetime as dt
import json
import threading
from decimal import Decimal
from io import StringIO

import pytest
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.management import CommandError, call_command
from django.db import connection, connections

from cuishou.audit.models import AuditEvent
from cuishou.audit.services import audit_verify
from cuishou.payments.choices import PaymentStatus, ReversalStatus, Waterfall
from cuishou.payments.models import Payment, PaymentAllocation, PaymentReversal
from cuishou.payments.services import (
    allocate,
    payment_post,
    reversal_approve,
    reversal_reject,
    reversal_request,
)
from cuishou.portfolio.models import Installment, Loan
from tests.factories import InstallmentFactory, LoanFactory, ProductFactory, UserFactory

TODAY = dt.date(2026, 11, 20)


@pytest.fixture(autouse=True)
def today(monkeypatch: pytest.MonkeyPatch) -> dt.date:
    monkeypatch.setattr("cuishou.payments.services.today_shanghai", lambda: TODAY)
    monkeypatch.setattr("cuishou.engine.marks.today_shanghai", lambda: TODAY)
    return TODAY


def D(text: str) -> Decimal:  # noqa: N802
    return Decimal(text)


def schedule() -> list[Installment]:
    """Unsaved installments: periods 1 and 2 overdue on 2026-11-20 (period 1 half paid),
    period 3 not due yet."""
    rows = [
        (1, "2026-09-10", "1000.00", "50.00", "500.00", "0.00"),
        (2, "2026-10-10", "1000.00", "40.00", "0.00", "0.00"),
        (3, "2026-12-10", "1000.00", "30.00", "0.00", "0.00"),
    ]
    return [
        Installment(
            pk=seq,
            seq=seq,
            due_on=dt.date.fromisoformat(due),
            principal_due=D(p),
            interest_due=D(i),
            principal_paid=D(pp),
            interest_paid=D(ip),
        )
        for seq, due, p, i, pp, ip in rows
    ]


def lines_of(
    amount: str, waterfall: str, penalty: str = "20.00"
) -> list[tuple[str, int | None, str]]:
    plan = allocate(
        amount=D(amount),
        value_date=TODAY,
        penalty_open=D(penalty),
        installments=schedule(),
        waterfall=waterfall,
    )
    return [
        (line.component.value, line.installment.seq if line.installment else None, str(line.amount))
        for line in plan
    ]


# 700.00 against: penalty 20, interest 50 (p1) + 40 (p2), principal 500 (p1) + 1000 (p2).
@pytest.mark.parametrize(
    ("waterfall", "expected"),
    [
        (
            Waterfall.DEFAULT,
            [
                ("penalty", None, "20.00"),
                ("interest", 1, "50.00"),
                ("interest", 2, "40.00"),
                ("principal", 1, "500.00"),
                ("principal", 2, "90.00"),
            ],
        ),
        (
            Waterfall.BY_INSTALLMENT,
            [
                ("penalty", None, "20.00"),
                ("interest", 1, "50.00"),
                ("principal", 1, "500.00"),
                ("interest", 2, "40.00"),
                ("principal", 2, "90.00"),
            ],
        ),
        (
            Waterfall.INTEREST_FIRST,
            [
                ("interest", 1, "50.00"),
                ("interest", 2, "40.00"),
                ("principal", 1, "500.00"),
                ("principal", 2, "110.00"),
            ],
        ),
        (
            Waterfall.PRINCIPAL_FIRST,
            [("principal", 1, "500.00"), ("principal", 2, "200.00")],
        ),
    ],
)
def test_each_waterfall_pays_in_its_order(waterfall: str, expected: list) -> None:  # type: ignore[type-arg]
    assert lines_of("700.00", waterfall) == expected


def test_after_everything_overdue_the_current_period_then_credit() -> None:
    # 20 + 90 + 1500 overdue = 1610; then period 3: interest 30, principal 1000; 60 left.
    assert lines_of("2700.00", Waterfall.PRINCIPAL_FIRST)[-4:] == [
        ("penalty", None, "20.00"),
        ("interest", 3, "30.00"),
        ("principal", 3, "1000.00"),
        ("credit", None, "60.00"),
    ]


def test_an_unknown_waterfall_is_refused() -> None:
    with pytest.raises(ValueError, match="unknown waterfall"):
        lines_of("10.00", "newest_first")


def make_loan(waterfall: str = Waterfall.DEFAULT, contract_no: str = "HT-1") -> Loan:
    product = ProductFactory(penalty_annual_rate=D("0"), waterfall=waterfall)
    loan = LoanFactory(product=product, client=product.client, contract_no=contract_no)
    for inst in schedule():
        InstallmentFactory(
            loan=loan,
            seq=inst.seq,
            due_on=inst.due_on,
            principal_due=inst.principal_due,
            interest_due=inst.interest_due,
            principal_paid=inst.principal_paid,
            interest_paid=inst.interest_paid,
        )
    return loan


def paid(loan: Loan) -> list[tuple[int, Decimal, Decimal]]:
    return list(
        Installment.objects.filter(loan=loan)
        .order_by("seq")
        .values_list("seq", "principal_paid", "interest_paid")
    )


@pytest.mark.django_db
def test_a_product_with_another_waterfall_stores_its_lines() -> None:
    loan = make_loan(Waterfall.BY_INSTALLMENT)
    payment = payment_post(actor="cli:test", loan=loan, amount=D("600.00"), value_date=TODAY)
    stored = list(
        PaymentAllocation.objects.filter(payment=payment)
        .order_by("id")
        .values_list("component", "installment__seq", "amount")
    )
    assert stored == [
        ("interest", 1, D("50.00")),
        ("principal", 1, D("500.00")),
        ("interest", 2, D("40.00")),
        ("principal", 2, D("10.00")),
    ]
    assert paid(loan)[:2] == [(1, D("1000.00"), D("50.00")), (2, D("10.00"), D("40.00"))]


@pytest.mark.django_db
def test_a_retried_request_with_the_same_key_posts_once() -> None:
    loan = make_loan()
    first = payment_post(
        actor="cli:test", loan=loan, amount=D("100.00"), value_date=TODAY, idempotency_key="k-1"
    )
    again = payment_post(
        actor="cli:test", loan=loan, amount=D("100.00"), value_date=TODAY, idempotency_key="k-1"
    )
    assert again.pk == first.pk and again.replayed and not first.replayed  # type: ignore[attr-defined]
    assert Payment.objects.count() == 1
    # Interest 50 + 40, then 10 of period 1's principal: once.
    assert paid(loan)[:2] == [(1, D("510.00"), D("50.00")), (2, D("0.00"), D("40.00"))]
    assert AuditEvent.objects.filter(action="payment.post").count() == 1
    with pytest.raises(ValidationError, match=r"k-1.*already used for payment"):
        payment_post(
            actor="cli:test", loan=loan, amount=D("100.01"), value_date=TODAY, idempotency_key="k-1"
        )
    assert Payment.objects.count() == 1


@pytest.mark.skipif(
    "postgresql" not in str(connections.settings["default"]["ENGINE"]),
    reason="concurrent writers: PostgreSQL (SQLite serialises writers by itself)",
)
@pytest.mark.django_db(transaction=True)
def test_two_identical_requests_at_once_post_once_on_postgresql() -> None:
    loan = make_loan()
    barrier = threading.Barrier(2)
    results: list[object] = []

    def post() -> None:
        try:
            barrier.wait()
            results.append(
                payment_post(
                    actor="api",
                    loan=loan,
                    amount=D("90.00"),
                    value_date=TODAY,
                    idempotency_key="same-request",
                ).pk
            )
        except Exception as exc:  # reported by the assertion below
            results.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=post) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(results) == 2 and results[0] == results[1], results
    assert Payment.objects.count() == 1
    assert paid(loan)[0] == (1, D("500.00"), D("50.00")) and paid(loan)[1][2] == D("40.00")


@pytest.mark.django_db
def test_a_reversal_needs_a_second_person_and_restores_the_exact_state() -> None:
    loan = make_loan()
    before = paid(loan)
    wu = UserFactory(username="wu", role="finance")
    zhao = UserFactory(username="zhao", role="finance")
    collector = UserFactory(username="li", role="collector")
    payment = payment_post(actor=wu, loan=loan, amount=D("2000.00"), value_date=TODAY)
    assert paid(loan) != before
    request = reversal_request(actor=wu, payment=payment, reason="transfer bounced")
    with pytest.raises(ValidationError, match="already waiting"):
        reversal_request(actor=zhao, payment=payment, reason="again")
    with pytest.raises(ValidationError, match="second person"):
        reversal_approve(actor=wu, request=request)
    with pytest.raises(PermissionDenied):
        reversal_approve(actor=collector, request=request)
    assert Payment.objects.get(pk=payment.pk).status == PaymentStatus.POSTED
    reversal_approve(actor=zhao, request=request, note="bank confirmed")
    assert paid(loan) == before
    assert Payment.objects.get(pk=payment.pk).status == PaymentStatus.REVERSED
    assert not PaymentAllocation.objects.filter(payment=payment, is_reversed=False).exists()
    request.refresh_from_db()
    assert request.status == ReversalStatus.APPROVED and request.decided_by == zhao
    actions = list(AuditEvent.objects.order_by("seq").values_list("action", flat=True))
    assert actions[-4:] == [
        "payment.post",
        "payment.reversal_request",
        "payment.reverse",
        "payment.reversal_approve",
    ]
    assert audit_verify().ok
    with pytest.raises(ValidationError, match="already reversed"):
        reversal_request(actor=wu, payment=payment, reason="twice")


@pytest.mark.django_db
def test_a_rejected_reversal_leaves_the_payment_posted() -> None:
    loan = make_loan()
    wu, risk = UserFactory(role="finance"), UserFactory(role="risk_manager")
    payment = payment_post(actor=wu, loan=loan, amount=D("50.00"), value_date=TODAY)
    after_post = paid(loan)
    request = reversal_request(actor=wu, payment=payment, reason="wrong loan?")
    reversal_reject(actor=risk, request=request, note="the loan is right")
    assert paid(loan) == after_post
    assert Payment.objects.get(pk=payment.pk).status == PaymentStatus.POSTED
    with pytest.raises(ValidationError, match="already decided"):
        reversal_approve(actor=risk, request=PaymentReversal.objects.get(pk=request.pk))


@pytest.mark.django_db
def test_the_command_posts_once_per_key_and_names_bad_arguments() -> None:
    loan = make_loan()
    args = ["payments", "post", "--client", loan.client.code, "--contract", "HT-1"]
    out = StringIO()
    call_command(
        *args, "--amount", "1,090.00", "--value-date", "2026-11-19", "--key", "b-7", stdout=out
    )
    shown = json.loads(out.getvalue())
    assert shown["amount"] == "1090.00" and shown["replayed"] is False
    assert shown["allocations"][:3] == [
        {"component": "interest", "seq": 1, "amount": "50.00", "reversed": False},
        {"component": "interest", "seq": 2, "amount": "40.00", "reversed": False},
        {"component": "principal", "seq": 1, "amount": "500.00", "reversed": False},
    ]
    out = StringIO()
    call_command(
        *args, "--amount", "1090.00", "--value-date", "2026-11-19", "--key", "b-7", stdout=out
    )
    assert json.loads(out.getvalue())["replayed"] is True
    assert Payment.objects.count() == 1
    with pytest.raises(CommandError, match="--amount"):
        call_command(*args, "--amount", "abc", "--value-date", "2026-11-19")
    with pytest.raises(CommandError, match="--value-date"):
        call_command(*args, "--amount", "1.00", "--value-date", "19/11/2026")
    with pytest.raises(CommandError, match="in the future"):
        call_command(*args, "--amount", "1.00", "--value-date", "2026-11-21")
    with pytest.raises(CommandError, match="NOPE"):
        call_command(
            "payments",
            "post",
            "--client",
            loan.client.code,
            "--contract",
            "NOPE",
            "--amount",
            "1.00",
            "--value-date",
            "2026-11-19",
        )
    assert Payment.objects.count() == 1


@pytest.mark.django_db
def test_the_api_posts_once_per_idempotency_key(client) -> None:  # type: ignore[no-untyped-def]
    loan = make_loan()
    body = {
        "client": loan.client.code,
        "contract_no": "HT-1",
        "amount": "95.50",
        "value_date": "2026-11-20",
        "reference": "BANK-1",
    }
    client.force_login(UserFactory(role="collector"))
    denied = client.post("/api/payments", body, content_type="application/json")
    assert denied.status_code == 403
    client.force_login(UserFactory(role="finance"))
    headers = {"Idempotency-Key": "req-42"}
    first = client.post("/api/payments", body, content_type="application/json", headers=headers)
    assert first.status_code == 201, first.content
    again = client.post("/api/payments", body, content_type="application/json", headers=headers)
    assert again.status_code == 200 and again.json()["payment"] == first.json()["payment"]
    assert again.json()["replayed"] is True and Payment.objects.count() == 1
    other = client.post(
        "/api/payments",
        {**body, "amount": "1.00"},
        content_type="application/json",
        headers=headers,
    )
    assert other.status_code == 422 and "req-42" in other.json()["detail"][0]
    shown = client.get(f"/api/payments/{first.json()['payment']}").json()
    assert shown["allocations"][0] == {
        "component": "interest",
        "seq": 1,
        "amount": "50.00",
        "reversed": False,
    }


@pytest.mark.django_db
def test_the_page_posts_once_and_two_people_reverse(client) -> None:  # type: ignore[no-untyped-def]
    loan = make_loan()
    wu = UserFactory(username="wu", role="finance")
    zhao = UserFactory(username="zhao", role="finance")
    client.force_login(wu)
    page = client.get("/payments/", HTTP_ACCEPT_LANGUAGE="en")
    assert page.status_code == 200
    key = page.context["form"].initial["idempotency_key"]
    form = {
        "client": loan.client.pk,
        "contract_no": "HT-1",
        "amount": "3000.00",
        "value_date": "2026-11-20",
        "channel": "counter",
        "reference": "",
        "idempotency_key": key,
    }
    posted = client.post("/payments/", form, follow=True, HTTP_ACCEPT_LANGUAGE="en")
    text = posted.content.decode()
    assert "posted: 3000.00 on HT-1" in text and "data-credit" in text  # 1590 owed before 3000
    twice = client.post("/payments/", form, follow=True, HTTP_ACCEPT_LANGUAGE="en")
    assert "already sent" in twice.content.decode()
    assert Payment.objects.count() == 1
    payment = Payment.objects.get()
    bad = client.post("/payments/", {**form, "contract_no": "NOPE", "idempotency_key": "x"})
    assert bad.status_code == 422 and "NOPE" in bad.content.decode()

    client.post(f"/payments/{payment.pk}/reverse/", {"reason": "counter cash counterfeit"})
    reversal = PaymentReversal.objects.get()
    own = client.get("/payments/", HTTP_ACCEPT_LANGUAGE="en").content.decode()
    assert "a second person approves" in own
    client.post(f"/payments/reversals/{reversal.pk}/", {"decision": "approve"})
    assert Payment.objects.get().status == PaymentStatus.POSTED  # not by the one who asked
    client.force_login(zhao)
    client.post(f"/payments/reversals/{reversal.pk}/", {"decision": "approve", "note": "ok"})
    assert Payment.objects.get().status == PaymentStatus.REVERSED
    client.force_login(UserFactory(role="collector"))
    assert client.get("/payments/").status_code == 403
