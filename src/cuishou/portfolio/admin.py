"""Back-office admin for the portfolio. ID numbers and phones are masked in lists."""

from __future__ import annotations

from django.contrib import admin
from django.http import HttpRequest
from django.utils.translation import gettext_lazy as _

from cuishou.cases.models import StageRule
from cuishou.core.masking import mask_id_number, mask_phone
from cuishou.portfolio.models import (
    Address,
    Client,
    ContactPoint,
    Debtor,
    ImportRun,
    Installment,
    Loan,
    Product,
    RelatedPerson,
)


class StageRuleInline(admin.TabularInline):
    """The client's strategy table: the stage for each bucket (empty: the default ladder)."""

    model = StageRule
    extra = 0
    fields = ["bucket", "stage"]


@admin.register(Client)
class ClientAdmin(admin.ModelAdmin):
    inlines = [StageRuleInline]
    list_display = ["code", "name", "policy_pack", "is_active"]
    list_filter = ["policy_pack", "is_active"]
    search_fields = ["code", "name"]


@admin.register(Product)
class ProductAdmin(admin.ModelAdmin):
    list_display = [
        "name",
        "client",
        "annual_rate",
        "penalty_annual_rate",
        "waterfall",
        "needs_review",
    ]
    list_filter = ["needs_review", "client"]
    search_fields = ["name", "client__code"]
    list_select_related = ["client"]


class ContactPointInline(admin.TabularInline):
    model = ContactPoint
    extra = 0
    fields = ["kind", "value", "related_person", "status", "source", "is_primary"]


class RelatedPersonInline(admin.TabularInline):
    model = RelatedPerson
    extra = 0
    fields = ["name", "relation", "refused_contact", "source"]


class AddressInline(admin.TabularInline):
    model = Address
    extra = 0
    fields = ["kind", "text", "province", "city", "district", "lat", "lon", "is_valid"]


@admin.register(Debtor)
class DebtorAdmin(admin.ModelAdmin):
    list_display = ["name", "masked_id_number", "masked_mobile", "created_at"]
    search_fields = ["name", "=id_number", "=mobile"]
    inlines = [RelatedPersonInline, ContactPointInline, AddressInline]

    @admin.display(description=_("ID number"))
    def masked_id_number(self, obj: Debtor) -> str:
        return mask_id_number(obj.id_number)

    @admin.display(description=_("mobile"))
    def masked_mobile(self, obj: Debtor) -> str:
        return mask_phone(obj.mobile)


class InstallmentInline(admin.TabularInline):
    model = Installment
    extra = 0


@admin.register(Loan)
class LoanAdmin(admin.ModelAdmin):
    list_display = [
        "contract_no",
        "client",
        "debtor",
        "masked_id_number",
        "product",
        "principal",
        "dpd",
        "bucket",
        "balance",
        "status",
    ]
    list_filter = ["client", "bucket", "status", "product"]
    search_fields = ["contract_no", "debtor__name", "=debtor__id_number"]
    list_select_related = ["client", "debtor", "product"]
    raw_id_fields = ["debtor", "last_import"]
    inlines = [InstallmentInline]

    @admin.display(description=_("ID number"))
    def masked_id_number(self, obj: Loan) -> str:
        return mask_id_number(obj.debtor.id_number)


@admin.register(ImportRun)
class ImportRunAdmin(admin.ModelAdmin):
    list_display = [
        "started_at",
        "client",
        "file_name",
        "status",
        "dry_run",
        "error_count",
        "actor_label",
    ]
    list_filter = ["status", "dry_run", "client"]
    search_fields = ["file_name", "file_sha256", "actor_label"]
    list_select_related = ["client"]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: object = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: object = None) -> bool:
        return False
