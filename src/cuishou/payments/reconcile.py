"""Bank-statement reconciliation (银行流水对账): read a client's statement, match each credit
to a loan (``payments.matching``), store every line, post the matched credits, and let a
person settle the rest (the manual queue: confirm a candidate, split a credit, ignore).

A matched credit is posted through ``payment_post`` with the idempotency key
``stmt:CLIENT:TXN_ID`` (channel bank transfer, reference the txn id, value date the
statement's date), so re-importing a statement, an overlapping one, or running again after
a crash posts nothing twice: a txn id already stored for the client is skipped, and a line
stored as matched but not yet posted (a crash between the two) is posted on the next run.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

import polars as pl
from django.core.exceptions import ValidationError
from django.db import connection, transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from cuishou.audit.services import actor_parts, audit_record
from cuishou.cases.choices import PromiseStatus
from cuishou.cases.models import Case, PromiseInstalment
from cuishou.core.money import fen_to_decimal
from cuishou.core.timeutil import today_shanghai
from cuishou.payments.choices import PaymentChannel, StatementLineStatus
from cuishou.payments.matching import match_lines
from cuishou.payments.models import Payment, StatementImport, StatementLine
from cuishou.payments.services import payment_post
from cuishou.payments.statement import LineError, statement_read
from cuishou.portfolio.models import Client, Debtor, Installment, Loan

_KEY_MAX = 100
_CHUNK = 5000
_OPEN = (StatementLineStatus.QUEUED, StatementLineStatus.UNMATCHED)


@dataclass
class ReconcileResult:
    summary: dict[str, int] = field(default_factory=dict)
    errors: list[LineError] = field(default_factory=list)
    statement: StatementImport | None = None

    @property
    def ok(self) -> bool:
        return not self.errors


def statement_key(client_code: str, txn_id: str, suffix: str = "") -> str:
    """The idempotency key of a statement credit (a split part adds the loan's id)."""
    raw = f"stmt:{client_code}:{txn_id}{suffix}"
    if len(raw) <= _KEY_MAX:
        return raw
    return "stmt:sha256:" + hashlib.sha256(raw.encode()).hexdigest()


def _chunks(ids: Sequence[Any]) -> list[Sequence[Any]]:
    return [ids[i : i + _CHUNK] for i in range(0, len(ids), _CHUNK)]


def _fen(value: Decimal | None) -> int:
    return int((value or Decimal(0)) * 100)


def _loans_frame(client: Client) -> pl.DataFrame:
    """The client's loans with the debtor's name and ID number (one SQL read)."""
    loan, debtor = Loan._meta.db_table, Debtor._meta.db_table
    with connection.cursor() as cur:
        cur.execute(
            f"SELECT l.id, l.contract_no, l.debtor_id, d.name, d.id_number "
            f"FROM {loan} l JOIN {debtor} d ON d.id = l.debtor_id WHERE l.client_id = %s",
            [client.pk],
        )
        rows = cur.fetchall()
    return pl.DataFrame(
        rows,
        schema={
            "loan_id": pl.Int64,
            "contract_no": pl.String,
            "debtor_id": pl.Int64,
            "debtor_name": pl.String,
            "id_number": pl.String,
        },
        orient="row",
    )


def _expected_loader(client: Client, loans: pl.DataFrame) -> Any:
    """What a credit on a loan may equal: an installment's unpaid amount, the overdue
    amount (overdue principal + interest + penalty as of the last run), the balance, or an
    instalment of the case's pending promise."""

    def load(loan_ids: list[int]) -> pl.DataFrame:
        rows: list[tuple[int, int, str]] = []
        for part in _chunks(loan_ids):
            for loan_id, seq, p_due, p_paid, i_due, i_paid in Installment.objects.filter(
                loan_id__in=part
            ).values_list(
                "loan_id", "seq", "principal_due", "principal_paid", "interest_due", "interest_paid"
            ):
                unpaid = _fen(p_due) - _fen(p_paid) + _fen(i_due) - _fen(i_paid)
                if unpaid > 0:
                    rows.append((loan_id, unpaid, _("installment %(seq)d unpaid") % {"seq": seq}))
            for loan_id, op, oi, pen, bal in Loan.objects.filter(pk__in=part).values_list(
                "pk", "overdue_principal", "overdue_interest", "penalty", "balance"
            ):
                overdue = _fen(op) + _fen(oi) + _fen(pen)
                if overdue > 0:
                    rows.append((loan_id, overdue, _("the overdue amount")))
                if _fen(bal) > 0:
                    rows.append((loan_id, _fen(bal), _("the balance")))
        wanted = loans.filter(pl.col("loan_id").is_in(loan_ids))
        debtor_ids = wanted["debtor_id"].unique().to_list()
        by_debtor: dict[int, list[int]] = {}
        for loan_id, debtor_id in wanted.select("loan_id", "debtor_id").iter_rows():
            by_debtor.setdefault(debtor_id, []).append(loan_id)
        for part in _chunks(debtor_ids):
            for debtor_id, seq, amount in PromiseInstalment.objects.filter(
                status=PromiseStatus.PENDING,
                promise__status=PromiseStatus.PENDING,
                promise__case__client_id=client.pk,
                promise__case__debtor_id__in=part,
            ).values_list("promise__case__debtor_id", "seq", "amount"):
                for loan_id in by_debtor.get(debtor_id, []):
                    rows.append(
                        (loan_id, _fen(amount), _("promise instalment %(seq)d") % {"seq": seq})
                    )
        return pl.DataFrame(
            rows,
            schema={"loan_id": pl.Int64, "expected_fen": pl.Int64, "what": pl.String},
            orient="row",
        )

    return load


def _seen_txn_ids(client: Client, txn_ids: list[str]) -> set[str]:
    seen: set[str] = set()
    for part in _chunks(txn_ids):
        seen.update(
            StatementLine.objects.filter(client=client, txn_id__in=part).values_list(
                "txn_id", flat=True
            )
        )
    return seen


def _candidates_json(candidates: list[dict[str, Any]], loans: pl.DataFrame) -> list[dict[str, Any]]:
    if not candidates:
        return []
    ids = [c["loan_id"] for c in candidates]
    info = {
        row[0]: row
        for row in loans.filter(pl.col("loan_id").is_in(ids))
        .select("loan_id", "contract_no", "debtor_name")
        .iter_rows()
    }
    return [
        {
            "loan_id": c["loan_id"],
            "contract_no": info[c["loan_id"]][1],
            "debtor_name": info[c["loan_id"]][2],
            "reasons": c["reasons"],
        }
        for c in candidates
    ]


def statement_import(
    *,
    actor: Any,
    client: Client,
    data: bytes,
    file_name: str,
    dry_run: bool = False,
    post: bool = True,
) -> ReconcileResult:
    """Read, check, match, store and post a statement (see the module's docstring).

    A file with bad lines stores and posts nothing and returns the lines' errors (and,
    unless a dry run, a refused ``StatementImport`` with the report). A dry run matches
    and counts, and writes nothing. ``post=False`` stores the matched lines without
    posting them (``statement_post_matched`` posts them later)."""
    today = today_shanghai()
    read = statement_read(data, today=today)
    user_id, label = actor_parts(actor)
    if read.errors or read.lines is None:
        result = ReconcileResult(errors=read.errors)
        if not dry_run:
            result.statement = StatementImport.objects.create(
                client=client,
                file_name=file_name[:255],
                sha256=read.sha256,
                actor_id=user_id,
                actor_label=label,
                dry_run=False,
                refused=True,
                error_count=len(read.errors),
                report="\n".join(str(e) for e in read.errors),
                finished_at=timezone.now(),
            )
        return result
    lines = read.lines
    seen = _seen_txn_ids(client, lines["txn_id"].to_list())
    fresh = lines.filter(~pl.col("txn_id").is_in(list(seen)))
    loans = _loans_frame(client)
    decided, candidates = match_lines(fresh, loans, _expected_loader(client, loans))
    counts = decided.group_by("status").len()
    by_status = dict(counts.iter_rows())
    summary = {
        "credits": lines.height,
        "matched": int(by_status.get(StatementLineStatus.MATCHED.value, 0)),
        "queued": int(by_status.get(StatementLineStatus.QUEUED.value, 0)),
        "unmatched": int(by_status.get(StatementLineStatus.UNMATCHED.value, 0)),
        "skipped": len(seen & set(lines["txn_id"].to_list())),
    }
    result = ReconcileResult(summary=summary)
    if dry_run:
        return result
    with transaction.atomic():
        run = StatementImport.objects.create(
            client=client,
            file_name=file_name[:255],
            sha256=read.sha256,
            actor_id=user_id,
            actor_label=label,
            counts=summary,
        )
        rows = fresh.join(decided, on="line_no").sort("line_no")
        StatementLine.objects.bulk_create(
            (
                StatementLine(
                    statement=run,
                    client=client,
                    line_no=r["line_no"],
                    txn_id=r["txn_id"],
                    date=r["date"],
                    amount=fen_to_decimal(r["amount_fen"]),
                    payer_name=r["payer_name"],
                    payer_account=r["payer_account"],
                    memo=r["memo"],
                    status=r["status"],
                    loan_id=r["loan_id"],
                    reason=r["reason"][:300],
                    candidates=_candidates_json(candidates.get(r["line_no"], []), loans),
                )
                for r in rows.iter_rows(named=True)
            ),
            batch_size=2000,
        )
        audit_record(
            actor=actor,
            action="statement.import",
            target=run,
            summary=f"{client.code}: statement {file_name} "
            f"({summary['credits']} credits, {summary['matched']} matched)",
            after={"sha256": read.sha256, "file_name": file_name, **summary},
        )
    result.statement = run
    if post:
        summary["posted"] = statement_post_matched(actor=actor, client=client)
    run.counts = summary
    run.finished_at = timezone.now()
    run.save(update_fields=["counts", "finished_at"])
    return result


def _post_line(
    *, actor: Any, line: StatementLine, loan: Loan, amount: Decimal, suffix: str = ""
) -> Payment:
    payment = payment_post(
        actor=actor,
        loan=loan,
        amount=amount,
        value_date=line.date,
        channel=PaymentChannel.BANK_TRANSFER,
        reference=line.txn_id,
        idempotency_key=statement_key(line.client.code, line.txn_id, suffix),
    )
    line.payments.add(payment)
    return payment


def statement_post_matched(*, actor: Any, client: Client, limit: int | None = None) -> int:
    """Post every matched line of the client that has no payment yet (the lines of this
    import, and those a crash left behind); returns how many were posted. A line whose
    posting is refused (a date before the loan was disbursed, …) goes to the queue with
    the reason."""
    todo = (
        StatementLine.objects.filter(
            client=client, status=StatementLineStatus.MATCHED, payments__isnull=True
        )
        .select_related("client", "loan")
        .order_by("id")
    )
    if limit is not None:
        todo = todo[:limit]
    posted = 0
    for line in todo:
        assert line.loan is not None
        try:
            with transaction.atomic():
                _post_line(actor=actor, line=line, loan=line.loan, amount=line.amount)
        except ValidationError as exc:
            loan = line.loan
            line.status = StatementLineStatus.QUEUED
            line.reason = (_("posting refused: %(why)s") % {"why": "; ".join(exc.messages)})[:300]
            line.candidates = [
                {
                    "loan_id": loan.pk,
                    "contract_no": loan.contract_no,
                    "debtor_name": "",
                    "reasons": [line.reason],
                }
            ]
            line.loan = None
            line.save(update_fields=["status", "reason", "candidates", "loan"])
            continue
        posted += 1
    return posted


def _open_line(line: StatementLine) -> StatementLine:
    locked = StatementLine.objects.select_for_update().select_related("client").get(pk=line.pk)
    if locked.status not in _OPEN:
        raise ValidationError(
            _("line %(txn)s is already %(status)s")
            % {"txn": locked.txn_id, "status": locked.get_status_display()},
            code="statement_line_closed",
        )
    return locked


def _client_loan(line: StatementLine, loan_id: int) -> Loan:
    loan = Loan.objects.filter(pk=loan_id, client_id=line.client_id).first()
    if loan is None:
        raise ValidationError(
            _("loan %(id)s is not a loan of client %(client)s")
            % {"id": loan_id, "client": line.client.code},
            code="statement_line_loan",
        )
    return loan


def _resolve(line: StatementLine, actor: Any, status: str, reason: str, loan: Loan | None) -> None:
    line.status = status
    line.reason = reason[:300]
    line.loan = loan
    line.resolved_by_id = actor_parts(actor)[0]
    line.resolved_at = timezone.now()
    line.save(update_fields=["status", "reason", "loan", "resolved_by", "resolved_at"])


def _case_id(loan: Loan) -> int | None:
    return (
        Case.objects.filter(client_id=loan.client_id, debtor_id=loan.debtor_id)
        .values_list("pk", flat=True)
        .first()
    )


def statement_line_confirm(*, actor: Any, line: StatementLine, loan_id: int) -> Payment:
    """A person confirms that the queued (or unmatched) credit pays ``loan_id``: the whole
    credit is posted on it."""
    with transaction.atomic():
        locked = _open_line(line)
        loan = _client_loan(locked, loan_id)
        listed = next((c for c in locked.candidates if c.get("loan_id") == loan.pk), None)
        why = "; ".join(listed["reasons"]) if listed else _("not among the candidates")
        payment = _post_line(actor=actor, line=locked, loan=loan, amount=locked.amount)
        _resolve(
            locked,
            actor,
            StatementLineStatus.MATCHED,
            _("confirmed by %(who)s: %(why)s") % {"who": actor_parts(actor)[1], "why": why},
            loan,
        )
        audit_record(
            actor=actor,
            action="statement.confirm",
            target=locked,
            case_id=_case_id(loan),
            summary=f"{locked.client.code} {locked.txn_id}: {locked.amount} confirmed on "
            f"{loan.contract_no}",
            after={"loan_id": loan.pk, "payment_id": payment.pk, "reasons": why},
        )
    line.refresh_from_db()
    return payment


def statement_line_split(
    *, actor: Any, line: StatementLine, parts: Sequence[tuple[int, Decimal]]
) -> list[Payment]:
    """Split one credit across several loans: ``parts`` are (loan id, amount); the amounts
    must add up to the credit exactly and each loan appears once. One payment per part."""
    with transaction.atomic():
        locked = _open_line(line)
        errors: list[str] = []
        if len(parts) < 2:
            errors.append(_("a split needs at least two loans"))
        ids = [loan_id for loan_id, _amount in parts]
        if len(set(ids)) != len(ids):
            errors.append(_("each loan may appear once in a split"))
        for _loan_id, amount in parts:
            if (
                not isinstance(amount, Decimal)
                or amount <= 0
                or amount != amount.quantize(Decimal("0.01"))
            ):
                errors.append(
                    _("each part must be more than 0 with at most 2 decimals (got %(a)s)")
                    % {"a": amount}
                )
        total = sum((amount for _loan_id, amount in parts), Decimal("0.00"))
        if total != locked.amount:
            errors.append(
                _("the parts add up to %(total)s, the credit is %(amount)s")
                % {"total": total, "amount": locked.amount}
            )
        if errors:
            raise ValidationError(errors, code="statement_split")
        loans = [(_client_loan(locked, loan_id), amount) for loan_id, amount in parts]
        payments = [
            _post_line(actor=actor, line=locked, loan=loan, amount=amount, suffix=f":{loan.pk}")
            for loan, amount in sorted(loans, key=lambda p: p[0].pk)  # lock order: by loan id
        ]
        described = ", ".join(f"{loan.contract_no} {amount}" for loan, amount in loans)
        _resolve(
            locked,
            actor,
            StatementLineStatus.MATCHED,
            _("split by %(who)s: %(parts)s") % {"who": actor_parts(actor)[1], "parts": described},
            None,
        )
        audit_record(
            actor=actor,
            action="statement.split",
            target=locked,
            case_id=_case_id(loans[0][0]),
            summary=f"{locked.client.code} {locked.txn_id}: {locked.amount} split: {described}",
            after={
                "parts": [{"loan_id": loan.pk, "amount": amount} for loan, amount in loans],
                "payment_ids": [p.pk for p in payments],
            },
        )
    line.refresh_from_db()
    return payments


def statement_line_ignore(*, actor: Any, line: StatementLine, reason: str) -> StatementLine:
    """A person decides the credit is not a debtor's payment (a refund, a transfer between
    the client's accounts): nothing is posted; the reason is kept."""
    reason = (reason or "").strip()
    if not reason:
        raise ValidationError(_("ignoring a credit needs a reason"), code="statement_ignore")
    with transaction.atomic():
        locked = _open_line(line)
        _resolve(locked, actor, StatementLineStatus.IGNORED, reason, None)
        audit_record(
            actor=actor,
            action="statement.ignore",
            target=locked,
            summary=f"{locked.client.code} {locked.txn_id}: {locked.amount} ignored: {reason}",
            after={"reason": reason},
        )
    line.refresh_from_db()
    return locked
