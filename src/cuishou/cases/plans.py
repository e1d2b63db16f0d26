"""Repayment plans (分期还款计划): agreed installments replacing the overdue amount.

A plan is agreed on a case by a collector or team lead, with the debtor's consent noted.
It covers the overdue amount (overdue principal and interest plus penalty owed, as the
case last showed them) or the whole balance, in N dated installments whose amounts add up
to exactly that. While a plan is active the case is *on a plan*: the nightly run keeps its
stage, a strategy's escalation point leaves it alone and the queue ranks it lower
(docs/payments.md).

The nightly run decides active plans as of day D (``plans_decide``), from the payments
posted (not reversed) on the debtor's loans with the client, by value date, as promises
are: installment *k* is **paid** when the payments from the plan's day through
min(D, its due date + the grace days) add up to at least installments 1 … k; **missed**
when D is past its due date + grace and they do not. One missed installment breaks the
plan (collection resumes: the same run puts the case back on its ladder stage); all paid
keeps it. A decided plan is not decided again: a payment posted later with an earlier
value date does not mend a broken plan (agree a new one).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from decimal import Decimal
from typing import Any

from django.conf import settings
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import connection, transaction
from django.utils.translation import gettext as _

from cuishou.audit.services import AuditEntry, audit_record, audit_record_many
from cuishou.cases.choices import CLOSED_STATUSES, InstallmentStatus, PlanCovers, PlanStatus
from cuishou.cases.models import Case, PlanInstallment, RepaymentPlan
from cuishou.cases.promises import ENGINE_ACTOR
from cuishou.cases.schedule import ScheduleWords, schedule_errors
from cuishou.cases.selectors import case_require_in_scope
from cuishou.core.money import fen_to_decimal
from cuishou.core.timeutil import require_date, today_shanghai
from cuishou.engine.sql import Dialect, fen

MAX_INSTALLMENTS = 60
PLAN_PERMISSION = "cases.agree_plan"


def plan_grace_days() -> int:
    """Days after an installment's date before it breaks the plan (setting
    ``CUISHOU_PLAN_GRACE_DAYS``, default 3)."""
    return int(settings.CUISHOU_PLAN_GRACE_DAYS)


def plan_amount_for(case: Case, covers: str) -> Decimal:
    """What a plan covering ``covers`` replaces, from the case's current figures."""
    if covers == PlanCovers.BALANCE:
        return case.balance
    return case.overdue_amount + case.penalty


def case_active_plan(case: Case) -> RepaymentPlan | None:
    return (
        RepaymentPlan.objects.filter(case=case, status=PlanStatus.ACTIVE)
        .prefetch_related("installments")
        .first()
    )


def _installment_errors(
    installments: Sequence[tuple[dt.date, Decimal]], agreed_on: dt.date
) -> list[str]:
    return schedule_errors(
        installments,
        agreed_on,
        limit=MAX_INSTALLMENTS,
        words=ScheduleWords(
            empty=_("A plan needs at least one installment."),
            too_many=_("At most %(n)d installments."),
            item=_("installment %(n)d"),
            before=_("%(where)s: the date is before the plan."),
        ),
    )


