"""Bank-statement reconciliation pages (finance, ``payments.add_payment``): upload a
statement, see an import's result, and work the manual queue: confirm a candidate (posts
the credit), split one credit across several loans, or ignore a credit that is not a
debtor's payment. Every action goes through ``cuishou.payments.reconcile``."""

from __future__ import annotations

from decimal import Decimal, InvalidOperation

from django import forms
from django.contrib import messages
from django.contrib.auth.decorators import permission_required
from django.core.exceptions import ValidationError
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_http_methods, require_POST

from cuishou.payments.models import StatementImport, StatementLine
from cuishou.payments.reconcile import (
    statement_import,
    statement_line_confirm,
    statement_line_ignore,
    statement_line_split,
)
from cuishou.payments.selectors import (
    statement_imports_recent,
    statement_lines_of,
    statement_queue,
)
from cuishou.portfolio.models import Client, Loan

PERMISSION = "payments.add_payment"
MAX_UPLOAD = 50 * 1024 * 1024


class StatementUploadForm(forms.Form):
    client = forms.ModelChoiceField(
        label=gettext_lazy("Client (委托方)"),
        queryset=Client.objects.filter(is_active=True).order_by("code"),
        empty_label=None,
    )
    file = forms.FileField(
        label=gettext_lazy("Bank statement (.csv or .xlsx)"),
        widget=forms.ClearableFileInput(attrs={"accept": ".csv,.txt,.xlsx"}),
    )
    dry_run = forms.BooleanField(
        label=gettext_lazy("Dry run: match and count, write nothing"), required=False
    )

    def clean_file(self) -> object:
        upload = self.cleaned_data["file"]
        if upload.size > MAX_UPLOAD:
            raise ValidationError(_("The file is larger than 50 MB."))
        return upload


@permission_required(PERMISSION, raise_exception=True)
@require_http_methods(["GET", "POST"])
def statement_upload(request: HttpRequest) -> HttpResponse:
    form = StatementUploadForm(request.POST or None, request.FILES or None)
    if request.method == "POST" and form.is_valid():
        upload = form.cleaned_data["file"]
        result = statement_import(
            actor=request.user,
            client=form.cleaned_data["client"],
            data=upload.read(),
            file_name=upload.name,
            dry_run=form.cleaned_data["dry_run"],
        )
        if result.statement is not None:
            return redirect("web:statement-detail", pk=result.statement.pk)
        return render(
            request,
            "web/reconcile_detail.html",
            {
                "run": None,
                "dry_run": True,
                "summary": result.summary,
                "errors": [str(e) for e in result.errors],
                "lines": [],
            },
            status=200 if result.ok else 422,
        )
    return render(
        request,
        "web/reconcile_upload.html",
        {"form": form, "imports": statement_imports_recent()},
        status=422 if request.method == "POST" else 200,
    )


@permission_required(PERMISSION, raise_exception=True)
def statement_detail(request: HttpRequest, pk: int) -> HttpResponse:
    run = get_object_or_404(StatementImport.objects.select_related("client"), pk=pk)
    return render(
        request,
        "web/reconcile_detail.html",
        {
            "run": run,
            "dry_run": False,
            "summary": run.counts,
            "errors": run.report.splitlines() if run.report else [],
            "lines": statement_lines_of(run),
        },
    )


@permission_required(PERMISSION, raise_exception=True)
def statement_queue_view(request: HttpRequest) -> HttpResponse:
    return render(request, "web/reconcile_queue.html", {"lines": statement_queue()})


def _done(request: HttpRequest, text: str) -> HttpResponse:
    messages.success(request, text)
    return redirect("web:statement-queue")


def _failed(request: HttpRequest, exc: ValidationError) -> HttpResponse:
    messages.error(request, " ".join(exc.messages))
    return redirect("web:statement-queue")


def _loan_id(line: StatementLine, request: HttpRequest) -> int | None:
    """The loan chosen: a candidate's id, or a contract number typed in."""
    chosen = request.POST.get("loan", "")
    if chosen.isdigit():
        return int(chosen)
    contract = request.POST.get("contract_no", "").strip()
    if contract:
        return (
            Loan.objects.filter(client_id=line.client_id, contract_no=contract)
            .values_list("pk", flat=True)
            .first()
        )
    return None


@permission_required(PERMISSION, raise_exception=True)
@require_POST
def statement_line_confirm_view(request: HttpRequest, pk: int) -> HttpResponse:
    line = get_object_or_404(StatementLine, pk=pk)
    loan_id = _loan_id(line, request)
    if loan_id is None:
        return _failed(request, ValidationError(_("Choose a candidate or type a contract number.")))
    try:
        payment = statement_line_confirm(actor=request.user, line=line, loan_id=loan_id)
    except ValidationError as exc:
        return _failed(request, exc)
    return _done(
        request,
        _("Credit %(txn)s confirmed: payment %(id)s posted.")
        % {"txn": line.txn_id, "id": payment.pk},
    )


def _split_parts(line: StatementLine, text: str) -> list[tuple[int, Decimal]]:
    """Lines of ``CONTRACT_NO AMOUNT``."""
    parts: list[tuple[int, Decimal]] = []
    errors: list[str] = []
    for n, row in enumerate(text.splitlines(), start=1):
        if not row.strip():
            continue
        pieces = row.replace(",", " ").replace("，", " ").split()
        if len(pieces) != 2:
            errors.append(_("line %(n)d: write a contract number and an amount") % {"n": n})
            continue
        contract, amount_text = pieces
        loan_id = (
            Loan.objects.filter(client_id=line.client_id, contract_no=contract)
            .values_list("pk", flat=True)
            .first()
        )
        if loan_id is None:
            errors.append(
                _("line %(n)d: no contract %(c)s for this client") % {"n": n, "c": contract}
            )
            continue
        try:
            amount = Decimal(amount_text)
        except InvalidOperation:
            errors.append(_("line %(n)d: not an amount: %(a)s") % {"n": n, "a": amount_text})
            continue
        parts.append((loan_id, amount))
    if errors:
        raise ValidationError(errors)
    return parts


@permission_required(PERMISSION, raise_exception=True)
@require_POST
def statement_line_split_view(request: HttpRequest, pk: int) -> HttpResponse:
    line = get_object_or_404(StatementLine, pk=pk)
    try:
        parts = _split_parts(line, request.POST.get("parts", ""))
        payments = statement_line_split(actor=request.user, line=line, parts=parts)
    except ValidationError as exc:
        return _failed(request, exc)
    return _done(
        request,
        _("Credit %(txn)s split into %(n)d payments.") % {"txn": line.txn_id, "n": len(payments)},
    )


@permission_required(PERMISSION, raise_exception=True)
@require_POST
def statement_line_ignore_view(request: HttpRequest, pk: int) -> HttpResponse:
    line = get_object_or_404(StatementLine, pk=pk)
    try:
        statement_line_ignore(actor=request.user, line=line, reason=request.POST.get("reason", ""))
    except ValidationError as exc:
        return _failed(request, exc)
    return _done(request, _("Credit %(txn)s ignored.") % {"txn": line.txn_id})
