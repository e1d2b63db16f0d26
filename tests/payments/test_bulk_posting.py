"""The bulk posting of matched statement lines writes exactly what ``payment_post`` writes
line by line: the same statement, stored once, is posted both ways on two copies of the
same data (a savepoint rolled back in between) and every allocation line, installment,
credit, recompute mark, statement line, audit event and — after the nightly run — case
status must agree. Then: keys already used (replayed, or refused and queued), a value
date before the disbursement (queued), and a chunk that fails halfway (nothing of it
written, the next run posts it)."""

from __future__ import annotations

import datetime as dt
import re
import threading
from decimal import Decimal
from typing import Any

import pytest
from django.core.exceptions import ValidationError
from django.db import connection, connections, transaction

from cuishou.audit.models import AuditEvent
from cuishou.audit.services import audit_verify
from cuishou.cases.models import Case
from cuishou.engine.batch import batch_run
from cuishou.engine.models import RecomputeMark
from cuishou.payments import bulk, reconcile
from cuishou.payments.choices import PaymentChannel, StatementLineStatus, Waterfall
from cuishou.payments.models import Payment, PaymentAllocation, StatementLine
from cuishou.payments.reconcile import statement_import, statement_key, statement_post_matched
from cuishou.payments.services import payment_post
from cuishou.portfolio.models import Installment
from tests.factories import (
    ClientFactory,
    DebtorFactory,
    InstallmentFactory,
    LoanFactory,
    ProductFactory,
    UserFactory,
)
from tests.payments.statements import HEADER, TODAY, today  # noqa: F401 (the fixture)

pytestmark = pytest.mark.django_db
D = Decimal


def make_loan(client, product, contract_no: str, *, disbursed=dt.date(2026, 5, 1), paid="0.00"):
    """Three periods of 1,000.00 + 50.00: two overdue on TODAY (the first with ``paid`` of
    its principal paid), one not due yet."""
    loan = LoanFactory(
        client=client,
        product=product,
        debtor=DebtorFactory(),
        contract_no=contract_no,
        principal=D("3000.00"),
        disbursed_on=disbursed,
    )
    for seq, due in enumerate(("2026-08-10", "2026-10-10", "2026-12-10"), start=1):
        InstallmentFactory(
            loan=loan,
            seq=seq,
            due_on=dt.date.fromisoformat(due),
            principal_due=D("1000.00"),
            interest_due=D("50.00"),
            principal_paid=D(paid) if seq == 1 else D("0.00"),
        )
    return loan


@pytest.fixture
def book():
    client = ClientFactory(code="BULK1")

    def product(waterfall: str, penalty: str) -> Any:
        return ProductFactory(client=client, waterfall=waterfall, penalty_annual_rate=D(penalty))

    products = {
        "def": product(Waterfall.DEFAULT, "0.10"),
        "byi": product(Waterfall.BY_INSTALLMENT, "0.10"),
        "int": product(Waterfall.INTEREST_FIRST, "0.10"),
        "pri": product(Waterfall.PRINCIPAL_FIRST, "0.10"),
        "zero": product(Waterfall.DEFAULT, "0.00"),
    }
    loans = {
        "D1": make_loan(client, products["def"], "HT-D1", paid="400.00"),
        "D2": make_loan(client, products["def"], "HT-D2"),
        "B1": make_loan(client, products["byi"], "HT-B1"),
        "I1": make_loan(client, products["int"], "HT-I1", paid="999.99"),
        "I2": make_loan(client, products["int"], "HT-I2"),
        "P1": make_loan(client, products["pri"], "HT-P1"),
        "Z1": make_loan(client, products["zero"], "HT-Z1"),
        "Z2": make_loan(client, products["zero"], "HT-Z2"),
        "N1": make_loan(client, products["def"], "HT-N1", disbursed=dt.date(2026, 11, 16)),
    }
    batch_run(as_of=dt.date(2026, 11, 1))  # opens the cases (the audit events name them)
    return client, loans


