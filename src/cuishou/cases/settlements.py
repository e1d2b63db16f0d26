"""Settlements (减免/和解): a discount on the case's debt, approved within a role's limit.

- **Ask** (``settlement_request``, a role with ``cases.request_settlement``): a discount on
  penalty, interest and principal, each at most what the case's loans show for it now;
  the settled amount is the balance less the discount, to be paid by a deadline. The
  request goes to the lowest-ranked role whose ``SettlementLimit`` covers the discount
  (percent of the balance and amount); above every limit, to a superuser.
- **Decide** (``settlement_decide``): a person holding ``cases.approve_settlement`` whose
  role's limit covers the discount (or a superuser), never the one who asked. Above the
  decider's limit it is refused and names the role that decides it.
- **Nightly** (``settlements_decide``, before the current state): an approved settlement
  whose payments (posted, value dates from the approval day through the deadline) reach
  the settled amount is **paid**: what the loans still owe as of the run's day is waived
  (``WaiverLine`` per loan: penalty, each installment's interest and principal, dated
  that day; the installments' paid fields grow by the same amounts, as a payment's do)
  and the case closes as settled with its archive. The engine reads waiver lines with the
  payment allocations, so the loans' balance is 0 from that day and their history before
  it is unchanged. Past the deadline without that, the settlement **lapses** (a pending
  one too) and collection continues.
- **Unpaid again** (``settlements_undo_unpaid``, the first step of ``settlements_decide``):
  a paid settlement whose payments, once a reversal is approved, no longer reach the
  settled amount goes back to *approved*: its waiver lines are marked reversed (the
  engine's ledger skips them), the installments' paid fields lose exactly what they
  added, and the case closed as settled reopens with the reason. The same run may then
  find it paid again (another payment by the deadline) or lapse it (past the deadline).
"""

from __future__ import annotations

import datetime as dt
import logging
from decimal import Decimal
from typing import Any

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.db.models import Exists, OuterRef, Sum
from django.utils import timezone
from django.utils.translation import gettext as _

from cuishou.accounts.choices import Role
from cuishou.audit.services import audit_record
from cuishou.cases.choices import (
    CLOSED_STATUSES,
    CaseStatus,
    Closure,
    SettlementStatus,
    WaivedComponent,
)
from cuishou.cases.closure import _close
from cuishou.cases.models import Case, Settlement, SettlementLimit, WaiverLine
from cuishou.cases.promises import ENGINE_ACTOR
from cuishou.cases.selectors import case_require_in_scope
from cuishou.core.timeutil import require_date, today_shanghai
from cuishou.engine.marks import recompute_mark_add
from cuishou.engine.selectors import loan_figures_as_of
from cuishou.payments.services import installments_locked
from cuishou.portfolio.models import Installment, Loan

REQUEST_PERMISSION = "cases.request_settlement"
APPROVE_PERMISSION = "cases.approve_settlement"
ZERO = Decimal("0.00")
logger = logging.getLogger(__name__)
CENT = Decimal("0.01")


def _money(value: Any, field: str) -> Decimal:
    if value in (None, ""):
        return ZERO
    if not isinstance(value, Decimal) or not value.is_finite() or value < 0:
        raise ValidationError({field: [_("An amount of 0 or more.")]})
    if value != value.quantize(CENT):
        raise ValidationError({field: [_("At most 2 decimal places.")]})
    return value.quantize(CENT)


def _loans(case: Case) -> list[Loan]:
    return list(
        Loan.objects.filter(client_id=case.client_id, debtor_id=case.debtor_id).order_by("pk")
    )


def case_settlement_figures(case: Case) -> dict[str, Decimal]:
    """The figures a discount is taken from: the case's loans' penalty, overdue
    interest, principal (the rest of the balance) and balance, as last computed."""
    loans = _loans(case)
    penalty = sum((loan.penalty for loan in loans), ZERO)
    interest = sum((loan.overdue_interest for loan in loans), ZERO)
    balance = sum((loan.balance for loan in loans), ZERO)
    return {
        "penalty": penalty,
        "interest": interest,
        "principal": balance - penalty - interest,
        "balance": balance,
    }


def _covers(limit: SettlementLimit, *, discount: Decimal, balance: Decimal) -> bool:
    if limit.max_amount is not None and discount > limit.max_amount:
        return False
    return discount * 100 <= limit.max_percent * balance


