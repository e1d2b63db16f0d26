"""Pages: the case list, the case file, imports. Thin: validate, call a selector or
service, render. htmx requests get the changed fragment only."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from django.contrib import messages
from django.contrib.auth.decorators import login_required, permission_required
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.paginator import Paginator
from django.http import HttpRequest, HttpResponse, HttpResponseBadRequest
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_http_methods, require_POST
from django_htmx.middleware import HtmxDetails

from cuishou.accounts.models import Team, User
from cuishou.cases.allocation import allocation_plan, case_reassign, cases_allocate
from cuishou.cases.choices import (
    OPEN_STATUSES,
    Closure,
    DisputeStatus,
    Outcome,
    PromiseStatus,
    RequestStatus,
    Stage,
)
from cuishou.cases.closure import (
    approval_decide,
    case_close,
    case_deescalate_request,
    case_escalate,
    case_write_off_request,
)
from cuishou.cases.contacts import contact_attempt_log, dispute_resolve
from cuishou.cases.filtersets import CaseFilterSet
from cuishou.cases.models import ApprovalRequest, Case, Dispute
from cuishou.cases.queue import case_next_actions, queue_counts, queue_for
from cuishou.cases.selectors import (
    case_file_get,
    case_file_members,
    case_get_for_user,
    case_visible_queryset,
    user_may_contact,
    user_may_reveal_pii,
    user_sees_all_cases,
)
from cuishou.cases.services import case_reveal_pii
from cuishou.compliance.check import ContactBlocked
from cuishou.compliance.models import ComplianceOverride
from cuishou.compliance.overrides import (
    override_decide,
    override_request,
    user_may_decide_override,
    user_may_request_override,
)
from cuishou.compliance.selectors import (
    case_overrides,
    client_rules_shown,
    overridable_rules,
    override_hints,
    override_rows,
    overrides_all,
    overrides_waiting,
    packs_shown,
    refusals_summary,
)
from cuishou.core.masking import mask_contact, mask_id_number, mask_phone
from cuishou.core.timeutil import today_shanghai
from cuishou.notices.views import case_notices_context
from cuishou.portfolio.choices import ContactStatus
from cuishou.portfolio.models import ContactPoint, ImportRun
from cuishou.web.forms import (
    ContactAttemptForm,
    DisputeResolveForm,
    ImportUploadForm,
    OverrideRequestForm,
)
from cuishou.web.selectors import (
    TIMELINE_LIMIT,
    case_contact_rows,
    case_list_totals,
    case_timeline,
    import_runs,
    user_may_see_imports,
)
from cuishou.web.settlements import plans_context


class HtmxHttpRequest(HttpRequest):
    """A request that went through django-htmx's middleware."""

    htmx: HtmxDetails


CASES_PER_PAGE = 50
IMPORTS_PER_PAGE = 50
OVERRIDES_PER_PAGE = 50
OVERRIDES_ON_COMPLIANCE_PAGE = 10


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
    return render(request, "web/case_detail.html", _workbench_context(request, case, None))


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
    context = _workbench_context(request, case, None)
    context.update(_case_context(request, case, {key: value}))
    return render(request, "web/case_detail.html", context)


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


# --- the workbench ---------------------------------------------------------------


@login_required
def queue(request: HttpRequest) -> HttpResponse:
    """My queue: today's cases in priority order, with promises due and call-backs."""
    items = queue_for(request.user)
    return render(
        request,
        "web/queue.html",
        {"items": items, "counts": queue_counts(request.user, items), "today": today_shanghai()},
    )


def _contact_form(case: Case, data: Any = None) -> ContactAttemptForm:
    file = case_file_get(case)
    contact_choices = []
    for cp, person in case_contact_rows(file):
        whose = person.name if person else _("debtor")
        status = (
            ""
            if cp.status in (ContactStatus.UNVERIFIED, ContactStatus.VALID)
            else f" [{cp.get_status_display()}]"
        )
        if cp.is_workplace:
            status += f" [{_('workplace')}]"
        contact_choices.append((str(cp.pk), f"{mask_contact(cp.kind, cp.value)} — {whose}{status}"))
    person_choices = [
        (
            str(p.pk),
            f"{p.name} ({p.get_relation_display()})"
            + (f" [{_('refused contact')}]" if p.refused_contact else ""),
        )
        for p in file.related_persons
    ]
    return ContactAttemptForm(data, contact_choices=contact_choices, person_choices=person_choices)


