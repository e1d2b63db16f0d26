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
import io
import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

import polars as pl
from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import IntegrityError, connection, transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from cuishou.audit.services import actor_parts, audit_record
from cuishou.cases.choices import InstallmentStatus, PlanStatus, PromiseStatus
from cuishou.cases.models import (
    Case,
    PlanInstallment,
    PromiseInstalment,
    PromiseToPay,
    RepaymentPlan,
)
from cuishou.core.gcpause import gc_paused
from cuishou.core.rows import fetch_in, rows_insert
from cuishou.core.sqlite import memory_mapped
from cuishou.core.timeutil import today_shanghai
from cuishou.payments.bulk import PaymentRequest, as_date, date_text, payments_post_bulk
from cuishou.payments.choices import PaymentChannel, StatementLineStatus
from cuishou.payments.matching import match_lines
from cuishou.payments.models import Payment, StatementImport, StatementLine
from cuishou.payments.services import payment_post
from cuishou.payments.statement import LineError, statement_read
from cuishou.portfolio.models import Client, Debtor, Installment, Loan

_KEY_MAX = 100
_CHUNK = 5000
_POST_CHUNK = 5000  # matched lines posted per transaction
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


_LOANS_SCHEMA = {
    "loan_id": pl.Int64,
    "contract_no": pl.String,
    "debtor_id": pl.Int64,
    "debtor_name": pl.String,
    "id_number": pl.String,
}


def _loans_frame(client: Client) -> pl.DataFrame:
    """The client's loans with the debtor's name and ID number (one SQL read; on
    PostgreSQL a ``COPY … TO STDOUT`` read by Polars, several times faster than fetching
    a million rows as tuples)."""
    loan, debtor = Loan._meta.db_table, Debtor._meta.db_table
    query = (
        f"SELECT l.id, l.contract_no, l.debtor_id, d.name, d.id_number "
        f"FROM {loan} l JOIN {debtor} d ON d.id = l.debtor_id WHERE l.client_id = "
    )
    if connection.vendor == "postgresql":
        connection.ensure_connection()
        buffer = io.BytesIO()
        with (
            connection.connection.cursor() as cur,
            cur.copy(f"COPY ({query}{int(client.pk)}) TO STDOUT WITH (FORMAT csv)") as copy,
        ):
            for data in copy:
                buffer.write(data)
        if buffer.tell() == 0:
            return pl.DataFrame(schema=_LOANS_SCHEMA)
        return pl.read_csv(
            buffer.getvalue(),
            has_header=False,
            schema=_LOANS_SCHEMA,
            empty_string_is_null=False,
        )
    # SQLite: each column as one text (group_concat sees the rows in one order), split by
    # Polars — a third of the time of a million tuples. A separator inside a value (or a
    # NULL, which group_concat skips) shows as a wrong count: then the tuples after all.
    sep = "\x1f"
    with connection.cursor() as cur:
        cur.execute(
            "SELECT COUNT(*), group_concat(l.id, ','),"
            " group_concat(COALESCE(l.contract_no, ''), char(31)),"
            " group_concat(l.debtor_id, ','), group_concat(COALESCE(d.name, ''), char(31)),"
            " group_concat(COALESCE(d.id_number, ''), char(31))"
            f" FROM {loan} l JOIN {debtor} d ON d.id = l.debtor_id WHERE l.client_id = %s",
            [client.pk],
        )
        count, *texts = cur.fetchone()
        if not count:
            return pl.DataFrame(schema=_LOANS_SCHEMA)
        columns = {
            name: pl.Series([text]).str.split("," if kind == pl.Int64 else sep).explode()
            for (name, kind), text in zip(_LOANS_SCHEMA.items(), texts, strict=True)
        }
        if all(column.len() == count for column in columns.values()):
            return pl.DataFrame(columns).cast(_LOANS_SCHEMA)  # type: ignore[arg-type]
        cur.execute(query + "%s", [client.pk])
        rows = cur.fetchall()
    return pl.DataFrame(rows, schema=_LOANS_SCHEMA, orient="row")


def _fen_sql(expr: str) -> str:
    return f"CAST(ROUND(({expr}) * 100) AS BIGINT)"


def _fetch_in(
    sql: str, ids: Sequence[Any], params: Sequence[Any] = (), *, array_type: str = "bigint"
) -> list[tuple[Any, ...]]:
    """Run ``sql`` (with ``{ids}`` where the IN list goes) over ``ids`` (``fetch_in``: one
    array on PostgreSQL, chunks on SQLite)."""
    return fetch_in(sql.replace("{ids}", "{values}"), ids, params, array_type=array_type)


