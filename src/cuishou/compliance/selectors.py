"""What the compliance page shows: refused contacts by rule, team and collector, and the
rule sets with their sources.

Refusals are read from the audit log — the record of truth: a workbench refusal is a
``contact.blocked`` event, a refused line of ``cuishou compliance check`` a
``compliance.decision`` event with ``allowed`` false.
"""

from __future__ import annotations

import datetime as dt
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from django.contrib.auth import get_user_model
from django.db.models import Q
from django.utils import timezone

from cuishou.audit.models import AuditEvent
from cuishou.compliance.packs import Pack, pack_get

PACK_CODES = ("CN", "US")
RECENT = 50


@dataclass
class Refusals:
    since: dt.datetime
    total: int = 0
    by_rule: list[tuple[str, int]] = field(default_factory=list)
    by_team: list[tuple[str, int]] = field(default_factory=list)
    by_collector: list[tuple[str, int]] = field(default_factory=list)
    recent: list[dict[str, Any]] = field(default_factory=list)


def refusals_summary(*, days: int = 30, now: dt.datetime | None = None) -> Refusals:
    """The refused contacts of the last ``days`` days, counted three ways, newest first."""
    now = now or timezone.now()
    since = now - dt.timedelta(days=days)
    events = (
        AuditEvent.objects.filter(at__gte=since)
        .filter(Q(action="contact.blocked") | Q(action="compliance.decision"))
        .order_by("-seq")
        .values("seq", "at", "action", "actor_id", "actor_label", "case_id", "summary", "after")
    )
    refused = [
        e
        for e in events
        if e["action"] == "contact.blocked" or (e["after"] or {}).get("allowed") is False
    ]
    users = {
        u.pk: u
        for u in get_user_model()
        .objects.filter(pk__in={e["actor_id"] for e in refused if e["actor_id"]})
        .select_related("team")
    }
    rules: Counter[str] = Counter()
    teams: Counter[str] = Counter()
    people: Counter[str] = Counter()
    for e in refused:
        for rule in (e["after"] or {}).get("rules") or ["?"]:
            rules[str(rule)] += 1
        user = users.get(e["actor_id"])
        people[str(user) if user else e["actor_label"]] += 1
        teams[str(user.team) if user and user.team else "—"] += 1
    return Refusals(
        since=since,
        total=len(refused),
        by_rule=rules.most_common(),
        by_team=teams.most_common(),
        by_collector=people.most_common(),
        recent=[
            {
                "at": e["at"],
                "case_id": e["case_id"],
                "who": str(users[e["actor_id"]]) if e["actor_id"] in users else e["actor_label"],
                "rules": (e["after"] or {}).get("rules") or [],
                "channel": (e["after"] or {}).get("channel", ""),
                "summary": e["summary"],
            }
            for e in refused[:RECENT]
        ],
    )


def packs_shown() -> list[Pack]:
    return [pack_get(code) for code in PACK_CODES]


def client_rules_shown() -> list[dict[str, Any]]:
    """Each client's stricter rules beside the pack's values."""
    from cuishou.compliance.models import ClientRule

    rows = []
    for cr in ClientRule.objects.select_related("client").order_by("client__code", "rule_id"):
        pack = pack_get(cr.client.policy_pack)
        rule = pack.rule(cr.rule_id)
        rows.append(
            {
                "client": cr.client,
                "rule_id": cr.rule_id,
                "pack": {k: rule.params.get(k) for k in cr.params} if rule else {},
                "client_params": cr.params,
                "note": cr.note,
            }
        )
    return rows
