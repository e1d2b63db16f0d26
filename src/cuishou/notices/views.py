"""Pages of written collection. Thin: validate, call one service or selector, render.

The public verification page and the PDF; the templates (list, a version, edit = a new
version, a compliance officer's decision); a case's documents and sends (render, send,
tracking number, signed receipt); campaigns (list, new, progress and report)."""

from __future__ import annotations

import datetime as dt
import json
from typing import Any

from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required, permission_required
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils.translation import gettext as _
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_http_methods, require_POST

from cuishou.cases.choices import Stage
from cuishou.cases.models import Case
from cuishou.cases.selectors import case_get_for_user
from cuishou.compliance.check import ContactBlocked
from cuishou.core.errors import error_text
from cuishou.core.timeutil import today_shanghai
from cuishou.notices.campaigns import CAMPAIGN_PERMISSION, campaign_create, campaign_report
from cuishou.notices.channels import signature_ok
from cuishou.notices.choices import (
    LETTER_KINDS,
    Audience,
    CampaignStatus,
    DeliveryStatus,
    SendChannel,
    TemplateKind,
    TemplateStatus,
)
from cuishou.notices.documents import RENDER_PERMISSION, document_render
from cuishou.notices.models import Dispatch, NoticeTemplate
from cuishou.notices.receipts import RECEIPT_PERMISSION, receipt_upload
from cuishou.notices.sandbox import VARIABLES
from cuishou.notices.selectors import (
    campaign_list,
    case_documents,
    document_by_number,
    document_get_for_user,
    post_queue_for_user,
    print_batch_get_for_user,
    print_batches_for_user,
    template_list,
    templates_sendable,
)
from cuishou.notices.sends import (
    BATCH_PERMISSION,
    SEND_PERMISSION,
    DeliveryConflictError,
    dispatch_status_set,
    document_send,
    print_batch_create,
    sms_delivery_report,
    tracking_numbers_record,
)
from cuishou.notices.templates import (
    CHANGE_PERMISSION,
    template_decide,
    template_latest,
    template_revise,
    text_problems,
    user_may_decide_template,
)
from cuishou.portfolio.choices import Bucket
from cuishou.portfolio.models import Address, Client, ContactPoint, RelatedPerson

# What a person records by hand on a letter or a hand-over (the rest comes from the
# channels and from signed receipts).
HAND_STATUSES = (DeliveryStatus.DELIVERED, DeliveryStatus.RETURNED)


def verify(request: HttpRequest, number: str) -> HttpResponse:
    """Public: what the QR code opens. Says whether the number is one of ours and shows
    the document's kind, date and SHA-256, nothing about the person or the debt."""
    document = document_by_number(number)
    return render(
        request,
        "notices/verify.html",
        {"number": number, "document": document},
        status=200 if document is not None else 404,
    )


@login_required
def document_pdf(request: HttpRequest, number: str) -> HttpResponse:
    document = document_get_for_user(request.user, number)
    if document.pdf is None:
        response = HttpResponse(document.text, content_type="text/plain; charset=utf-8")
    else:
        response = HttpResponse(bytes(document.pdf), content_type="application/pdf")
        response["Content-Disposition"] = f'inline; filename="{document.number}.pdf"'
    response["X-Content-SHA256"] = document.sha256
    return response


_errors = error_text


# --- templates ------------------------------------------------------------------------


@login_required
@permission_required("notices.view_noticetemplate", raise_exception=True)
def template_list_page(request: HttpRequest) -> HttpResponse:
    """Every key with its versions, newest first; the drafts wait for a compliance officer."""
    groups: dict[str, list[NoticeTemplate]] = {}
    for t in template_list():
        groups.setdefault(t.key, []).append(t)
    rows = [(versions[0], versions[1:]) for versions in groups.values()]
    return render(
        request,
        "notices/template_list.html",
        {
            "rows": rows,
            "waiting": sum(1 for latest, _old in rows if latest.status == TemplateStatus.DRAFT),
            "may_decide": user_may_decide_template(request.user),
        },
    )


