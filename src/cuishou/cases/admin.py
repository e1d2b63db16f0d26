"""Cases in the admin (back office). Assignment changes go through ``case_assign``."""

from __future__ import annotations

from typing import Any

from django.contrib import admin
from django.db.models import QuerySet
from django.http import HttpRequest

from cuishou.cases.models import Case
from cuishou.cases.selectors import case_visible_queryset
from cuishou.cases.services import case_assign


@admin.register(Case)
class CaseAdmin(admin.ModelAdmin):
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
    # Only the assignee is edited here (through ``case_assign``, audited). Stage and status
    # change through their own services, which know the allowed transitions.
    fields = (
        "client",
        "debtor",
        "assignee",
        "stage",
        "stage_set_by_hand",
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
    readonly_fields = tuple(f for f in fields if f != "assignee")

    def get_queryset(self, request: HttpRequest) -> QuerySet[Case]:
        # The admin shows the same scope as pages and API.
        return case_visible_queryset(request.user).select_related("client", "debtor", "assignee")

    def has_add_permission(self, request: HttpRequest) -> bool:
        # Cases are opened by the nightly run from the portfolio, not by hand.
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def save_model(self, request: HttpRequest, obj: Case, form: Any, change: bool) -> None:
        if "assignee" in form.changed_data:
            case_assign(
                actor=request.user, case=obj, assignee=obj.assignee, reason="changed in admin"
            )
