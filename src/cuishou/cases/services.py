"""Writes to cases. Each service is atomic and records its audit event."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from cuishou.audit.services import actor_parts, audit_record
from cuishou.cases.choices import Stage
from cuishou.cases.models import Case
from cuishou.cases.selectors import case_require_in_scope, user_may_reveal_pii
from cuishou.portfolio.models import ContactPoint

PII_FIELDS = ("id_number", "mobile", "contact")
_IDS_PER_STATEMENT = 5000  # under SQLite's limit of parameters per statement


def cases_bulk_set(*, case_ids: Sequence[int], **values: Any) -> int:
    """Set the same ``values`` (and ``updated_at``) on many cases: one UPDATE per chunk
    of ids, not one per case. For services that audit the change themselves
    (allocation, strategy matching); returns the rows changed."""
    now = timezone.now()
    changed = 0
    for start in range(0, len(case_ids), _IDS_PER_STATEMENT):
        chunk = case_ids[start : start + _IDS_PER_STATEMENT]
        changed += Case.objects.filter(pk__in=chunk).update(**values, updated_at=now)
    return changed


@transaction.atomic
def case_reveal_pii(
    *, actor: Any, case: Case, field: str, contact_point: ContactPoint | None = None
) -> str:
    """Return one unmasked value of the case's debtor and audit the reveal.

    ``field`` is ``id_number``, ``mobile`` or ``contact`` (then ``contact_point`` names which).
    """
    if not user_may_reveal_pii(actor):
        raise PermissionDenied(_("This role may not see unmasked personal data."))
    case_require_in_scope(actor, case)
    if field == "id_number":
        value = case.debtor.id_number
        object_type, object_id = "portfolio.debtor", str(case.debtor_id)
    elif field == "mobile":
        value = case.debtor.mobile
        object_type, object_id = "portfolio.debtor", str(case.debtor_id)
    elif field == "contact" and contact_point is not None:
        if contact_point.debtor_id != case.debtor_id:
            raise PermissionDenied(_("That contact point is not in this case's file."))
        value = contact_point.value
        object_type, object_id = "portfolio.contactpoint", str(contact_point.pk)
    else:
        raise ValueError(f"unknown personal-data field: {field}")
    audit_record(
        actor=actor,
        action="pii.reveal",
        object_type=object_type,
        object_id=object_id,
        case_id=case.pk,
        summary=f"revealed {field}",
        after={"field": field},
    )
    return value


@transaction.atomic
def case_assign(
    *, actor: Any, case: Case, assignee: Any, reason: str = "", pinned: bool = False
) -> Case:
    """Give ``case`` to ``assignee`` (a user, or None to unassign), recording who had it.
    ``pinned``: given by hand, so allocation leaves it there (``case_reassign``).

    The case row is locked, so two allocations of the same case serialise.
    """
    locked = Case.objects.select_for_update().get(pk=case.pk)
    before = locked.assignee_id
    after = assignee.pk if assignee is not None else None
    pinned = pinned and after is not None
    if before == after and locked.assignment_pinned == pinned:
        return locked
    locked.assignee_id = after
    locked.assignment_pinned = pinned
    locked.save(update_fields=["assignee", "assignment_pinned", "updated_at"])
    audit_record(
        actor=actor,
        action="case.assign",
        target=locked,
        case_id=locked.pk,
        summary=reason or "assigned",  # cut to the column length by audit_record
        before={"assignee_id": before},
        after={"assignee_id": after, **({"pinned": True, "reason": reason} if pinned else {})},
    )
    case.assignee_id, case.assignment_pinned = after, pinned
    case.updated_at = locked.updated_at
    return locked


@transaction.atomic
def case_stage_set(*, actor: Any, case: Case, stage: str, reason: str, rule: str = "hand") -> Case:
    """Set the case's stage by hand (or, ``rule="strategy"``, by a strategy's escalation
    point). The nightly run then never moves it back below this stage (it still moves it
    forward when the strategy table says a later one).

    A reason is required; the change is audited with the stage before and after."""
    if stage not in Stage.values:
        raise ValidationError(_("Unknown stage: %(stage)s") % {"stage": stage})
    reason = (reason or "").strip()
    if not reason:
        raise ValidationError(_("Say why the stage is set by hand."))
    locked = Case.objects.select_for_update().get(pk=case.pk)
    before = {"stage": locked.stage, "stage_set_by_hand": locked.stage_set_by_hand}
    locked.stage = stage
    locked.stage_set_by_hand = True
    locked.stage_set_by_id = actor_parts(actor)[0]
    locked.stage_set_at = timezone.now()
    locked.save(
        update_fields=["stage", "stage_set_by_hand", "stage_set_by", "stage_set_at", "updated_at"]
    )
    audit_record(
        actor=actor,
        action="case.stage",
        object_type="cases.case",
        object_id=str(locked.pk),
        case_id=locked.pk,
        summary=f"stage {before['stage']} → {stage} by {'hand' if rule == 'hand' else rule}: "
        f"{reason}",
        before=before,
        after={"stage": stage, "stage_set_by_hand": True, "rule": rule, "reason": reason},
    )
    return locked
