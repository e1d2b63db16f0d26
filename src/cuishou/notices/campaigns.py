"""Campaigns: one approved template sent to a selection of cases (a client, buckets,
stages), in the background (``tasks.campaign_run_task``, Django's Tasks API).

A run works in chunks of ``CHUNK`` cases. Per chunk: the cases, their numbers or
addresses and their contexts are read in a few queries (stored figures for SMS and
e-mail, ``context.bulk_contexts``; each case's own SQL for letters), every message is
rendered with the template compiled once, and every message is decided by the
compliance engine's bulk form (``compliance.bulk.check_bulk`` over ``planned_frame``,
``history_frame``, the clients' stricter rules and the overrides: the same decision
``contact_check`` makes, message by message). A blocked message is listed with its
rules and the engine's own sentence (``contact_check`` on that message). The allowed
ones become documents and sends in bulk and go out (the outbox in one insert; an HTTP
provider or SMTP one by one with retries). One audit event per message, on its case.
Progress (processed, sent, blocked, failed) is stored after each chunk.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import time
from collections.abc import Sequence
from functools import partial
from typing import Any

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.db.models import QuerySet
from django.template import Context
from django.utils import timezone
from django.utils.translation import gettext as _

from cuishou.accounts.choices import Role
from cuishou.audit.services import AuditEntry, audit_record, audit_record_many
from cuishou.cases.choices import OPEN_STATUSES
from cuishou.cases.models import Case
from cuishou.cases.selectors import case_visible_queryset
from cuishou.compliance.bulk import check_bulk, history_frame, override_frame, planned_frame
from cuishou.compliance.check import client_overrides
from cuishou.core.timeutil import today_shanghai
from cuishou.notices.channels import OutboxSmsProvider, email_send, sms_provider, with_retries
from cuishou.notices.choices import (
    CHECK_CHANNEL,
    LETTER_KINDS,
    Audience,
    CampaignStatus,
    DeliveryStatus,
    SendChannel,
    TemplateKind,
)
from cuishou.notices.context import bulk_contexts, notice_context, office_of
from cuishou.notices.documents import document_numbers, letter_html
from cuishou.notices.models import Campaign, CampaignMessage, Dispatch, Document, NoticeTemplate
from cuishou.notices.sandbox import NOTICE_ENGINE
from cuishou.notices.sends import send_check
from cuishou.notices.templates import template_require_sendable
from cuishou.portfolio.models import Address, ContactPoint

CAMPAIGN_PERMISSION = "notices.add_campaign"
CHUNK = 5000
NO_POINT = "notices.no_contact_point"


def _channel_for(template: NoticeTemplate, channel: str) -> str | None:
    """Why ``channel`` cannot carry ``template`` (None: it can)."""
    if template.kind == TemplateKind.SMS:
        return None if channel == SendChannel.SMS else _("An SMS text goes by SMS.")
    if template.kind == TemplateKind.EMAIL:
        return None if channel == SendChannel.EMAIL else _("An e-mail text goes by e-mail.")
    if channel in (SendChannel.POST, SendChannel.EMAIL):
        return None
    return _("A campaign sends letters by post or e-mail.")


def campaign_cases(campaign: Campaign) -> QuerySet[Case]:
    """The cases a campaign selects: open (or paused) cases of the client, in the
    buckets and stages it names (all when none), by id."""
    qs = Case.objects.filter(status__in=OPEN_STATUSES)
    if campaign.client_id:
        qs = qs.filter(client_id=campaign.client_id)
    if campaign.buckets:
        qs = qs.filter(bucket__in=campaign.buckets)
    if campaign.stages:
        qs = qs.filter(stage__in=campaign.stages)
    return qs.order_by("pk")


def campaign_create(
    *,
    actor: Any,
    name: str,
    template: NoticeTemplate,
    channel: str,
    client: Any = None,
    buckets: Sequence[str] = (),
    stages: Sequence[str] = (),
    start: bool = True,
) -> Campaign:
    """A campaign over the selected cases, queued to run in the background."""
    if not actor.has_perm(CAMPAIGN_PERMISSION):
        raise PermissionDenied(_("This role may not run campaigns."))
    template_require_sendable(template)
    errors: dict[str, list[str]] = {}
    why = _channel_for(template, channel)
    if why:
        errors["channel"] = [why]
    if template.audience != Audience.DEBTOR:
        errors["template"] = [_("A campaign writes to debtors: pick a template for the debtor.")]
    if template.kind == TemplateKind.LAWYER_LETTER and not actor.has_role(Role.LEGAL_OFFICER):
        raise PermissionDenied(_("A lawyer's letter is made and signed by a legal officer."))
    if not (name or "").strip():
        errors["name"] = [_("Give the campaign a name.")]
    if errors:
        raise ValidationError(errors)
    with transaction.atomic():
        campaign = Campaign.objects.create(
            name=name.strip()[:200],
            template=template,
            channel=channel,
            client=client,
            buckets=sorted(set(buckets)),
            stages=sorted(set(stages)),
            created_at=timezone.now(),
            created_by=actor if getattr(actor, "pk", None) else None,
        )
        selected = campaign_cases(campaign)
        if selected.exclude(pk__in=case_visible_queryset(actor).values("pk")).exists():
            raise PermissionDenied(
                _("This selection holds cases outside your scope: narrow it to your cases.")
            )
        campaign.total = selected.count()
        campaign.save(update_fields=["total"])
        audit_record(
            actor=actor,
            action="campaign.create",
            target=campaign,
            summary=f"{campaign.name}: {campaign.total} cases",
            after={
                "template": template.key,
                "version": template.version,
                "channel": channel,
                "client": client.code if client is not None else None,
                "buckets": campaign.buckets,
                "stages": campaign.stages,
                "total": campaign.total,
            },
        )
    if start:
        from cuishou.notices.tasks import campaign_run_task

        campaign_run_task.enqueue(campaign_id=campaign.pk)
    return campaign


def _points(cases: Sequence[Case], channel: str) -> dict[int, Any]:
    """debtor → the debtor's own number (SMS) or e-mail address, primary first, or the
    mailing (else residence) address for the post."""
    debtors = [c.debtor_id for c in cases]
    out: dict[int, Any] = {}
    if channel == SendChannel.POST:
        rank = {"mailing": 0, "residence": 1}
        for ad in sorted(
            Address.objects.filter(debtor_id__in=debtors, is_valid=True),
            key=lambda a: (rank.get(a.kind, 2), a.pk),
        ):
            out.setdefault(ad.debtor_id, ad)
        return out
    kind = "phone" if channel == SendChannel.SMS else "email"
    for cp in ContactPoint.objects.filter(
        debtor_id__in=debtors, kind=kind, related_person__isnull=True
    ).order_by("-is_primary", "pk"):
        out.setdefault(cp.debtor_id, cp)
    return out


def _render(
    template: NoticeTemplate, contexts: dict[int, dict[str, Any]]
) -> dict[int, tuple[str, str]]:
    subject = NOTICE_ENGINE.from_string(template.subject)
    body = NOTICE_ENGINE.from_string(template.body)
    out = {}
    for pk, ctx in contexts.items():
        c = Context(ctx, autoescape=False)
        out[pk] = (subject.render(c).strip(), body.render(c).strip())
    return out


def campaign_chunk(
    campaign: Campaign, template: NoticeTemplate, cases: Sequence[Case], *, at: dt.datetime
) -> dict[str, Any]:
    """Render, check and record one chunk; returns the counts and the phases' seconds."""
    t0 = time.perf_counter()
    channel = campaign.channel
    today = today_shanghai()
    points = _points(cases, channel)
    numbers = dict(zip((c.pk for c in cases), document_numbers(len(cases), today), strict=True))
    if template.kind in LETTER_KINDS:
        contexts = {
            c.pk: notice_context(
                case=c, audience=template.audience, number=numbers[c.pk], as_of=today, today=today
            )[0]
            for c in cases
        }
    else:
        contexts = bulk_contexts(cases, audience=template.audience, numbers=numbers, today=today)
    texts = _render(template, contexts)
    t1 = time.perf_counter()
    reachable = [c for c in cases if c.debtor_id in points]
    planned = planned_frame(
        {
            "id": c.pk,
            "case": c,
            "channel": CHECK_CHANNEL[SendChannel(channel)],
            "party": "debtor",
            "at": at,
            "contact_point": points[c.debtor_id] if channel != SendChannel.POST else None,
            "purpose": "collect",
            "text": "\n".join(texts[c.pk]).strip(),
        }
        for c in reachable
    )
    ids = [c.pk for c in reachable]
    result = check_bulk(
        planned,
        history_frame(ids),
        client_overrides({c.client_id for c in reachable}),
        override_frame(ids),
    )
    decided = {
        int(i): (ok, rules)
        for i, ok, rules in zip(
            result["id"].to_list(),
            result["allowed"].to_list(),
            result["rules"].to_list(),
            strict=True,
        )
    }
    t2 = time.perf_counter()
    # The blocked: the engine's own sentence, message by message.
    by_pk = {c.pk: c for c in cases}
    reasons: dict[int, str] = {}
    for pk, (ok, _rules) in decided.items():
        if not ok:
            case = by_pk[pk]
            probe = Document(case=case, kind=template.kind, subject=texts[pk][0], text=texts[pk][1])
            decision = send_check(
                document=probe,
                channel=channel,
                contact_point=points[case.debtor_id] if channel != SendChannel.POST else None,
                at=at,
            )
            reasons[pk] = decision.message
    t3 = time.perf_counter()
    counts = _record(campaign, template, cases, points, numbers, texts, decided, reasons, at=at)
    t4 = time.perf_counter()
    counts["seconds"] = {
        "render": t1 - t0,
        "check": t2 - t1,
        "reasons": t3 - t2,
        "record_and_send": t4 - t3,
    }
    return counts