def _workers_for(user: Any) -> list[User]:
    """Whom ``user`` may give a case to: collectors and field visitors (of the teams they
    lead, unless they see every case)."""
    qs = User.objects.filter(
        is_active=True, groups__name__in=["collector", "field_visitor"]
    ).distinct()
    if not user_sees_all_cases(user):
        qs = qs.filter(team__lead=user)
    return list(qs.order_by("username"))


def _workbench_context(
    request: HttpRequest, case: Case, form: ContactAttemptForm | None
) -> dict[str, Any]:
    context = _case_context(request, case, {})
    context.update(
        {
            "contact_form": form if form is not None else _contact_form(case),
            "next_actions": case_next_actions(case) if case.status in OPEN_STATUSES else [],
            "today": today_shanghai(),
            "may_contact": user_may_contact(request.user),
            "disputes": list(case.disputes.filter(status=DisputeStatus.OPEN).order_by("opened_at")),
            "may_resolve": request.user.has_perm("cases.change_dispute"),
            "promises": list(
                case.promises.exclude(status=PromiseStatus.CANCELLED).prefetch_related(
                    "instalments"
                )[:5]
            ),
            "attempts": list(
                case.contact_attempts.select_related("actor", "contact_point", "related_person")[
                    :20
                ]
            ),
            "approvals": list(
                case.approval_requests.filter(status=RequestStatus.PENDING).select_related(
                    "requested_by"
                )
            ),
            "stages": Stage.choices,
            "closures": [c for c in Closure.choices if c[0] != Closure.WRITTEN_OFF],
            "may_close": request.user.has_perm("cases.close_case"),
            "may_reassign": request.user.has_perm("cases.change_case"),
            "workers": _workers_for(request.user)
            if request.user.has_perm("cases.change_case")
            else [],
            "may_approve": request.user.has_perm("cases.approve_deescalation")
            or request.user.has_perm("cases.approve_write_off"),
            "overrides": case_overrides(case),
            "may_request_override": user_may_request_override(request.user)
            and case.status in OPEN_STATUSES
            and bool(overridable_rules(case)),
            "override_hints": [],
        }
    )
    context.update(plans_context(request, case))
    context.update(case_notices_context(request, case))
    return context


@login_required
@require_POST
def case_contact(request: HttpRequest, pk: int) -> HttpResponse:
    """Log a contact attempt (through the compliance check) and, for ``ptp``, the promise."""
    case = case_get_for_user(request.user, pk)
    if not user_may_contact(request.user):
        raise PermissionDenied
    form = _contact_form(case, request.POST)
    status = 200
    hints: list[Any] = []
    if form.is_valid():
        data = form.cleaned_data
        promise = None
        if data["outcome"] == Outcome.PTP:
            promise = [(data["promise_date"], data["promise_amount"])]
        try:
            point, person = case_file_members(
                case,
                contact_point_id=int(data["contact_point"]) if data.get("contact_point") else None,
                related_person_id=int(data["related_person"])
                if data.get("related_person")
                else None,
            )
            contact_attempt_log(
                actor=request.user,
                case=case,
                channel=data["channel"],
                party=data["party"],
                outcome=data["outcome"],
                contact_point=point,
                related_person=person,
                notes=data.get("notes") or "",
                next_follow_up_at=data.get("next_follow_up_at"),
                promise_instalments=promise,
                opt_outs=data.get("opt_outs") or (),
                consents=data.get("consents") or (),
                employer_forbids_calls=bool(data.get("employer_forbids_calls")),
            )
        except ContactBlocked as blocked:
            form.add_error(None, blocked.decision.message)
            hints = override_hints(case, blocked.decision.rule_ids)
            status = 409
        except ValidationError as err:
            for field, reasons in err.message_dict.items():
                target = field if field in form.fields else None
                if field == "instalments":
                    target = "promise_amount"
                for reason in reasons:
                    form.add_error(target, reason)
            status = 400
        else:
            messages.success(request, _("Contact logged."))
            return redirect(f"{reverse('web:case-detail', args=[case.pk])}#workbench")
    else:
        status = 400
    case.refresh_from_db()
    context = _workbench_context(request, case, form)
    context["override_hints"] = hints
    return render(request, "web/case_detail.html", context, status=status)