def settlement_approver_role(*, discount: Decimal, balance: Decimal) -> str:
    """The lowest-ranked role whose limit covers ``discount`` of ``balance``; "" when
    none does (a superuser decides)."""
    for limit in SettlementLimit.objects.order_by("rank", "id"):
        if _covers(limit, discount=discount, balance=balance):
            return limit.role
    return ""


def _role_label(role: str) -> str:
    """The role as users read it (its translated name), not its code."""
    return str(Role(role).label) if role in Role.values else role


def user_may_decide_settlement(user: Any, settlement: Settlement) -> bool:
    """Whether ``user`` may approve or reject ``settlement``: a superuser, or a holder of
    ``cases.approve_settlement`` in a role whose limit covers its discount."""
    if not getattr(user, "is_authenticated", False):
        return False
    if user.is_superuser:
        return True
    if not user.has_perm(APPROVE_PERMISSION):
        return False
    roles = set(user.groups.values_list("name", flat=True))
    return any(
        _covers(limit, discount=settlement.discount, balance=settlement.balance)
        for limit in SettlementLimit.objects.filter(role__in=roles)
    )


@transaction.atomic
def settlement_request(
    *,
    actor: Any,
    case: Case,
    deadline: dt.date,
    reason: str,
    penalty: Decimal | None = None,
    interest: Decimal | None = None,
    principal: Decimal | None = None,
) -> Settlement:
    """Ask for a settlement on ``case``: the discount on each component, the deadline and
    why. Returns the pending settlement, routed to the role that decides it."""
    if not getattr(actor, "has_perm", None) or not actor.has_perm(REQUEST_PERMISSION):
        raise PermissionDenied(_("This role may not ask for settlements."))
    case_require_in_scope(actor, case)
    reason = (reason or "").strip()
    errors: dict[str, list[str]] = {}
    if not reason:
        errors["reason"] = [_("Say why.")]
    deadline = require_date(deadline, field="deadline")
    if deadline < today_shanghai():
        errors["deadline"] = [_("The deadline is in the past.")]
    waived = {
        "penalty": _money(penalty, "penalty"),
        "interest": _money(interest, "interest"),
        "principal": _money(principal, "principal"),
    }
    locked = Case.objects.select_for_update().get(pk=case.pk)
    if locked.status in CLOSED_STATUSES:
        errors["case"] = [_("The case is closed.")]
    elif Settlement.objects.filter(
        case=locked, status__in=[SettlementStatus.PENDING, SettlementStatus.APPROVED]
    ).exists():
        errors["case"] = [_("The case already has a settlement waiting or approved.")]
    figures = case_settlement_figures(locked)
    for name, amount in waived.items():
        if amount > figures[name]:
            errors[name] = [_("At most %(figure)s (what is owed now).") % {"figure": figures[name]}]
    discount = sum(waived.values(), ZERO)
    if discount <= 0 and "penalty" not in errors:
        errors.setdefault("penalty", []).append(_("A settlement needs a discount."))
    settled = figures["balance"] - discount
    if settled <= 0 and not errors:
        errors["principal"] = [_("Something must be paid; waiving everything is a write-off.")]
    if errors:
        raise ValidationError(errors)
    role = settlement_approver_role(discount=discount, balance=figures["balance"])
    settlement = Settlement.objects.create(
        case=locked,
        balance=figures["balance"],
        penalty_waived=waived["penalty"],
        interest_waived=waived["interest"],
        principal_waived=waived["principal"],
        discount=discount,
        settled_amount=settled,
        deadline=deadline,
        reason=reason,
        approver_role=role,
        requested_at=timezone.now(),
        requested_by=actor if getattr(actor, "pk", None) else None,
    )
    audit_record(
        actor=actor,
        action="settlement.request",
        target=settlement,
        case_id=locked.pk,
        summary=f"settle {settled} of {figures['balance']} by {deadline.isoformat()}",
        after={
            "balance": figures["balance"],
            "discount": discount,
            **{f"{k}_waived": v for k, v in waived.items()},
            "settled_amount": settled,
            "deadline": deadline,
            "approver_role": role,
            "reason": reason,
        },
    )
    return settlement