@transaction.atomic
def plan_create(
    *,
    actor: Any,
    case: Case,
    installments: Sequence[tuple[dt.date, Decimal]],
    consent_note: str,
    covers: str = PlanCovers.OVERDUE,
    agreed_on: dt.date | None = None,
) -> RepaymentPlan:
    """Agree a plan of ``installments`` ((due date, amount), in date order) on ``case``.
    The amounts must add up to exactly what the plan covers."""
    if not getattr(actor, "has_perm", None) or not actor.has_perm(PLAN_PERMISSION):
        raise PermissionDenied(_("This role may not agree repayment plans."))
    case_require_in_scope(actor, case)
    agreed_on = require_date(agreed_on or today_shanghai(), field="agreed_on")
    consent_note = (consent_note or "").strip()
    errors: dict[str, list[str]] = {}
    if not consent_note:
        errors["consent_note"] = [_("Note how the debtor agreed to the plan.")]
    if covers not in PlanCovers.values:
        errors["covers"] = [_("Unknown choice.")]
    if problems := _installment_errors(installments, agreed_on):
        errors["installments"] = problems
    locked = Case.objects.select_for_update().get(pk=case.pk)
    if locked.status in CLOSED_STATUSES:
        errors.setdefault("case", []).append(_("The case is closed."))
    if RepaymentPlan.objects.filter(case=locked, status=PlanStatus.ACTIVE).exists():
        errors.setdefault("case", []).append(
            _("The case already has an active plan; cancel it first.")
        )
    if errors:
        raise ValidationError(errors)
    amount = plan_amount_for(locked, covers)
    total = sum((a for _d, a in installments), Decimal("0"))
    if amount <= 0:
        raise ValidationError({"covers": [_("Nothing is owed to plan for.")]})
    if total != amount:
        raise ValidationError(
            {
                "installments": [
                    _("The installments add up to %(total)s, not the %(amount)s the plan covers.")
                    % {"total": total, "amount": amount}
                ]
            }
        )
    plan = RepaymentPlan.objects.create(
        case=locked,
        agreed_on=agreed_on,
        covers=covers,
        amount=amount,
        consent_note=consent_note,
        grace_days=plan_grace_days(),
        created_by=actor if getattr(actor, "pk", None) else None,
    )
    PlanInstallment.objects.bulk_create(
        PlanInstallment(plan=plan, seq=n, due_on=due_on, amount=a)
        for n, (due_on, a) in enumerate(installments, start=1)
    )
    audit_record(
        actor=actor,
        action="plan.create",
        target=plan,
        case_id=locked.pk,
        summary=f"plan {amount} in {len(installments)}",
        after={
            "amount": amount,
            "covers": covers,
            "agreed_on": agreed_on,
            "grace_days": plan.grace_days,
            "consent_note": consent_note,
            "installments": [{"due_on": d, "amount": a} for d, a in installments],
        },
    )
    return plan


@transaction.atomic
def plan_cancel(*, actor: Any, plan: RepaymentPlan, reason: str) -> RepaymentPlan:
    """Cancel an active plan (collection resumes on the next run)."""
    if not getattr(actor, "has_perm", None) or not actor.has_perm(PLAN_PERMISSION):
        raise PermissionDenied(_("This role may not agree repayment plans."))
    locked = RepaymentPlan.objects.select_for_update().select_related("case").get(pk=plan.pk)
    case_require_in_scope(actor, locked.case)
    reason = (reason or "").strip()
    if not reason:
        raise ValidationError({"reason": [_("Say why.")]})
    if locked.status != PlanStatus.ACTIVE:
        raise ValidationError({"plan": [_("The plan is no longer active.")]})
    locked.status = PlanStatus.CANCELLED
    locked.save(update_fields=["status"])
    audit_record(
        actor=actor,
        action="plan.cancel",
        target=locked,
        case_id=locked.case_id,
        summary=reason,
        before={"status": PlanStatus.ACTIVE.value},
        after={"status": PlanStatus.CANCELLED.value, "reason": reason},
    )
    plan.status = locked.status
    return locked