@login_required
@require_POST
def dispute_resolve_view(request: HttpRequest, pk: int, dispute_pk: int) -> HttpResponse:
    case = case_get_for_user(request.user, pk)
    if not request.user.has_perm("cases.change_dispute"):
        raise PermissionDenied
    dispute = get_object_or_404(Dispute, pk=dispute_pk, case=case)
    form = DisputeResolveForm(request.POST)
    if form.is_valid():
        try:
            dispute_resolve(
                actor=request.user, dispute=dispute, resolution=form.cleaned_data["resolution"]
            )
        except ValidationError as err:
            messages.error(request, " ".join(err.messages))
        else:
            messages.success(request, _("Dispute resolved; collection resumes."))
    else:
        messages.error(request, _("Say how the dispute was resolved."))
    return redirect(f"{reverse('web:case-detail', args=[case.pk])}#workbench")


@login_required
@require_POST
def case_action(request: HttpRequest, pk: int) -> HttpResponse:
    """Escalate, ask to de-escalate, close, ask to write off, or decide a request."""
    case = case_get_for_user(request.user, pk)
    action = request.POST.get("action", "")
    reason = request.POST.get("reason", "")
    done = {
        "escalate": _("Stage changed."),
        "deescalate": _("De-escalation requested; it waits for approval."),
        "close": _("Case closed and its file archived."),
        "write_off": _("Write-off requested; it waits for a risk manager's approval."),
        "approve": _("Request approved."),
        "reject": _("Request rejected."),
    }
    if action not in done:
        return HttpResponseBadRequest(_("Unknown action."))
    try:
        if action == "escalate":
            case_escalate(
                actor=request.user, case=case, stage=request.POST.get("stage", ""), reason=reason
            )
        elif action == "deescalate":
            case_deescalate_request(
                actor=request.user, case=case, stage=request.POST.get("stage", ""), reason=reason
            )
        elif action == "close":
            case_close(
                actor=request.user,
                case=case,
                closure=request.POST.get("closure", ""),
                reason=reason,
            )
        elif action == "write_off":
            case_write_off_request(actor=request.user, case=case, reason=reason)
        else:
            approval = get_object_or_404(
                ApprovalRequest, pk=request.POST.get("request") or 0, case=case
            )
            approval_decide(
                actor=request.user, request=approval, approve=action == "approve", note=reason
            )
    except ValidationError as err:
        messages.error(request, " ".join(err.messages))
    else:
        messages.success(request, done[action])
    return redirect(f"{reverse('web:case-detail', args=[case.pk])}#stage-closure")


def _allocation_scope(user: Any) -> list[Team | None]:
    """The teams a user allocates for: every case (None) for one who sees all cases, else
    the teams they lead."""
    if user_sees_all_cases(user):
        return [None]
    return list(Team.objects.filter(lead=user).order_by("name"))


@login_required
@permission_required("cases.allocate_cases", raise_exception=True)
@require_http_methods(["GET", "POST"])
def allocation(request: HttpRequest) -> HttpResponse:
    """The team lead's allocation page: what allocating would do, and doing it."""
    scopes = _allocation_scope(request.user)
    rebalance = request.POST.get("rebalance") == "1" or request.GET.get("rebalance") == "1"
    if request.method == "POST":
        assigned = unallocated = 0
        for team in scopes:
            result = cases_allocate(actor=request.user, team=team, rebalance=rebalance)
            assigned += result.assigned
            unallocated += result.unallocated
        messages.success(
            request,
            _("%(assigned)d cases allocated; %(unallocated)d without an eligible person with room.")
            % {"assigned": assigned, "unallocated": unallocated},
        )
        return redirect("web:allocation")
    plans = [(team, allocation_plan(team=team, rebalance=rebalance)) for team in scopes]
    people_ids = {pid for _team, plan in plans for pid in plan.loads}
    people = {u.pk: u for u in User.objects.filter(pk__in=people_ids)}
    rows = [
        (
            team,
            plan,
            sorted(
                ((people[pid], load) for pid, load in plan.loads.items()),
                key=lambda r: (-r[1], r[0].username),
            ),
        )
        for team, plan in plans
    ]
    return render(request, "web/allocation.html", {"rows": rows, "rebalance": rebalance})