@transaction.atomic
def settlement_decide(
    *, actor: Any, settlement: Settlement, approve: bool, note: str = ""
) -> Settlement:
    """Approve or reject a pending settlement (see the module's rule)."""
    locked = Settlement.objects.select_for_update().select_related("case").get(pk=settlement.pk)
    case_require_in_scope(actor, locked.case)
    if locked.status != SettlementStatus.PENDING:
        raise ValidationError({"settlement": [_("This settlement is already decided.")]})
    if locked.requested_by_id is not None and locked.requested_by_id == getattr(actor, "pk", None):
        raise PermissionDenied(_("Somebody else approves your own request."))
    if not user_may_decide_settlement(actor, locked):
        raise PermissionDenied(
            _("This settlement is above your limit: it is decided by %(role)s.")
            % {
                "role": _role_label(locked.approver_role)
                if locked.approver_role
                else _("a superuser")
            }
        )
    locked.status = SettlementStatus.APPROVED if approve else SettlementStatus.REJECTED
    locked.decided_at = timezone.now()
    locked.decided_by = actor
    locked.decision_note = (note or "").strip()
    fields = ["status", "decided_at", "decided_by", "decision_note"]
    if approve:
        locked.approved_on = today_shanghai()
        fields.append("approved_on")
    locked.save(update_fields=fields)
    audit_record(
        actor=actor,
        action="settlement.approve" if approve else "settlement.reject",
        target=locked,
        case_id=locked.case_id,
        summary=locked.decision_note or locked.status,
        before={"status": SettlementStatus.PENDING.value},
        after={
            "status": locked.status,
            "approved_on": locked.approved_on,
            "settled_amount": locked.settled_amount,
            "deadline": locked.deadline,
            "note": locked.decision_note,
        },
    )
    settlement.status = locked.status
    return locked


def _payments_towards(settlement: Settlement, as_of: dt.date, *, status: str) -> Any:
    """The debtor's payments to the client with the given status that count towards the
    settlement as of ``as_of``: value dated from its approval to the day or its
    deadline, whichever is earlier."""
    from cuishou.payments.models import Payment  # payments imports this app's models

    assert settlement.approved_on is not None
    return Payment.objects.filter(
        loan__client_id=settlement.case.client_id,
        loan__debtor_id=settlement.case.debtor_id,
        status=status,
        value_date__gte=settlement.approved_on,
        value_date__lte=min(as_of, settlement.deadline),
    )


def _paid_towards(settlement: Settlement, as_of: dt.date) -> Decimal:
    total = _payments_towards(settlement, as_of, status="posted").aggregate(total=Sum("amount"))[
        "total"
    ]
    return total or ZERO


def _waive(settlement: Settlement, as_of: dt.date) -> list[WaiverLine]:
    """Write the waiver lines that take every loan of the case to 0 as of ``as_of`` and
    add them to the installments' paid fields. Loans locked in id order, then their
    installments by period (payment_post's order)."""
    lines: list[WaiverLine] = []
    for loan in _loans(settlement.case):
        Loan.objects.select_for_update().filter(pk=loan.pk).first()
        penalty = loan_figures_as_of(loan_id=loan.pk, as_of=as_of).penalty
        if penalty > 0:
            lines.append(
                WaiverLine(
                    settlement=settlement,
                    loan=loan,
                    component=WaivedComponent.PENALTY,
                    amount=penalty,
                    value_date=as_of,
                )
            )
        changed = []
        for inst in installments_locked(loan).values():
            for component, unpaid in (
                (WaivedComponent.INTEREST, inst.interest_due - inst.interest_paid),
                (WaivedComponent.PRINCIPAL, inst.principal_due - inst.principal_paid),
            ):
                if unpaid <= 0:
                    continue
                lines.append(
                    WaiverLine(
                        settlement=settlement,
                        loan=loan,
                        installment=inst,
                        component=component,
                        amount=unpaid,
                        value_date=as_of,
                    )
                )
            if inst.interest_paid < inst.interest_due or inst.principal_paid < inst.principal_due:
                inst.interest_paid = inst.interest_due
                inst.principal_paid = inst.principal_due
                changed.append(inst)
        if changed:
            Installment.objects.bulk_update(changed, ["principal_paid", "interest_paid"])
    return WaiverLine.objects.bulk_create(lines)


class WaiverUndoError(Exception):
    """The waiver lines of a settlement cannot be undone: an installment would be left
    with less than nothing paid (its schedule was changed since)."""


