"""Forms of the pages."""

from __future__ import annotations

from decimal import Decimal
from pathlib import PurePath
from typing import Any

from django import forms
from django.core.files.uploadedfile import UploadedFile
from django.utils.translation import gettext_lazy as _

from cuishou.cases.choices import Channel, Outcome, Party
from cuishou.portfolio.choices import ConsentChannel
from cuishou.portfolio.models import Client

IMPORT_SUFFIXES = (".xlsx", ".zip")


class ImportUploadForm(forms.Form):
    client = forms.ModelChoiceField(
        label=_("Client (委托方)"),
        queryset=Client.objects.filter(is_active=True).order_by("code"),
        empty_label=None,
    )
    file = forms.FileField(
        label=_("Portfolio file (.xlsx workbook or .zip of CSV files)"),
        widget=forms.ClearableFileInput(attrs={"accept": ",".join(IMPORT_SUFFIXES)}),
    )
    dry_run = forms.BooleanField(
        label=_("Dry run: check the file, write nothing"), required=False, initial=False
    )

    def clean_file(self) -> UploadedFile:
        upload: UploadedFile = self.cleaned_data["file"]
        if PurePath(upload.name or "").suffix.lower() not in IMPORT_SUFFIXES:
            raise forms.ValidationError(
                _("Choose an .xlsx workbook or a .zip of CSV files."), code="suffix"
            )
        return upload


class ContactAttemptForm(forms.Form):
    """Log a contact attempt on a case (and, for a promise, its amount and date). The
    choices come from the case's file; the service checks the rest."""

    channel = forms.ChoiceField(label=_("Channel"), choices=Channel.choices)
    contact_point = forms.ChoiceField(label=_("Number or address used"), required=False)
    party = forms.ChoiceField(label=_("Who was reached"), choices=Party.choices)
    related_person = forms.ChoiceField(label=_("Related person"), required=False)
    outcome = forms.ChoiceField(label=_("Outcome"), choices=Outcome.choices)
    notes = forms.CharField(
        label=_("Notes"), required=False, widget=forms.Textarea(attrs={"rows": 3})
    )
    next_follow_up_at = forms.DateTimeField(
        label=_("Next follow-up"),
        required=False,
        widget=forms.DateTimeInput(attrs={"type": "datetime-local"}, format="%Y-%m-%dT%H:%M"),
        input_formats=["%Y-%m-%dT%H:%M", "%Y-%m-%d %H:%M"],
    )
    promise_amount = forms.DecimalField(
        label=_("Promised amount"), required=False, min_value=Decimal("0.01"), decimal_places=2
    )
    promise_date = forms.DateField(
        label=_("Promised by"),
        required=False,
        widget=forms.DateInput(attrs={"type": "date"}),
    )
    opt_outs = forms.MultipleChoiceField(
        label=_("Opted out of (on this number or address)"),
        choices=ConsentChannel.choices,
        required=False,
        widget=forms.CheckboxSelectMultiple,
    )
    consents = forms.MultipleChoiceField(
        label=_("Consents (again) to"),
        choices=ConsentChannel.choices,
        required=False,
        widget=forms.CheckboxSelectMultiple,
    )
    employer_forbids_calls = forms.BooleanField(
        label=_("The debtor says the employer forbids calls at work"), required=False
    )

    def __init__(
        self,
        *args: Any,
        contact_choices: list[tuple[str, str]],
        person_choices: list[tuple[str, str]],
        **kwargs: Any,
    ) -> None:
        super().__init__(*args, **kwargs)
        for name, choices in (
            ("contact_point", contact_choices),
            ("related_person", person_choices),
        ):
            field = self.fields[name]
            assert isinstance(field, forms.ChoiceField)
            field.choices = [("", "—"), *choices]

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean() or {}
        if cleaned.get("outcome") == Outcome.PTP and not (
            cleaned.get("promise_amount") and cleaned.get("promise_date")
        ):
            self.add_error("promise_amount", _("A promise needs an amount and a date."))
        return cleaned


class DisputeResolveForm(forms.Form):
    resolution = forms.CharField(
        label=_("How it was resolved"), widget=forms.Textarea(attrs={"rows": 2})
    )


class OverrideRequestForm(forms.Form):
    """Ask for a compliance override of one of the case's pack's overridable rules. The
    rule is not limited to the choices here: the service refuses any other, naming it."""

    rule_id = forms.CharField(label=_("Rule"), max_length=64)
    reason = forms.CharField(
        label=_("Why (what the debtor asked for, and when)"),
        max_length=500,
        widget=forms.Textarea(attrs={"rows": 3}),
    )

    def __init__(self, *args: Any, rules: Any = (), **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["rule_id"].widget = forms.Select(
            choices=[(r.id, f"{r.id} — {r.override_when}") for r in rules]
        )