def _record(
    campaign: Campaign,
    template: NoticeTemplate,
    cases: Sequence[Case],
    points: dict[int, Any],
    numbers: dict[int, str],
    texts: dict[int, tuple[str, str]],
    decided: dict[int, tuple[bool, list[str]]],
    reasons: dict[int, str],
    *,
    at: dt.datetime,
) -> dict[str, Any]:
    channel = campaign.channel
    actor = campaign.created_by
    now = timezone.now()
    allowed = [c for c in cases if decided.get(c.pk, (False, []))[0]]
    documents = []
    office = {}
    for c in allowed:
        subject, text = texts[c.pk]
        pdf, html = None, ""
        if template.kind in LETTER_KINDS:
            from cuishou.cases.receipts import render_pdf

            if c.client_id not in office:
                office[c.client_id] = office_of(c.client)
            html = letter_html(
                number=numbers[c.pk],
                subject=subject,
                text=text,
                language=template.language,
                office=office[c.client_id],
            )
            pdf = render_pdf(html)
        digest = hashlib.sha256(
            pdf if pdf is not None else f"{subject}\n{text}".encode()
        ).hexdigest()
        documents.append(
            Document(
                number=numbers[c.pk],
                case=c,
                template=template,
                kind=template.kind,
                language=template.language,
                audience=template.audience,
                recipient_name=c.debtor.name,
                subject=subject,
                text=text,
                html=html,
                pdf=pdf,
                sha256=digest,
                as_of=c.computed_as_of or today_shanghai(),
                created_at=now,
                created_by=actor,
                campaign=campaign,
            )
        )
    sent = failed = 0
    # The outbox is this database: the messages, their sends and their records commit
    # together, so the sends are written as sent. Any other way out records the sends as
    # queued first and each one's outcome after it went (or did not).
    outbox = channel == SendChannel.SMS and isinstance(sms_provider(), OutboxSmsProvider)
    outcomes: dict[int, tuple[bool, str, str, int]] = {}
    with transaction.atomic():
        Document.objects.bulk_create(documents, batch_size=2000)
        docs = {
            d.case_id: d
            for d in Document.objects.filter(
                campaign=campaign, number__in=[numbers[c.pk] for c in allowed]
            ).defer("pdf", "html")
        }
        if outbox:
            refs = OutboxSmsProvider().send_many(
                [(points[c.debtor_id].value, texts[c.pk][1], numbers[c.pk]) for c in allowed]
            )
            outcomes = {c.pk: (True, ref, "", 1) for c, ref in zip(allowed, refs, strict=True)}
        dispatches = []
        for c in allowed:
            point = points[c.debtor_id]
            ok, ref, why, attempts = outcomes.get(c.pk, (False, "", "", 0))
            dispatches.append(
                Dispatch(
                    document=docs[c.pk],
                    case=c,
                    channel=channel,
                    contact_point=point if channel != SendChannel.POST else None,
                    address=point if channel == SendChannel.POST else None,
                    recipient=point.value if channel != SendChannel.POST else point.text,
                    status=DeliveryStatus.SENT if ok else DeliveryStatus.QUEUED,
                    provider_ref=ref,
                    attempts=attempts,
                    compliance_rules=[],
                    campaign=campaign,
                    created_at=now,
                    created_by=actor,
                    status_at=now,
                )
            )
        Dispatch.objects.bulk_create(dispatches, batch_size=2000)
        made = {
            d.case_id: d
            for d in Dispatch.objects.filter(campaign=campaign, document__in=list(docs.values()))
        }
    if channel == SendChannel.SMS and not outbox:
        provider = sms_provider()
        for c in allowed:
            o = with_retries(
                partial(
                    provider.send,
                    to=made[c.pk].recipient,
                    text=texts[c.pk][1],
                    reference=numbers[c.pk],
                )
            )
            outcomes[c.pk] = (o.ok, o.provider_ref, o.reason, o.attempts)
            _outcome_save(made[c.pk], o.ok, o.provider_ref, o.reason, o.attempts)
    elif channel == SendChannel.EMAIL:
        for c in allowed:
            doc = Document.objects.only("pdf").get(pk=docs[c.pk].pk)
            attachment = (
                (f"{docs[c.pk].number}.pdf", bytes(doc.pdf), "application/pdf") if doc.pdf else None
            )
            o = with_retries(
                partial(
                    email_send,
                    to=made[c.pk].recipient,
                    subject=docs[c.pk].subject or docs[c.pk].number,
                    body=docs[c.pk].text,
                    reference=docs[c.pk].number,
                    attachment=attachment,
                )
            )
            outcomes[c.pk] = (o.ok, o.provider_ref, o.reason, o.attempts)
            _outcome_save(made[c.pk], o.ok, o.provider_ref, o.reason, o.attempts)
    entries = []
    messages = []
    with transaction.atomic():
        for c in allowed:
            d = made[c.pk]
            if c.pk in outcomes:
                ok = outcomes[c.pk][0]
                sent += ok
                failed += not ok
            entries.append(
                AuditEntry(
                    action="dispatch.status",
                    object_type="notices.dispatch",
                    object_id=str(d.pk),
                    case_id=c.pk,
                    summary=f"{numbers[c.pk]} {channel} {d.status} (campaign {campaign.pk})",
                    before=None,
                    after={
                        "number": numbers[c.pk],
                        "kind": template.kind,
                        "channel": channel,
                        "status": d.status,
                        "reason": d.reason,
                        "campaign": campaign.pk,
                        "sha256": docs[c.pk].sha256,
                    },
                )
            )
            messages.append(CampaignMessage(campaign=campaign, case=c, allowed=True, dispatch=d))
        blocked = 0
        for c in cases:
            ok, rules = decided.get(c.pk, (False, [NO_POINT]))
            if ok:
                continue
            blocked += 1
            why = reasons.get(c.pk) or _("No number or address on file for this channel.")
            messages.append(
                CampaignMessage(
                    campaign=campaign, case=c, allowed=False, rules=list(rules), reason=why
                )
            )
            entries.append(
                AuditEntry(
                    action="dispatch.blocked",
                    object_type="notices.campaign",
                    object_id=str(campaign.pk),
                    case_id=c.pk,
                    summary=why,
                    before=None,
                    after={"channel": channel, "rules": list(rules), "campaign": campaign.pk},
                )
            )
        CampaignMessage.objects.bulk_create(messages, batch_size=2000)
        audit_record_many(actor=actor, entries=entries, plain=True)
    return {
        "sent": sent,
        "failed": failed,
        "blocked": blocked,
        "queued": len(allowed) - sent - failed,
    }


