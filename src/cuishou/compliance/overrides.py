"""Overrides: a rule the pack marks overridable, lifted on one case for a window.

- **Request** (``override_request``): a person who works the case (a collector or team
  lead) names the rule and says why — the circumstance the pack's ``override_when``
  describes (the debtor asked to be called). Refused, naming the rule, for a rule the
  case's pack does not mark overridable (every quiet-hours, third-party, language, visit,
  cease and disclosure rule, every ``house.*`` rule), on a closed case, and while the same
  rule on the case already waits for approval or is lifted.
- **Decide** (``override_decide``): a compliance officer who is not the requester
  approves or rejects. An approval is in force from that moment until the end of the
  debtor's local day of the request (at most 24 hours after the request); a request
  whose day has ended can no longer be approved (ask again).
- **Use**: ``contact_check`` lifts the rule while the override is in force; each contact
  logged under it (workbench, API, ``cuishou compliance check --record``) counts a use
  (``override_uses_record``) and records ``override:<rule id>`` on the attempt.

Request, approval and rejection are audit events (``compliance.override_request``,
``compliance.override_approve``, ``compliance.override_reject``); a contact made under an
override says so in its own event (``overrides``).
"""

from __future__ import annotations

import datetime as dt
from typing import Any
from zoneinfo import ZoneInfo

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.db.models import F, Value
from django.db.models.functions import Coalesce, Greatest
from django.utils import timezone
from django.utils.translation import gettext as _

from cuishou.accounts.choices import Role
from cuishou.audit.services import audit_record
from cuishou.cases.choices import CLOSED_STATUSES
from cuishou.cases.models import Case
from cuishou.cases.selectors import case_require_in_scope, case_work_require
from cuishou.compliance.check import Decision, debtor_zone
from cuishou.compliance.models import ComplianceOverride, OverrideStatus
from cuishou.compliance.packs import Rule, pack_get

REASON_MAX = 500
WINDOW_MAX = dt.timedelta(hours=24)


def user_may_request_override(user: Any) -> bool:
    return bool(
        getattr(user, "is_authenticated", False)
        and user.has_perm("compliance.add_complianceoverride")
    )


def user_may_decide_override(user: Any) -> bool:
    """Only a compliance officer decides an override (never a superuser by default)."""
    return bool(getattr(user, "is_authenticated", False) and user.has_role(Role.COMPLIANCE_OFFICER))


def overridable_rule(case: Case, rule_id: str) -> Rule:
    """The rule of the case's pack that an override may lift; ValidationError naming the
    rule otherwise."""
    pack = pack_get(case.client.policy_pack)
    rule = pack.rule(rule_id)
    if rule is None and not rule_id.startswith("house."):
        raise ValidationError(
            {
                "rule_id": [
                    _("The %(pack)s pack has no rule %(rule)s.")
                    % {"pack": pack.code, "rule": rule_id or "—"}
                ]
            }
        )
    if rule is None or not rule.overridable:
        allowed = ", ".join(r.id for r in pack.overridable_rules) or "—"
        raise ValidationError(
            {
                "rule_id": [
                    _(
                        "%(rule)s cannot be overridden: the %(pack)s pack allows an override "
                        "only of %(allowed)s."
                    )
                    % {"rule": rule_id, "pack": pack.code, "allowed": allowed}
                ]
            }
        )
    return rule


def override_window_end(case: Case, at: dt.datetime) -> dt.datetime:
    """The end of the debtor's local day of ``at`` (their zone, as the rules read it), at
    most 24 hours after ``at``."""
    zone, _state = debtor_zone(case.debtor, pack_get(case.client.policy_pack))
    tz = ZoneInfo(zone)
    local = at.astimezone(tz)
    midnight = dt.datetime.combine(local.date() + dt.timedelta(days=1), dt.time(0), tzinfo=tz)
    return min(midnight.astimezone(dt.UTC), (at + WINDOW_MAX).astimezone(dt.UTC))