# (txn, date, amount, memo): every line names its contract, so all are matched.
STATEMENT = [
    ("S01", "2026-11-15", "700.00", "HT-D1"),  # partial: penalty, interest, principal
    ("S02", "2026-11-10", "300.00", "HT-D1"),  # a second credit, dated before the first
    ("S03", "2026-11-12", "5000.00", "HT-B1"),  # overpayment: credit held
    ("S04", "2026-11-18", "1234.56", "HT-I1"),
    ("S05", "2026-11-18", "60.00", "HT-I2"),
    ("S06", "2026-11-18", "2500.00", "HT-I2"),  # two credits, same day
    ("S07", "2026-11-14", "888.00", "HT-P1"),
    ("S08", "2026-11-19", "3150.00", "HT-Z1"),  # pays everything: closes tonight
    ("S09", "2026-11-20", "10.00", "HT-D2"),  # value date today: no recompute mark
    ("S10", "2026-11-15", "100.00", "HT-N1"),  # before the disbursement: refused
    ("S11", "2026-11-11", "1050.00", "HT-Z2"),
    ("S12", "2026-11-13", "0.01", "HT-D2"),
]


def statement_csv(rows=STATEMENT) -> bytes:
    lines = [HEADER] + [f"{t},{day},{a},某人,6222,{memo}" for t, day, a, memo in rows]
    return ("\n".join(lines) + "\n").encode()


def one_by_one(actor, client) -> int:
    """The posting before the bulk path: payment_post per matched line, in line order."""
    posted = 0
    for line in StatementLine.objects.filter(
        client=client, status=StatementLineStatus.MATCHED, payments__isnull=True
    ).order_by("id"):
        try:
            with transaction.atomic():
                payment = payment_post(
                    actor=actor,
                    loan=line.loan,
                    amount=line.amount,
                    value_date=line.date,
                    channel=PaymentChannel.BANK_TRANSFER,
                    reference=line.txn_id,
                    idempotency_key=statement_key(client.code, line.txn_id),
                )
                line.payments.add(payment)
        except ValidationError as exc:  # queued, as the loop did
            reconcile._queue_refused(line, exc.messages)
            continue
        posted += 1
    return posted


def state() -> dict[str, Any]:
    """Everything posting writes, with database ids turned into natural keys (payment →
    its reference, installment → contract and period)."""
    ref = dict(Payment.objects.values_list("pk", "reference"))

    def named(text: str) -> str:
        return re.sub(r"payment (\d+)", lambda m: f"payment {ref[int(m.group(1))]}", text)

    return {
        "payments": sorted(
            Payment.objects.values_list(
                "reference",
                "loan__contract_no",
                "amount",
                "value_date",
                "channel",
                "status",
                "idempotency_key",
                "posted_by",
            )
        ),
        "allocations": [
            (
                ref[a.payment_id],
                a.component,
                a.installment.seq if a.installment else None,
                a.amount,
                a.value_date,
                a.is_reversed,
            )
            for a in PaymentAllocation.objects.select_related("installment").order_by(
                "payment__reference", "id"
            )
        ],
        "installments": sorted(
            Installment.objects.values_list(
                "loan__contract_no", "seq", "principal_paid", "interest_paid"
            )
        ),
        "marks": sorted(
            (m.client_id, m.debtor_id, m.from_date, named(m.reason))
            for m in RecomputeMark.objects.all()
        ),
        "lines": sorted(
            (
                line.txn_id,
                line.status,
                line.loan_id,
                line.reason,
                tuple(sorted(ref[p.pk] for p in line.payments.all())),
            )
            for line in StatementLine.objects.prefetch_related("payments")
        ),
        "audit": [
            (
                e.action,
                e.object_type,
                ref.get(int(e.object_id)) if e.action == "payment.post" else e.object_id,
                e.case_id,
                e.actor_label,
                e.summary,
                e.after,
            )
            for e in AuditEvent.objects.filter(seq__gt=0).order_by("seq")
            if e.action.startswith("payment.")
        ],
    }


def nightly() -> list[tuple[Any, ...]]:
    batch_run(as_of=TODAY)
    return sorted(
        Case.objects.values_list("debtor__loans__contract_no", "status", "closure", "balance")
    )


