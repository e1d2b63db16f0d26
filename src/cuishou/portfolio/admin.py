"""Back-office admin for the portfolio. ID numbers and phones are masked in lists."""

from __future__ import annotations

from typing import Any

from django.contrib import admin
from django.http import HttpRequest
from django.utils.translation import gettext_lazy as _

from cuishou.audit.services import audit_record
from cuishou.cases.models import StageRule
from cuishou.core.masking import mask_contact, mask_id_number, mask_phone
from cuishou.portfolio.models import (
    Address,
    Client,
    ContactConsent,
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
    list_display = ["code", "name", "policy_pack", "first_party_creditor", "is_active"]
    list_filter = ["policy_pack", "first_party_creditor", "is_active"]
    search_fields = ["code", "name"]

    def save_model(self, request: HttpRequest, obj: Client, form: Any, change: bool) -> None:
        super().save_model(request, obj, form, change)
        if "first_party_creditor" in form.changed_data:
            audit_record(
                actor=request.user,
                action="client.first_party",
                target=obj,
                summary=f"{obj.code}: "
                + ("first-party creditor" if obj.first_party_creditor else "debt collector"),
                before={"first_party_creditor": not obj.first_party_creditor},
                after={"first_party_creditor": obj.first_party_creditor},
            )


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
    fields = ["kind", "value", "related_person", "status", "source", "is_primary", "is_workplace"]


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

    def save_model(self, request: HttpRequest, obj: Debtor, form: Any, change: bool) -> None:
        super().save_model(request, obj, form, change)
        if "employer_forbids_calls_since" in form.changed_data:
            since = obj.employer_forbids_calls_since
            audit_record(
                actor=request.user,
                action="debtor.employer_forbids",
                target=obj,
                summary="employer forbids calls at work"
                if since
                else "employer allows calls at work",
                before={
                    "employer_forbids_calls_since": form.initial.get("employer_forbids_calls_since")
                },
                after={"employer_forbids_calls_since": since},
            )

    def save_formset(self, request: HttpRequest, form: Any, formset: Any, change: bool) -> None:
        marked = [
            f.instance
            for f in formset.forms
            if formset.model is ContactPoint
            and f.instance.pk is not None
            and "is_workplace" in f.changed_data
        ]
        super().save_formset(request, form, formset, change)
        for point in marked:
            audit_record(
                actor=request.user,
                action="contact.workplace",
                target=point,
                summary="workplace" if point.is_workplace else "not workplace",
                before={"is_workplace": not point.is_workplace},
                after={"is_workplace": point.is_workplace},
            )

    @admin.display(description=_("ID number"))
    def masked_id_number(self, obj: Debtor) -> str:
        return mask_id_number(obj.id_number)

    @admin.display(description=_("mobile"))
    def masked_mobile(self, obj: Debtor) -> str:
        return mask_phone(obj.mobile)


@admin.register(ContactConsent)
class ContactConsentAdmin(admin.ModelAdmin):
    """The consent history per number or address and channel: consent given, opt-outs.
    Entries are added (audited), never changed or deleted; the latest one decides."""

    list_display = ["masked_point", "channel", "state", "at", "source", "recorded_by", "note"]
    list_filter = ["channel", "state", "source"]
    raw_id_fields = ["contact_point"]
    readonly_fields = ["recorded_by", "recorded_at"]
    list_select_related = ["contact_point", "recorded_by"]

    @admin.display(description=_("contact point"))
    def masked_point(self, obj: ContactConsent) -> str:
        point = obj.contact_point
        return f"#{point.pk} {mask_contact(point.kind, point.value)}"

    def save_model(
        self, request: HttpRequest, obj: ContactConsent, form: Any, change: bool
    ) -> None:
        from cuishou.portfolio.services import contact_consent_audit

        obj.recorded_by = request.user  # type: ignore[assignment]
        super().save_model(request, obj, form, change)
        contact_consent_audit(actor=request.user, entry=obj, case_id=None)

    def has_change_permission(self, request: HttpRequest, obj: object = None) -> bool:
        return False  # history: a new entry corrects an old one

    def has_delete_permission(self, request: HttpRequest, obj: object = None) -> bool:
        return False


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

    def save_model(self, request: HttpRequest, obj: Loan, form: Any, change: bool) -> None:
        super().save_model(request, obj, form, change)
        if change and "limitation_on" in form.changed_data:  # the time-barred rules read it
            audit_record(
                actor=request.user,
                action="loan.update",
                target=obj,
                summary=f"{obj.contract_no}: limitation date",
                before={"limitation_on": form.initial.get("limitation_on")},
                after={"limitation_on": obj.limitation_on},
            )

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
