"""Users (with their role groups, team and client), teams and API tokens in the admin."""

from __future__ import annotations

from typing import Any

from django.contrib import admin, messages
from django.contrib.auth.admin import UserAdmin as BaseUserAdmin
from django.db.models import QuerySet
from django.http import HttpRequest
from django.utils.translation import gettext_lazy as _

from cuishou.accounts.models import ApiToken, Team, User
from cuishou.accounts.services import api_token_revoke


@admin.register(User)
class UserAdmin(BaseUserAdmin):
    list_display = ("username", "display_name", "role_names", "team", "client", "is_active")
    list_filter = ("groups", "team", "client", "is_active", "is_staff")
    search_fields = ("username", "display_name", "first_name", "last_name", "email")
    list_select_related = ("team", "client")
    autocomplete_fields = ("team",)
    raw_id_fields = ("client",)
    fieldsets = (
        *(BaseUserAdmin.fieldsets or ()),
        (_("cuishou"), {"fields": ("display_name", "team", "client", "language")}),
    )

    def get_queryset(self, request: HttpRequest) -> QuerySet[User]:
        return super().get_queryset(request).prefetch_related("groups")

    @admin.display(description=_("roles"))
    def role_names(self, obj: User) -> str:
        return ", ".join(sorted(g.name for g in obj.groups.all()))


@admin.register(Team)
class TeamAdmin(admin.ModelAdmin):
    list_display = ("name", "lead")
    search_fields = ("name",)
    raw_id_fields = ("lead",)
    list_select_related = ("lead",)


@admin.register(ApiToken)
class ApiTokenAdmin(admin.ModelAdmin):
    """Tokens are listed and revoked here; they are created with `cuishou token create`
    (the key is shown once there)."""

    list_display = ("prefix", "name", "user", "created_at", "last_used_at", "revoked")
    list_filter = ("revoked",)
    search_fields = ("prefix", "name", "user__username")
    list_select_related = ("user",)
    readonly_fields = ("user", "name", "prefix", "created_at", "last_used_at", "revoked")
    exclude = ("key_hash",)
    actions = ["revoke"]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    @admin.action(description=_("Revoke the selected tokens"), permissions=["delete"])
    def revoke(self, request: HttpRequest, queryset: QuerySet[ApiToken]) -> None:
        count = 0
        for token in queryset.select_related("user"):
            api_token_revoke(actor=request.user, token=token)
            count += 1
        self.message_user(
            request, _("%(count)d tokens revoked") % {"count": count}, messages.SUCCESS
        )
