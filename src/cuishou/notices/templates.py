"""Notice templates: written, revised (each edit a new version), approved or rejected by a
compliance officer, and the gate every send passes (``template_require_sendable``).

Approval runs the checks a text must pass: the template compiles in the sandbox and uses
only the documented variables of its audience; its text and a sample rendering in its
language have no prohibited language (``compliance.language``); a third-party text (and
a letter of introduction is one) does not mention the debt. A version may be sent only
while it is approved, the newest of its key, and unchanged since approval (its content
hash is compared at every send).
"""

from __future__ import annotations

import hashlib
import json
from typing import Any

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.db.models import Max
from django.utils import timezone
from django.utils.translation import gettext as _

from cuishou.accounts.choices import Role
from cuishou.audit.services import audit_record
from cuishou.compliance.language import debt_disclosure, prohibited_language
from cuishou.notices.choices import Audience, NoticeLanguage, TemplateKind, TemplateStatus
from cuishou.notices.models import NoticeTemplate
from cuishou.notices.sandbox import render_text, sample_context, template_problems

ADD_PERMISSION = "notices.add_noticetemplate"
CHANGE_PERMISSION = "notices.change_noticetemplate"


def content_sha256(t: NoticeTemplate) -> str:
    """The hash of what a version says (kind, audience, language, subject, text)."""
    content = [t.kind, t.audience, t.language, t.subject, t.body]
    return hashlib.sha256(json.dumps(content, ensure_ascii=False).encode()).hexdigest()


def _spans(text: str, hits: list[Any]) -> str:
    return "; ".join(f"“{h.found_in(text)}”" for h in hits)


def text_problems(*, kind: str, audience: str, language: str, subject: str, body: str) -> list[str]:
    """Everything that stops a version from being approved (empty: nothing)."""
    if kind == TemplateKind.INTRODUCTION and audience != Audience.THIRD_PARTY:
        return [
            _("A letter of introduction is shown to third parties: its audience is a third party.")
        ]
    problems = []
    for label, source in ((_("title or subject"), subject), (_("text"), body)):
        problems += [f"{label}: {p}" for p in template_problems(source, audience=audience)]
    if problems:
        return problems
    sample = sample_context(audience=audience, language=language)
    for label, source in ((_("title or subject"), subject), (_("text"), body)):
        rendered = render_text(source, sample)
        for text in dict.fromkeys((source, rendered)):
            hits = prohibited_language(text)
            if hits:
                problems.append(
                    _("%(what)s has prohibited language: %(found)s")
                    % {"what": label, "found": _spans(text, hits)}
                )
            if audience == Audience.THIRD_PARTY:
                told = debt_disclosure(text)
                if told:
                    problems.append(
                        _("%(what)s mentions the debt, and it goes to a third party: %(found)s")
                        % {"what": label, "found": _spans(text, told)}
                    )
    return list(dict.fromkeys(problems))


def _validate(fields: dict[str, Any]) -> None:
    errors: dict[str, list[str]] = {}
    if fields["kind"] not in TemplateKind.values:
        errors["kind"] = [_("Unknown kind.")]
    if fields["language"] not in NoticeLanguage.values:
        errors["language"] = [_("Chinese or English.")]
    if fields["audience"] not in Audience.values:
        errors["audience"] = [_("The debtor or a third party.")]
    if not fields["name"].strip():
        errors["name"] = [_("Give the template a name.")]
    if not fields["body"].strip():
        errors["body"] = [_("The text is empty.")]
    if fields["kind"] == TemplateKind.EMAIL and not fields["subject"].strip():
        errors["subject"] = [_("An e-mail needs a subject.")]
    if errors:
        raise ValidationError(errors)
    problems = template_problems(fields["subject"], audience=fields["audience"])
    problems_body = template_problems(fields["body"], audience=fields["audience"])
    if problems or problems_body:
        raise ValidationError(
            {k: v for k, v in (("subject", problems), ("body", problems_body)) if v}
        )


def _snapshot(t: NoticeTemplate) -> dict[str, Any]:
    return {
        "key": t.key,
        "version": t.version,
        "kind": t.kind,
        "audience": t.audience,
        "language": t.language,
        "name": t.name,
        "status": t.status,
        "content_sha256": content_sha256(t),
    }


def template_create(
    *,
    actor: Any,
    key: str,
    kind: str,
    language: str,
    name: str,
    body: str,
    subject: str = "",
    audience: str = Audience.DEBTOR,
) -> NoticeTemplate:
    """Version 1 of a new template, a draft."""
    if not actor.has_perm(ADD_PERMISSION):
        raise PermissionDenied(_("This role may not write notice templates."))
    if kind == TemplateKind.INTRODUCTION:
        audience = Audience.THIRD_PARTY
    fields = {
        "kind": kind,
        "language": language,
        "audience": audience,
        "name": name,
        "subject": subject or "",
        "body": body or "",
    }
    _validate(fields)
    if NoticeTemplate.objects.filter(key=key).exists():
        raise ValidationError({"key": [_("A template with this key exists: revise it.")]})
    with transaction.atomic():
        t = NoticeTemplate.objects.create(
            key=key, version=1, created_at=timezone.now(), created_by=actor, **fields
        )
        audit_record(
            actor=actor,
            action="notice_template.create",
            target=t,
            summary=f"{key} v1",
            after=_snapshot(t),
        )
    return t


