"""Bank-statement reconciliation: a labelled statement (contract numbers, ID-number
fragments, Chinese, pinyin and traditional names, wrong names, same-name-same-amount
debtors, promises) with the outcome each line must get; bad lines refuse the file;
re-imports, dry runs and a crash between matching and posting post nothing twice; the
manual queue's confirm, split and ignore; GB18030 CSV and .xlsx with Chinese headers."""

from __future__ import annotations

import datetime as dt
import io
import json
from decimal import Decimal
from io import StringIO
from pathlib import Path

import openpyxl
import pytest
from django.core.exceptions import ValidationError
from django.core.management import CommandError, call_command

from cuishou.audit.models import AuditEvent
from cuishou.audit.services import audit_verify
from cuishou.cases.models import PlanInstallment, PromiseInstalment, PromiseToPay, RepaymentPlan
from cuishou.payments import reconcile
from cuishou.payments.choices import StatementLineStatus as S
from cuishou.payments.models import Payment, StatementImport, StatementLine
from cuishou.payments.reconcile import (
    statement_import,
    statement_line_confirm,
    statement_line_ignore,
    statement_line_split,
    statement_post_matched,
)
from cuishou.portfolio.models import Loan
from tests.factories import (
    CaseFactory,
    ClientFactory,
    DebtorFactory,
    InstallmentFactory,
    LoanFactory,
    UserFactory,
)
from tests.payments.statements import HEADER, TODAY, today  # noqa: F401 (the fixture)

pytestmark = pytest.mark.django_db


def loan(client, debtor, contract_no: str, unpaid: str, balance: str = "6000.00"):
    made = LoanFactory(
        client=client, debtor=debtor, contract_no=contract_no, balance=Decimal(balance)
    )
    InstallmentFactory(
        loan=made,
        seq=1,
        due_on=dt.date(2026, 10, 10),
        principal_due=Decimal(unpaid) - Decimal("75.00"),
        interest_due=Decimal("75.00"),
    )
    return made


@pytest.fixture
def book():
    client = ClientFactory(code="BANK1")
    zhang = DebtorFactory(name="张三", id_number="110105198604011114")
    li = DebtorFactory(name="李四", id_number="310104199106062221")
    wang1 = DebtorFactory(name="王五")
    wang2 = DebtorFactory(name="王五")
    chen = DebtorFactory(name="陈六")
    loans = {
        "A1": loan(client, zhang, "HT-A1", "1575.00"),
        "B1": loan(client, li, "HT-B1", "1000.00"),
        "B2": loan(client, li, "HT-B2", "2000.00"),
        "W1": loan(client, wang1, "HT-W1", "800.00"),
        "W2": loan(client, wang2, "HT-W2", "800.00"),
        "C1": loan(client, chen, "HT-C1", "3000.00"),
    }
    case = CaseFactory(client=client, debtor=chen)
    promise = PromiseToPay.objects.create(
        case=case, promised_on=dt.date(2026, 11, 1), amount=Decimal("500.00")
    )
    PromiseInstalment.objects.create(
        promise=promise, seq=1, due_on=dt.date(2026, 11, 30), amount=Decimal("500.00")
    )
    # Repayment plans: 赵七's active plan (installment 1 partly counted as paid); of the two
    # debtors called 孙八 one owes 900.00 on a plan installment, the other on a loan
    # installment; 钱九's plan was cancelled.
    zhao, sun1, sun2, qian = (DebtorFactory(name=n) for n in ("赵七", "孙八", "孙八", "钱九"))
    loans["Z7"] = loan(client, zhao, "HT-Z7", "3000.00")
    loans["S1"] = loan(client, sun1, "HT-S1", "2500.00")
    loans["S2"] = loan(client, sun2, "HT-S2", "900.00")
    loans["Q9"] = loan(client, qian, "HT-Q9", "2500.00")
    plan(client, zhao, [("1200.00", "200.00"), ("1800.00", "0.00")])
    plan(client, sun1, [("900.00", "0.00"), ("1600.00", "0.00")])
    plan(client, qian, [("777.00", "0.00"), ("1723.00", "0.00")], status="cancelled")
    # Another client's loan with the same contract number is never a candidate.
    loan(ClientFactory(code="OTHER"), zhang, "HT-X9", "1575.00")
    return client, loans


