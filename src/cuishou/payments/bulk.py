"""Posting many payments at once (the matched credits of a bank statement), set-based.

``payments_post_bulk`` writes exactly what ``services.payment_post`` writes for each
request, in the order given — the same checks and refusals, the same idempotency keys
(a key already used for the same payment comes back as replayed; for another one the
request is refused), allocation lines by each product's waterfall
(``services.allocate``'s four orders, worked out here on integer fen with Polars), the
installments' paid fields, credit for what is left, a recompute mark per payment whose
value date is before today, and one ``payment.post`` audit event per payment with the
same fields — but with a few statements per batch instead of a dozen per payment:

- the loans are locked in id order, then their installments by loan and period (the
  order ``installments_locked`` keeps, so a bulk posting and single postings never wait
  on each other in a circle);
- payments, allocation lines, marks and audit events go in as bulk inserts (``COPY`` on
  PostgreSQL), installments as one bulk update;
- a loan with several requests (two credits of one debtor in one statement) is posted in
  rounds: round *k* posts every loan's *k*-th request, after round *k − 1* is written, so
  each payment sees the one before it exactly as a posting one at a time would (the
  penalty a later payment pays depends on what the earlier one paid).

A call is one transaction (nested in the caller's, if any): all of it is written or none.
Nothing closes a case here, as ``payment_post`` closes none: the nightly run closes a
case whose debtor owes nothing (docs/payments.md, "Closing").
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal
from json.encoder import encode_basestring as _quote  # json.dumps(…, ensure_ascii=False)
from typing import Any, NamedTuple

import polars as pl
from django.core.exceptions import ValidationError
from django.db import connection, transaction
from django.utils import timezone

from cuishou.audit.services import AuditEntry, CanonicalJSON, actor_parts, audit_record_many
from cuishou.cases.models import Case, WaiverLine
from cuishou.core.rows import fetch_in, ids_reserve, rows_insert, rows_update
from cuishou.engine import sql as engine_sql
from cuishou.engine.marks import recompute_marks_add_many
from cuishou.payments import services
from cuishou.payments.choices import (
    AllocationComponent,
    PaymentChannel,
    PaymentStatus,
    Waterfall,
)
from cuishou.payments.models import Payment, PaymentAllocation
from cuishou.portfolio.models import Installment, Loan, Product

_PAYMENT = Payment._meta.db_table
_ALLOCATION = PaymentAllocation._meta.db_table
_INSTALLMENT = Installment._meta.db_table
_PAYMENT_LABEL = Payment._meta.label_lower
_PAYMENT_COLUMNS = (
    "id",
    "loan_id",
    "amount",
    "value_date",
    "channel",
    "reference",
    "status",
    "posted_at",
    "posted_by_id",
    "reversal_reason",
    "idempotency_key",
)
_ALLOCATION_COLUMNS = (
    "payment_id",
    "loan_id",
    "installment_id",
    "component",
    "amount",
    "value_date",
    "is_reversed",
)
_PENALTY = AllocationComponent.PENALTY.value
_INTEREST = AllocationComponent.INTEREST.value
_PRINCIPAL = AllocationComponent.PRINCIPAL.value
_CREDIT = AllocationComponent.CREDIT.value
# Step group of penalty, overdue interest and overdue principal per waterfall (lower first;
# 3 is "current", 9 the credit). by_installment keeps an overdue installment's interest and
# principal in one group, ordered by period and then interest before principal.
_GROUPS: dict[str, tuple[int, int, int]] = {
    Waterfall.DEFAULT.value: (0, 1, 2),
    Waterfall.BY_INSTALLMENT.value: (0, 1, 1),
    Waterfall.INTEREST_FIRST.value: (2, 0, 1),
    Waterfall.PRINCIPAL_FIRST.value: (2, 1, 0),
}


class PaymentRequest(NamedTuple):
    """One payment to post: what ``payment_post`` takes, with the loan by id. The key is
    required (every bulk posting is a retry-safe one). A named tuple: tens of thousands
    are made per statement."""

    loan_id: int
    amount: Decimal
    value_date: dt.date
    idempotency_key: str
    channel: str = PaymentChannel.BANK_TRANSFER
    reference: str = ""


@dataclass(frozen=True)
class PaymentOutcome:
    """What became of a request: posted (``payment_id``), replayed (the payment its key
    posted before, ``replayed`` true) or refused (``errors``, the messages
    ``payment_post`` would have raised; nothing written)."""

    payment_id: int | None = None
    replayed: bool = False
    errors: tuple[str, ...] = ()

    @property
    def posted(self) -> bool:
        return self.payment_id is not None


def _money(fen: pl.Expr) -> pl.Expr:
    """Integer fen (not negative) as the text Django stores and ``str(Decimal)`` gives:
    ``"123.45"``."""
    return pl.format("{}.{}", fen // 100, (fen % 100).cast(pl.String).str.zfill(2))


def date_text(column: str) -> str:
    """A date column as ``YYYY-MM-DD`` text on SQLite (no decltype, so no per-value
    converter in Python; ``as_date`` or Polars parse it), as it is on PostgreSQL."""
    return column if connection.vendor == "postgresql" else f"({column} || '')"


def as_date(value: Any) -> dt.date:
    """A date read by ``date_text``: a date already, or its ISO text."""
    return value if isinstance(value, dt.date) else dt.date.fromisoformat(value)


def _lock_for_update(suffix: str) -> str:
    return suffix if connection.features.has_select_for_update else ""


def _loans_locked(loan_ids: list[int]) -> dict[int, tuple[Any, ...]]:
    """Lock the loans (id order; not their products, which single postings lock with the
    loan: taking them here could wait in a circle) and read what posting needs: client,
    debtor, contract, disbursement day, penalty rate, waterfall."""
    loan, product = Loan._meta.db_table, Product._meta.db_table
    rows = fetch_in(
        f"SELECT l.id, l.client_id, l.debtor_id, l.contract_no, {date_text('l.disbursed_on')},"
        f" COALESCE(l.penalty_annual_rate, p.penalty_annual_rate), p.waterfall"
        f" FROM {loan} l JOIN {product} p ON p.id = l.product_id"
        f" WHERE l.id IN ({{values}}) ORDER BY l.id{_lock_for_update(' FOR UPDATE OF l')}",
        loan_ids,
    )
    found = {int(row[0]): (*row[:4], as_date(row[4]), *row[5:]) for row in rows}
    missing = sorted(set(loan_ids) - found.keys())
    if missing:
        raise LookupError(f"no loan with id {missing[0]}")
    return found


def _installments_locked(loan_ids: list[int]) -> pl.DataFrame:
    """The loans' installments, locked by loan and period, amounts in fen."""
    # In fen: on PostgreSQL in SQL (numeric → int, no Decimal objects made); SQLite hands
    # its numbers over as they are stored (integer or real, exact for two decimals) and
    # Polars rounds them to the fen.
    pg = connection.vendor == "postgresql"
    f = engine_sql.fen if pg else (lambda column: column)
    rows = fetch_in(
        f"SELECT id, loan_id, seq, {date_text('due_on')}, {f('principal_due')},"
        f" {f('interest_due')}, {f('principal_paid')}, {f('interest_paid')} FROM {_INSTALLMENT}"
        f" WHERE loan_id IN ({{values}}) ORDER BY loan_id, seq{_lock_for_update(' FOR UPDATE')}",
        loan_ids,
    )
    amount = pl.Int64 if pg else pl.Float64
    frame = pl.DataFrame(
        rows,
        schema={
            "inst_id": pl.Int64,
            "loan_id": pl.Int64,
            "seq": pl.Int64,
            "due_on": pl.Date if pg else pl.String,
            "p_due": amount,
            "i_due": amount,
            "p_paid": amount,
            "i_paid": amount,
        },
        orient="row",
    )
    if pg:
        return frame
    money = ("p_due", "i_due", "p_paid", "i_paid")
    return frame.with_columns(
        (pl.col(money) * 100).round().cast(pl.Int64), pl.col("due_on").str.to_date("%Y-%m-%d")
    )