@login_required
@permission_required("notices.view_noticetemplate", raise_exception=True)
def template_detail(request: HttpRequest, pk: int) -> HttpResponse:
    t = get_object_or_404(template_list(), pk=pk)
    user: Any = request.user
    latest = template_latest(t.key)
    is_latest = latest is not None and latest.pk == t.pk
    draft = t.status == TemplateStatus.DRAFT
    problems = (
        text_problems(
            kind=t.kind, audience=t.audience, language=t.language, subject=t.subject, body=t.body
        )
        if draft
        else []
    )
    return render(
        request,
        "notices/template_detail.html",
        {
            "t": t,
            "versions": list(template_list().filter(key=t.key)),
            "is_latest": is_latest,
            "may_decide": draft
            and is_latest
            and user_may_decide_template(user)
            and t.created_by_id != user.pk,
            "own_draft": draft and user_may_decide_template(user) and t.created_by_id == user.pk,
            "may_edit": user.has_perm(CHANGE_PERMISSION) and is_latest,
            "problems": problems,
        },
    )


@login_required
@permission_required(CHANGE_PERMISSION, raise_exception=True)
@require_http_methods(["GET", "POST"])
def template_edit(request: HttpRequest, pk: int) -> HttpResponse:
    """Editing writes a new draft version of the key; the old version stays as it was."""
    t = get_object_or_404(NoticeTemplate, pk=pk)
    values = {"name": t.name, "subject": t.subject, "body": t.body}
    error = ""
    if request.method == "POST":
        values = {k: request.POST.get(k, "") for k in values}
        try:
            new = template_revise(actor=request.user, template=t, **values)
        except PermissionDenied as exc:
            error = str(exc)
        except ValidationError as exc:
            error = _errors(exc)
        else:
            messages.success(
                request,
                _("Version %(version)d saved as a draft: a compliance officer approves it.")
                % {"version": new.version},
            )
            return redirect("notices:template-detail", pk=new.pk)
    return render(
        request,
        "notices/template_edit.html",
        {
            "t": t,
            "values": values,
            "error": error,
            "variables": sorted(VARIABLES.get(t.audience, {}).items()),
        },
        status=400 if error else 200,
    )


@login_required
@require_POST
def template_decide_view(request: HttpRequest, pk: int) -> HttpResponse:
    t = get_object_or_404(NoticeTemplate, pk=pk)
    decision = request.POST.get("decision", "")
    if decision not in ("approve", "reject"):
        messages.error(request, _("Approve or reject."))
        return redirect("notices:template-detail", pk=t.pk)
    try:
        template_decide(
            actor=request.user,
            template=t,
            approve=decision == "approve",
            note=request.POST.get("note", ""),
        )
    except PermissionDenied as exc:
        messages.error(request, str(exc) or _("You may not decide this template."))
    except ValidationError as exc:
        messages.error(request, _errors(exc))
    else:
        done = (
            _("Version %(version)d approved: it may be sent.")
            if decision == "approve"
            else _("Version %(version)d rejected.")
        )
        messages.success(request, done % {"version": t.version})
    return redirect("notices:template-detail", pk=t.pk)


# --- a case's documents and sends ---------------------------------------------------------


def case_notices_context(request: HttpRequest, case: Case) -> dict[str, Any]:
    """What the case page's written-collection section shows and offers."""
    user: Any = request.user
    if not user.has_perm("notices.view_document"):
        return {"notices_shown": False}
    documents = case_documents(case)
    points = list(
        ContactPoint.objects.filter(debtor_id=case.debtor_id).select_related("related_person")
    )
    return {
        "notices_shown": True,
        "notice_documents": [
            (
                d,
                sorted(d.dispatches.all(), key=lambda s: (s.created_at, s.pk), reverse=True),
                list(d.receipts.all()),
                [p for p in points if (p.related_person_id or None) == d.related_person_id],
            )
            for d in documents
        ],
        "notice_templates": templates_sendable(),
        "notice_related": list(RelatedPerson.objects.filter(debtor_id=case.debtor_id)),
        "notice_addresses": list(
            Address.objects.filter(debtor_id=case.debtor_id, is_valid=True).order_by("pk")
        ),
        "letter_kinds": [str(k) for k in LETTER_KINDS],
        "may_render": user.has_perm(RENDER_PERMISSION),
        "may_send": user.has_perm(SEND_PERMISSION),
        "may_track": user.has_perm(BATCH_PERMISSION),
        "may_upload_receipt": user.has_perm(RECEIPT_PERMISSION),
        "notice_today": today_shanghai().isoformat(),
    }


def _case_back(case_id: int) -> HttpResponse:
    return redirect(reverse("web:case-detail", args=[case_id]) + "#notices")