class RollbackError(Exception):
    pass


def on_a_copy(post) -> tuple[int, dict[str, Any], list[tuple[Any, ...]]]:
    """Post on a copy of the data (a savepoint rolled back afterwards)."""
    result: list[Any] = []
    try:
        with transaction.atomic():
            posted = post()
            assert audit_verify().ok
            result.extend([posted, state(), nightly()])
            raise RollbackError
    except RollbackError:
        pass
    return result[0], result[1], result[2]


def test_bulk_posting_writes_exactly_what_posting_line_by_line_writes(book):
    client, _loans = book
    actor = UserFactory()
    statement_import(
        actor=actor, client=client, data=statement_csv(), file_name="s.csv", post=False
    )
    before = state()

    bulk_posted, bulk_state, bulk_cases = on_a_copy(
        lambda: statement_post_matched(actor=actor, client=client)
    )
    assert state() == before  # the copy is gone
    single_posted, single_state, single_cases = on_a_copy(lambda: one_by_one(actor, client))

    assert bulk_posted == single_posted == len(STATEMENT) - 1
    for part in ("payments", "allocations", "installments", "marks", "lines", "audit"):
        assert bulk_state[part] == single_state[part], part
    assert bulk_cases == single_cases
    # The example covers what it says it covers.
    components = {(a[0], a[1]) for a in bulk_state["allocations"]}
    assert ("S03", "credit") in components  # overpayment held
    assert ("S01", "penalty") in components and ("S04", "penalty") in components
    # S02 is dated before S01, which already paid the penalty owed by then.
    assert ("S02", "penalty") not in components
    assert [a[1] for a in bulk_state["allocations"] if a[0] == "S07"][:1] == ["principal"]
    assert [a[1] for a in bulk_state["allocations"] if a[0] == "S04"][:1] == ["interest"]
    assert len(bulk_state["marks"]) == len(STATEMENT) - 2  # not S09 (today), not S10
    s10 = next(line for line in bulk_state["lines"] if line[0] == "S10")
    assert s10[1] == StatementLineStatus.QUEUED and "disbursed" in s10[3]
    assert ("HT-Z1", "closed", "paid_in_full", D("0.00")) in bulk_cases


def test_reposting_after_a_crash_links_the_payment_a_key_already_posted(book):
    client, loans = book
    statement_import(actor="t", client=client, data=statement_csv(), file_name="s.csv", post=False)
    # S01 got through before the crash; S03's key was used for another payment.
    first = payment_post(
        actor="t",
        loan=loans["D1"],
        amount=D("700.00"),
        value_date=dt.date(2026, 11, 15),
        reference="S01",
        idempotency_key=statement_key("BULK1", "S01"),
    )
    payment_post(
        actor="t",
        loan=loans["B1"],
        amount=D("1.00"),
        value_date=dt.date(2026, 11, 12),
        reference="other",
        idempotency_key=statement_key("BULK1", "S03"),
    )
    payments = Payment.objects.count()

    assert statement_post_matched(actor="t", client=client) == len(STATEMENT) - 2
    assert list(StatementLine.objects.get(txn_id="S01").payments.all()) == [first]
    assert Payment.objects.filter(reference="S01").count() == 1
    s03 = StatementLine.objects.get(txn_id="S03")
    assert s03.status == StatementLineStatus.QUEUED and "idempotency key" in s03.reason
    assert Payment.objects.count() == payments + len(STATEMENT) - 3  # not S01, S03, S10
    # Nothing is left to post, and importing the statement again posts nothing.
    assert statement_post_matched(actor="t", client=client) == 0
    again = statement_import(actor="t", client=client, data=statement_csv(), file_name="s.csv")
    assert (again.summary["skipped"], again.summary["posted"]) == (len(STATEMENT), 0)
    assert audit_verify().ok