@transaction.atomic
def override_request(*, actor: Any, case: Case, rule_id: str, reason: str) -> ComplianceOverride:
    """Ask for an override of ``rule_id`` on ``case`` (waits for a compliance officer)."""
    if not user_may_request_override(actor):
        raise PermissionDenied(_("This role may not ask for overrides."))
    case_work_require(actor, case)
    reason = (reason or "").strip()
    errors: dict[str, list[str]] = {}
    if not reason:
        errors["reason"] = [_("Say why: what did the debtor ask for, and when?")]
    elif len(reason) > REASON_MAX:
        errors["reason"] = [_("At most %(n)d characters.") % {"n": REASON_MAX}]
    locked = Case.objects.select_for_update().select_related("client", "debtor").get(pk=case.pk)
    if locked.status in CLOSED_STATUSES:
        raise ValidationError({"case": [_("The case is closed.")]})
    rule_id = (rule_id or "").strip()
    try:
        rule = overridable_rule(locked, rule_id)
    except ValidationError as err:
        errors.update(err.message_dict)
        raise ValidationError(errors) from err
    if errors:
        raise ValidationError(errors)
    now = timezone.now()
    open_ = (
        ComplianceOverride.objects.filter(case=locked, rule_id=rule.id, valid_until__gt=now)
        .exclude(status=OverrideStatus.REJECTED)
        .first()
    )
    if open_ is not None:
        message = (
            _("An override of %(rule)s on this case is already in force until %(until)s.")
            if open_.status == OverrideStatus.APPROVED
            else _("An override of %(rule)s on this case is already waiting for approval.")
        )
        until = timezone.localtime(open_.valid_until).strftime("%Y-%m-%d %H:%M")
        raise ValidationError({"rule_id": [message % {"rule": rule.id, "until": until}]})
    override = ComplianceOverride.objects.create(
        case=locked,
        rule_id=rule.id,
        reason=reason,
        requested_at=now,
        requested_by=actor,
        valid_until=override_window_end(locked, now),
    )
    audit_record(
        actor=actor,
        action="compliance.override_request",
        target=override,
        case_id=locked.pk,
        summary=f"{rule.id}: {reason}",
        after={"rule": rule.id, "reason": reason, "valid_until": override.valid_until},
    )
    return override


@transaction.atomic
def override_decide(
    *, actor: Any, override: ComplianceOverride, approve: bool, note: str = ""
) -> ComplianceOverride:
    """Approve (in force from now until its day ends) or reject a waiting override. Only
    a compliance officer, never the requester."""
    if not user_may_decide_override(actor):
        raise PermissionDenied(_("Only a compliance officer approves or rejects an override."))
    locked = (
        ComplianceOverride.objects.select_for_update()
        .select_related("case", "requested_by")
        .get(pk=override.pk)
    )
    if locked.requested_by_id == actor.pk:
        raise PermissionDenied(_("Somebody else decides your own request."))
    case_require_in_scope(actor, locked.case)
    if locked.status != OverrideStatus.REQUESTED:
        raise ValidationError({"override": [_("This request is already decided.")]})
    now = timezone.now()
    if approve and now >= locked.valid_until:
        raise ValidationError(
            {
                "override": [
                    _(
                        "The debtor's day this request was for ended at %(until)s: it can no "
                        "longer be approved; ask again."
                    )
                    % {"until": timezone.localtime(locked.valid_until).strftime("%Y-%m-%d %H:%M")}
                ]
            }
        )
    note = (note or "").strip()[:REASON_MAX]
    locked.status = OverrideStatus.APPROVED if approve else OverrideStatus.REJECTED
    locked.decided_at = now
    locked.decided_by = actor
    locked.decision_note = note
    fields = ["status", "decided_at", "decided_by", "decision_note"]
    if approve:
        locked.valid_from = now
        fields.append("valid_from")
    locked.save(update_fields=fields)
    audit_record(
        actor=actor,
        action="compliance.override_approve" if approve else "compliance.override_reject",
        target=locked,
        case_id=locked.case_id,
        summary=f"{locked.rule_id}: {note or locked.reason}",
        before={"status": OverrideStatus.REQUESTED.value},
        after={
            "status": locked.status,
            "rule": locked.rule_id,
            "requested_by": locked.requested_by_id,
            "note": note,
            "valid_from": locked.valid_from,
            "valid_until": locked.valid_until,
        },
    )
    override.status = locked.status
    return locked


def override_uses_record(*, decision: Decision, at: dt.datetime) -> None:
    """Count a contact made under the decision's overrides (inside the caller's
    transaction, with the attempt it records)."""
    ids = [o.override_id for o in decision.overridden]
    if ids:
        ComplianceOverride.objects.filter(pk__in=ids).update(
            uses=F("uses") + 1,
            last_used_at=Greatest(Coalesce("last_used_at", Value(at)), Value(at)),
        )
