"""Payments in the admin: read-only. Payments are posted through ``payment_post`` and
reversed through ``reversal_request`` and ``reversal_approve`` (two people), which
allocate, audit and mark history."""

from __future__ import annotations

from typing import Any

from django.contrib import admin
from django.http import HttpRequest

from cuishou.payments.models import Payment, PaymentAllocation, PaymentReversal


class _ReadOnly:
    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


class PaymentAllocationInline(_ReadOnly, admin.TabularInline):
    model = PaymentAllocation
    extra = 0
    fields = readonly_fields = ("component", "installment", "amount", "value_date", "is_reversed")
    can_delete = False
    show_change_link = False


@admin.register(Payment)
class PaymentAdmin(_ReadOnly, admin.ModelAdmin):
    list_display = [
        "id",
        "loan",
        "amount",
        "value_date",
        "channel",
        "status",
        "posted_at",
        "posted_by",
    ]
    list_filter = ["status", "channel"]
    search_fields = ["=id", "loan__contract_no", "reference"]
    date_hierarchy = "value_date"
    list_select_related = ["loan", "posted_by"]
    readonly_fields = [f.name for f in Payment._meta.fields]
    inlines = [PaymentAllocationInline]
    actions = None


@admin.register(PaymentReversal)
class PaymentReversalAdmin(_ReadOnly, admin.ModelAdmin):
    """Asked for and decided on the payments page or through the API (two people)."""

    list_display = ["id", "payment", "status", "reason", "requested_label", "decided_by"]
    list_filter = ["status"]
    search_fields = ["=payment__id", "payment__loan__contract_no"]
    list_select_related = ["payment", "decided_by"]
    readonly_fields = [f.name for f in PaymentReversal._meta.fields]
    actions = None
