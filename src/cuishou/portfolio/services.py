"""Writes to the portfolio: clients, and (in ``importer``) whole portfolio files."""

from __future__ import annotations

import re
from typing import Any

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils.translation import gettext as _

from cuishou.audit.services import audit_record, model_snapshot
from cuishou.portfolio.choices import PolicyPack
from cuishou.portfolio.importer import ImportResult, import_portfolio
from cuishou.portfolio.models import Client

__all__ = ["ImportResult", "client_add", "import_portfolio"]

_CODE_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,31}$")


def client_add(*, actor: Any, code: str, name: str, pack: str = PolicyPack.CN) -> Client:
    """Create a client (委托方). Raises ValidationError for a bad or taken code."""
    code = (code or "").strip()
    name = (name or "").strip()
    if not _CODE_RE.match(code):
        raise ValidationError(
            _("a client code is 1–32 letters, digits, '.', '_' or '-': %(code)r") % {"code": code},
            code="client_code",
        )
    if not name:
        raise ValidationError(_("a client needs a name"), code="client_name")
    if pack not in PolicyPack.values:
        raise ValidationError(
            _("unknown policy pack %(pack)r (use %(choices)s)")
            % {"pack": pack, "choices": " or ".join(PolicyPack.values)},
            code="client_pack",
        )
    with transaction.atomic():
        if Client.objects.filter(code=code).exists():
            raise ValidationError(
                _("client %(code)s already exists") % {"code": code}, code="client_exists"
            )
        client = Client.objects.create(code=code, name=name, policy_pack=pack)
        audit_record(
            actor=actor,
            action="client.create",
            target=client,
            summary=f"{code} {name}",
            after=model_snapshot(client, ["code", "name", "policy_pack"]),
        )
    return client