def _unwaive(settlement: Settlement) -> list[WaiverLine]:
    """Undo the settlement's waiver lines: each installment loses exactly what its lines
    added, and the lines are marked reversed. Loans locked in id order, then their
    installments by period (payment_post's order). Returns the lines undone."""
    lines = list(
        WaiverLine.objects.filter(settlement=settlement, is_reversed=False).order_by(
            "loan_id", "id"
        )
    )
    by_loan: dict[int, list[WaiverLine]] = {}
    for line in lines:
        by_loan.setdefault(line.loan_id, []).append(line)
    for loan_id in sorted(by_loan):
        loan = Loan.objects.select_for_update().get(pk=loan_id)
        installments = installments_locked(loan)
        changed: dict[int, Installment] = {}
        for line in by_loan[loan_id]:
            if line.installment_id is None:
                continue  # a penalty line: the engine computes penalty from the ledger
            inst = installments[line.installment_id]
            if line.component == WaivedComponent.INTEREST:
                inst.interest_paid -= line.amount
            else:
                inst.principal_paid -= line.amount
            if inst.interest_paid < 0 or inst.principal_paid < 0:
                raise WaiverUndoError(
                    f"installment {inst.seq} of loan {loan.contract_no} has less paid than "
                    f"settlement {settlement.pk} waived"
                )
            changed[inst.pk] = inst
        if changed:
            Installment.objects.bulk_update(changed.values(), ["principal_paid", "interest_paid"])
    WaiverLine.objects.filter(pk__in=[line.pk for line in lines]).update(is_reversed=True)
    return lines


def settlements_undo_unpaid(
    *, as_of: dt.date, client_id: int | None = None, actor: Any = ENGINE_ACTOR
) -> dict[str, int]:
    """Paid settlements that a reversed payment left short of their settled amount go
    back to approved, their waivers undone, and their case (closed as settled) reopens
    (see the module's rule). Returns counts: settlements_unpaid."""
    from cuishou.payments.models import Payment  # payments imports this app's models

    require_date(as_of, field="as_of")
    counts = {"settlements_unpaid": 0}
    bounced = Payment.objects.filter(
        loan__client_id=OuterRef("case__client_id"),
        loan__debtor_id=OuterRef("case__debtor_id"),
        status="reversed",
        value_date__gte=OuterRef("approved_on"),
        value_date__lte=OuterRef("completed_on"),
    )
    candidates = Settlement.objects.filter(status=SettlementStatus.PAID).filter(Exists(bounced))
    if client_id is not None:
        candidates = candidates.filter(case__client_id=client_id)
    for pk in candidates.order_by("case_id", "pk").values_list("pk", flat=True):
        try:
            with transaction.atomic():
                if _undo_one(pk, as_of=as_of, actor=actor):
                    counts["settlements_unpaid"] += 1
        except WaiverUndoError as exc:
            # Left paid and the case closed, for a person to look at; the run goes on.
            logger.warning("settlement %s not undone: %s", pk, exc)
    return counts


def _undo_one(pk: int, *, as_of: dt.date, actor: Any) -> bool:

    locked = Settlement.objects.select_for_update().select_related("case").get(pk=pk)
    if locked.status != SettlementStatus.PAID or locked.completed_on is None:
        return False
    settled_on = locked.completed_on
    paid = _paid_towards(locked, settled_on)
    if paid >= locked.settled_amount:
        return False  # a reversal, but what is left still pays the settled amount
    case = locked.case
    reversed_ids = sorted(
        _payments_towards(locked, settled_on, status="reversed").values_list("pk", flat=True)
    )
    lines = _unwaive(locked)
    before = {
        "status": locked.status,
        "completed_on": settled_on,
        "paid": locked.paid_amount,
        "waived": locked.waived_amount,
    }
    locked.status = SettlementStatus.APPROVED
    locked.completed_on = None
    locked.paid_amount = paid
    locked.waived_amount = ZERO
    locked.save(update_fields=["status", "completed_on", "paid_amount", "waived_amount"])
    payments = ", ".join(str(i) for i in reversed_ids)
    reason = (
        f"settlement {locked.pk} no longer paid as of {as_of.isoformat()}: "
        f"payment {payments} reversed, {paid} of {locked.settled_amount} paid"
    )
    audit_record(
        actor=actor,
        action="settlement.unpaid",
        target=locked,
        case_id=case.pk,
        summary=reason,
        before=before,
        after={
            "status": locked.status,
            "as_of": as_of,
            "paid": paid,
            "settled_amount": locked.settled_amount,
            "reversed_payments": reversed_ids,
            "waivers_undone": [
                {
                    "loan_id": line.loan_id,
                    "installment_id": line.installment_id,
                    "component": line.component,
                    "amount": line.amount,
                    "value_date": line.value_date,
                }
                for line in lines
            ],
        },
    )
    # The waivers counted from the day it settled: that day's history on is rewritten.
    recompute_mark_add(
        client_id=case.client_id,
        debtor_id=case.debtor_id,
        from_date=settled_on,
        reason=f"settlement {locked.pk} no longer paid, settled on {settled_on.isoformat()}",
    )
    closed = Case.objects.select_for_update().get(pk=case.pk)
    if closed.status == CaseStatus.CLOSED and closed.closure == Closure.SETTLED:
        closed.status = CaseStatus.OPEN
        closed.closure = ""
        closed.closed_on = None
        closed.status_reason = reason[:200]
        closed.save(update_fields=["status", "closure", "closed_on", "status_reason", "updated_at"])
        audit_record(
            actor=actor,
            action="case.reopen",
            target=closed,
            case_id=closed.pk,
            summary=reason,
            before={"status": CaseStatus.CLOSED.value, "closure": Closure.SETTLED.value},
            after={
                "status": CaseStatus.OPEN.value,
                "as_of": as_of,
                "settlement": locked.pk,
                "reversed_payments": reversed_ids,
                "reason": reason,
            },
        )
    return True


