from __future__ import annotations

from typing import Any

from django.contrib import admin
from django.http import HttpRequest

from cuishou.audit.services import audit_record
from cuishou.compliance.models import ClientRule, ComplianceOverride, ContactHold


@admin.register(ContactHold)
class ContactHoldAdmin(admin.ModelAdmin):
    list_display = ("case", "kind", "starts_on", "ends_on", "reason", "created_by")
    list_filter = ("kind",)
    raw_id_fields = ("case",)
    readonly_fields = ("created_by", "created_at")

    def save_model(self, request: HttpRequest, obj: ContactHold, form: Any, change: bool) -> None:
        if not change:
            obj.created_by = request.user  # type: ignore[assignment]
        super().save_model(request, obj, form, change)
        audit_record(
            actor=request.user,
            action="hold.change" if change else "hold.place",
            target=obj,
            case_id=obj.case_id,
            summary=f"{obj.kind}: {obj.reason}",
            after={"kind": obj.kind, "starts_on": obj.starts_on, "ends_on": obj.ends_on},
        )

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False  # a hold is lifted by giving it an end date, never deleted


@admin.register(ClientRule)
class ClientRuleAdmin(admin.ModelAdmin):
    """A client's stricter settings of its pack's rules (``ClientRule.clean`` refuses a
    looser one, naming the parameter). Every change is audited."""

    list_display = ("client", "rule_id", "params", "note")
    list_filter = ("client",)

    def save_model(self, request: HttpRequest, obj: ClientRule, form: Any, change: bool) -> None:
        super().save_model(request, obj, form, change)
        audit_record(
            actor=request.user,
            action="compliance.client_rule",
            target=obj,
            summary=f"{obj.client} {obj.rule_id}: {obj.note}",
            after={"client_id": obj.client_id, "rule_id": obj.rule_id, "params": obj.params},
        )

    def delete_model(self, request: HttpRequest, obj: ClientRule) -> None:
        audit_record(
            actor=request.user,
            action="compliance.client_rule_removed",
            target=obj,
            summary=f"{obj.client} {obj.rule_id}",
            before={"client_id": obj.client_id, "rule_id": obj.rule_id, "params": obj.params},
        )
        super().delete_model(request, obj)


@admin.register(ComplianceOverride)
class ComplianceOverrideAdmin(admin.ModelAdmin):
    """Read only: overrides are requested and decided on the compliance page, through
    ``compliance.overrides`` (which checks the pack, the second person and the role, and
    audits each step)."""

    list_display = (
        "case",
        "rule_id",
        "status",
        "requested_by",
        "decided_by",
        "valid_from",
        "valid_until",
        "uses",
    )
    list_filter = ("status", "rule_id")
    raw_id_fields = ("case",)

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False