def _outcome_save(d: Dispatch, ok: bool, ref: str, reason: str, attempts: int) -> None:
    d.status = DeliveryStatus.SENT if ok else DeliveryStatus.FAILED
    d.provider_ref, d.reason, d.attempts, d.status_at = ref[:100], reason, attempts, timezone.now()
    d.save(update_fields=["status", "provider_ref", "reason", "attempts", "status_at"])


def campaign_run(*, campaign_id: int, chunk: int = CHUNK) -> dict[str, Any]:
    """Run a queued campaign to the end (the task calls this). Returns the phases' seconds."""
    with transaction.atomic():
        campaign = Campaign.objects.select_for_update().get(pk=campaign_id)
        if campaign.status != CampaignStatus.QUEUED:
            return {"skipped": 1}
        campaign.status, campaign.started_at = CampaignStatus.RUNNING, timezone.now()
        campaign.save(update_fields=["status", "started_at"])
    template = campaign.template
    seconds: dict[str, float] = {}
    try:
        template_require_sendable(template)
        ids = list(campaign_cases(campaign).values_list("pk", flat=True))
        campaign.total = len(ids)
        campaign.save(update_fields=["total"])
        for start in range(0, len(ids), chunk):
            cases = list(
                Case.objects.filter(pk__in=ids[start : start + chunk])
                .select_related("client", "debtor", "assignee")
                .order_by("pk")
            )
            counts = campaign_chunk(campaign, template, cases, at=timezone.now())
            for k, v in counts.pop("seconds").items():
                seconds[k] = seconds.get(k, 0.0) + v
            campaign.processed += len(cases)
            campaign.sent += counts["sent"]
            campaign.blocked += counts["blocked"]
            campaign.failed += counts["failed"]
            campaign.save(update_fields=["processed", "sent", "blocked", "failed"])
    except ValidationError as exc:
        _finish(campaign, CampaignStatus.FAILED, " ".join(exc.messages))
        return seconds
    except Exception as exc:  # the run stops; what it recorded stays, the reason is shown
        _finish(campaign, CampaignStatus.FAILED, f"{type(exc).__name__}: {exc}")
        raise
    _finish(campaign, CampaignStatus.DONE, "")
    return seconds