def template_latest(key: str) -> NoticeTemplate | None:
    return NoticeTemplate.objects.filter(key=key).order_by("-version").first()


def template_revise(
    *, actor: Any, template: NoticeTemplate, name: str, subject: str, body: str
) -> NoticeTemplate:
    """A new version (a draft) of ``template``'s key with the edited text. A changed
    template cannot be sent: nothing of this key goes out until the new version is
    approved (``template_require_sendable``)."""
    if not actor.has_perm(CHANGE_PERMISSION):
        raise PermissionDenied(_("This role may not change notice templates."))
    fields = {
        "kind": template.kind,
        "language": template.language,
        "audience": template.audience,
        "name": name,
        "subject": subject or "",
        "body": body or "",
    }
    _validate(fields)
    with transaction.atomic():
        latest = (
            NoticeTemplate.objects.select_for_update()
            .filter(key=template.key)
            .aggregate(v=Max("version"))["v"]
        )
        t = NoticeTemplate.objects.create(
            key=template.key,
            version=(latest or 0) + 1,
            created_at=timezone.now(),
            created_by=actor,
            **fields,
        )
        audit_record(
            actor=actor,
            action="notice_template.revise",
            target=t,
            summary=f"{t.key} v{t.version}",
            before=_snapshot(template),
            after=_snapshot(t),
        )
    return t


def user_may_decide_template(user: Any) -> bool:
    return bool(getattr(user, "is_authenticated", False) and user.has_role(Role.COMPLIANCE_OFFICER))


def template_decide(
    *, actor: Any, template: NoticeTemplate, approve: bool, note: str = ""
) -> NoticeTemplate:
    """Approve (after the checks pass) or reject a draft: a compliance officer, never the
    version's author. Approving supersedes the key's older approved version."""
    if not user_may_decide_template(actor):
        raise PermissionDenied(_("Only a compliance officer approves notice templates."))
    if template.created_by_id is not None and template.created_by_id == actor.pk:
        raise PermissionDenied(_("Somebody else must approve the version you wrote."))
    with transaction.atomic():
        t = NoticeTemplate.objects.select_for_update().get(pk=template.pk)
        if t.status != TemplateStatus.DRAFT:
            raise ValidationError(
                {"status": [_("This version is %(status)s.") % {"status": t.get_status_display()}]}
            )
        latest = template_latest(t.key)
        if latest is not None and latest.pk != t.pk:
            raise ValidationError({"version": [_("A newer version exists: decide that one.")]})
        if approve:
            problems = text_problems(
                kind=t.kind,
                audience=t.audience,
                language=t.language,
                subject=t.subject,
                body=t.body,
            )
            if problems:
                raise ValidationError({"body": problems})
        before = _snapshot(t)
        now = timezone.now()
        t.status = TemplateStatus.APPROVED if approve else TemplateStatus.REJECTED
        t.decided_at, t.decided_by, t.decision_note = now, actor, (note or "").strip()[:300]
        t.content_sha256 = content_sha256(t) if approve else ""
        t.save(
            update_fields=["status", "decided_at", "decided_by", "decision_note", "content_sha256"]
        )
        if approve:
            for old in NoticeTemplate.objects.filter(
                key=t.key, status=TemplateStatus.APPROVED
            ).exclude(pk=t.pk):
                old.status = TemplateStatus.SUPERSEDED
                old.save(update_fields=["status"])
                audit_record(
                    actor=actor,
                    action="notice_template.supersede",
                    target=old,
                    summary=f"{old.key} v{old.version} superseded by v{t.version}",
                    after={"status": old.status, "by_version": t.version},
                )
        audit_record(
            actor=actor,
            action="notice_template.approve" if approve else "notice_template.reject",
            target=t,
            summary=f"{t.key} v{t.version}: {t.decision_note}",
            before=before,
            after={**_snapshot(t), "note": t.decision_note},
        )
    return t


def template_require_sendable(template: NoticeTemplate) -> None:
    """ValidationError unless ``template`` is approved, the newest version of its key and
    unchanged since it was approved."""
    reasons = []
    fresh = NoticeTemplate.objects.filter(pk=template.pk).first()
    if fresh is None or fresh.status != TemplateStatus.APPROVED:
        reasons.append(_("This template version is not approved by compliance."))
    else:
        if (
            content_sha256(fresh) != fresh.content_sha256
            or content_sha256(template) != fresh.content_sha256
        ):
            reasons.append(_("This template was changed after it was approved."))
        latest = template_latest(fresh.key)
        if latest is not None and latest.pk != fresh.pk:
            reasons.append(
                _("A newer version (v%(version)d) of this template awaits approval.")
                % {"version": latest.version}
            )
    if reasons:
        raise ValidationError({"template": reasons})