def settlements_decide(
    *, as_of: dt.date, client_id: int | None = None, actor: Any = ENGINE_ACTOR
) -> dict[str, int]:
    """Settle or lapse the approved (and lapse the pending) settlements as of ``as_of``
    (see the module's rule), after sending back to approved the paid ones a reversal
    left unpaid. Returns counts: settlements_unpaid, settlements_paid, settlements_lapsed."""
    require_date(as_of, field="as_of")
    counts: dict[str, int] = {"settlements_paid": 0, "settlements_lapsed": 0}
    counts.update(settlements_undo_unpaid(as_of=as_of, client_id=client_id, actor=actor))
    open_ = Settlement.objects.filter(
        status__in=[SettlementStatus.PENDING, SettlementStatus.APPROVED]
    ).select_related("case")
    if client_id is not None:
        open_ = open_.filter(case__client_id=client_id)
    for settlement in open_.order_by("case_id", "pk"):
        with transaction.atomic():
            locked = (
                Settlement.objects.select_for_update().select_related("case").get(pk=settlement.pk)
            )
            if locked.status not in (SettlementStatus.PENDING, SettlementStatus.APPROVED):
                continue
            paid = ZERO
            if (
                locked.status == SettlementStatus.APPROVED
                and locked.approved_on is not None
                and locked.approved_on <= as_of
            ):
                paid = _paid_towards(locked, as_of)
            if locked.status == SettlementStatus.APPROVED and paid >= locked.settled_amount:
                if locked.case.status in CLOSED_STATUSES:
                    continue  # closed otherwise meanwhile (paid in full): nothing to waive
                lines = _waive(locked, as_of)
                waived = sum((line.amount for line in lines), ZERO)
                locked.status = SettlementStatus.PAID
                locked.completed_on = as_of
                locked.paid_amount = paid
                locked.waived_amount = waived
                locked.save(
                    update_fields=["status", "completed_on", "paid_amount", "waived_amount"]
                )
                audit_record(
                    actor=actor,
                    action="settlement.paid",
                    target=locked,
                    case_id=locked.case_id,
                    summary=f"settled: paid {paid}, waived {waived} as of {as_of.isoformat()}",
                    before={"status": SettlementStatus.APPROVED.value},
                    after={
                        "status": locked.status,
                        "paid": paid,
                        "waived": waived,
                        "waivers": [
                            {
                                "loan_id": line.loan_id,
                                "installment_id": line.installment_id,
                                "component": line.component,
                                "amount": line.amount,
                                "value_date": line.value_date,
                            }
                            for line in lines
                        ],
                    },
                )
                _close(
                    actor=actor,
                    case=locked.case,
                    closure=Closure.SETTLED,
                    reason=f"settled as of {as_of.isoformat()}: paid {paid}, waived {waived}",
                    on=as_of,
                )
                counts["settlements_paid"] += 1
            elif as_of > locked.deadline:
                before = locked.status
                locked.status = SettlementStatus.LAPSED
                locked.paid_amount = paid
                locked.save(update_fields=["status", "paid_amount"])
                audit_record(
                    actor=actor,
                    action="settlement.lapse",
                    target=locked,
                    case_id=locked.case_id,
                    summary=f"lapsed: {paid} of {locked.settled_amount} paid by "
                    f"{locked.deadline.isoformat()}",
                    before={"status": before},
                    after={"status": locked.status, "paid": paid},
                )
                counts["settlements_lapsed"] += 1
    return counts
