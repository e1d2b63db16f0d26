"""Forms of the pages."""

from __future__ import annotations

from pathlib import PurePath

from django import forms
from django.core.files.uploadedfile import UploadedFile
from django.utils.translation import gettext_lazy as _

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
