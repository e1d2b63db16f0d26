"""Promises to pay: taken on a contact, decided kept or broken by the nightly run.

A promise has one or more dated instalments. As of day D, instalment *k* is **kept**
when the payments posted (not reversed) on the case's loans with value dates from the
promise's day through min(D, its due date) add up to at least instalments 1 … k;
**broken** when D is past its due date and they do not; otherwise pending. A promise is
broken when any instalment is, kept when all are. It is a function of the payments and
the day, and promises decided in the last 31 days are decided again every night, so a
payment posted late with an earlier value date turns a broken promise kept (and a
reversal a kept one broken) on the next run. A new promise replaces (cancels) the case's
pending one.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from decimal import Decimal
from typing import Any

from django.core.exceptions import ValidationError
from django.db import connection, transaction
from django.utils.translation import gettext as _

from cuishou.audit.services import AuditEntry, audit_record, audit_record_many
from cuishou.cases.choices import CLOSED_STATUSES, PromiseStatus
from cuishou.cases.models import Case, ContactAttempt, PromiseInstalment, PromiseToPay
from cuishou.cases.schedule import ScheduleWords, schedule_errors
from cuishou.cases.selectors import case_work_require
from cuishou.core.money import fen_to_decimal
from cuishou.core.timeutil import require_date, today_shanghai
from cuishou.engine.sql import Dialect, fen

MAX_INSTALMENTS = 36
# Promises decided within this many days are decided again each night, so a payment
# posted late with an earlier value date (or a reversal) changes the outcome.
REDECIDE_DAYS = 31
ENGINE_ACTOR = "engine"


def _instalment_errors(
    instalments: Sequence[tuple[dt.date, Decimal]], promised_on: dt.date
) -> list[str]:
    return schedule_errors(
        instalments,
        promised_on,
        limit=MAX_INSTALMENTS,
        words=ScheduleWords(
            empty=_("A promise needs an amount and a date."),
            too_many=_("At most %(n)d instalments."),
            item=_("instalment %(n)d"),
            before=_("%(where)s: the date is before the promise."),
        ),
    )


@transaction.atomic
def promise_create(
    *,
    actor: Any,
    case: Case,
    instalments: Sequence[tuple[dt.date, Decimal]],
    promised_on: dt.date | None = None,
    contact_attempt: ContactAttempt | None = None,
) -> PromiseToPay:
    """Record a promise of ``instalments`` ((due date, amount), in date order)."""
    case_work_require(actor, case)
    promised_on = require_date(promised_on or today_shanghai(), field="promised_on")
    errors = _instalment_errors(instalments, promised_on)
    locked = Case.objects.select_for_update().get(pk=case.pk)
    if locked.status in CLOSED_STATUSES:
        errors.append(_("The case is closed."))
    total = sum((amount for _due, amount in instalments), Decimal("0"))
    if not errors and locked.balance > 0 and total > locked.balance:
        errors.append(
            _("The promise (%(total)s) is more than the balance (%(balance)s).")
            % {"total": total, "balance": locked.balance}
        )
    if errors:
        raise ValidationError({"instalments": errors})
    replaced = list(
        PromiseToPay.objects.select_for_update().filter(case=locked, status=PromiseStatus.PENDING)
    )
    for old in replaced:
        old.status = PromiseStatus.CANCELLED
        old.save(update_fields=["status"])
        PromiseInstalment.objects.filter(promise=old, status=PromiseStatus.PENDING).update(
            status=PromiseStatus.CANCELLED
        )
    promise = PromiseToPay.objects.create(
        case=locked,
        contact_attempt=contact_attempt,
        promised_on=promised_on,
        amount=total,
        created_by=actor if getattr(actor, "pk", None) else None,
    )
    PromiseInstalment.objects.bulk_create(
        PromiseInstalment(promise=promise, seq=n, due_on=due_on, amount=amount)
        for n, (due_on, amount) in enumerate(instalments, start=1)
    )
    audit_record(
        actor=actor,
        action="promise.create",
        target=promise,
        case_id=locked.pk,
        summary=f"promise {total} in {len(instalments)}",
        after={
            "amount": total,
            "promised_on": promised_on,
            "instalments": [{"due_on": d, "amount": a} for d, a in instalments],
            "replaces": [p.pk for p in replaced],
        },
    )
    return promise


def _pending_rows(as_of: dt.date, client_id: int | None) -> list[tuple[Any, ...]]:
    """Per instalment of every pending (or recently decided) promise: id, promise id,
    case id, promise status, seq, due date,
    its amount and the cumulative promised amount through it, and the payments counted
    for it as of ``as_of`` — all in fen, in one statement."""
    d = Dialect(connection.vendor)  # the engine's dialect: dates, LEAST, fen
    date = d.date(as_of)
    until = d.least("i.due_on", date)
    client = "" if client_id is None else f"AND c.client_id = {int(client_id)}"
    since = d.date(as_of - dt.timedelta(days=REDECIDE_DAYS))
    return _fetch(
        f"""
        SELECT i.id, i.promise_id, p.case_id, p.status, i.seq, i.due_on, {fen("i.amount")},
               SUM({fen("i.amount")}) OVER (PARTITION BY i.promise_id ORDER BY i.seq),
               COALESCE((
                   SELECT SUM({fen("pay.amount")})
                   FROM payments_payment pay
                   JOIN portfolio_loan l ON l.id = pay.loan_id
                   WHERE l.client_id = c.client_id AND l.debtor_id = c.debtor_id
                     AND pay.status = 'posted'
                     AND pay.value_date >= p.promised_on AND pay.value_date <= {until}
               ), 0)
        FROM cases_promiseinstalment i
        JOIN cases_promisetopay p ON p.id = i.promise_id
        JOIN cases_case c ON c.id = p.case_id
        WHERE p.promised_on <= {date} {client}
          AND (p.status = 'pending'
               OR (p.status IN ('kept', 'broken') AND p.decided_as_of >= {since}))
        ORDER BY i.promise_id, i.seq
        """
    )


def _fetch(statement: str) -> list[tuple[Any, ...]]:
    with connection.cursor() as cur:
        cur.execute(statement)
        return list(cur.fetchall())


def promises_decide(
    *, as_of: dt.date, client_id: int | None = None, actor: Any = ENGINE_ACTOR
) -> dict[str, int]:
    """Mark instalments and promises kept or broken as of ``as_of`` (see the module's
    rule), of one client's cases or all. Returns counts: promises_kept, promises_broken."""
    require_date(as_of, field="as_of")
    rows = _pending_rows(as_of, client_id)
    by_promise: dict[int, list[tuple[Any, ...]]] = {}
    for row in rows:
        by_promise.setdefault(int(row[1]), []).append(row)
    instalment_updates: list[tuple[str, Decimal, int]] = []
    promise_updates: list[tuple[str, int]] = []
    entries: list[AuditEntry] = []
    counts = {"promises_kept": 0, "promises_broken": 0}
    for promise_id, items in by_promise.items():
        statuses = []
        for inst_id, _pid, _case, _st, _seq, due_on, _amount, cumulative, paid in items:
            due = due_on if isinstance(due_on, dt.date) else dt.date.fromisoformat(str(due_on))
            if int(paid) >= int(cumulative):
                status = PromiseStatus.KEPT
            elif as_of > due:
                status = PromiseStatus.BROKEN
            else:
                status = PromiseStatus.PENDING
            statuses.append(status)
            instalment_updates.append((status.value, fen_to_decimal(int(paid)), int(inst_id)))
        if PromiseStatus.BROKEN in statuses:
            outcome = PromiseStatus.BROKEN
        elif all(s == PromiseStatus.KEPT for s in statuses):
            outcome = PromiseStatus.KEPT
        else:
            continue  # still running (a decided promise is not taken back to pending)
        if outcome == items[0][3]:
            continue
        case_id = int(items[0][2])
        paid_fen = max(int(r[8]) for r in items)
        promise_updates.append((outcome.value, promise_id))
        counts[f"promises_{outcome.value}"] += 1
        entries.append(
            AuditEntry(
                action=f"promise.{outcome.value}",
                object_type="cases.promisetopay",
                object_id=str(promise_id),
                case_id=case_id,
                summary=f"promise {outcome.value} as of {as_of.isoformat()}",
                before={"status": items[0][3]},
                after={"status": outcome.value, "as_of": as_of, "paid": fen_to_decimal(paid_fen)},
            )
        )
    with transaction.atomic():
        if instalment_updates:
            with connection.cursor() as cur:
                cur.executemany(
                    "UPDATE cases_promiseinstalment SET status = %s, paid_amount = %s"
                    " WHERE id = %s",
                    instalment_updates,
                )
        if promise_updates:
            with connection.cursor() as cur:
                cur.executemany(
                    "UPDATE cases_promisetopay SET status = %s, decided_as_of = %s WHERE id = %s",
                    [(status, as_of, pk) for status, pk in promise_updates],
                )
        audit_record_many(actor=actor, entries=entries)
    return counts
