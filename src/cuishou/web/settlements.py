"""Pages for repayment plans, settlements and receipts: propose a plan and ask for a
settlement on the case page, decide settlements (on the case page and the list of those
waiting), and make or download a payment's receipt (case page and payments page).

Each view validates its input, calls one service and redirects back with a message."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal, InvalidOperation
from typing import Any

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from cuishou.cases.choices import PlanCovers, PlanStatus, SettlementStatus
from cuishou.cases.models import Case, Receipt, RepaymentPlan, Settlement
from cuishou.cases.plans import PLAN_PERMISSION, plan_amount_for, plan_cancel, plan_create
from cuishou.cases.receipts import RECEIPT_PERMISSION, payment_get_for_user, receipt_create
from cuishou.cases.selectors import case_get_for_user, case_visible_queryset
from cuishou.cases.settlements import (
    REQUEST_PERMISSION,
    case_settlement_figures,
    settlement_decide,
    settlement_request,
    user_may_decide_settlement,
)
from cuishou.core.errors import error_text
from cuishou.payments.models import Payment


def _errors(exc: ValidationError) -> str:
    return error_text(exc, with_fields=True)


def _back(request: HttpRequest, default: str) -> HttpResponse:
    target = request.POST.get("next", "")
    if target and url_has_allowed_host_and_scheme(target, allowed_hosts={request.get_host()}):
        return redirect(target)
    return redirect(default)


def _amount(raw: str) -> Decimal | None:
    raw = (raw or "").strip().replace(",", "")
    if not raw:
        return None
    try:
        return Decimal(raw)
    except InvalidOperation:
        raise ValidationError(_("%(value)r is not an amount.") % {"value": raw}) from None


def parse_installments(text: str) -> list[tuple[dt.date, Decimal]]:
    """One installment a line: ``YYYY-MM-DD amount``. ValidationError naming the line."""
    rows = []
    for n, line in enumerate((text or "").splitlines(), start=1):
        if not line.strip():
            continue
        parts = line.split()
        try:
            if len(parts) != 2:
                raise ValueError
            amount = _amount(parts[1])
            if amount is None:
                raise ValueError
            rows.append((dt.date.fromisoformat(parts[0]), amount))
        except (ValueError, ValidationError):
            raise ValidationError(
                {
                    "installments": [
                        _("line %(n)d: write the date and the amount, e.g. 2026-12-15 1500.00")
                        % {"n": n}
                    ]
                }
            ) from None
    return rows


def plans_context(request: HttpRequest, case: Case) -> dict[str, Any]:
    """What the case page's plan, settlement and receipt section shows."""
    user: Any = request.user
    plans = list(case.plans.prefetch_related("installments").select_related("created_by")[:3])
    settlements = list(case.settlements.select_related("requested_by", "decided_by")[:3])
    open_case = case.status in ("open", "paused", "cured")
    return {
        "plans": plans,
        "active_plan": next((p for p in plans if p.status == PlanStatus.ACTIVE), None),
        "plan_covers": PlanCovers.choices,
        "plan_amounts": {
            PlanCovers.OVERDUE.value: plan_amount_for(case, PlanCovers.OVERDUE),
            PlanCovers.BALANCE.value: plan_amount_for(case, PlanCovers.BALANCE),
        },
        "may_plan": user.has_perm(PLAN_PERMISSION) and open_case,
        "settlements": [
            (
                s,
                s.status == SettlementStatus.PENDING
                and user_may_decide_settlement(user, s)
                and s.requested_by_id != user.pk,
            )
            for s in settlements
        ],
        "settlement_open": any(
            s.status in (SettlementStatus.PENDING, SettlementStatus.APPROVED) for s in settlements
        ),
        "settlement_figures": case_settlement_figures(case),
        "may_settle": user.has_perm(REQUEST_PERMISSION) and open_case,
        "may_receipt": user.has_perm(RECEIPT_PERMISSION),
        "case_payments": list(
            Payment.objects.filter(loan__client_id=case.client_id, loan__debtor_id=case.debtor_id)
            .select_related("loan")
            .order_by("-value_date", "-id")[:10]
        ),
        "receipts": list(case.receipts.order_by("-created_at", "-id")[:10]),
    }


@login_required
@require_POST
def plan_new(request: HttpRequest, pk: int) -> HttpResponse:
    case = case_get_for_user(request.user, pk)
    back = reverse("web:case-detail", args=[case.pk]) + "#plans"
    try:
        plan_create(
            actor=request.user,
            case=case,
            installments=parse_installments(request.POST.get("installments", "")),
            consent_note=request.POST.get("consent_note", ""),
            covers=request.POST.get("covers", PlanCovers.OVERDUE),
        )
    except ValidationError as exc:
        messages.error(request, _errors(exc))
    else:
        messages.success(request, _("Repayment plan agreed."))
    return redirect(back)