@login_required
@require_POST
def document_new(request: HttpRequest, pk: int) -> HttpResponse:
    case = case_get_for_user(request.user, pk)
    try:
        template = NoticeTemplate.objects.filter(pk=request.POST.get("template") or 0).first()
        if template is None:
            raise ValidationError({"template": [_("Pick a template.")]})
        person = None
        if request.POST.get("related_person"):
            person = RelatedPerson.objects.filter(
                pk=request.POST["related_person"], debtor_id=case.debtor_id
            ).first()
            if person is None:
                raise ValidationError(
                    {"related_person": [_("That person is not in this case's file.")]}
                )
        visitors = [v.strip() for v in request.POST.get("visitors", "").split(",") if v.strip()]
        document = document_render(
            actor=request.user,
            case=case,
            template=template,
            related_person=person,
            visitors=visitors,
        )
    except PermissionDenied as exc:
        messages.error(request, str(exc) or _("You may not do this."))
    except ValidationError as exc:
        messages.error(request, _errors(exc))
    else:
        messages.success(request, _("Document %(number)s made.") % {"number": document.number})
    return _case_back(case.pk)


@login_required
@require_POST
def document_send_view(request: HttpRequest, number: str) -> HttpResponse:
    document = document_get_for_user(request.user, number)
    channel = request.POST.get("channel", "")
    point = address = None
    raw = request.POST.get("to", "")
    if channel in (SendChannel.SMS, SendChannel.EMAIL) and raw.isdigit():
        point = ContactPoint.objects.filter(pk=int(raw), debtor_id=document.case.debtor_id).first()
    elif channel == SendChannel.POST and raw.isdigit():
        address = Address.objects.filter(pk=int(raw), debtor_id=document.case.debtor_id).first()
    try:
        send = document_send(
            actor=request.user,
            document=document,
            channel=channel,
            contact_point=point,
            address=address,
        )
    except ContactBlocked as blocked:
        messages.error(
            request,
            _("Blocked by compliance: %(why)s") % {"why": blocked.decision.message},
        )
    except PermissionDenied as exc:
        messages.error(request, str(exc) or _("You may not do this."))
    except ValidationError as exc:
        messages.error(request, _errors(exc))
    else:
        messages.success(
            request,
            _("%(number)s: %(status)s.")
            % {"number": document.number, "status": send.get_status_display()},
        )
    return _case_back(document.case_id)


@login_required
@require_POST
def tracking_record_view(request: HttpRequest, pk: int) -> HttpResponse:
    send = get_object_or_404(Dispatch.objects.select_related("document", "print_batch"), pk=pk)
    document = document_get_for_user(request.user, send.document.number)
    tracking = request.POST.get("tracking_number", "").strip()
    try:
        if send.print_batch is None:
            raise ValidationError(
                {"tracking": [_("The letter is not in a print batch yet: print it first.")]}
            )
        if not tracking or "," in tracking:
            raise ValidationError({"tracking": [_("Write the tracking number.")]})
        tracking_numbers_record(
            actor=request.user, batch=send.print_batch, text=f"{document.number},{tracking}"
        )
    except PermissionDenied as exc:
        messages.error(request, str(exc) or _("You may not do this."))
    except ValidationError as exc:
        messages.error(request, _errors(exc))
    else:
        messages.success(
            request,
            _("Tracking number %(tracking)s recorded for %(number)s.")
            % {"tracking": tracking, "number": document.number},
        )
    return _case_back(document.case_id)


@login_required
@require_POST
def send_status_view(request: HttpRequest, pk: int) -> HttpResponse:
    """Record by hand that a letter was delivered or came back (with the reason)."""
    send = get_object_or_404(Dispatch.objects.select_related("document"), pk=pk)
    document = document_get_for_user(request.user, send.document.number)
    status = request.POST.get("status", "")
    try:
        if status not in HAND_STATUSES:
            raise ValidationError({"status": [_("Choose delivered or returned.")]})
        dispatch_status_set(
            actor=request.user,
            dispatch=send,
            status=status,
            reason=request.POST.get("reason", ""),
        )
    except PermissionDenied as exc:
        messages.error(request, str(exc) or _("You may not do this."))
    except ValidationError as exc:
        messages.error(request, _errors(exc))
    else:
        messages.success(
            request,
            _("%(number)s: %(status)s recorded.")
            % {"number": document.number, "status": DeliveryStatus(status).label},
        )
    return _case_back(document.case_id)