def test_a_chunk_that_fails_halfway_writes_nothing_and_the_next_run_posts_it(
    book, monkeypatch: pytest.MonkeyPatch
):
    client, _loans = book
    statement_import(actor="t", client=client, data=statement_csv(), file_name="s.csv", post=False)
    monkeypatch.setattr(reconcile, "_POST_CHUNK", 4)
    calls = {"n": 0}
    real = bulk.recompute_marks_add_many

    def fail_second(marks):  # the last write of a chunk
        calls["n"] += 1
        if calls["n"] == 2:
            raise RuntimeError("disk full")
        return real(marks)

    monkeypatch.setattr(bulk, "recompute_marks_add_many", fail_second)
    chunks = reconcile._todo_chunks(client, None)  # by loan id: D1 D2 | B1 I1 I2 | …
    first = {row[4] for row in chunks[0]}
    later = {row[4] for chunk in chunks[1:] for row in chunk}
    paid_before = sorted(
        Installment.objects.filter(loan_id__in=later).values_list(
            "pk", "principal_paid", "interest_paid"
        )
    )
    with pytest.raises(RuntimeError):
        statement_post_matched(actor="t", client=client)

    assert set(Payment.objects.values_list("loan_id", flat=True)) == first
    assert Payment.objects.count() == len(chunks[0]) == 4
    assert not PaymentAllocation.objects.filter(loan_id__in=later).exists()
    assert paid_before == sorted(
        Installment.objects.filter(loan_id__in=later).values_list(
            "pk", "principal_paid", "interest_paid"
        )
    )
    assert AuditEvent.objects.filter(action="payment.post").count() == 4
    assert RecomputeMark.objects.count() == 3  # S09 is dated today
    assert not StatementLine.objects.filter(payments__loan_id__in=later).exists()
    assert audit_verify().ok

    monkeypatch.setattr(bulk, "recompute_marks_add_many", real)
    assert statement_post_matched(actor="t", client=client) == len(STATEMENT) - 1 - 4
    assert Payment.objects.count() == len(STATEMENT) - 1
    assert StatementLine.objects.get(txn_id="S10").status == StatementLineStatus.QUEUED


@pytest.mark.skipif(
    "postgresql" not in str(connections.settings["default"]["ENGINE"]),
    reason="concurrent writers: PostgreSQL (SQLite serialises writers by itself)",
)
@pytest.mark.django_db(transaction=True)
def test_bulk_and_single_postings_at_once_neither_wait_in_a_circle_nor_post_twice(book):
    client, loans = book
    statement_import(actor="t", client=client, data=statement_csv(), file_name="s.csv", post=False)
    initial = {i.pk: (i.principal_paid, i.interest_paid) for i in Installment.objects.all()}
    barrier = threading.Barrier(3)
    errors: list[BaseException] = []

    def run(work) -> None:
        try:
            barrier.wait()
            work()
        except BaseException as exc:  # reported by the assertion below
            errors.append(exc)
        finally:
            connection.close()

    def bulk_posting() -> None:
        statement_post_matched(actor="t", client=client)

    def single_postings() -> None:  # the same loans, highest id first
        for key in ("Z2", "P1", "I2", "B1", "D1"):
            payment_post(actor="t", loan=loans[key], amount=D("5.00"), value_date=TODAY)

    def same_key() -> None:  # S01 posted by hand with the statement's key at that moment
        payment_post(
            actor="t",
            loan=loans["D1"],
            amount=D("700.00"),
            value_date=dt.date(2026, 11, 15),
            reference="S01",
            idempotency_key=statement_key("BULK1", "S01"),
        )

    threads = [
        threading.Thread(target=run, args=(w,)) for w in (bulk_posting, single_postings, same_key)
    ]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors, errors
    assert Payment.objects.filter(reference="S01").count() == 1
    assert Payment.objects.count() == len(STATEMENT) - 1 + 5
    assert StatementLine.objects.get(txn_id="S01").payments.get().reference == "S01"
    for inst in Installment.objects.all():
        lines = PaymentAllocation.objects.filter(installment=inst)
        total = {
            c: sum((a.amount for a in lines if a.component == c), D("0.00"))
            for c in ("principal", "interest")
        }
        assert (inst.principal_paid, inst.interest_paid) == (
            initial[inst.pk][0] + total["principal"],
            initial[inst.pk][1] + total["interest"],
        )
    assert audit_verify().ok