def _finish(campaign: Campaign, status: str, error: str) -> None:
    campaign.status, campaign.error, campaign.finished_at = status, error, timezone.now()
    campaign.save(update_fields=["status", "error", "finished_at"])
    audit_record(
        actor=campaign.created_by,
        action="campaign.finish",
        target=campaign,
        summary=f"{campaign.name}: {status}",
        after={
            "status": status,
            "total": campaign.total,
            "processed": campaign.processed,
            "sent": campaign.sent,
            "blocked": campaign.blocked,
            "failed": campaign.failed,
            "error": error,
        },
    )


def campaign_report(campaign: Campaign) -> dict[str, Any]:
    """The result report: the counts, the blocked by rule, and the blocked messages."""
    from collections import Counter

    blocked = list(
        CampaignMessage.objects.filter(campaign=campaign, allowed=False)
        .select_related("case__debtor")
        .order_by("id")
    )
    by_rule: Counter[str] = Counter(r for m in blocked for r in m.rules)
    by_status: Counter[str] = Counter(
        Dispatch.objects.filter(campaign=campaign).values_list("status", flat=True)
    )
    return {
        "campaign": campaign,
        "by_rule": by_rule.most_common(),
        "by_status": sorted(by_status.items()),
        "blocked": blocked,
    }
