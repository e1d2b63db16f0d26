"""Template filters for pages: money, masking and role labels."""

from __future__ import annotations

import datetime as dt
import math
from decimal import Decimal
from typing import Any

from django import template
from django.utils.translation import gettext_lazy as _

from cuishou.accounts.choices import Role
from cuishou.audit.models import AuditEvent
from cuishou.core.masking import mask_contact, mask_id_number, mask_recipient
from cuishou.core.money import format_money_display
from cuishou.web.timeline import describe_event

register = template.Library()


@register.filter
def money(value: Decimal | int | str | None) -> str:
    """``1234.5`` → ``1,234.50`` (two decimals, thousands separated)."""
    return format_money_display(value)


@register.filter
def masked_id(value: str | None) -> str:
    return mask_id_number(value)


@register.filter
def masked_point(point: Any) -> str:
    """A contact point's number or e-mail address, masked."""
    return mask_contact(point.kind, point.value)


@register.filter
def masked_recipient(send: Any) -> str:
    """Where a send went: the number or e-mail masked, a postal address as it is."""
    return mask_recipient(send.channel, send.recipient)


@register.simple_tag
def role_labels(user: Any) -> str:
    """The user's roles by their translated labels, comma separated."""
    if not getattr(user, "is_authenticated", False):
        return ""
    labels = [str(role.label) for role in Role if user.has_role(role)]
    return ", ".join(labels)


@register.filter
def percent(value: Decimal | None) -> str:
    """An annual rate as a percentage: ``0.18`` → ``18.00%``."""
    if value is None:
        return ""
    return f"{Decimal(value) * 100:.2f}%"


@register.filter
def installment_unpaid(installment: Any) -> Decimal:
    return Decimal(installment.principal_unpaid + installment.interest_unpaid)


AUDIT_ACTION_LABELS = {
    "pii.reveal": _("Personal data revealed"),
    "case.assign": _("Case assigned"),
    "loan.update": _("Loan changed by an import"),
    "portfolio.import": _("Portfolio imported"),
    "case.open": _("Case opened"),
    "case.cure": _("Case cured (nothing overdue)"),
    "case.reopen": _("Case reopened"),
    "case.stage": _("Stage changed"),
    "payment.post": _("Payment posted"),
    "payment.reverse": _("Payment reversed"),
    "loan.penalty_pause": _("Penalty interest paused (停息)"),
    "loan.penalty_pause_end": _("Penalty pause ended"),
    "client.create": _("Client added"),
    "product.create": _("Product added"),
    "user.create": _("User added"),
    "team.create": _("Team added"),
    "apitoken.create": _("API token created"),
    "apitoken.revoke": _("API token revoked"),
    "document.render": _("Document made"),
    "dispatch.queue": _("Send queued"),
    "dispatch.status": _("Delivery status"),
    "dispatch.blocked": _("Send blocked by compliance"),
    "dispatch.hand_over": _("Handed over in person"),
    "dispatch.tracking": _("Tracking number recorded"),
    "receipt.upload": _("Signed receipt (回执)"),
    "visit.arrive": _("Visit: arrival (到达)"),
    "evidence.add": _("Evidence stored (证据)"),
    "visit.stop": _("Visit: stop outcome (外访结果)"),
    "route.change_request": _("Route change asked"),
    "route.change_decide": _("Route change decided"),
    "visit.report": _("Visit report (外访报告)"),
}


@register.filter
def audit_describe(event: AuditEvent) -> str:
    """The event's timeline line in the reader's language (see ``cuishou.web.timeline``)."""
    return describe_event(event)


@register.filter
def audit_action(code: str) -> str:
    """A readable label for an audit action code; unknown codes are shown as they are."""
    label = AUDIT_ACTION_LABELS.get(code)
    return str(label) if label is not None else code


@register.filter
def minutes(value: dt.timedelta | None) -> int:
    """A duration in whole minutes (rounded up), for the lock-out page."""
    if value is None:
        return 0
    return max(1, math.ceil(value.total_seconds() / 60))