def _expected_loader(client: Client, loans: pl.DataFrame) -> Any:
    """What a credit on a loan may equal (integer fen, computed in SQL): an installment's
    unpaid amount, the overdue amount (overdue principal + interest + penalty as of the
    last run), the balance, an instalment of the case's pending promise, or an installment
    of the case's active repayment plan (its amount, and what is left of it when the
    nightly run counted part of it paid). Promises and plans belong to the case — the
    debtor with the client —, so they are expected amounts of each of the debtor's loans."""
    inst, loan = Installment._meta.db_table, Loan._meta.db_table
    pi, ptp, case = (
        PromiseInstalment._meta.db_table,
        PromiseToPay._meta.db_table,
        Case._meta.db_table,
    )
    plan, plan_inst = RepaymentPlan._meta.db_table, PlanInstallment._meta.db_table
    schema = {"loan_id": pl.Int64, "expected_fen": pl.Int64, "seq": pl.Int64}
    by_debtor = {"debtor_id": pl.Int64, "expected_fen": pl.Int64, "seq": pl.Int64}

    def frame(rows: list[tuple[Any, ...]], what: pl.Expr) -> pl.DataFrame:
        return (
            pl.DataFrame(rows, schema=schema, orient="row")
            .filter(pl.col("expected_fen") > 0)
            .select("loan_id", "expected_fen", what.alias("what"))
        )

    def load(loan_ids: list[int]) -> pl.DataFrame:
        unpaid = "principal_due - principal_paid + interest_due - interest_paid"
        installments = _fetch_in(
            f"SELECT loan_id, {_fen_sql(unpaid)}, seq FROM {inst} "
            "WHERE loan_id IN ({ids}) AND (principal_paid < principal_due "
            "OR interest_paid < interest_due)",
            loan_ids,
        )
        figures = _fetch_in(
            f"SELECT id, {_fen_sql('overdue_principal + overdue_interest + penalty')}, "
            f"{_fen_sql('balance')} FROM {loan} WHERE id IN ({{ids}})",
            loan_ids,
        )
        wanted = loans.join(
            pl.DataFrame({"loan_id": loan_ids}, schema={"loan_id": pl.Int64}), on="loan_id"
        ).select("loan_id", "debtor_id")
        debtors = wanted["debtor_id"].unique().to_list()

        def per_loan(rows: list[tuple[Any, ...]]) -> list[tuple[Any, ...]]:
            """Rows by debtor (debtor id, fen, seq) → the same for each of its loans."""
            return (
                pl.DataFrame(rows, schema=by_debtor, orient="row")
                .join(wanted, on="debtor_id")
                .select("loan_id", "expected_fen", "seq")
                .rows()
            )

        promised = _fetch_in(
            f"SELECT c.debtor_id, {_fen_sql('i.amount')}, i.seq FROM {pi} i "
            f"JOIN {ptp} p ON p.id = i.promise_id JOIN {case} c ON c.id = p.case_id "
            "WHERE i.status = %s AND p.status = %s AND c.client_id = %s "
            "AND c.debtor_id IN ({ids})",
            debtors,
            [PromiseStatus.PENDING.value, PromiseStatus.PENDING.value, client.pk],
        )
        planned = _fetch_in(
            f"SELECT c.debtor_id, {_fen_sql('i.amount')}, {_fen_sql('i.paid_amount')}, i.seq"
            f" FROM {plan_inst} i JOIN {plan} p ON p.id = i.plan_id"
            f" JOIN {case} c ON c.id = p.case_id"
            " WHERE i.status = %s AND p.status = %s AND c.client_id = %s"
            " AND c.debtor_id IN ({ids})",
            debtors,
            [InstallmentStatus.PENDING.value, PlanStatus.ACTIVE.value, client.pk],
        )
        plan_rest = [
            (debtor, amount - paid, seq) for debtor, amount, paid, seq in planned if paid > 0
        ]
        return pl.concat(
            [
                frame(installments, pl.format(_("installment {} unpaid"), pl.col("seq"))),
                frame([(r[0], r[1], 0) for r in figures], pl.lit(_("the overdue amount"))),
                frame([(r[0], r[2], 0) for r in figures], pl.lit(_("the balance"))),
                frame(per_loan(promised), pl.format(_("promise instalment {}"), pl.col("seq"))),
                frame(
                    per_loan([(d, amount, seq) for d, amount, _paid, seq in planned]),
                    pl.format(_("plan installment {}"), pl.col("seq")),
                ),
                frame(
                    per_loan(plan_rest),
                    pl.format(_("what is left of plan installment {}"), pl.col("seq")),
                ),
            ]
        )

    return load


