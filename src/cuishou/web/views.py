"""Pages: the case list, the case file, imports. Thin: validate, call a selector or
service, render. htmx requests get the changed fragment only."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from django.contrib.auth.decorators import login_required, permission_required
from django.core.exceptions import PermissionDenied
from django.core.paginator import Paginator
from django.http import HttpRequest, HttpResponse, HttpResponseBadRequest
from django.shortcuts import get_object_or_404, redirect, render
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_http_methods, require_POST
from django_htmx.middleware import HtmxDetails

from cuishou.cases.filtersets import CaseFilterSet
from cuishou.cases.models import Case
from cuishou.cases.selectors import (
    case_file_get,
    case_get_for_user,
    case_visible_queryset,
    user_may_reveal_pii,
)
from cuishou.cases.services import case_reveal_pii
from cuishou.core.masking import mask_contact, mask_id_number, mask_phone
from cuishou.portfolio.models import ContactPoint, ImportRun
from cuishou.web.forms import ImportUploadForm
from cuishou.web.selectors import (
    TIMELINE_LIMIT,
    case_contact_rows,
    case_list_totals,
    case_timeline,
    import_runs,
    user_may_see_imports,
)


class HtmxHttpRequest(HttpRequest):
    """A request that went through django-htmx's middleware."""

    htmx: HtmxDetails


CASES_PER_PAGE = 50
IMPORTS_PER_PAGE = 50


@login_required
def home(request: HttpRequest) -> HttpResponse:
    return redirect("web:case-list")


# --- case list ---------------------------------------------------------------


@login_required
def case_list(request: HtmxHttpRequest) -> HttpResponse:
    visible = case_visible_queryset(request.user).select_related("client", "debtor", "assignee")
    filterset = CaseFilterSet(request.GET, queryset=visible, request=request)
    # A filter that does not validate (e.g. an assignee outside the user's scope) shows
    # its error and no rows, rather than silently dropping the filter.
    cases = filterset.qs if filterset.is_valid() else visible.none()
    totals = case_list_totals(cases)
    paginator = Paginator(cases, CASES_PER_PAGE)
    # The aggregate above already counted the rows; spare the paginator its own COUNT.
    paginator.__dict__["count"] = totals["n"]
    page = paginator.get_page(request.GET.get("page"))
    more_filters_used = any(
        request.GET.get(name) for name in filterset.filters if name not in ("q", "bucket")
    )
    context = {
        "filterset": filterset,
        "page": page,
        "totals": totals,
        "more_filters_used": more_filters_used or bool(filterset.errors),
    }
    if request.htmx.target == "case-results":
        return render(request, "web/case_list.html#results", context)
    return render(request, "web/case_list.html", context)


# --- case file -----------------------------------------------------------------


@dataclass(frozen=True)
class PiiItem:
    """One personal-data value on the case page: masked, or shown after a reveal."""

    key: str
    field: str
    shown: str
    revealed: bool
    contact_point_id: int | None = None


def _case_context(request: HttpRequest, case: Case, revealed: dict[str, str]) -> dict[str, Any]:
    debtor = case.debtor
    file = case_file_get(case)
    contact_rows = []
    for cp, person in case_contact_rows(file):
        key = f"contact-{cp.pk}"
        item = PiiItem(
            key=key,
            field="contact",
            shown=revealed.get(key) or mask_contact(cp.kind, cp.value),
            revealed=key in revealed,
            contact_point_id=cp.pk,
        )
        contact_rows.append((cp, person, item))
    debtor_pii = {
        field: PiiItem(
            key=field,
            field=field,
            shown=revealed.get(field) or mask(getattr(debtor, field)),
            revealed=field in revealed,
        )
        for field, mask in (("id_number", mask_id_number), ("mobile", mask_phone))
    }
    return {
        "case": case,
        "debtor": debtor,
        "debtor_pii": debtor_pii,
        "loans": file.loans,
        "contact_rows": contact_rows,
        "related_persons": file.related_persons,
        "addresses": file.addresses,
        "timeline": case_timeline(case, loan_ids=[loan.pk for loan in file.loans]),
        "timeline_limit": TIMELINE_LIMIT,
        "may_reveal": user_may_reveal_pii(request.user),
    }


@login_required
def case_detail(request: HtmxHttpRequest, pk: int) -> HttpResponse:
    case = case_get_for_user(request.user, pk)
    if request.htmx.target == "timeline":
        context = {"timeline": case_timeline(case), "timeline_limit": TIMELINE_LIMIT}
        return render(request, "web/case_detail.html#timeline", context)
    return render(request, "web/case_detail.html", _case_context(request, case, {}))


