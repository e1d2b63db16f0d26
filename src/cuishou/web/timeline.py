"""Timeline lines in the reader's language, built from an audit event's data.

An event's ``summary`` is stored once, in the language of whoever wrote it; the page
instead describes the events it knows from their structured before/after, translated
when shown. Unknown actions fall back to the stored summary.
"""

from __future__ import annotations

from collections.abc import Callable
from decimal import Decimal
from typing import Any

from django.utils.translation import gettext as _

from cuishou.audit.models import AuditEvent
from cuishou.cases.choices import Channel, Closure, Outcome, Party, Stage
from cuishou.core.money import to_fen
from cuishou.notices.choices import DeliveryStatus, SendChannel, TemplateKind

_PII_FIELDS = {
    "id_number": lambda: _("ID number"),
    "mobile": lambda: _("mobile"),
    "contact": lambda: _("contact point"),
}


def _stage_label(code: Any) -> str:
    try:
        return str(Stage(code).label)
    except ValueError:
        return str(code)


def _case_open(e: AuditEvent) -> str:
    after = e.after or {}
    return _("as of %(date)s: %(bucket)s, %(dpd)s days past due, stage %(stage)s") % {
        "date": after.get("as_of", ""),
        "bucket": after.get("bucket", ""),
        "dpd": after.get("dpd", ""),
        "stage": _stage_label(after.get("stage", "")),
    }


def _case_cure(e: AuditEvent) -> str:
    return _("nothing overdue as of %(date)s") % {"date": (e.after or {}).get("as_of", "")}


def _case_reopen(e: AuditEvent) -> str:
    after = e.after or {}
    if "settlement" in after:
        payments = ", ".join(str(p) for p in after.get("reversed_payments", []))
        return _(
            "reopened as of %(date)s: the settled amount is no longer paid "
            "(payment %(payments)s reversed)"
        ) % {"date": after.get("as_of", ""), "payments": payments}
    return _("overdue again as of %(date)s: %(bucket)s, %(dpd)s days past due") % {
        "date": after.get("as_of", ""),
        "bucket": after.get("bucket", ""),
        "dpd": after.get("dpd", ""),
    }


def _case_stage(e: AuditEvent) -> str:
    before, after = e.before or {}, e.after or {}
    values = {
        "old": _stage_label(before.get("stage", "")),
        "new": _stage_label(after.get("stage", "")),
        "bucket": after.get("bucket", ""),
        "date": after.get("as_of", ""),
        "reason": after.get("reason", ""),
    }
    rule = after.get("rule")
    if rule == "hand":
        return _("stage %(old)s → %(new)s, set by hand: %(reason)s") % values
    if rule == "client":
        return (
            _("stage %(old)s → %(new)s by the client's strategy table (%(bucket)s as of %(date)s)")
            % values
        )
    if rule == "grace":
        return _("stage %(old)s → %(new)s: within the grace days as of %(date)s") % values
    return _("stage %(old)s → %(new)s by the default ladder (%(bucket)s as of %(date)s)") % values


def _pii_reveal(e: AuditEvent) -> str:
    field = (e.after or {}).get("field", "")
    label = _PII_FIELDS.get(field)
    return str(label()) if label else str(field)


def _portfolio_import(e: AuditEvent) -> str:
    counts = (e.after or {}).get("counts", {})
    return _("%(created)s loans created, %(updated)s updated") % {
        "created": counts.get("loans_created", 0),
        "updated": counts.get("loans_updated", 0),
    }


def _loan_update(e: AuditEvent) -> str:
    fields = sorted((e.after or {}).keys())
    return _("changed: %(fields)s") % {"fields": ", ".join(fields)}


def _money(value: Any) -> str:
    """``1500`` → ``1,500.00``, as the pages show amounts."""
    try:
        return f"{to_fen(Decimal(str(value))):,.2f}"
    except (ArithmeticError, ValueError, TypeError):
        return str(value)


def _label(choices: Any, code: Any) -> str:
    try:
        return str(choices(code).label)
    except ValueError:
        return str(code)


def _contact_attempt(e: AuditEvent) -> str:
    after = e.after or {}
    line = _("%(channel)s, %(party)s: %(outcome)s") % {
        "channel": _label(Channel, after.get("channel")),
        "party": _label(Party, after.get("party")),
        "outcome": _label(Outcome, after.get("outcome")),
    }
    notes = after.get("notes")
    return f"{line} — {notes}" if notes else line


def _contact_blocked(e: AuditEvent) -> str:
    rules = ", ".join((e.after or {}).get("rules", []))
    return _("blocked by compliance (%(rules)s): %(why)s") % {"rules": rules, "why": e.summary}


