"""Posting and reversing payments: the ledger lines the nightly engine reads.

A posted payment is split by the default waterfall into allocation lines, each dated with
the payment's value date:

1. penalty interest owed as of the value date;
2. overdue interest (installments due before the value date), oldest first;
3. overdue principal, oldest first;
4. installments due on or after the value date, oldest first, interest then principal;
5. whatever is left as a credit line (an overpayment is held, never dropped).

The installments' paid fields grow by what was allocated to them; a reversal marks the
lines reversed and takes exactly those amounts back. A value date before today leaves a
recompute mark, so the next run rewrites the debtor's history from that day.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import Sum
from django.utils import timezone
from django.utils.translation import gettext as _

from cuishou.audit.services import actor_parts, audit_record
from cuishou.cases.models import Case
from cuishou.core.money import MONEY_DECIMAL_PLACES, MONEY_MAX_DIGITS, ZERO
from cuishou.core.timeutil import is_date, today_shanghai
from cuishou.engine.marks import recompute_mark_add
from cuishou.engine.selectors import loan_figures_as_of
from cuishou.payments.choices import AllocationComponent, PaymentChannel, PaymentStatus
from cuishou.payments.models import Payment, PaymentAllocation
from cuishou.portfolio.models import Installment, Loan

_MAX_AMOUNT = Decimal(10) ** (MONEY_MAX_DIGITS - MONEY_DECIMAL_PLACES)
_REFERENCE_MAX = Payment._meta.get_field("reference").max_length or 100
_REASON_MAX = Payment._meta.get_field("reversal_reason").max_length or 200


@dataclass(frozen=True)
class AllocationLine:
    """One part of a payment: what it paid and how much (``installment`` None for penalty
    and credit)."""

    component: AllocationComponent
    amount: Decimal
    installment: Installment | None = None


def _valid_amount(amount: Decimal) -> Decimal:
    if not isinstance(amount, Decimal) or not amount.is_finite():
        raise ValidationError(
            _("the amount must be a number, e.g. 1500.00 (got %(amount)r)") % {"amount": amount},
            code="payment_amount",
        )
    exponent = amount.as_tuple().exponent
    if isinstance(exponent, int) and exponent < -2 and amount != amount.quantize(Decimal("0.01")):
        raise ValidationError(
            _("the amount %(amount)s has more than 2 decimal places") % {"amount": amount},
            code="payment_amount",
        )
    if amount <= 0:
        raise ValidationError(
            _("the amount must be greater than 0 (got %(amount)s)") % {"amount": amount},
            code="payment_amount",
        )
    if amount >= _MAX_AMOUNT:
        raise ValidationError(
            _("the amount %(amount)s is too large") % {"amount": amount}, code="payment_amount"
        )
    return amount.quantize(Decimal("0.01"))


def _case_id(loan: Loan) -> int | None:
    return (
        Case.objects.filter(client_id=loan.client_id, debtor_id=loan.debtor_id)
        .values_list("pk", flat=True)
        .first()
    )


def _penalty_open(loan: Loan, value_date: dt.date) -> Decimal:
    """Penalty a payment with this value date pays first: what the loan owes as of that
    day, less penalty already paid by lines dated after it (so backdating a payment never
    collects the same penalty twice)."""
    rate = loan.penalty_annual_rate
    if rate is None:
        rate = loan.product.penalty_annual_rate
    if not rate:
        return ZERO  # nothing ever accrues
    owed = loan_figures_as_of(loan_id=loan.pk, as_of=value_date).penalty
    paid_later = (
        PaymentAllocation.objects.filter(
            loan_id=loan.pk,
            component=AllocationComponent.PENALTY,
            is_reversed=False,
            value_date__gt=value_date,
        ).aggregate(total=Sum("amount"))["total"]
        or ZERO
    )
    return max(ZERO, owed - paid_later)


def allocate(
    *,
    amount: Decimal,
    value_date: dt.date,
    penalty_open: Decimal,
    installments: Iterable[Installment],
) -> list[AllocationLine]:
    """Split ``amount`` by the default waterfall (see the module's docstring). Pure: reads
    the installments' current paid fields and changes nothing."""
    ordered = sorted(installments, key=lambda i: (i.due_on, i.seq))
    overdue = [i for i in ordered if i.due_on < value_date]
    current = [i for i in ordered if i.due_on >= value_date]
    steps: list[tuple[AllocationComponent, Installment | None, Decimal]] = [
        (AllocationComponent.PENALTY, None, penalty_open),
        *[(AllocationComponent.INTEREST, i, i.interest_unpaid) for i in overdue],
        *[(AllocationComponent.PRINCIPAL, i, i.principal_unpaid) for i in overdue],
    ]
    for i in current:
        steps.append((AllocationComponent.INTEREST, i, i.interest_unpaid))
        steps.append((AllocationComponent.PRINCIPAL, i, i.principal_unpaid))
    lines: list[AllocationLine] = []
    left = amount
    for component, installment, open_amount in steps:
        part = min(left, open_amount)
        if part > 0:
            lines.append(AllocationLine(component, part, installment))
            left -= part
    if left > 0:
        lines.append(AllocationLine(AllocationComponent.CREDIT, left))
    return lines


def _line_json(line: PaymentAllocation) -> dict[str, Any]:
    return {
        "component": line.component,
        "installment_id": line.installment_id,
        "seq": line.installment.seq if line.installment is not None else None,
        "amount": line.amount,
    }


def _locked_installments(loan: Loan) -> dict[int, Installment]:
    return {
        i.pk: i
        for i in Installment.objects.select_for_update().filter(loan_id=loan.pk).order_by("seq")
    }


def payment_post(
    *,
    actor: Any,
    loan: Loan,
    amount: Decimal,
    value_date: dt.date,
    channel: str = PaymentChannel.BANK_TRANSFER,
    reference: str = "",
) -> Payment:
    """Post a payment on ``loan`` and allocate it by the default waterfall.

    Raises ValidationError for an amount that is not positive or has more than 2 decimal
    places, a value date in the future or before the loan was disbursed, an unknown
    channel, or a reference that is too long. The loan and its installments are locked
    (loan first, then installments by period), so payments on one loan serialise."""
    amount = _valid_amount(amount)
    if not is_date(value_date):
        raise ValidationError(_("the value date must be a date"), code="payment_value_date")
    today = today_shanghai()
    if value_date > today:
        raise ValidationError(
            _("the value date %(date)s is in the future (today is %(today)s)")
            % {"date": value_date.isoformat(), "today": today.isoformat()},
            code="payment_value_date",
        )
    if channel not in PaymentChannel.values:
        raise ValidationError(
            _("unknown payment channel %(channel)r (use %(choices)s)")
            % {"channel": channel, "choices": ", ".join(PaymentChannel.values)},
            code="payment_channel",
        )
    reference = (reference or "").strip()
    if len(reference) > _REFERENCE_MAX:
        raise ValidationError(
            _("the reference is longer than %(n)d characters") % {"n": _REFERENCE_MAX},
            code="payment_reference",
        )

    with transaction.atomic():
        locked = Loan.objects.select_for_update().get(pk=loan.pk)
        if value_date < locked.disbursed_on:
            raise ValidationError(
                _("the value date %(date)s is before the loan was disbursed on %(disbursed)s")
                % {"date": value_date.isoformat(), "disbursed": locked.disbursed_on.isoformat()},
                code="payment_value_date",
            )
        installments = _locked_installments(locked)
        plan = allocate(
            amount=amount,
            value_date=value_date,
            penalty_open=_penalty_open(locked, value_date),
            installments=installments.values(),
        )
        payment = Payment.objects.create(
            loan=locked,
            amount=amount,
            value_date=value_date,
            channel=channel,
            reference=reference,
            posted_by_id=actor_parts(actor)[0],
        )
        lines = PaymentAllocation.objects.bulk_create(
            PaymentAllocation(
                payment=payment,
                loan=locked,
                installment=line.installment,
                component=line.component,
                amount=line.amount,
                value_date=value_date,
            )
            for line in plan
        )
        changed: dict[int, Installment] = {}
        for line in plan:
            if line.installment is None:
                continue
            inst = installments[line.installment.pk]
            if line.component == AllocationComponent.INTEREST:
                inst.interest_paid += line.amount
            else:
                inst.principal_paid += line.amount
            changed[inst.pk] = inst
        if changed:
            Installment.objects.bulk_update(changed.values(), ["principal_paid", "interest_paid"])
        audit_record(
            actor=actor,
            action="payment.post",
            target=payment,
            case_id=_case_id(locked),
            summary=f"{locked.contract_no}: {amount} value date {value_date.isoformat()}",
            after={
                "loan_id": locked.pk,
                "amount": amount,
                "value_date": value_date,
                "channel": channel,
                "reference": reference,
                "allocations": [_line_json(line) for line in lines],
            },
        )
        recompute_mark_add(
            client_id=locked.client_id,
            debtor_id=locked.debtor_id,
            from_date=value_date,
            reason=f"payment {payment.pk} value date {value_date.isoformat()}",
        )
    return payment


def payment_reverse(*, actor: Any, payment: Payment, reason: str) -> Payment:
    """Reverse a posted payment: its lines count nowhere any more and the installments'
    paid fields lose exactly what the payment had put there.

    Raises ValidationError without a reason, for a payment already reversed, or when the
    schedule was changed since (an installment would be left with less than nothing paid).
    """
    reason = (reason or "").strip()
    if not reason:
        raise ValidationError(_("reversing a payment needs a reason"), code="reversal_reason")
    if len(reason) > _REASON_MAX:
        raise ValidationError(
            _("the reason is longer than %(n)d characters") % {"n": _REASON_MAX},
            code="reversal_reason",
        )
    with transaction.atomic():
        # Same lock order as payment_post: the loan, its installments, then the payment.
        loan = Loan.objects.select_for_update().get(pk=payment.loan_id)
        installments = _locked_installments(loan)
        locked = Payment.objects.select_for_update().get(pk=payment.pk)
        if locked.status == PaymentStatus.REVERSED:
            raise ValidationError(
                _("payment %(id)s was already reversed on %(when)s")
                % {
                    "id": locked.pk,
                    "when": timezone.localtime(locked.reversed_at).date().isoformat()
                    if locked.reversed_at
                    else "?",
                },
                code="payment_reversed",
            )
        lines = list(
            PaymentAllocation.objects.filter(payment=locked, is_reversed=False)
            .select_related("installment")
            .order_by("id")
        )
        changed: dict[int, Installment] = {}
        for line in lines:
            if line.installment_id is None:
                continue
            inst = installments[line.installment_id]
            if line.component == AllocationComponent.INTEREST:
                inst.interest_paid -= line.amount
            else:
                inst.principal_paid -= line.amount
            if inst.interest_paid < 0 or inst.principal_paid < 0:
                raise ValidationError(
                    _(
                        "installment %(seq)d of loan %(contract)s has less paid than this "
                        "payment put there (was the schedule re-imported?); nothing was reversed"
                    )
                    % {"seq": inst.seq, "contract": loan.contract_no},
                    code="payment_reversal_schedule",
                )
            changed[inst.pk] = inst
        if changed:
            Installment.objects.bulk_update(changed.values(), ["principal_paid", "interest_paid"])
        PaymentAllocation.objects.filter(payment=locked).update(is_reversed=True)
        locked.status = PaymentStatus.REVERSED
        locked.reversed_at = timezone.now()
        locked.reversed_by_id = actor_parts(actor)[0]
        locked.reversal_reason = reason
        locked.save(update_fields=["status", "reversed_at", "reversed_by", "reversal_reason"])
        audit_record(
            actor=actor,
            action="payment.reverse",
            target=locked,
            case_id=_case_id(loan),
            summary=f"{loan.contract_no}: {locked.amount} value date "
            f"{locked.value_date.isoformat()} reversed: {reason}",
            before={"status": PaymentStatus.POSTED, "allocations": [_line_json(x) for x in lines]},
            after={"status": PaymentStatus.REVERSED, "reason": reason},
        )
        recompute_mark_add(
            client_id=loan.client_id,
            debtor_id=loan.debtor_id,
            from_date=locked.value_date,
            reason=f"payment {locked.pk} reversed, value date {locked.value_date.isoformat()}",
        )
    payment.refresh_from_db()
    return locked