@login_required
@require_POST
def case_reveal(request: HtmxHttpRequest, pk: int) -> HttpResponse:
    """Show one unmasked value (audited). 403 for a user without ``cases.reveal_pii``."""
    case = case_get_for_user(request.user, pk)
    if not user_may_reveal_pii(request.user):
        raise PermissionDenied
    field = request.POST.get("field", "")
    contact_point = None
    key = field
    if field == "contact":
        raw_id = request.POST.get("contact_point", "")
        if not raw_id.isdigit():
            return HttpResponseBadRequest(_("Which contact point?"))
        contact_point = get_object_or_404(ContactPoint, pk=int(raw_id), debtor_id=case.debtor_id)
        key = f"contact-{contact_point.pk}"
    elif field not in ("id_number", "mobile"):
        return HttpResponseBadRequest(_("Unknown field."))
    value = case_reveal_pii(actor=request.user, case=case, field=field, contact_point=contact_point)
    if request.htmx:
        item = PiiItem(
            key=key,
            field=field,
            shown=value,
            revealed=True,
            contact_point_id=contact_point.pk if contact_point else None,
        )
        response = render(request, "web/_pii.html", {"item": item, "case": case})
        response["HX-Trigger"] = "pii-revealed"
        return response
    return render(request, "web/case_detail.html", _case_context(request, case, {key: value}))


# --- imports -------------------------------------------------------------------


# The importer's counts, in reading order, with their labels; other keys are shown as named.
IMPORT_COUNT_LABELS = {
    "rows_loans": gettext_lazy("Loan rows read"),
    "rows_installments": gettext_lazy("Installment rows read"),
    "rows_contacts": gettext_lazy("Contact rows read"),
    "rows_addresses": gettext_lazy("Address rows read"),
    "debtors_created": gettext_lazy("Debtors created"),
    "debtors_updated": gettext_lazy("Debtors updated"),
    "loans_created": gettext_lazy("Loans created"),
    "loans_updated": gettext_lazy("Loans updated"),
    "installments_written": gettext_lazy("Installments written"),
    "installments_removed": gettext_lazy("Installments removed"),
    "related_persons_created": gettext_lazy("Related persons created"),
    "contact_points_written": gettext_lazy("Contact points written"),
    "addresses_written": gettext_lazy("Addresses written"),
    "products_created": gettext_lazy("Products created (need review)"),
}


def _import_counts(counts: dict[str, Any]) -> tuple[list[tuple[str, Any]], list[str]]:
    """(label, number) rows of an ImportRun's counts, and the names of new products."""
    numbers = {k: v for k, v in counts.items() if isinstance(v, int)}
    rows = [
        (str(label), numbers.pop(key))
        for key, label in IMPORT_COUNT_LABELS.items()
        if key in numbers
    ]
    rows += sorted(numbers.items())
    new_products = counts.get("new_products") or []
    return rows, [str(p) for p in new_products] if isinstance(new_products, list) else []


def _import_context(run: ImportRun, report: str) -> dict[str, Any]:
    count_rows, new_products = _import_counts(run.counts or {})
    return {
        "run": run,
        "report_lines": report.splitlines(),
        "count_rows": count_rows,
        "new_products": new_products,
    }


@login_required
def import_list(request: HttpRequest) -> HttpResponse:
    if not user_may_see_imports(request.user):
        raise PermissionDenied
    page = Paginator(import_runs(), IMPORTS_PER_PAGE).get_page(request.GET.get("page"))
    return render(request, "web/import_list.html", {"page": page})


@login_required
@permission_required("portfolio.add_importrun", raise_exception=True)
@require_http_methods(["GET", "POST"])
def import_upload(request: HttpRequest) -> HttpResponse:
    form = ImportUploadForm(request.POST or None, request.FILES or None)
    if request.method == "POST" and form.is_valid():
        from cuishou.portfolio.importer import import_portfolio

        upload = form.cleaned_data["file"]
        result = import_portfolio(
            client=form.cleaned_data["client"],
            source=upload,
            file_name=upload.name,
            actor=request.user,
            dry_run=form.cleaned_data["dry_run"],
        )
        if result.run.pk is not None:
            return redirect("web:import-detail", pk=result.run.pk)
        # The importer kept no run record: show the outcome straight away.
        return render(
            request, "web/import_detail.html", _import_context(result.run, result.report_text())
        )
    return render(request, "web/import_upload.html", {"form": form})


@login_required
def import_detail(request: HttpRequest, pk: int) -> HttpResponse:
    if not user_may_see_imports(request.user):
        raise PermissionDenied
    run = get_object_or_404(import_runs(), pk=pk)
    return render(request, "web/import_detail.html", _import_context(run, run.report))


@login_required
def import_report(request: HttpRequest, pk: int) -> HttpResponse:
    if not user_may_see_imports(request.user):
        raise PermissionDenied
    run = get_object_or_404(ImportRun, pk=pk)
    response = HttpResponse(run.report, content_type="text/plain; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="import-{run.pk}-report.txt"'
    return response
