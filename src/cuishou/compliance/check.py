"""The one compliance check every contact goes through before it happens.

Every channel — the workbench's contact logging, SMS and e-mail, letters, campaigns,
visit planning and visit stops — calls ``contact_check`` and acts only on an allowed
decision. This is the single entry point; the policy packs (CN, US) replace its rules
with the compliance engine (issue 5). Until then it applies the house rules the
workflow itself needs:

- ``house.case_closed``: no collection contact on a closed or written-off case;
- ``house.dispute_pause``: while a dispute is open the case is paused, and only the
  debtor may be contacted, about the dispute (``purpose="dispute"``).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Any

from django.utils.translation import gettext as _

from cuishou.cases.choices import CLOSED_STATUSES, CaseStatus, Party


@dataclass(frozen=True)
class RuleHit:
    """A rule that decided (or was applied to) a contact: its id, whether it is law or
    house policy, and a sentence a collector understands."""

    rule_id: str
    kind: str  # "law" or "house"
    message: str


@dataclass(frozen=True)
class Decision:
    allowed: bool
    rules: tuple[RuleHit, ...] = field(default_factory=tuple)

    @property
    def rule_ids(self) -> list[str]:
        return [r.rule_id for r in self.rules]

    @property
    def message(self) -> str:
        return " ".join(r.message for r in self.rules)


class ContactBlocked(Exception):  # noqa: N818 (reads as what happened: raise ContactBlocked)
    """A contact the compliance check refused; ``decision`` says which rules and why."""

    def __init__(self, decision: Decision) -> None:
        super().__init__(decision.message)
        self.decision = decision


def contact_check(
    *,
    case: Any,
    channel: str,
    party: str,
    at: dt.datetime,
    actor: Any = None,
    contact_point: Any = None,
    related_person: Any = None,
    purpose: str = "collect",
    text: str = "",
) -> Decision:
    """Allowed or blocked, with the rules that decided. Writes nothing: the caller logs
    the attempt (allowed) or the refusal (``ContactBlocked``)."""
    hits: list[RuleHit] = []
    if case.status in CLOSED_STATUSES:
        hits.append(
            RuleHit(
                "house.case_closed",
                "house",
                _("The case is closed: no more collection contact."),
            )
        )
    paused = case.status == CaseStatus.PAUSED
    if paused and not (purpose == "dispute" and party in (Party.DEBTOR, Party.NOBODY)):
        hits.append(
            RuleHit(
                "house.dispute_pause",
                "house",
                _(
                    "The debtor disputes the debt: collection is paused until the dispute "
                    "is resolved (only the debtor may be contacted, about the dispute)."
                ),
            )
        )
    return Decision(allowed=not hits, rules=tuple(hits))


def contact_require(**kwargs: Any) -> Decision:
    """``contact_check``, raising ``ContactBlocked`` when the contact is refused."""
    decision = contact_check(**kwargs)
    if not decision.allowed:
        raise ContactBlocked(decision)
    return decision