def _active_rows(as_of: dt.date, client_id: int | None) -> list[tuple[Any, ...]]:
    """Per installment of every active plan: id, plan id, case id, seq, due date, grace
    days, the cumulative amount through it and the payments counted for it as of
    ``as_of`` (fen), in one statement."""
    d = Dialect(connection.vendor)
    date = d.date(as_of)
    until = d.least(d.plus_days("i.due_on", "p.grace_days"), date)
    client = "" if client_id is None else f"AND c.client_id = {int(client_id)}"
    statement = f"""
        SELECT i.id, i.plan_id, p.case_id, i.seq, i.due_on, p.grace_days,
               SUM({fen("i.amount")}) OVER (PARTITION BY i.plan_id ORDER BY i.seq),
               COALESCE((
                   SELECT SUM({fen("pay.amount")})
                   FROM payments_payment pay
                   JOIN portfolio_loan l ON l.id = pay.loan_id
                   WHERE l.client_id = c.client_id AND l.debtor_id = c.debtor_id
                     AND pay.status = 'posted'
                     AND pay.value_date >= p.agreed_on AND pay.value_date <= {until}
               ), 0)
        FROM cases_planinstallment i
        JOIN cases_repaymentplan p ON p.id = i.plan_id
        JOIN cases_case c ON c.id = p.case_id
        WHERE p.status = 'active' AND p.agreed_on <= {date} {client}
        ORDER BY i.plan_id, i.seq
    """
    with connection.cursor() as cur:
        cur.execute(statement)
        return list(cur.fetchall())


def plans_decide(
    *, as_of: dt.date, client_id: int | None = None, actor: Any = ENGINE_ACTOR
) -> dict[str, int]:
    """Decide the active plans as of ``as_of`` (see the module's rule), of one client's
    cases or all. Returns counts: plans_kept, plans_broken."""
    require_date(as_of, field="as_of")
    by_plan: dict[int, list[tuple[Any, ...]]] = {}
    for row in _active_rows(as_of, client_id):
        by_plan.setdefault(int(row[1]), []).append(row)
    installment_updates: list[tuple[str, Decimal, int]] = []
    plan_updates: list[tuple[str, dt.date, int]] = []
    entries: list[AuditEntry] = []
    counts = {"plans_kept": 0, "plans_broken": 0}
    for plan_id, items in by_plan.items():
        statuses = []
        for inst_id, _p, _case, _seq, due_on, grace, cumulative, paid in items:
            due = due_on if isinstance(due_on, dt.date) else dt.date.fromisoformat(str(due_on))
            if int(paid) >= int(cumulative):
                status = InstallmentStatus.PAID
            elif as_of > due + dt.timedelta(days=int(grace)):
                status = InstallmentStatus.MISSED
            else:
                status = InstallmentStatus.PENDING
            statuses.append(status)
            installment_updates.append((status.value, fen_to_decimal(int(paid)), int(inst_id)))
        if InstallmentStatus.MISSED in statuses:
            outcome = PlanStatus.BROKEN
        elif all(s == InstallmentStatus.PAID for s in statuses):
            outcome = PlanStatus.KEPT
        else:
            continue
        case_id = int(items[0][2])
        missed = [int(r[3]) for r, s in zip(items, statuses, strict=True) if s == "missed"]
        plan_updates.append((outcome.value, as_of, plan_id))
        counts[f"plans_{outcome.value}"] += 1
        entries.append(
            AuditEntry(
                action=f"plan.{outcome.value}",
                object_type="cases.repaymentplan",
                object_id=str(plan_id),
                case_id=case_id,
                summary=f"plan {outcome.value} as of {as_of.isoformat()}",
                before={"status": PlanStatus.ACTIVE.value},
                after={
                    "status": outcome.value,
                    "as_of": as_of,
                    "paid": fen_to_decimal(max(int(r[7]) for r in items)),
                    "missed_installments": missed,
                },
            )
        )
    with transaction.atomic():
        with connection.cursor() as cur:
            if installment_updates:
                cur.executemany(
                    "UPDATE cases_planinstallment SET status = %s, paid_amount = %s WHERE id = %s",
                    installment_updates,
                )
            if plan_updates:
                cur.executemany(
                    "UPDATE cases_repaymentplan SET status = %s, decided_as_of = %s WHERE id = %s",
                    plan_updates,
                )
        audit_record_many(actor=actor, entries=entries)
    return counts