def _penalty_open(loans: dict[int, tuple[Any, ...]], round_: pl.DataFrame) -> dict[int, int]:
    """``services._penalty_open`` of each loan of the round that bears penalty, in fen:
    what it owes as of the value date (the engine's SQL over those loans), less penalty
    paid or waived by lines dated after it."""
    bearing = round_.filter(
        pl.col("loan_id").is_in([loan_id for loan_id, row in loans.items() if row[5]])
    )
    out: dict[int, int] = {}
    if bearing.height == 0:
        return out
    d = engine_sql.Dialect(connection.vendor)
    f = engine_sql.fen
    penalty_at = engine_sql.LOAN_COLUMNS.index("penalty_fen")
    for (value_date,), group in bearing.group_by(["value_date"], maintain_order=True):
        ids = sorted(group["loan_id"].to_list())
        scope = engine_sql.Scope(loan_ids=tuple(ids))
        with connection.cursor() as cur:
            cur.execute(engine_sql.loan_figures(d, value_date, scope))
            owed = {int(row[0]): int(row[penalty_at]) for row in cur.fetchall()}
        later: dict[int, int] = {}
        for table in (_ALLOCATION, WaiverLine._meta.db_table):
            for loan_id, total in fetch_in(
                f"SELECT loan_id, {f('SUM(amount)')} FROM {table} WHERE component = %s"
                f" AND is_reversed = %s AND value_date > %s AND loan_id IN ({{values}})"
                " GROUP BY loan_id",
                ids,
                [_PENALTY, False, value_date],
            ):
                later[int(loan_id)] = later.get(int(loan_id), 0) + int(total or 0)
        for loan_id in ids:
            out[loan_id] = max(0, owed.get(loan_id, 0) - later.get(loan_id, 0))
    return out