@login_required
@require_POST
def receipt_upload_view(request: HttpRequest, number: str) -> HttpResponse:
    document = document_get_for_user(request.user, number)
    upload = request.FILES.get("file")
    try:
        try:
            signed_on = dt.date.fromisoformat(request.POST.get("signed_on", ""))
        except ValueError:
            raise ValidationError({"signed_on": [_("A date, e.g. 2026-12-31.")]}) from None
        receipt_upload(
            actor=request.user,
            reference=request.POST.get("reference") or document.number,
            content=upload.read() if upload is not None else b"",
            file_name=(upload.name or "") if upload is not None else "",
            content_type=(upload.content_type or "") if upload is not None else "",
            signer_name=request.POST.get("signer_name", ""),
            signer_relation=request.POST.get("signer_relation", ""),
            signed_on=signed_on,
        )
    except PermissionDenied as exc:
        messages.error(request, str(exc) or _("You may not do this."))
    except ValidationError as exc:
        messages.error(request, _errors(exc))
    else:
        messages.success(
            request, _("Signed receipt for %(number)s kept.") % {"number": document.number}
        )
    return _case_back(document.case_id)


# --- campaigns ----------------------------------------------------------------------------


@login_required
@permission_required("notices.view_campaign", raise_exception=True)
def campaign_list_page(request: HttpRequest) -> HttpResponse:
    return render(
        request,
        "notices/campaign_list.html",
        {
            "campaigns": list(campaign_list()[:200]),
            "may_create": request.user.has_perm(CAMPAIGN_PERMISSION),
        },
    )


_CAMPAIGN_KINDS = (TemplateKind.SMS, TemplateKind.EMAIL, *LETTER_KINDS)


@login_required
@permission_required(CAMPAIGN_PERMISSION, raise_exception=True)
@require_http_methods(["GET", "POST"])
def campaign_new(request: HttpRequest) -> HttpResponse:
    templates = [
        t
        for t in templates_sendable()
        if t.audience == Audience.DEBTOR and t.kind != TemplateKind.INTRODUCTION
    ]
    clients = list(Client.objects.order_by("code"))
    values: dict[str, Any] = {
        "name": "",
        "template": "",
        "channel": SendChannel.SMS.value,
        "client": "",
        "buckets": [],
        "stages": [],
    }
    error = ""
    if request.method == "POST":
        values = {
            "name": request.POST.get("name", ""),
            "template": request.POST.get("template", ""),
            "channel": request.POST.get("channel", ""),
            "client": request.POST.get("client", ""),
            "buckets": [b for b in request.POST.getlist("buckets") if b in Bucket.values],
            "stages": [s for s in request.POST.getlist("stages") if s in Stage.values],
        }
        template = next((t for t in templates if str(t.pk) == values["template"]), None)
        client = next((c for c in clients if str(c.pk) == values["client"]), None)
        try:
            if template is None:
                raise ValidationError({"template": [_("Pick an approved template.")]})
            if client is None:
                raise ValidationError({"client": [_("Pick the client whose cases it goes to.")]})
            campaign = campaign_create(
                actor=request.user,
                name=values["name"],
                template=template,
                channel=values["channel"],
                client=client,
                buckets=values["buckets"],
                stages=values["stages"],
            )
        except PermissionDenied as exc:
            error = str(exc) or _("You may not do this.")
        except ValidationError as exc:
            error = _errors(exc)
        else:
            messages.success(
                request,
                _("Campaign %(name)s queued: %(total)d cases.")
                % {"name": campaign.name, "total": campaign.total},
            )
            return redirect("notices:campaign-detail", pk=campaign.pk)
    return render(
        request,
        "notices/campaign_new.html",
        {
            "templates": templates,
            "clients": clients,
            "channels": SendChannel.choices,
            "buckets": Bucket.choices,
            "stages": Stage.choices,
            "values": values,
            "error": error,
        },
        status=400 if error else 200,
    )


BLOCKED_SHOWN = 500


def _report(campaign: Any) -> dict[str, Any]:
    report = campaign_report(campaign)
    report["by_status"] = [
        (DeliveryStatus(s).label if s in DeliveryStatus.values else s, n)
        for s, n in report["by_status"]
    ]
    report["blocked_total"] = len(report["blocked"])
    report["blocked"] = report["blocked"][:BLOCKED_SHOWN]
    return report


