"""Cases in the admin (back office). Assignment changes go through ``case_assign``."""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib import admin
from django.db.models import QuerySet
from django.http import HttpRequest
from django.utils.translation import gettext_lazy as _

from cuishou.audit.services import audit_record
from cuishou.cases.models import (
    Case,
    CollectorProfile,
    ContactAttempt,
    Dispute,
    PlanInstallment,
    PromiseInstalment,
    PromiseToPay,
    Receipt,
    RepaymentPlan,
    Settlement,
    SettlementLimit,
    Strategy,
    WaiverLine,
)
from cuishou.cases.selectors import case_visible_queryset
from cuishou.cases.services import case_assign, case_stage_set


class CaseAdminForm(forms.ModelForm):
    stage_reason = forms.CharField(
        label=_("Why the stage is set by hand"),
        required=False,
        max_length=200,
        help_text=_("Required when you change the stage. The nightly run keeps it as a floor."),
    )

    class Meta:
        model = Case
        fields = ["assignee", "stage"]

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean() or {}
        if "stage" in self.changed_data and not (cleaned.get("stage_reason") or "").strip():
            self.add_error("stage_reason", _("Say why the stage is set by hand."))
        return cleaned


@admin.register(Case)
class CaseAdmin(admin.ModelAdmin):
    form = CaseAdminForm
    list_display = (
        "id",
        "client",
        "debtor",
        "stage",
        "status",
        "bucket",
        "dpd",
        "balance",
        "assignee",
        "opened_on",
    )
    list_filter = ("status", "stage", "bucket", "client")
    search_fields = ("=id", "debtor__name", "client__code", "assignee__username")
    raw_id_fields = ("client", "debtor", "assignee")
    list_select_related = ("client", "debtor", "assignee")
    # Only the assignee and the stage are edited here (through ``case_assign`` and
    # ``case_stage_set``, audited). Status changes through its own services.
    fields = (
        "client",
        "debtor",
        "assignee",
        "stage",
        "stage_reason",
        "stage_set_by_hand",
        "stage_set_by",
        "stage_set_at",
        "status",
        "status_reason",
        "bucket",
        "dpd",
        "overdue_amount",
        "penalty",
        "balance",
        "computed_as_of",
        "opened_on",
        "closed_on",
        "created_at",
        "updated_at",
    )
    readonly_fields = tuple(f for f in fields if f not in {"assignee", "stage", "stage_reason"})

    def get_queryset(self, request: HttpRequest) -> QuerySet[Case]:
        # The admin shows the same scope as pages and API.
        return case_visible_queryset(request.user).select_related("client", "debtor", "assignee")

    def has_add_permission(self, request: HttpRequest) -> bool:
        # Cases are opened by the nightly run from the portfolio, not by hand.
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def save_model(self, request: HttpRequest, obj: Case, form: Any, change: bool) -> None:
        if "stage" in form.changed_data:
            original = Case.objects.get(pk=obj.pk)
            case_stage_set(
                actor=request.user,
                case=original,
                stage=obj.stage,
                reason=form.cleaned_data["stage_reason"],
            )
        if "assignee" in form.changed_data:
            case_assign(
                actor=request.user, case=obj, assignee=obj.assignee, reason="changed in admin"
            )


@admin.register(CollectorProfile)
class CollectorProfileAdmin(admin.ModelAdmin):
    list_display = ("user", "capacity", "active")
    list_filter = ("active",)
    search_fields = ("user__username", "user__display_name")
    filter_horizontal = ("clients",)


class _ReadOnly(admin.ModelAdmin):
    """Written only through the workbench's services (each audited)."""

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


@admin.register(ContactAttempt)
class ContactAttemptAdmin(_ReadOnly):
    list_display = ("attempted_at", "case", "channel", "party", "outcome", "actor")
    list_filter = ("channel", "outcome")
    raw_id_fields = ("case",)


class PromiseInstalmentInline(admin.TabularInline):
    model = PromiseInstalment
    extra = 0
    can_delete = False
    readonly_fields = ("seq", "due_on", "amount", "status", "paid_amount")


@admin.register(PromiseToPay)
class PromiseToPayAdmin(_ReadOnly):
    list_display = ("case", "promised_on", "amount", "status", "decided_as_of")
    list_filter = ("status",)
    inlines = [PromiseInstalmentInline]


@admin.register(Dispute)
class DisputeAdmin(_ReadOnly):
    list_display = ("case", "opened_at", "status", "resolved_at")
    list_filter = ("status",)


@admin.register(Strategy)
class StrategyAdmin(admin.ModelAdmin):
    list_display = (
        "name",
        "client",
        "position",
        "active",
        "target",
        "challenger_of",
        "challenger_share",
    )
    list_filter = ("client", "active", "target")
    filter_horizontal = ("products",)


class PlanInstallmentInline(admin.TabularInline):
    model = PlanInstallment
    extra = 0
    can_delete = False
    readonly_fields = ("seq", "due_on", "amount", "status", "paid_amount")


@admin.register(RepaymentPlan)
class RepaymentPlanAdmin(_ReadOnly):
    list_display = ("case", "agreed_on", "amount", "status", "decided_as_of")
    list_filter = ("status",)
    inlines = [PlanInstallmentInline]


class WaiverLineInline(admin.TabularInline):
    model = WaiverLine
    extra = 0
    can_delete = False
    readonly_fields = ("loan", "installment", "component", "amount", "value_date", "is_reversed")


@admin.register(Settlement)
class SettlementAdmin(_ReadOnly):
    list_display = ("case", "settled_amount", "discount", "deadline", "status", "approver_role")
    list_filter = ("status", "approver_role")
    inlines = [WaiverLineInline]


@admin.register(Receipt)
class ReceiptAdmin(_ReadOnly):
    list_display = ("number", "payment", "case", "created_at", "sha256")
    exclude = ("pdf",)


@admin.register(SettlementLimit)
class SettlementLimitAdmin(admin.ModelAdmin):
    """Who approves how large a discount; each change is audited."""

    list_display = ("role", "rank", "max_percent", "max_amount")
    ordering = ("rank",)

    def save_model(self, request: HttpRequest, obj: Any, form: Any, change: bool) -> None:
        super().save_model(request, obj, form, change)
        audit_record(
            actor=request.user,
            action="settlement_limit.change" if change else "settlement_limit.add",
            target=obj,
            summary=str(obj),
            after={
                "role": obj.role,
                "rank": obj.rank,
                "max_percent": obj.max_percent,
                "max_amount": obj.max_amount,
            },
        )

    def delete_model(self, request: HttpRequest, obj: Any) -> None:
        audit_record(
            actor=request.user,
            action="settlement_limit.delete",
            target=obj,
            summary=str(obj),
            before={"role": obj.role, "max_percent": obj.max_percent},
        )
        super().delete_model(request, obj)
