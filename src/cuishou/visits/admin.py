"""Back office for field visits: field teams are edited here (audited); issues, visit
cases, routes, changes and equipment are shown read-only (they move only through the
services, which check and audit every step); stops, evidence and reports are read-only
too — evidence can never be added, changed or deleted here."""

from __future__ import annotations

from typing import Any

from django.contrib import admin
from django.http import HttpRequest
from django.urls import reverse
from django.utils.html import format_html
from django.utils.translation import gettext_lazy as _

from cuishou.audit.services import audit_record, model_snapshot
from cuishou.core.admin import ReadOnlyAdmin
from cuishou.visits.models import (
    EquipmentLoan,
    Evidence,
    FieldTeam,
    Route,
    RouteChange,
    RouteStop,
    VisitCase,
    VisitIssue,
    VisitReport,
)


@admin.register(FieldTeam)
class FieldTeamAdmin(admin.ModelAdmin):
    list_display = ("name", "lead", "city", "travel_mode", "shift_start", "shift_end", "active")
    list_filter = ("active", "city", "travel_mode")
    search_fields = ("name",)
    filter_horizontal = ("members",)

    def save_model(self, request: HttpRequest, obj: Any, form: Any, change: bool) -> None:
        super().save_model(request, obj, form, change)
        audit_record(
            actor=request.user,
            action="field_team.change" if change else "field_team.create",
            target=obj,
            summary=obj.name,
            after=model_snapshot(obj),
        )


_ReadOnly = ReadOnlyAdmin


@admin.register(VisitIssue)
class VisitIssueAdmin(_ReadOnly):
    list_display = ("number", "team_lead", "issued_at", "declared_count", "status")
    list_filter = ("status",)
    search_fields = ("number",)


@admin.register(VisitCase)
class VisitCaseAdmin(_ReadOnly):
    list_display = ("issue", "case", "purpose", "amount", "status", "team")
    list_filter = ("status", "purpose")
    list_select_related = ("issue", "case", "team")


@admin.register(Route)
class RouteAdmin(_ReadOnly):
    list_display = ("team", "day", "status", "departed_at", "returned_at")
    list_filter = ("status",)
    list_select_related = ("team",)


@admin.register(RouteStop)
class RouteStopAdmin(_ReadOnly):
    list_display = ("route", "seq", "address", "status", "arrived_at", "departed_at", "outcome")
    list_filter = ("status", "outcome")
    list_select_related = ("route__team", "address")


@admin.register(RouteChange)
class RouteChangeAdmin(_ReadOnly):
    list_display = ("route", "kind", "status", "requested_by", "requested_at")
    list_filter = ("kind", "status")


@admin.register(EquipmentLoan)
class EquipmentLoanAdmin(_ReadOnly):
    list_display = ("route", "visitor", "kind", "label", "checked_out_at", "returned_at")
    list_filter = ("kind",)


@admin.register(VisitReport)
class VisitReportAdmin(_ReadOnly):
    list_display = ("route", "submitted_by", "submitted_at", "reviewed_by", "reviewed_at")


@admin.register(Evidence)
class EvidenceAdmin(_ReadOnly):
    """Shown, never added, changed or deleted (a correction is a new item, uploaded
    through the stop pages or the API)."""

    list_display = ("id", "case", "kind", "file_name", "sha256", "uploaded_by", "uploaded_at")
    list_filter = ("kind",)
    list_select_related = ("case", "uploaded_by")
    search_fields = ("sha256", "file_name")
    readonly_fields = ("download",)
    actions = None

    @admin.display(description=_("stored file"))
    def download(self, obj: Evidence) -> str:
        url = reverse("visits:evidence_file", args=[obj.pk])
        return format_html('<a href="{}">{}</a>', url, obj.file_name)