def _steps(round_: pl.DataFrame, installments: pl.DataFrame) -> pl.DataFrame:
    """The allocation lines of the round's payments (``allocate``, set-based): one row per
    line with ``item``, ``order`` (the line's place in its payment), ``component``,
    ``inst_id``, ``seq`` and ``part`` (fen)."""
    groups = pl.col("waterfall").replace_strict(
        {k: v[0] for k, v in _GROUPS.items()}, return_dtype=pl.Int64
    )
    ordered = (
        round_.select("item", "loan_id", "value_date", "waterfall")
        .join(installments, on="loan_id")
        .sort("item", "due_on", "seq")
        .with_columns(
            pl.int_range(pl.len()).over("item").alias("r"),
            (pl.col("due_on") < pl.col("value_date")).alias("overdue"),
        )
    )

    def component(name: str, due: str, paid: str, which: int, sub: int) -> pl.DataFrame:
        overdue_group = pl.col("waterfall").replace_strict(
            {k: v[which] for k, v in _GROUPS.items()}, return_dtype=pl.Int64
        )
        by_installment = pl.col("waterfall") == Waterfall.BY_INSTALLMENT.value
        return ordered.select(
            "item",
            pl.when(pl.col("overdue")).then(overdue_group).otherwise(3).alias("g"),
            "r",
            pl.when(pl.col("overdue") & ~by_installment).then(0).otherwise(sub).alias("sub"),
            pl.lit(name).alias("component"),
            pl.col("inst_id"),
            pl.col("seq"),
            pl.max_horizontal(pl.col(due) - pl.col(paid), pl.lit(0)).alias("open"),
        )

    penalty = round_.select(
        "item",
        groups.alias("g"),
        pl.lit(0, pl.Int64).alias("r"),
        pl.lit(0, pl.Int32).alias("sub"),
        pl.lit(_PENALTY).alias("component"),
        pl.lit(None, pl.Int64).alias("inst_id"),
        pl.lit(None, pl.Int64).alias("seq"),
        pl.col("penalty_fen").alias("open"),
    )
    steps = (
        pl.concat(
            [
                penalty,
                component(_INTEREST, "i_due", "i_paid", 1, 0),
                component(_PRINCIPAL, "p_due", "p_paid", 2, 1),
            ],
            how="vertical_relaxed",
        )
        .sort("item", "g", "r", "sub")
        .join(round_.select("item", "amount_fen"), on="item", maintain_order="left")
        .with_columns((pl.col("open").cum_sum().over("item") - pl.col("open")).alias("before"))
        .with_columns(
            pl.min_horizontal(
                pl.max_horizontal(pl.col("amount_fen") - pl.col("before"), pl.lit(0)),
                pl.col("open"),
            ).alias("part")
        )
    )
    credit = (
        steps.group_by("item")
        .agg((pl.col("amount_fen").first() - pl.col("open").sum()).alias("part"))
        .filter(pl.col("part") > 0)
        .select(
            "item",
            pl.lit(None, pl.Int64).alias("inst_id"),
            pl.lit(None, pl.Int64).alias("seq"),
            pl.lit(_CREDIT).alias("component"),
            "part",
            pl.lit(1 << 40, pl.Int64).alias("order"),
        )
    )
    lines = steps.with_columns(pl.int_range(pl.len()).over("item").alias("order")).filter(
        pl.col("part") > 0
    )
    return pl.concat([lines.select(credit.columns), credit], how="vertical_relaxed").sort(
        "item", "order"
    )