def plan(client, debtor, installments, status: str = "active") -> RepaymentPlan:
    """A plan on the debtor's case: (amount, counted as paid) per installment."""
    case = CaseFactory(client=client, debtor=debtor)
    made = RepaymentPlan.objects.create(
        case=case,
        agreed_on=dt.date(2026, 11, 1),
        amount=sum(Decimal(a) for a, _p in installments),
        consent_note="电话同意",
        grace_days=3,
        status=status,
    )
    for seq, (amount, paid) in enumerate(installments, start=1):
        PlanInstallment.objects.create(
            plan=made,
            seq=seq,
            due_on=dt.date(2026, 11, 1) + dt.timedelta(days=30 * seq),
            amount=Decimal(amount),
            paid_amount=Decimal(paid),
        )
    return made


# (txn_id, amount, payer_name, memo) → (status, loan key or None)
LABELLED = [
    ("T01", "100.00", "某公司", "代还 HT-A1 本月", S.MATCHED, "A1"),
    ("T02", "100.00", "", "身份证后六位011114", S.MATCHED, "A1"),
    ("T03", "1575.00", "张三", "", S.MATCHED, "A1"),
    ("T04", "1575.00", "ZHANG SAN", "", S.MATCHED, "A1"),
    ("T05", "6000.00", "Zhang San", "转账", S.MATCHED, "A1"),
    ("T06", "1575.00", "張三", "", S.MATCHED, "A1"),
    ("T07", "1575.00", "章三", "", S.UNMATCHED, None),  # sounds the same, is not the name
    ("T08", "800.00", "王五", "", S.QUEUED, None),  # two debtors named 王五 owe 800.00
    ("T09", "2000.00", "李四", "", S.MATCHED, "B2"),
    ("T10", "1000.00", "", "062221 还款", S.MATCHED, "B1"),  # li has two loans: by amount
    ("T11", "123.45", "", "062221", S.QUEUED, None),  # two loans, the amount fits neither
    ("T12", "999.00", "张三", "", S.UNMATCHED, None),  # right name, no expected amount
    ("T13", "500.00", "陈六", "", S.MATCHED, "C1"),  # the promise's instalment
    ("T14", "1575.00", "ZHAO SI", "", S.UNMATCHED, None),
    ("T15", "100.00", "", "HT-A1 HT-B1", S.QUEUED, None),  # two contracts named
    ("T16", "1575.00", "", "HT-X9", S.UNMATCHED, None),  # another client's contract
    ("T17", "1200.00", "赵七", "", S.MATCHED, "Z7"),  # a plan installment
    ("T18", "1000.00", "ZHAO QI", "", S.MATCHED, "Z7"),  # what is left of it
    ("T19", "1800.00", "趙七", "", S.MATCHED, "Z7"),  # plan installment 2
    ("T20", "900.00", "孙八", "", S.QUEUED, None),  # one 孙八's plan, the other's loan
    ("T21", "777.00", "钱九", "", S.UNMATCHED, None),  # a cancelled plan expects nothing
]


def statement_csv(rows=LABELLED, header: str = HEADER) -> bytes:
    lines = [header] + [f"{t},2026-11-15,{a},{p},6222000011112222,{m}" for t, a, p, m, *_r in rows]
    return ("\n".join(lines) + "\n").encode()


def lines_by_txn() -> dict[str, StatementLine]:
    return {line.txn_id: line for line in StatementLine.objects.all()}


def test_labelled_statement_every_line_gets_its_expected_outcome(book):
    client, loans = book
    result = statement_import(actor="test", client=client, data=statement_csv(), file_name="s.csv")
    assert result.ok
    stored = lines_by_txn()
    for txn, _a, _p, _m, status, key in LABELLED:
        line = stored[txn]
        assert (txn, line.status) == (txn, status), line.reason
        assert line.loan_id == (loans[key].pk if key else None), (txn, line.reason)
    expected = {s: sum(1 for row in LABELLED if row[4] == s) for s in S}
    assert result.summary == {
        "credits": len(LABELLED),
        "matched": expected[S.MATCHED],
        "queued": expected[S.QUEUED],
        "unmatched": expected[S.UNMATCHED],
        "skipped": 0,
        "posted": expected[S.MATCHED],
    }
    queued = stored["T08"]
    assert {c["contract_no"] for c in queued.candidates} == {"HT-W1", "HT-W2"}
    assert all(
        any("800.00" in r or "installment" in r for r in c["reasons"]) for c in queued.candidates
    )
    assert "amount" in stored["T12"].reason
    assert "plan installment 1" in stored["T17"].reason
    assert "left of plan installment 1" in stored["T18"].reason
    assert {c["contract_no"] for c in stored["T20"].candidates} == {"HT-S1", "HT-S2"}
    reasons = {c["contract_no"]: " ".join(c["reasons"]) for c in stored["T20"].candidates}
    assert "plan installment 1" in reasons["HT-S1"]
    assert "installment 1 unpaid" in reasons["HT-S2"]
    assert [c["contract_no"] for c in stored["T12"].candidates] == ["HT-A1"]