def _promise_create(e: AuditEvent) -> str:
    after = e.after or {}
    parts = [
        _("%(amount)s by %(date)s") % {"amount": _money(i.get("amount")), "date": i.get("due_on")}
        for i in after.get("instalments", [])
    ]
    return _("promise to pay: %(parts)s") % {"parts": "; ".join(parts)}


def _promise_decided(e: AuditEvent) -> str:
    after = e.after or {}
    values = {"date": after.get("as_of", ""), "paid": _money(after.get("paid"))}
    if after.get("status") == "kept":
        return _("promise kept as of %(date)s (%(paid)s paid)") % values
    return _("promise broken as of %(date)s (%(paid)s paid)") % values


def _case_assign(e: AuditEvent) -> str:
    after = e.after or {}
    if after.get("pinned"):
        return _("reassigned by hand: %(reason)s") % {"reason": after.get("reason", "")}
    if after.get("rule") == "allocation":
        return _("allocated")
    return e.summary


def _approval_request(e: AuditEvent) -> str:
    after = e.after or {}
    if after.get("kind") == "write_off":
        return _("write-off requested: %(reason)s") % {"reason": after.get("reason", "")}
    return _("de-escalation to %(stage)s requested: %(reason)s") % {
        "stage": _stage_label(after.get("stage", "")),
        "reason": after.get("reason", ""),
    }


def _approval_decide(e: AuditEvent) -> str:
    after = e.after or {}
    if after.get("status") == "approved":
        return _("request approved: %(note)s") % {"note": after.get("note", "")}
    return _("request rejected: %(note)s") % {"note": after.get("note", "")}


def _case_close(e: AuditEvent) -> str:
    after = e.after or {}
    return _("closed as %(closure)s: %(reason)s (file archived, SHA-256 %(sha)s…)") % {
        "closure": _label(Closure, after.get("closure")),
        "reason": after.get("reason", ""),
        "sha": str(after.get("archive_sha256", ""))[:12],
    }


def _dispatch_values(after: dict[str, Any]) -> dict[str, Any]:
    return {
        "number": after.get("number", ""),
        "kind": _label(TemplateKind, after.get("kind")) if after.get("kind") else "",
        "channel": _label(SendChannel, after.get("channel")),
        "status": _label(DeliveryStatus, after.get("status")),
        "reason": after.get("reason", ""),
        "tracking": after.get("tracking_number", ""),
        "batch": after.get("print_batch", ""),
        "campaign": after.get("campaign", ""),
    }


def _document_render(e: AuditEvent) -> str:
    after = e.after or {}
    return _("%(kind)s %(number)s made (template %(template)s v%(version)s)") % {
        "kind": _label(TemplateKind, after.get("kind")),
        "number": after.get("number", ""),
        "template": after.get("template", ""),
        "version": after.get("version", ""),
    }


def _dispatch_queue(e: AuditEvent) -> str:
    return _("%(number)s queued to go by %(channel)s") % _dispatch_values(e.after or {})


def _dispatch_status(e: AuditEvent) -> str:
    values = _dispatch_values(e.after or {})
    if values["batch"]:
        line = _("%(number)s by %(channel)s: %(status)s (print batch %(batch)s)") % values
    elif values["campaign"]:
        line = _("%(number)s by %(channel)s: %(status)s (campaign #%(campaign)s)") % values
    else:
        line = _("%(number)s by %(channel)s: %(status)s") % values
    if (e.after or {}).get("status") == DeliveryStatus.FAILED and values["reason"]:
        line = f"{line} — {values['reason']}"
    return line


def _dispatch_blocked(e: AuditEvent) -> str:
    after = e.after or {}
    values = {
        "number": after.get("number") or "",
        "channel": _label(SendChannel, after.get("channel")),
        "rules": ", ".join(after.get("rules", [])),
        "why": e.summary,
    }
    if not values["number"]:  # a campaign's message: no document was made
        return _("%(channel)s blocked by compliance (%(rules)s): %(why)s") % values
    return _("%(number)s by %(channel)s blocked by compliance (%(rules)s): %(why)s") % values


def _dispatch_hand_over(e: AuditEvent) -> str:
    after = e.after or {}
    return _("%(number)s handed over in person to %(recipient)s") % {
        "number": after.get("number", ""),
        "recipient": after.get("recipient", ""),
    }


def _dispatch_tracking(e: AuditEvent) -> str:
    return _("%(number)s posted, tracking number %(tracking)s") % _dispatch_values(e.after or {})


def _receipt_upload(e: AuditEvent) -> str:
    after = e.after or {}
    values = {
        "number": after.get("number", ""),
        "signer": after.get("signer", ""),
        "relation": after.get("relation", ""),
        "date": after.get("signed_on", ""),
        "sha": str(after.get("sha256", ""))[:12],
    }
    if values["relation"]:
        return (
            _(
                "signed receipt for %(number)s: signed by %(signer)s (%(relation)s) on "
                "%(date)s (SHA-256 %(sha)s…)"
            )
            % values
        )
    return (
        _("signed receipt for %(number)s: signed by %(signer)s on %(date)s (SHA-256 %(sha)s…)")
        % values
    )


