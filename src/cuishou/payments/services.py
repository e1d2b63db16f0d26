"""Posting and reversing payments: the ledger lines the nightly engine reads.

A posted payment is split by its product's waterfall (``Product.waterfall``) into
allocation lines, each dated with the payment's value date. The default:

1. penalty interest owed as of the value date;
2. overdue interest (installments due before the value date), oldest first;
3. overdue principal, oldest first;
4. installments due on or after the value date, oldest first, interest then principal;
5. whatever is left as a credit line (an overpayment is held, never dropped).

The other waterfalls reorder steps 1–3 (``allocate``); 4 and 5 are always last.

The installments' paid fields grow by what was allocated to them; a reversal marks the
lines reversed and takes exactly those amounts back. A reversal is asked for with a reason
(``reversal_request``) and done only when a second person approves it
(``reversal_approve``). A value date before today leaves a recompute mark, so the next run
rewrites the debtor's history from that day.

An idempotency key makes a retried request post once: the same key with the same payment
returns the payment posted the first time; with another payment it is refused.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import IntegrityError, transaction
from django.db.models import Sum
from django.utils import timezone
from django.utils.translation import gettext as _

from cuishou.audit.services import actor_parts, audit_record
from cuishou.cases.models import Case, WaiverLine
from cuishou.core.money import MONEY_DECIMAL_PLACES, MONEY_MAX_DIGITS, ZERO
from cuishou.core.timeutil import is_date, today_shanghai
from cuishou.engine.marks import recompute_mark_add
from cuishou.engine.selectors import loan_figures_as_of
from cuishou.payments.choices import (
    AllocationComponent,
    PaymentChannel,
    PaymentStatus,
    ReversalStatus,
    Waterfall,
)
from cuishou.payments.models import Payment, PaymentAllocation, PaymentReversal
from cuishou.portfolio.models import Installment, Loan

_MAX_AMOUNT = Decimal(10) ** (MONEY_MAX_DIGITS - MONEY_DECIMAL_PLACES)
_REFERENCE_MAX = Payment._meta.get_field("reference").max_length or 100
_REASON_MAX = Payment._meta.get_field("reversal_reason").max_length or 200
_KEY_MAX = Payment._meta.get_field("idempotency_key").max_length or 100
REVERSAL_APPROVE_PERMISSION = "payments.approve_reversal"
_CHANNELS = frozenset(PaymentChannel.values)


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
    later = {
        "loan_id": loan.pk,
        "component": AllocationComponent.PENALTY,
        "is_reversed": False,
        "value_date__gt": value_date,
    }
    paid_later = (
        PaymentAllocation.objects.filter(**later).aggregate(total=Sum("amount"))["total"] or ZERO
    )
    # Penalty a settlement waived on a later day is not collected by a backdated payment.
    waived_later = (
        WaiverLine.objects.filter(**later).aggregate(total=Sum("amount"))["total"] or ZERO
    )
    return max(ZERO, owed - paid_later - waived_later)


_Step = tuple[AllocationComponent, Installment | None, Decimal]


def allocate(
    *,
    amount: Decimal,
    value_date: dt.date,
    penalty_open: Decimal,
    installments: Iterable[Installment],
    waterfall: str = Waterfall.DEFAULT,
) -> list[AllocationLine]:
    """Split ``amount`` by ``waterfall`` (see the module's docstring and
    ``payments.choices.Waterfall``). Pure: reads the installments' current paid fields and
    changes nothing."""
    ordered = sorted(installments, key=lambda i: (i.due_on, i.seq))
    overdue = [i for i in ordered if i.due_on < value_date]
    current = [i for i in ordered if i.due_on >= value_date]
    penalty: list[_Step] = [(AllocationComponent.PENALTY, None, penalty_open)]
    interest: list[_Step] = [(AllocationComponent.INTEREST, i, i.interest_unpaid) for i in overdue]
    principal: list[_Step] = [
        (AllocationComponent.PRINCIPAL, i, i.principal_unpaid) for i in overdue
    ]
    by_installment: list[_Step] = []
    for i in overdue:
        by_installment.append((AllocationComponent.INTEREST, i, i.interest_unpaid))
        by_installment.append((AllocationComponent.PRINCIPAL, i, i.principal_unpaid))
    orders: dict[str, list[_Step]] = {
        Waterfall.DEFAULT: [*penalty, *interest, *principal],
        Waterfall.BY_INSTALLMENT: [*penalty, *by_installment],
        Waterfall.INTEREST_FIRST: [*interest, *principal, *penalty],
        Waterfall.PRINCIPAL_FIRST: [*principal, *interest, *penalty],
    }
    if waterfall not in orders:
        raise ValueError(f"unknown waterfall {waterfall!r}")
    steps = list(orders[waterfall])
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


def installments_locked(loan: Loan) -> dict[int, Installment]:
    """The loan's installments, locked, by period (after the loan itself: the lock order
    every write of paid amounts keeps — payments, reversals, settlement waivers)."""
    return {
        i.pk: i
        for i in Installment.objects.select_for_update().filter(loan_id=loan.pk).order_by("seq")
    }


def _replay(
    earlier: Payment,
    *,
    loan: Loan,
    amount: Decimal,
    value_date: dt.date,
    channel: str,
    reference: str,
) -> Payment:
    """The payment an idempotency key already posted, when the retried request asks for
    the same payment; else the key is refused."""
    same = (
        earlier.loan_id == loan.pk
        and earlier.amount == amount
        and earlier.value_date == value_date
        and earlier.channel == channel
        and earlier.reference == reference
    )
    if not same:
        raise ValidationError(
            _(
                "the idempotency key %(key)r was already used for payment %(id)s (loan "
                "%(contract)s, %(amount)s, value date %(date)s): a different payment needs "
                "a new key"
            )
            % {
                "key": earlier.idempotency_key,
                "id": earlier.pk,
                "contract": earlier.loan.contract_no,
                "amount": earlier.amount,
                "date": earlier.value_date.isoformat(),
            },
            code="payment_idempotency_key",
        )
    earlier.replayed = True  # type: ignore[attr-defined]
    return earlier


def checked_request(
    *,
    amount: Decimal,
    value_date: dt.date,
    channel: str,
    reference: str,
    idempotency_key: str,
) -> tuple[Decimal, str, str]:
    """The checks ``payment_post`` makes before it locks anything: (amount to the fen,
    reference, key), stripped; raises ValidationError (the bulk path asks the same)."""
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
    if channel not in _CHANNELS:
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
    key = (idempotency_key or "").strip()
    if len(key) > _KEY_MAX:
        raise ValidationError(
            _("the idempotency key is longer than %(n)d characters") % {"n": _KEY_MAX},
            code="payment_idempotency_key",
        )
    return amount, reference, key


def disbursed_error(value_date: dt.date, disbursed_on: dt.date) -> ValidationError | None:
    """A value date before the loan was disbursed is refused (checked under the lock)."""
    if value_date >= disbursed_on:
        return None
    return ValidationError(
        _("the value date %(date)s is before the loan was disbursed on %(disbursed)s")
        % {"date": value_date.isoformat(), "disbursed": disbursed_on.isoformat()},
        code="payment_value_date",
    )


def payment_post(
    *,
    actor: Any,
    loan: Loan,
    amount: Decimal,
    value_date: dt.date,
    channel: str = PaymentChannel.BANK_TRANSFER,
    reference: str = "",
    idempotency_key: str = "",
) -> Payment:
    """Post a payment on ``loan`` and allocate it by its product's waterfall.

    With an ``idempotency_key`` already used for the same payment (loan, amount, value
    date, channel, reference) nothing is posted and that payment comes back, with
    ``replayed`` true (also when two identical requests race: the loan lock or the
    key's unique index lets one through); used for another payment, it is refused.

    Raises ValidationError for an amount that is not positive or has more than 2 decimal
    places, a value date in the future or before the loan was disbursed, an unknown
    channel, or a reference or key that is too long. The loan and its installments are
    locked (loan first, then installments by period), so payments on one loan serialise."""
    amount, reference, key = checked_request(
        amount=amount,
        value_date=value_date,
        channel=channel,
        reference=reference,
        idempotency_key=idempotency_key,
    )
    same: dict[str, Any] = {
        "loan": loan,
        "amount": amount,
        "value_date": value_date,
        "channel": channel,
        "reference": reference,
    }
    try:
        return _post(actor=actor, key=key, **same)
    except IntegrityError:
        # The same key posted at the same moment on another loan's lock: the unique index
        # let the other request through.
        earlier = Payment.objects.filter(idempotency_key=key).first() if key else None
        if earlier is None:
            raise
        return _replay(earlier, **same)


def _post(
    *,
    actor: Any,
    key: str,
    loan: Loan,
    amount: Decimal,
    value_date: dt.date,
    channel: str,
    reference: str,
) -> Payment:
    with transaction.atomic():
        # The loan's row only: postings on other loans of the product do not wait.
        locked = (
            Loan.objects.select_for_update(of=("self",)).select_related("product").get(pk=loan.pk)
        )
        if key:  # read under the loan's lock: a racing twin on this loan has committed
            earlier = Payment.objects.select_related("loan").filter(idempotency_key=key).first()
            if earlier is not None:
                return _replay(
                    earlier,
                    loan=locked,
                    amount=amount,
                    value_date=value_date,
                    channel=channel,
                    reference=reference,
                )
        refused = disbursed_error(value_date, locked.disbursed_on)
        if refused is not None:
            raise refused
        installments = installments_locked(locked)
        plan = allocate(
            amount=amount,
            value_date=value_date,
            penalty_open=_penalty_open(locked, value_date),
            installments=installments.values(),
            waterfall=locked.product.waterfall,
        )
        payment = Payment.objects.create(
            loan=locked,
            amount=amount,
            value_date=value_date,
            channel=channel,
            reference=reference,
            idempotency_key=key,
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
                "idempotency_key": key,
                "waterfall": locked.product.waterfall,
                "allocations": [_line_json(line) for line in lines],
            },
        )
        recompute_mark_add(
            client_id=locked.client_id,
            debtor_id=locked.debtor_id,
            from_date=value_date,
            reason=f"payment {payment.pk} value date {value_date.isoformat()}",
        )
    payment.replayed = False  # type: ignore[attr-defined]
    return payment


def payment_reverse(*, actor: Any, payment: Payment, reason: str) -> Payment:
    """Reverse a posted payment: its lines count nowhere any more and the installments'
    paid fields lose exactly what the payment had put there.

    Raises ValidationError without a reason, for a payment already reversed, or when the
    schedule was changed since (an installment would be left with less than nothing paid).
    """
    reason = _reason(reason)
    with transaction.atomic():
        # Same lock order as payment_post: the loan, its installments, then the payment.
        loan = Loan.objects.select_for_update().get(pk=payment.loan_id)
        installments = installments_locked(loan)
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


def _reason(reason: str) -> str:
    reason = (reason or "").strip()
    if not reason:
        raise ValidationError(_("reversing a payment needs a reason"), code="reversal_reason")
    if len(reason) > _REASON_MAX:
        raise ValidationError(
            _("the reason is longer than %(n)d characters") % {"n": _REASON_MAX},
            code="reversal_reason",
        )
    return reason


def reversal_request(*, actor: Any, payment: Payment, reason: str) -> PaymentReversal:
    """Ask for ``payment`` to be reversed, with a reason; a second person approves
    (``reversal_approve``) or rejects it. Refused for a payment already reversed or with
    a request pending."""
    reason = _reason(reason)
    with transaction.atomic():
        locked = Payment.objects.select_for_update().select_related("loan").get(pk=payment.pk)
        if locked.status == PaymentStatus.REVERSED:
            raise ValidationError(
                _("payment %(id)s was already reversed") % {"id": locked.pk},
                code="payment_reversed",
            )
        if locked.reversal_requests.filter(status=ReversalStatus.PENDING).exists():
            raise ValidationError(
                _("a reversal of payment %(id)s is already waiting for approval")
                % {"id": locked.pk},
                code="reversal_pending",
            )
        user_id, label = actor_parts(actor)
        request = PaymentReversal.objects.create(
            payment=locked, reason=reason, requested_by_id=user_id, requested_label=label
        )
        audit_record(
            actor=actor,
            action="payment.reversal_request",
            target=request,
            case_id=_case_id(locked.loan),
            summary=f"{locked.loan.contract_no}: reverse payment {locked.pk} "
            f"({locked.amount}, value date {locked.value_date.isoformat()}): {reason}",
            after={"payment_id": locked.pk, "amount": locked.amount, "reason": reason},
        )
    return request


def _decider(actor: Any, request: PaymentReversal) -> None:
    """Only a person holding ``payments.approve_reversal``, never the one who asked."""
    if actor is None or isinstance(actor, str) or not actor.has_perm(REVERSAL_APPROVE_PERMISSION):
        raise PermissionDenied(_("deciding on a payment reversal needs the approver's permission"))
    if request.requested_by_id is not None and request.requested_by_id == actor.pk:
        raise ValidationError(
            _("a reversal is approved by a second person, not by the one who asked for it"),
            code="reversal_same_person",
        )


def _pending(request: PaymentReversal) -> PaymentReversal:
    locked = PaymentReversal.objects.select_for_update().get(pk=request.pk)
    if locked.status != ReversalStatus.PENDING:
        raise ValidationError(
            _("this reversal request was already decided (%(status)s)")
            % {"status": locked.get_status_display()},
            code="reversal_decided",
        )
    return locked


def reversal_approve(*, actor: Any, request: PaymentReversal, note: str = "") -> Payment:
    """Approve a pending reversal: the payment is reversed (``payment_reverse``) with the
    request's reason, in the same transaction. Returns the reversed payment."""
    _decider(actor, request)
    note = (note or "").strip()[:_REASON_MAX]
    with transaction.atomic():
        payment = payment_reverse(actor=actor, payment=request.payment, reason=request.reason)
        locked = _pending(request)
        locked.status = ReversalStatus.APPROVED
        locked.decided_by_id = actor.pk
        locked.decided_at = timezone.now()
        locked.decision_note = note
        locked.save(update_fields=["status", "decided_by", "decided_at", "decision_note"])
        audit_record(
            actor=actor,
            action="payment.reversal_approve",
            target=locked,
            case_id=_case_id(payment.loan),
            summary=f"{payment.loan.contract_no}: reversal of payment {payment.pk} approved",
            before={"status": ReversalStatus.PENDING},
            after={"status": ReversalStatus.APPROVED, "payment_id": payment.pk, "note": note},
        )
    request.refresh_from_db()
    return payment


def reversal_reject(*, actor: Any, request: PaymentReversal, note: str = "") -> PaymentReversal:
    """Reject a pending reversal: the payment stays posted."""
    _decider(actor, request)
    note = (note or "").strip()[:_REASON_MAX]
    with transaction.atomic():
        locked = _pending(request)
        locked.status = ReversalStatus.REJECTED
        locked.decided_by_id = actor.pk
        locked.decided_at = timezone.now()
        locked.decision_note = note
        locked.save(update_fields=["status", "decided_by", "decided_at", "decision_note"])
        payment = locked.payment
        audit_record(
            actor=actor,
            action="payment.reversal_reject",
            target=locked,
            case_id=_case_id(payment.loan),
            summary=f"{payment.loan.contract_no}: reversal of payment {payment.pk} rejected",
            before={"status": ReversalStatus.PENDING},
            after={"status": ReversalStatus.REJECTED, "payment_id": payment.pk, "note": note},
        )
    request.refresh_from_db()
    return locked