def test_matched_credits_are_posted_once_with_the_statement_fields(book):
    client, loans = book
    statement_import(actor="test", client=client, data=statement_csv(), file_name="s.csv")
    payment = Payment.objects.get(reference="T09")
    assert payment.loan_id == loans["B2"].pk
    assert payment.amount == Decimal("2000.00")
    assert payment.value_date == dt.date(2026, 11, 15)
    assert payment.channel == "bank_transfer"
    assert payment.idempotency_key == "stmt:BANK1:T09"
    assert list(StatementLine.objects.get(txn_id="T09").payments.all()) == [payment]
    assert AuditEvent.objects.filter(action="payment.post").count() == Payment.objects.count()
    assert AuditEvent.objects.filter(action="statement.import").count() == 1
    assert audit_verify().ok


def test_reimport_and_overlapping_statement_post_nothing_twice(book):
    client, _loans = book
    statement_import(actor="test", client=client, data=statement_csv(), file_name="s.csv")
    payments = Payment.objects.count()
    again = statement_import(actor="test", client=client, data=statement_csv(), file_name="s.csv")
    assert again.summary["skipped"] == len(LABELLED)
    assert again.summary["matched"] == again.summary["posted"] == 0
    overlapping = [*LABELLED[:3], ("T99", "50.00", "", "HT-B1", S.MATCHED, "B1")]
    third = statement_import(
        actor="test", client=client, data=statement_csv(overlapping), file_name="s2.csv"
    )
    assert (third.summary["skipped"], third.summary["posted"]) == (3, 1)
    assert Payment.objects.count() == payments + 1


def test_a_crash_between_matching_and_posting_is_finished_by_the_next_run(book):
    client, _loans = book
    statement_import(
        actor="test", client=client, data=statement_csv(), file_name="s.csv", post=False
    )
    assert Payment.objects.count() == 0
    matched = StatementLine.objects.filter(status=S.MATCHED).count()
    again = statement_import(actor="test", client=client, data=statement_csv(), file_name="s.csv")
    assert again.summary["posted"] == matched
    assert statement_post_matched(actor="test", client=client) == 0
    assert Payment.objects.count() == matched


def test_dry_run_writes_nothing(book):
    client, _loans = book
    result = statement_import(
        actor="test", client=client, data=statement_csv(), file_name="s.csv", dry_run=True
    )
    assert result.summary["matched"] == sum(1 for r in LABELLED if r[4] == S.MATCHED)
    assert StatementImport.objects.count() == StatementLine.objects.count() == 0
    assert Payment.objects.count() == 0


def test_bad_lines_refuse_the_whole_file_and_are_listed(book):
    client, _loans = book
    rows = [
        "T01,2026-11-15,100.00,张三,,HT-A1",
        "T02,2026-11-15,,张三,,",
        "T03,2026-11-15,-100.00,张三,,",
        "T04,2026-13-01,100.00,张三,,",
        "T05,2026-12-01,100.00,张三,,",
        "T01,2026-11-15,1.005,张三,,",
    ]
    data = ("\n".join([HEADER, *rows]) + "\n").encode()
    result = statement_import(actor="test", client=client, data=data, file_name="bad.csv")
    assert [str(e) for e in result.errors] == [
        "2:txn_id: the same transaction id is on another line of this file",
        "3:amount: required: the amount credited",
        "4:amount: a debit (negative amount): the statement must list credits only",
        "5:date: not a date (use YYYY-MM-DD, YYYY/MM/DD or YYYY年M月D日)",
        "6:date: the date is in the future (today is 2026-11-20)",
        "7:txn_id: the same transaction id is on another line of this file",
        "7:amount: more than 2 decimal places",
    ]
    assert Payment.objects.count() == StatementLine.objects.count() == 0
    assert StatementImport.objects.get().refused