def payments_post_bulk(*, actor: Any, requests: Sequence[PaymentRequest]) -> list[PaymentOutcome]:
    """Post ``requests`` (see the module's docstring); one outcome per request, in order.
    Raises ValueError for a request without a key or two requests with one key."""
    keys = [(r.idempotency_key or "").strip() for r in requests]
    if not all(keys):
        raise ValueError("every bulk payment needs an idempotency key")
    if len(set(keys)) != len(keys):
        raise ValueError("two bulk payments with the same idempotency key")
    outcomes: list[PaymentOutcome | None] = [None] * len(requests)
    checked: dict[int, tuple[Decimal, str, str]] = {}
    for item, request in enumerate(requests):
        try:
            checked[item] = services.checked_request(
                amount=request.amount,
                value_date=request.value_date,
                channel=request.channel,
                reference=request.reference,
                idempotency_key=request.idempotency_key,
            )
        except ValidationError as exc:
            outcomes[item] = PaymentOutcome(errors=tuple(exc.messages))
    with transaction.atomic():
        if checked:
            _post_checked(actor, requests, checked, outcomes)
    assert all(o is not None for o in outcomes)
    return [o for o in outcomes if o is not None]


def _post_checked(
    actor: Any,
    requests: Sequence[PaymentRequest],
    checked: dict[int, tuple[Decimal, str, str]],
    outcomes: list[PaymentOutcome | None],
) -> None:
    loans = _loans_locked(sorted({requests[i].loan_id for i in checked}))
    installments = _installments_locked(list(loans))
    # Keys used before (a retry, a crash between storing and posting): replayed or refused,
    # read under the loans' locks as payment_post does.
    earlier_ids = fetch_in(
        f"SELECT id FROM {_PAYMENT} WHERE idempotency_key IN ({{values}})",
        [checked[i][2] for i in checked],
        array_type="text",
    )
    earlier = {
        p.idempotency_key: p
        for p in Payment.objects.select_related("loan").filter(pk__in=[r[0] for r in earlier_ids])
    }
    todo: list[int] = []
    for item in sorted(checked):
        request = requests[item]
        amount, reference, key = checked[item]
        if key in earlier:
            try:
                replayed = services._replay(
                    earlier[key],
                    loan=Loan(pk=request.loan_id),
                    amount=amount,
                    value_date=request.value_date,
                    channel=request.channel,
                    reference=reference,
                )
            except ValidationError as exc:
                outcomes[item] = PaymentOutcome(errors=tuple(exc.messages))
            else:
                outcomes[item] = PaymentOutcome(payment_id=replayed.pk, replayed=True)
            continue
        disbursed_on = loans[request.loan_id][4]
        if request.value_date < disbursed_on:
            refused = services.disbursed_error(request.value_date, disbursed_on)
            assert refused is not None
            outcomes[item] = PaymentOutcome(errors=tuple(refused.messages))
            continue
        todo.append(item)
    if not todo:
        return
    unknown = {loans[requests[i].loan_id][6] for i in todo} - _GROUPS.keys()
    if unknown:
        raise ValueError(f"unknown waterfall {sorted(unknown)[0]!r}")
    frame = pl.DataFrame(
        {
            "item": todo,
            "loan_id": [requests[i].loan_id for i in todo],
            "amount_fen": [int(checked[i][0] * 100) for i in todo],
            "value_date": [requests[i].value_date for i in todo],
            "waterfall": [loans[requests[i].loan_id][6] for i in todo],
        },
        schema={
            "item": pl.Int64,
            "loan_id": pl.Int64,
            "amount_fen": pl.Int64,
            "value_date": pl.Date,
            "waterfall": pl.String,
        },
    ).with_columns(pl.int_range(pl.len()).over("loan_id").alias("round"))
    cases = {
        (int(client_id), int(debtor_id)): int(case_id)
        for case_id, client_id, debtor_id in fetch_in(
            f"SELECT id, client_id, debtor_id FROM {Case._meta.db_table}"
            " WHERE debtor_id IN ({values})",
            sorted({int(loans[i][2]) for i in loans}),
        )
    }
    entries: dict[int, AuditEntry] = {}
    marks: dict[int, tuple[int, int, dt.date, str]] = {}
    posted_by = actor_parts(actor)[0]
    # The channel as its value (a TextChoices member is a str subclass).
    channels = {item: str(requests[item].channel) for item in todo}
    posted_at = connection.ops.adapt_datetimefield_value(timezone.now())
    rounds = int(frame.select(pl.col("round").max()).item())
    for round_no in range(rounds + 1):
        round_ = frame.filter(pl.col("round") == round_no)
        penalty = _penalty_open(loans, round_)
        round_ = round_.with_columns(
            pl.col("loan_id")
            .replace_strict(penalty, default=0, return_dtype=pl.Int64)
            .alias("penalty_fen")
        )
        lines = _steps(round_, installments)
        items = round_["item"].to_list()
        payment_ids = ids_reserve(_PAYMENT, len(items))
        by_item = dict(zip(items, payment_ids, strict=True))
        rows_insert(
            _PAYMENT,
            _PAYMENT_COLUMNS,
            [
                (
                    by_item[item],
                    requests[item].loan_id,
                    str(checked[item][0]),
                    requests[item].value_date.isoformat(),
                    channels[item],
                    checked[item][1],
                    PaymentStatus.POSTED.value,
                    posted_at,
                    posted_by,
                    "",
                    checked[item][2],
                )
                for item in items
            ],
        )
        lines = lines.join(
            pl.DataFrame(
                {"item": items, "payment_id": payment_ids},
                schema={"item": pl.Int64, "payment_id": pl.Int64},
            ),
            on="item",
            maintain_order="left",
        ).join(round_.select("item", "loan_id", "value_date"), on="item", maintain_order="left")
        lines = lines.with_columns(_money(pl.col("part")).alias("amount"))
        rows_insert(
            _ALLOCATION,
            _ALLOCATION_COLUMNS,
            lines.select(
                "payment_id",
                "loan_id",
                "inst_id",
                "component",
                "amount",
                pl.col("value_date").dt.strftime("%Y-%m-%d"),
                pl.lit(False),
            ).rows(),
        )
        # Each payment's allocation lines as the audit log's canonical JSON, built
        # column-wise (keys sorted; amounts, components and ids need no escaping).
        line_json = pl.concat_str(
            pl.lit('{"amount":"'),
            pl.col("amount"),
            pl.lit('","component":"'),
            pl.col("component"),
            pl.lit('","installment_id":'),
            pl.col("inst_id").cast(pl.String).fill_null("null"),
            pl.lit(',"seq":'),
            pl.col("seq").cast(pl.String).fill_null("null"),
            pl.lit("}"),
        )
        described = dict(
            lines.group_by("item", maintain_order=True).agg(line_json.str.join(",")).rows()
        )
        installments = _paid_more(installments, lines)
        for item in items:
            request, (amount, reference, key) = requests[item], checked[item]
            _id, client_id, debtor_id, contract_no, _d, _rate, waterfall = loans[request.loan_id]
            day = request.value_date.isoformat()
            entries[item] = AuditEntry(
                action="payment.post",
                object_type=_PAYMENT_LABEL,
                object_id=str(by_item[item]),
                case_id=cases.get((int(client_id), int(debtor_id))),
                summary=f"{contract_no}: {amount} value date {day}",
                # {"loan_id", "amount", "value_date", "channel", "reference",
                # "idempotency_key", "waterfall", "allocations"}, as payment_post writes.
                after=CanonicalJSON(
                    f'{{"allocations":[{described.get(item, "")}],"amount":"{amount}"'
                    f',"channel":{_quote(channels[item])},"idempotency_key":{_quote(key)}'
                    f',"loan_id":{int(request.loan_id)},"reference":{_quote(reference)}'
                    f',"value_date":"{day}","waterfall":{_quote(waterfall)}}}'
                ),
            )
            marks[item] = (
                int(client_id),
                int(debtor_id),
                request.value_date,
                f"payment {by_item[item]} value date {day}",
            )
            outcomes[item] = PaymentOutcome(payment_id=by_item[item])
    # Events and marks in the order of the requests (as one posting after another), not
    # of the rounds.
    audit_record_many(actor=actor, entries=[entries[item] for item in sorted(entries)], plain=True)
    recompute_marks_add_many(marks[item] for item in sorted(marks))


def _paid_more(installments: pl.DataFrame, lines: pl.DataFrame) -> pl.DataFrame:
    """Add the round's interest and principal lines to the installments' paid fields:
    write the changed installments and return the frame as it now stands."""
    added = (
        lines.filter(pl.col("inst_id").is_not_null())
        .group_by("inst_id")
        .agg(
            pl.col("part").filter(pl.col("component") == _INTEREST).sum().alias("add_i"),
            pl.col("part").filter(pl.col("component") == _PRINCIPAL).sum().alias("add_p"),
        )
    )
    if added.height == 0:
        return installments
    now = installments.join(added, on="inst_id", how="left").with_columns(
        (pl.col("p_paid") + pl.col("add_p").fill_null(0)).alias("p_paid"),
        (pl.col("i_paid") + pl.col("add_i").fill_null(0)).alias("i_paid"),
    )
    changed = now.filter(pl.col("add_p").is_not_null())
    rows_update(
        _INSTALLMENT,
        (("principal_paid", "numeric"), ("interest_paid", "numeric")),
        changed.select(_money(pl.col("p_paid")), _money(pl.col("i_paid")), "inst_id").rows(),
    )
    return now.drop("add_p", "add_i")