@login_required
@require_POST
def plan_cancel_view(request: HttpRequest, pk: int, plan_pk: int) -> HttpResponse:
    case = case_get_for_user(request.user, pk)
    plan = get_object_or_404(RepaymentPlan, pk=plan_pk, case=case)
    try:
        plan_cancel(actor=request.user, plan=plan, reason=request.POST.get("reason", ""))
    except ValidationError as exc:
        messages.error(request, _errors(exc))
    else:
        messages.success(request, _("Repayment plan cancelled; collection resumes."))
    return redirect(reverse("web:case-detail", args=[case.pk]) + "#plans")


@login_required
@require_POST
def settlement_new(request: HttpRequest, pk: int) -> HttpResponse:
    case = case_get_for_user(request.user, pk)
    try:
        raw_deadline = request.POST.get("deadline", "")
        try:
            deadline = dt.date.fromisoformat(raw_deadline)
        except ValueError:
            raise ValidationError({"deadline": [_("A date, e.g. 2026-12-31.")]}) from None
        settlement = settlement_request(
            actor=request.user,
            case=case,
            penalty=_amount(request.POST.get("penalty", "")),
            interest=_amount(request.POST.get("interest", "")),
            principal=_amount(request.POST.get("principal", "")),
            deadline=deadline,
            reason=request.POST.get("reason", ""),
        )
    except ValidationError as exc:
        messages.error(request, _errors(exc))
    else:
        messages.success(
            request,
            _("Settlement requested; it waits for %(role)s.")
            % {"role": settlement.get_approver_role_display() or _("a superuser")},
        )
    return redirect(reverse("web:case-detail", args=[case.pk]) + "#plans")


@login_required
@require_POST
def settlement_decide_view(request: HttpRequest, pk: int) -> HttpResponse:
    settlement = get_object_or_404(
        Settlement.objects.filter(case__in=case_visible_queryset(request.user)), pk=pk
    )
    decision = request.POST.get("decision", "")
    if decision not in ("approve", "reject"):
        messages.error(request, _("Approve or reject."))
    else:
        try:
            settlement_decide(
                actor=request.user,
                settlement=settlement,
                approve=decision == "approve",
                note=request.POST.get("note", ""),
            )
        except PermissionDenied as exc:
            messages.error(request, str(exc) or _("You may not decide this settlement."))
        except ValidationError as exc:
            messages.error(request, _errors(exc))
        else:
            messages.success(request, _("Settlement decided."))
    return _back(request, reverse("web:settlement-list"))


@login_required
def settlement_list(request: HttpRequest) -> HttpResponse:
    """Settlements waiting for a decision in the user's scope, marked with whether the
    user may decide each one."""
    user: Any = request.user
    if not (user.has_perm("cases.view_settlement") or user.is_superuser):
        raise PermissionDenied
    pending = list(
        Settlement.objects.filter(
            status=SettlementStatus.PENDING, case__in=case_visible_queryset(user)
        )
        .select_related("case__debtor", "case__client", "requested_by")
        .order_by("requested_at", "id")[:200]
    )
    rows = [
        (s, s.requested_by_id != user.pk and user_may_decide_settlement(user, s)) for s in pending
    ]
    return render(request, "web/settlements.html", {"rows": rows})


@login_required
@require_POST
def receipt_new(request: HttpRequest, pk: int) -> HttpResponse:
    payment = payment_get_for_user(request.user, pk)
    try:
        receipt = receipt_create(actor=request.user, payment=payment)
    except ValidationError as exc:
        messages.error(request, _errors(exc))
        return _back(request, reverse("web:payments"))
    messages.success(request, _("Receipt %(number)s made.") % {"number": receipt.number})
    return _back(request, reverse("web:receipt-download", args=[receipt.pk]))


@login_required
def receipt_download(request: HttpRequest, pk: int) -> HttpResponse:
    receipt = get_object_or_404(Receipt.objects.select_related("payment__loan"), pk=pk)
    payment_get_for_user(request.user, receipt.payment_id)
    response = HttpResponse(bytes(receipt.pdf), content_type="application/pdf")
    response["Content-Disposition"] = f'attachment; filename="{receipt.number}.pdf"'
    response["X-Content-SHA256"] = receipt.sha256
    return response