def test_gb18030_csv_with_chinese_headers(book):
    client, loans = book
    text = '流水号,日期,金额,付款人,付款账号,摘要\nG1,2026年11月15日,"1,575.00",張三,,工资\n'
    result = statement_import(
        actor="test", client=client, data=text.encode("gb18030"), file_name="gb.csv"
    )
    assert result.ok, result.errors
    assert StatementLine.objects.get(txn_id="G1").loan_id == loans["A1"].pk


def test_xlsx_with_chinese_headers_and_excel_dates(book):
    client, loans = book
    book_ = openpyxl.Workbook()
    sheet = book_.active
    sheet.append(["流水号", "日期", "金额", "付款人", "付款账号", "摘要"])
    sheet.append(["X1", dt.datetime(2026, 11, 15, tzinfo=None), 2000, "LI SI", "6222", ""])  # noqa: DTZ001 - an Excel date cell has no zone
    sheet.append(["X2", "2026/11/15", 100.5, "", "", "还 HT-C1"])
    buffer = io.BytesIO()
    book_.save(buffer)
    result = statement_import(
        actor="test", client=client, data=buffer.getvalue(), file_name="s.xlsx"
    )
    assert result.ok, result.errors
    stored = lines_by_txn()
    assert stored["X1"].loan_id == loans["B2"].pk
    assert stored["X2"].amount == Decimal("100.50")
    assert stored["X2"].loan_id == loans["C1"].pk


def test_queue_confirm_posts_the_credit_on_the_chosen_candidate(book):
    client, loans = book
    statement_import(actor="test", client=client, data=statement_csv(), file_name="s.csv")
    finance = UserFactory(role="finance")
    line = StatementLine.objects.get(txn_id="T08")
    payment = statement_line_confirm(actor=finance, line=line, loan_id=loans["W2"].pk)
    line.refresh_from_db()
    assert (line.status, line.loan_id, line.resolved_by_id) == (
        S.MATCHED,
        loans["W2"].pk,
        finance.pk,
    )
    assert payment.amount == Decimal("800.00") and payment.idempotency_key == "stmt:BANK1:T08"
    assert AuditEvent.objects.filter(action="statement.confirm", object_id=str(line.pk)).exists()
    with pytest.raises(ValidationError, match="already"):
        statement_line_confirm(actor=finance, line=line, loan_id=loans["W1"].pk)
    with pytest.raises(ValidationError, match="not a loan of client"):
        statement_line_confirm(
            actor=finance,
            line=StatementLine.objects.get(txn_id="T16"),
            loan_id=Payment.objects.first().loan_id + 10_000,
        )
    assert audit_verify().ok


def test_queue_split_must_add_up_to_the_credit_exactly(book):
    client, loans = book
    statement_import(actor="test", client=client, data=statement_csv(), file_name="s.csv")
    line = StatementLine.objects.get(txn_id="T07")  # 1575.00
    before = Payment.objects.count()
    with pytest.raises(ValidationError, match=r"add up to 1575\.01"):
        statement_line_split(
            actor="test",
            line=line,
            parts=[(loans["A1"].pk, Decimal("575.01")), (loans["B1"].pk, Decimal("1000.00"))],
        )
    assert Payment.objects.count() == before
    payments = statement_line_split(
        actor="test",
        line=line,
        parts=[(loans["A1"].pk, Decimal("575.00")), (loans["B1"].pk, Decimal("1000.00"))],
    )
    assert sorted(p.amount for p in payments) == [Decimal("575.00"), Decimal("1000.00")]
    line.refresh_from_db()
    assert line.status == S.MATCHED and line.payments.count() == 2
    assert AuditEvent.objects.filter(action="statement.split").count() == 1


def test_queue_ignore_needs_a_reason(book):
    client, _loans = book
    statement_import(actor="test", client=client, data=statement_csv(), file_name="s.csv")
    line = StatementLine.objects.get(txn_id="T14")
    with pytest.raises(ValidationError):
        statement_line_ignore(actor="test", line=line, reason=" ")
    statement_line_ignore(actor="test", line=line, reason="refund from the client's own account")
    line.refresh_from_db()
    assert line.status == S.IGNORED