@login_required
@permission_required("notices.view_campaign", raise_exception=True)
def campaign_detail(request: HttpRequest, pk: int) -> HttpResponse:
    campaign = get_object_or_404(campaign_list(), pk=pk)
    running = campaign.status in (CampaignStatus.QUEUED, CampaignStatus.RUNNING)
    context = {
        "campaign": campaign,
        "running": running,
        "percent": (campaign.processed * 100 // campaign.total) if campaign.total else 100,
        "report": None if running else _report(campaign),
    }
    if getattr(request, "htmx", False) and request.htmx.target == "campaign-progress":  # type: ignore[attr-defined]
        return render(request, "notices/campaign_detail.html#progress", context)
    return render(request, "notices/campaign_detail.html", context)


# At most this many letters go into one print batch (one PDF to print and post).
PRINT_BATCH_MAX = 500


@login_required
@permission_required(BATCH_PERMISSION, raise_exception=True)
@require_http_methods(["GET", "POST"])
def print_batch_page(request: HttpRequest) -> HttpResponse:
    """The post room: letters waiting to be printed, a new print batch of them, the
    batches made (PDF, mailing list, tracking numbers)."""
    queue = post_queue_for_user(request.user)
    if request.method == "POST":
        letters = list(queue[:PRINT_BATCH_MAX])
        if not letters:
            messages.error(request, _("No letter waits for the print batch."))
        else:
            try:
                batch = print_batch_create(actor=request.user, dispatches=letters)
            except (PermissionDenied, ValidationError) as exc:
                messages.error(
                    request, _errors(exc) if isinstance(exc, ValidationError) else str(exc)
                )
            else:
                messages.success(
                    request,
                    _("Print batch %(number)s: %(n)d letters, one per page.")
                    % {"number": batch.number, "n": batch.letters},
                )
        return redirect("notices:print-batches")
    return render(
        request,
        "notices/print_batches.html",
        {
            "waiting": list(queue[:200]),
            "waiting_count": queue.count(),
            "batch_max": PRINT_BATCH_MAX,
            "batches": list(print_batches_for_user(request.user)[:100]),
        },
    )


@login_required
@permission_required(BATCH_PERMISSION, raise_exception=True)
def print_batch_file(request: HttpRequest, number: str, what: str) -> HttpResponse:
    batch = print_batch_get_for_user(request.user, number)
    if what == "pdf":
        response = HttpResponse(bytes(batch.pdf), content_type="application/pdf")
        response["Content-Disposition"] = f'attachment; filename="{batch.number}.pdf"'
        response["X-Content-SHA256"] = batch.sha256
        return response
    response = HttpResponse("\ufeff" + batch.mailing_list, content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="{batch.number}-mailing.csv"'
    return response


@login_required
@permission_required(BATCH_PERMISSION, raise_exception=True)
@require_POST
def print_batch_tracking(request: HttpRequest, number: str) -> HttpResponse:
    """Tracking numbers for a batch: pasted lines or the mailing list filled in (CSV)."""
    batch = print_batch_get_for_user(request.user, number)
    text = request.POST.get("lines", "")
    upload = request.FILES.get("file")
    if upload is not None:
        raw = upload.read()
        try:
            text = raw.decode("utf-8-sig")
        except UnicodeDecodeError:
            text = raw.decode("gb18030", errors="replace")
    try:
        n = tracking_numbers_record(actor=request.user, batch=batch, text=text)
    except ValidationError as exc:
        messages.error(request, _errors(exc))
    else:
        messages.success(
            request,
            _("%(n)d tracking numbers recorded for %(number)s.") % {"n": n, "number": batch.number},
        )
    return redirect("notices:print-batches")


@csrf_exempt
@require_POST
def sms_delivery_report_view(request: HttpRequest) -> HttpResponse:
    """The SMS provider's delivery report: JSON ``{"id", "status": "delivered"|"failed",
    "reason"}``, signed as our requests to it are (``X-Cuishou-Timestamp``,
    ``X-Cuishou-Signature``). 204 when recorded (or already so), 403 for a bad signature,
    404 for an id we never sent, 400 for a report we cannot read, 409 when the SMS is
    already further on."""
    body = request.body
    if not signature_ok(
        settings.CUISHOU_SMS_SECRET,
        request.headers.get("X-Cuishou-Timestamp", ""),
        body,
        request.headers.get("X-Cuishou-Signature", ""),
    ):
        return JsonResponse({"detail": "bad signature"}, status=403)
    try:
        data = json.loads(body)
        if not isinstance(data, dict):
            raise ValueError
        sms_delivery_report(
            provider_ref=str(data.get("id") or ""),
            status=str(data.get("status") or ""),
            reason=str(data.get("reason") or ""),
        )
    except ValueError:
        return JsonResponse({"detail": "the body is not a JSON object"}, status=400)
    except Dispatch.DoesNotExist as exc:
        return JsonResponse({"detail": str(exc)}, status=404)
    except ValidationError as exc:
        return JsonResponse({"detail": _errors(exc)}, status=400)
    except DeliveryConflictError as exc:
        return JsonResponse({"detail": str(exc)}, status=409)
    return HttpResponse(status=204)