def _visit_arrive(e: AuditEvent) -> str:
    after = e.after or {}
    values = {"seq": after.get("seq", ""), "address": after.get("address", "")}
    if not after.get("located"):
        return _("visit stop %(seq)s: arrived at %(address)s (no location reported)") % values
    values["m"] = after.get("distance_m", "")
    if after.get("far"):
        return _("visit stop %(seq)s: arrived at %(address)s, %(m)s m away — far") % values
    return _("visit stop %(seq)s: arrived at %(address)s (%(m)s m)") % values


def _visit_stop(e: AuditEvent) -> str:
    from cuishou.visits.choices import StopOutcome

    after = e.after or {}
    line = _("visit stop %(seq)s: %(outcome)s") % {
        "seq": after.get("seq", ""),
        "outcome": _label(StopOutcome, after.get("outcome")),
    }
    if after.get("notice_delivery") == "mailbox_sealed":
        line = _("%(line)s; legal notice sealed into the debtor's own mailbox") % {"line": line}
    if after.get("notice_signed"):
        line = _("%(line)s; collection notice signed") % {"line": line}
    return line


def _route_change(e: AuditEvent) -> str:
    from cuishou.visits.choices import ChangeKind, ChangeStatus

    after = e.after or {}
    values = {
        "kind": _label(ChangeKind, after.get("kind")),
        "seq": after.get("seq", ""),
        "status": _label(ChangeStatus, after.get("status")),
        "note": after.get("note", ""),
    }
    if e.action == "route.change_request":
        return _("change of route asked (stop %(seq)s): %(kind)s") % values
    return _("change of route %(status)s: %(kind)s %(note)s") % values


def _evidence_line(e: AuditEvent) -> str:
    from cuishou.visits.choices import EvidenceFlag, EvidenceKind

    after = e.after or {}
    flags = []
    for flag in after.get("flags", []) or []:
        code = flag.get("code") if isinstance(flag, dict) else flag
        flags.append(_label(EvidenceFlag, code))
    line = _("%(kind)s stored (SHA-256 %(sha)s…)") % {
        "kind": _label(EvidenceKind, after.get("kind")),
        "sha": str(after.get("sha256", ""))[:12],
    }
    return f"{line} — {'; '.join(flags)}" if flags else line


_DESCRIBERS: dict[str, Callable[[AuditEvent], str]] = {
    "document.render": _document_render,
    "dispatch.queue": _dispatch_queue,
    "dispatch.status": _dispatch_status,
    "dispatch.blocked": _dispatch_blocked,
    "dispatch.hand_over": _dispatch_hand_over,
    "dispatch.tracking": _dispatch_tracking,
    "receipt.upload": _receipt_upload,
    "contact.attempt": _contact_attempt,
    "contact.blocked": _contact_blocked,
    "contact.invalid": lambda e: _("number marked invalid (wrong number)"),
    "related.refused": lambda e: _("related person refused further contact"),
    "dispute.open": lambda e: _("dispute opened: %(reason)s") % {"reason": e.summary},
    "dispute.resolve": lambda e: _("dispute resolved: %(resolution)s") % {"resolution": e.summary},
    "promise.create": _promise_create,
    "promise.kept": _promise_decided,
    "promise.broken": _promise_decided,
    "case.assign": _case_assign,
    "visit.request": lambda e: _("visit requested: %(reason)s") % {"reason": e.summary},
    "legal.review": lambda e: _("legal review requested: %(reason)s") % {"reason": e.summary},
    "approval.request": _approval_request,
    "approval.decide": _approval_decide,
    "case.close": _case_close,
    "case.open": _case_open,
    "case.cure": _case_cure,
    "case.reopen": _case_reopen,
    "case.stage": _case_stage,
    "pii.reveal": _pii_reveal,
    "portfolio.import": _portfolio_import,
    "loan.update": _loan_update,
    "visit.arrive": _visit_arrive,
    "evidence.add": _evidence_line,
    "visit.stop": _visit_stop,
    "route.change_request": _route_change,
    "route.change_decide": _route_change,
    "visit.report": lambda e: (
        _("visit report of %(day)s filed in the case") % {"day": (e.after or {}).get("day", "")}
    ),
}


def describe_event(event: AuditEvent) -> str:
    """One line for the timeline, in the active language where the action is known."""
    describe = _DESCRIBERS.get(event.action)
    if describe is None or (event.action == "case.open" and "as_of" not in (event.after or {})):
        return event.summary
    return describe(event)