def test_command_prints_the_summary_and_refuses_bad_files(book, tmp_path: Path):
    good = tmp_path / "s.csv"
    good.write_bytes(statement_csv())
    out = StringIO()
    call_command(
        "payments", "import-statement", str(good), "--client", "BANK1", "--dry-run", stdout=out
    )
    summary = json.loads(out.getvalue().strip().splitlines()[-1])
    assert summary["credits"] == len(LABELLED) and Payment.objects.count() == 0
    out = StringIO()
    call_command("payments", "import-statement", str(good), "--client", "BANK1", stdout=out)
    assert json.loads(out.getvalue().strip().splitlines()[-1])["posted"] > 0
    bad = tmp_path / "bad.csv"
    bad.write_bytes((HEADER + "\nB1,2026-11-15,,x,,\n").encode())
    out = StringIO()
    with pytest.raises(CommandError, match="1 bad lines"):
        call_command("payments", "import-statement", str(bad), "--client", "BANK1", stdout=out)
    assert "2:amount: required" in out.getvalue()
    with pytest.raises(CommandError, match="no client"):
        call_command("payments", "import-statement", str(good), "--client", "NOPE")


def test_pages_upload_show_and_work_the_queue(book, client, django_assert_max_num_queries):
    bank, loans = book
    client.force_login(UserFactory(role="collector"))
    assert client.get("/payments/statements/").status_code == 403
    finance = UserFactory(role="finance")
    client.force_login(finance)
    page = client.get("/payments/", HTTP_ACCEPT_LANGUAGE="en")
    assert b"/payments/statements/queue/" in page.content
    upload = io.BytesIO(statement_csv())
    upload.name = "s.csv"
    sent = client.post(
        "/payments/statements/", {"client": bank.pk, "file": upload}, HTTP_ACCEPT_LANGUAGE="en"
    )
    assert sent.status_code == 302
    shown = client.get(sent["Location"], HTTP_ACCEPT_LANGUAGE="en")
    assert b'data-line="T09" data-status="matched"' in shown.content
    with django_assert_max_num_queries(8):
        queue = client.get("/payments/statements/queue/", HTTP_ACCEPT_LANGUAGE="en")
    assert b'data-queue-line="T08"' in queue.content and b'data-candidate="HT-W1"' in queue.content
    w8 = StatementLine.objects.get(txn_id="T08")
    client.post(f"/payments/statements/lines/{w8.pk}/confirm/", {"loan": loans["W1"].pk})
    w8.refresh_from_db()
    assert w8.status == S.MATCHED and w8.loan_id == loans["W1"].pk
    t7 = StatementLine.objects.get(txn_id="T07")
    client.post(f"/payments/statements/lines/{t7.pk}/split/", {"parts": "HT-A1 1575.01\nHT-B1 0"})
    t7.refresh_from_db()
    assert t7.status == S.UNMATCHED
    client.post(f"/payments/statements/lines/{t7.pk}/split/", {"parts": "HT-A1 575\nHT-B1 1000.00"})
    t7.refresh_from_db()
    assert t7.status == S.MATCHED and t7.payments.count() == 2
    t14 = StatementLine.objects.get(txn_id="T14")
    client.post(f"/payments/statements/lines/{t14.pk}/confirm/", {"contract_no": "HT-C1"})
    t14.refresh_from_db()
    assert t14.loan_id == loans["C1"].pk
    bad = io.BytesIO((HEADER + "\nB1,2026-11-15,,x,,\n").encode())
    bad.name = "bad.csv"
    refused = client.post(
        "/payments/statements/",
        {"client": bank.pk, "file": bad, "dry_run": "on"},
        HTTP_ACCEPT_LANGUAGE="en",
    )
    assert refused.status_code == 422 and b"2:amount: required" in refused.content


def test_the_loans_are_read_whole_even_with_a_separator_inside_a_name(book):
    client, _loans = book
    odd = DebtorFactory(name="奇\x1f怪", id_number="")
    loan(client, odd, "HT-ODD", "100.00")
    frame = reconcile._loans_frame(client)
    expected = {
        (made.pk, made.contract_no, made.debtor_id, made.debtor.name, made.debtor.id_number)
        for made in Loan.objects.filter(client=client).select_related("debtor")
    }
    assert set(frame.rows()) == expected
    assert ("HT-ODD", "奇\x1f怪", "") in {(r[1], r[3], r[4]) for r in frame.rows()}
