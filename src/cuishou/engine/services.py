"""The portfolio run: every loan's computed state, then the cases that follow from it.

``portfolio_recompute`` is set-based (the statements are in ``cuishou.engine.sql``): a
handful of SQL statements whatever the portfolio's size, never a loop of ORM saves.

Definitions, per loan as of the run's date (``as_of``):

- overdue principal / interest: what is unpaid of installments due *before* ``as_of``
  (an installment due on ``as_of`` itself is not overdue yet);
- dpd: days from the oldest such installment with anything unpaid (principal or
  interest) to ``as_of``; 0 when nothing is overdue; bucket from dpd (M0 … M7+);
- balance: outstanding principal of the whole schedule (due or not yet due) + overdue
  interest + penalty; penalty interest is 0 until it is computed (next issue).

Per debtor and client (one ``Case`` each):

- a debtor whose worst dpd exceeds the longest grace days of their products, with no
  case yet, gets a new case, its stage from the default ladder (M1 phone, M2 written,
  M3 visit, M4+ legal; reminder within grace);
- open and paused cases (and cured ones, so their figures stay current) get the worst
  dpd, its bucket, the summed overdue amount, penalty and balance; the stage of an
  existing case is left alone;
- an open or paused case with nothing overdue is cured ("nothing overdue as of DATE");
- a cured case overdue again beyond the grace days is reopened: a debtor and client
  have one case file, so it is the same file again.

Opened, cured and reopened cases are audited, one event each, appended in one batch.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.db import connection, transaction
from django.utils import timezone

from cuishou.audit.services import AuditEntry, audit_record_many
from cuishou.cases.choices import OPEN_STATUSES, CaseStatus
from cuishou.core.money import fen_to_decimal
from cuishou.engine import sql
from cuishou.portfolio.choices import Bucket
from cuishou.portfolio.models import Client

ENGINE_ACTOR = "engine"


def portfolio_recompute(
    *, as_of: dt.date, client: Client | None = None, actor: Any = ENGINE_ACTOR
) -> dict[str, int]:
    """Recompute every loan (of ``client``, or all) as of ``as_of`` and open, update,
    cure or reopen the cases. Returns counts: loans, cases_opened, cases_updated,
    cases_cured, cases_reopened."""
    if isinstance(as_of, dt.datetime) or not isinstance(as_of, dt.date):
        raise TypeError("as_of must be a datetime.date")
    client_id = client.pk if client is not None else None
    with transaction.atomic():
        d = sql.Dialect(connection.vendor)
        now = connection.ops.adapt_datetimefield_value(timezone.now())
        counts: dict[str, int] = {}
        entries: list[AuditEntry] = []
        with connection.cursor() as cur:
            cur.execute(sql.lock_clients(d, client_id))
            cur.execute(sql.update_loans(d, as_of, client_id), [now])
            counts["loans"] = max(cur.rowcount, 0)

            # Read before the figures change, so the audit shows what the case was.
            cur.execute(sql.cases_to_cure(client_id, OPEN_STATUSES))
            to_cure = cur.fetchall()

            tracked = [*OPEN_STATUSES, CaseStatus.CURED.value]
            cur.execute(sql.update_case_figures(d, as_of, client_id, tracked), [now])
            counts["cases_updated"] = max(cur.rowcount, 0)

            reason = f"nothing overdue as of {as_of.isoformat()}"
            cur.execute(
                sql.cure_cases(d, as_of, client_id, OPEN_STATUSES, CaseStatus.CURED.value),
                [reason, now],
            )
            counts["cases_cured"] = len(to_cure)
            entries += [
                _case_event(
                    "case.cure",
                    case_id,
                    as_of,
                    reason,
                    before={"status": status, "bucket": bucket, "dpd": dpd},
                    after={"status": CaseStatus.CURED.value, "bucket": Bucket.M0.value, "dpd": 0},
                )
                for case_id, status, bucket, dpd in to_cure
            ]

            reason = f"overdue again as of {as_of.isoformat()}"
            cur.execute(
                sql.reopen_cases(client_id, CaseStatus.CURED.value, CaseStatus.OPEN.value),
                [reason, now],
            )
            reopened = sorted(cur.fetchall())
            counts["cases_reopened"] = len(reopened)
            entries += [
                _case_event(
                    "case.reopen",
                    case_id,
                    as_of,
                    reason,
                    before={"status": CaseStatus.CURED.value},
                    after={"status": CaseStatus.OPEN.value, "bucket": bucket, "dpd": dpd},
                )
                for case_id, bucket, dpd in reopened
            ]

            cur.execute(sql.open_cases(d, as_of, client_id, CaseStatus.OPEN.value), [now, now])
            opened = sorted(cur.fetchall())
            counts["cases_opened"] = len(opened)
            entries += [
                _case_event(
                    "case.open",
                    case_id,
                    as_of,
                    f"opened as of {as_of.isoformat()}: {bucket}, {dpd} days past due",
                    after={
                        "status": CaseStatus.OPEN.value,
                        "stage": stage,
                        "bucket": bucket,
                        "dpd": dpd,
                        "overdue_amount": fen_to_decimal(int(overdue_fen)),
                        "balance": fen_to_decimal(int(balance_fen)),
                    },
                )
                for case_id, stage, bucket, dpd, overdue_fen, balance_fen in opened
            ]
        audit_record_many(actor=actor, entries=entries)
    return counts


def _case_event(
    action: str,
    case_id: int,
    as_of: dt.date,
    summary: str,
    *,
    after: dict[str, Any],
    before: dict[str, Any] | None = None,
) -> AuditEntry:
    """One audit event of the run about a case; ``after`` gets the run's date."""
    return AuditEntry(
        action=action,
        object_type="cases.case",
        object_id=str(case_id),
        case_id=case_id,
        summary=summary,
        before=before,
        after={**after, "as_of": as_of},
    )