def _seen_txn_ids(client: Client, txn_ids: list[str]) -> set[str]:
    """The txn ids of the file already stored for the client (none on a first import)."""
    if not StatementLine.objects.filter(client=client).exists():
        return set()
    table = StatementLine._meta.db_table
    rows = _fetch_in(
        f"SELECT txn_id FROM {table} WHERE client_id = %s AND txn_id IN ({{ids}})",
        txn_ids,
        [client.pk],
        array_type="text",
    )
    return {row[0] for row in rows}


def _candidate_info(
    candidates: dict[int, list[dict[str, Any]]], loans: pl.DataFrame
) -> dict[int, tuple[str, str]]:
    """Contract number and debtor name of every listed candidate, in one pass."""
    ids = sorted({c["loan_id"] for listed in candidates.values() for c in listed})
    if not ids:
        return {}
    found = loans.join(pl.DataFrame({"loan_id": ids}, schema={"loan_id": pl.Int64}), on="loan_id")
    return {
        loan_id: (contract_no, name)
        for loan_id, contract_no, name in found.select(
            "loan_id", "contract_no", "debtor_name"
        ).iter_rows()
    }


def _candidates_json(
    candidates: list[dict[str, Any]], info: dict[int, tuple[str, str]]
) -> list[dict[str, Any]]:
    return [
        {
            "loan_id": c["loan_id"],
            "contract_no": info[c["loan_id"]][0],
            "debtor_name": info[c["loan_id"]][1],
            "reasons": c["reasons"],
        }
        for c in candidates
    ]


_LINE_COLUMNS = (
    "statement_id",
    "client_id",
    "line_no",
    "txn_id",
    "date",
    "amount",
    "payer_name",
    "payer_account",
    "memo",
    "status",
    "loan_id",
    "reason",
    "candidates",
)