@login_required
@require_POST
def case_reassign_view(request: HttpRequest, pk: int) -> HttpResponse:
    case = case_get_for_user(request.user, pk)
    assignee = User.objects.filter(pk=request.POST.get("assignee") or 0).first()
    try:
        case_reassign(
            actor=request.user, case=case, assignee=assignee, reason=request.POST.get("reason", "")
        )
    except ValidationError as err:
        messages.error(request, " ".join(err.messages))
    else:
        messages.success(request, _("Case reassigned."))
    return redirect(f"{reverse('web:case-detail', args=[case.pk])}#stage-closure")


# --- compliance --------------------------------------------------------------------


@login_required
@permission_required("audit.view_auditevent", raise_exception=True)
def compliance(request: HttpRequest) -> HttpResponse:
    """Refused contacts by rule, team and collector; the policy packs' rules and sources."""
    raw_days = request.GET.get("days", "30")
    days = int(raw_days) if raw_days.isdigit() and 1 <= int(raw_days) <= 366 else 30
    return render(
        request,
        "web/compliance.html",
        {
            "refusals": refusals_summary(days=days),
            "days": days,
            "packs": packs_shown(),
            "client_rules": client_rules_shown(),
            "overrides_waiting": overrides_waiting(),
            "overrides_recent": override_rows(overrides_all()[:OVERRIDES_ON_COMPLIANCE_PAGE]),
            "may_decide": user_may_decide_override(request.user),
        },
    )


@login_required
@permission_required("audit.view_auditevent", raise_exception=True)
def override_list(request: HttpRequest) -> HttpResponse:
    """Every compliance override, newest first: requester, approver, reason, window, uses."""
    page = Paginator(overrides_all(), OVERRIDES_PER_PAGE).get_page(request.GET.get("page"))
    return render(
        request,
        "web/override_list.html",
        {
            "page": page,
            "rows": override_rows(page.object_list),
            "may_decide": user_may_decide_override(request.user),
        },
    )


@login_required
@require_http_methods(["GET", "POST"])
def override_new(request: HttpRequest) -> HttpResponse:
    """Ask for an override on a case (``?case=ID``, optionally ``&rule=RULE``)."""
    if not user_may_request_override(request.user):
        raise PermissionDenied
    raw_case = request.POST.get("case") or request.GET.get("case") or ""
    if not raw_case.isdigit():
        return HttpResponseBadRequest(_("Which case?"))
    case = case_get_for_user(request.user, int(raw_case))
    rules = overridable_rules(case)
    form = OverrideRequestForm(
        request.POST or None, rules=rules, initial={"rule_id": request.GET.get("rule", "")}
    )
    status = 200
    if request.method == "POST":
        status = 400
        if form.is_valid():
            try:
                override_request(
                    actor=request.user,
                    case=case,
                    rule_id=form.cleaned_data["rule_id"],
                    reason=form.cleaned_data["reason"],
                )
            except ValidationError as err:
                for field, reasons in err.message_dict.items():
                    for reason in reasons:
                        form.add_error(field if field in form.fields else None, reason)
            else:
                messages.success(
                    request, _("Override requested: it waits for a compliance officer's approval.")
                )
                return redirect(f"{reverse('web:case-detail', args=[case.pk])}#overrides")
    return render(
        request,
        "web/override_new.html",
        {"form": form, "case": case, "rules": rules},
        status=status,
    )


@login_required
@require_POST
def override_decide_view(request: HttpRequest, pk: int) -> HttpResponse:
    """Approve or reject a waiting override: compliance officers only, never their own."""
    if not user_may_decide_override(request.user):
        raise PermissionDenied
    override = get_object_or_404(ComplianceOverride, pk=pk)
    action = request.POST.get("action", "")
    if action not in ("approve", "reject"):
        return HttpResponseBadRequest(_("Unknown action."))
    try:
        decided = override_decide(
            actor=request.user,
            override=override,
            approve=action == "approve",
            note=request.POST.get("note", ""),
        )
    except ValidationError as err:
        messages.error(request, " ".join(err.messages))
    else:
        if action == "approve":
            until = timezone.localtime(decided.valid_until).strftime("%Y-%m-%d %H:%M")
            messages.success(
                request,
                _("Override of %(rule)s on case #%(case)d approved: in force until %(until)s.")
                % {"rule": decided.rule_id, "case": decided.case_id, "until": until},
            )
        else:
            messages.success(
                request,
                _("Override of %(rule)s on case #%(case)d rejected.")
                % {"rule": decided.rule_id, "case": decided.case_id},
            )
    return redirect(f"{reverse('web:compliance')}#overrides")
