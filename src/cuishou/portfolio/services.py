"""Writes to the portfolio: clients, and (in ``importer``) whole portfolio files."""

from __future__ import annotations

import datetime as dt
import re
from typing import Any

from django.core.exceptions import ValidationError
from django.db import models, transaction
from django.db.models import Q
from django.utils.translation import gettext as _

from cuishou.audit.services import audit_record, model_snapshot
from cuishou.cases.models import Case
from cuishou.engine.marks import recompute_mark_add
from cuishou.portfolio.choices import PolicyPack
from cuishou.portfolio.importer import ImportResult, import_portfolio
from cuishou.portfolio.models import Client, Loan, PenaltyPause

__all__ = [
    "ImportResult",
    "client_add",
    "import_portfolio",
    "penalty_pause_create",
    "penalty_pause_end",
]

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


def _debtor_case_id(loan: Loan) -> int | None:
    """The loan's debtor's case with the loan's client, if there is one."""
    return (
        Case.objects.filter(client_id=loan.client_id, debtor_id=loan.debtor_id)
        .values_list("pk", flat=True)
        .first()
    )


def _pause_reason(reason: str) -> str:
    reason = (reason or "").strip()
    if not reason:
        raise ValidationError(_("a penalty pause needs a reason"), code="pause_reason")
    limit = PenaltyPause._meta.get_field("reason").max_length or 200
    if len(reason) > limit:
        raise ValidationError(
            _("the reason is longer than %(n)d characters") % {"n": limit}, code="pause_reason"
        )
    return reason


def _pause_dates(pause: PenaltyPause) -> str:
    if pause.ends_on is None:
        return _("from %(start)s, open-ended") % {"start": pause.starts_on.isoformat()}
    return _("%(start)s to %(end)s") % {
        "start": pause.starts_on.isoformat(),
        "end": pause.ends_on.isoformat(),
    }


def penalty_pause_create(
    *,
    actor: Any,
    loan: Loan,
    starts_on: dt.date,
    ends_on: dt.date | None = None,
    reason: str,
) -> PenaltyPause:
    """Pause (停息) the loan's penalty accrual on days ``starts_on`` … ``ends_on`` (inclusive;
    open-ended without ``ends_on``). Refuses a pause overlapping another of the same loan.
    A pause starting before today marks the debtor's history for rewriting from then."""
    reason = _pause_reason(reason)
    if ends_on is not None and ends_on < starts_on:
        raise ValidationError(
            _("a pause cannot end (%(end)s) before it starts (%(start)s)")
            % {"end": ends_on.isoformat(), "start": starts_on.isoformat()},
            code="pause_dates",
        )
    with transaction.atomic():
        # The loan row serialises pauses of one loan, so two overlapping ones cannot both pass.
        locked = Loan.objects.select_for_update().get(pk=loan.pk)
        overlapping = PenaltyPause.objects.filter(loan_id=locked.pk).filter(
            Q(ends_on__isnull=True) | Q(ends_on__gte=starts_on)
        )
        if ends_on is not None:
            overlapping = overlapping.filter(starts_on__lte=ends_on)
        existing = overlapping.order_by("starts_on").first()
        if existing is not None:
            raise ValidationError(
                _("loan %(contract)s already has a penalty pause %(dates)s that overlaps")
                % {"contract": locked.contract_no, "dates": _pause_dates(existing)},
                code="pause_overlap",
            )
        pause = PenaltyPause.objects.create(
            loan=locked,
            starts_on=starts_on,
            ends_on=ends_on,
            reason=reason,
            created_by_id=actor.pk if isinstance(actor, models.Model) else None,
        )
        audit_record(
            actor=actor,
            action="loan.penalty_pause",
            target=locked,
            case_id=_debtor_case_id(locked),
            summary=f"penalty paused {starts_on.isoformat()}–"
            f"{ends_on.isoformat() if ends_on else ''}: {reason}",
            after={
                "pause_id": pause.pk,
                "starts_on": starts_on,
                "ends_on": ends_on,
                "reason": reason,
            },
        )
        recompute_mark_add(
            client_id=locked.client_id,
            debtor_id=locked.debtor_id,
            from_date=starts_on,
            reason=f"penalty pause {pause.pk} from {starts_on.isoformat()}",
        )
    return pause


def penalty_pause_end(
    *, actor: Any, pause: PenaltyPause, ends_on: dt.date, reason: str
) -> PenaltyPause:
    """End an open-ended penalty pause on ``ends_on`` (the last paused day). Penalty
    accrues again from the day after; when that day is past, the debtor's history is
    marked for rewriting from it."""
    reason = _pause_reason(reason)
    with transaction.atomic():
        loan = Loan.objects.select_for_update().get(pk=pause.loan_id)
        locked = PenaltyPause.objects.select_for_update().get(pk=pause.pk)
        if locked.ends_on is not None:
            raise ValidationError(
                _("this penalty pause already ends on %(end)s") % {"end": locked.ends_on},
                code="pause_ended",
            )
        if ends_on < locked.starts_on:
            raise ValidationError(
                _("a pause cannot end (%(end)s) before it starts (%(start)s)")
                % {"end": ends_on.isoformat(), "start": locked.starts_on.isoformat()},
                code="pause_dates",
            )
        locked.ends_on = ends_on
        locked.save(update_fields=["ends_on"])
        audit_record(
            actor=actor,
            action="loan.penalty_pause_end",
            target=loan,
            case_id=_debtor_case_id(loan),
            summary=f"penalty pause {locked.starts_on.isoformat()}– ends "
            f"{ends_on.isoformat()}: {reason}",
            before={"pause_id": locked.pk, "ends_on": None},
            after={"pause_id": locked.pk, "ends_on": ends_on, "reason": reason},
        )
        first_accrual_day = ends_on + dt.timedelta(days=1)
        recompute_mark_add(
            client_id=loan.client_id,
            debtor_id=loan.debtor_id,
            from_date=first_accrual_day,
            reason=f"penalty pause {locked.pk} ended {ends_on.isoformat()}",
        )
    pause.ends_on = ends_on
    return locked