def _insert_lines(
    run: StatementImport,
    client: Client,
    rows: pl.DataFrame,
    candidates: dict[int, list[dict[str, Any]]],
    info: dict[int, tuple[str, str]],
) -> None:
    """Through ``rows_insert``: ``COPY`` on PostgreSQL, multi-row INSERTs on SQLite (the
    ORM's bulk_create cost more than the whole match; on PostgreSQL, the client spent
    longer parsing multi-row statements' thousands of ``%s`` than the server running
    them: 11 of the 19 s the bench took there)."""
    table = StatementLine._meta.db_table
    # The amount as the text "123.45" (what Django sends for a Decimal), built by Polars.
    fen = pl.col("amount_fen")
    frame = rows.select(
        pl.lit(run.pk).alias("statement_id"),
        pl.lit(client.pk).alias("client_id"),
        "line_no",
        "txn_id",
        pl.col("date").dt.strftime("%Y-%m-%d"),
        pl.format("{}.{}", fen // 100, (fen % 100).cast(pl.String).str.zfill(2)).alias("amount"),
        "payer_name",
        "payer_account",
        "memo",
        "status",
        "loan_id",
        pl.col("reason").str.slice(0, 300),
    )
    values = [
        (
            *row,
            json.dumps(_candidates_json(candidates[row[2]], info), ensure_ascii=False)
            if row[2] in candidates
            else "[]",
        )
        for row in frame.iter_rows()
    ]
    rows_insert(table, _LINE_COLUMNS, values)


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
    with gc_paused(), memory_mapped(settings.CUISHOU_STATEMENT_SQLITE_MMAP_MB):
        return _statement_import(
            actor=actor, client=client, data=data, file_name=file_name, dry_run=dry_run, post=post
        )


def _statement_import(
    *, actor: Any, client: Client, data: bytes, file_name: str, dry_run: bool, post: bool
) -> ReconcileResult:
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
        info = _candidate_info(candidates, loans)
        _insert_lines(run, client, rows, candidates, info)
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


def _todo_chunks(client: Client, limit: int | None) -> list[list[tuple[Any, ...]]]:
    """The matched lines of the client without a payment, (id, txn id, date, amount in
    fen, loan id) each, in line order, cut into chunks of about ``_POST_CHUNK`` lines by
    loan id (a loan's lines stay in one chunk, in line order)."""
    table = StatementLine._meta.db_table
    through = StatementLine.payments.through._meta.db_table
    with connection.cursor() as cur:
        cur.execute(
            f"SELECT s.id, s.txn_id, {date_text('s.date')}, {_fen_sql('s.amount')}, s.loan_id"
            f" FROM {table} s"
            " WHERE s.client_id = %s AND s.status = %s AND s.loan_id IS NOT NULL"
            f" AND NOT EXISTS (SELECT 1 FROM {through} t WHERE t.statementline_id = s.id)"
            " ORDER BY s.id" + (" LIMIT %s" if limit is not None else ""),
            [client.pk, StatementLineStatus.MATCHED.value, *([] if limit is None else [limit])],
        )
        rows = cur.fetchall()
    by_loan: dict[int, list[tuple[Any, ...]]] = {}
    for row in rows:
        by_loan.setdefault(int(row[4]), []).append(row)
    chunks: list[list[tuple[Any, ...]]] = []
    current: list[tuple[Any, ...]] = []
    for loan_id in sorted(by_loan):
        if current and len(current) + len(by_loan[loan_id]) > _POST_CHUNK:
            chunks.append(current)
            current = []
        current.extend(by_loan[loan_id])
    if current:
        chunks.append(current)
    return [sorted(chunk) for chunk in chunks]


def _post_chunk(actor: Any, client: Client, rows: list[tuple[Any, ...]]) -> int:
    """Post one chunk of matched lines through ``payments_post_bulk`` and link each line
    to its payment; a refused line goes to the queue. Run inside a transaction."""
    requests = [
        PaymentRequest(
            loan_id=int(loan_id),
            amount=Decimal(int(fen)).scaleb(-2),  # 150000 → Decimal('1500.00')
            value_date=as_date(day),
            idempotency_key=statement_key(client.code, txn_id),
            channel=PaymentChannel.BANK_TRANSFER,
            reference=txn_id,
        )
        for _line_id, txn_id, day, fen, loan_id in rows
    ]
    outcomes = payments_post_bulk(actor=actor, requests=requests)
    links = [
        (row[0], outcome.payment_id)
        for row, outcome in zip(rows, outcomes, strict=True)
        if outcome.payment_id is not None
    ]
    rows_insert(
        StatementLine.payments.through._meta.db_table, ("statementline_id", "payment_id"), links
    )
    refused = {
        row[0]: outcome for row, outcome in zip(rows, outcomes, strict=True) if outcome.errors
    }
    if refused:
        for line in StatementLine.objects.filter(pk__in=refused).select_related("loan"):
            _queue_refused(line, refused[line.pk].errors)
    return len(links)


def _queue_refused(line: StatementLine, errors: Sequence[str]) -> None:
    loan = line.loan
    assert loan is not None
    line.status = StatementLineStatus.QUEUED
    line.reason = (_("posting refused: %(why)s") % {"why": "; ".join(errors)})[:300]
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


def statement_post_matched(*, actor: Any, client: Client, limit: int | None = None) -> int:
    """Post every matched line of the client that has no payment yet (the lines of this
    import, and those a crash left behind; at most ``limit``); returns how many were
    posted (a line whose key had posted its payment already counts, and is linked to it).

    The lines go through ``payments_post_bulk`` — what ``payment_post`` does for each,
    set-based — in chunks of about ``_POST_CHUNK`` lines by loan id, one transaction per
    chunk: a chunk is written whole or not at all, and a failure leaves the chunks before
    it posted and the lines after it matched without a payment, for the next run. A line
    whose posting is refused (a date before the loan was disbursed, …) goes to the queue
    with the reason. A chunk that meets a key posted at the same moment by someone else
    (the key's unique index) is tried once more, and then finds that payment."""
    # Not the nightly run's large page cache: with the file memory-mapped, pages read
    # need no copy in it, and growing it to hold the written ones cost more (first-touch
    # page faults) than SQLite's default spilling them to the WAL (2–3 s of a statement's
    # 10 in interleaved runs).
    with gc_paused(), memory_mapped(settings.CUISHOU_STATEMENT_SQLITE_MMAP_MB):
        return _post_all(actor, client, limit)


def _post_all(actor: Any, client: Client, limit: int | None) -> int:
    posted = 0
    for rows in _todo_chunks(client, limit):
        for attempt in (1, 2):
            try:
                with transaction.atomic():
                    posted += _post_chunk(actor, client, rows)
                break
            except IntegrityError:
                if attempt == 2:
                    raise
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
