"""What the compliance page shows: refused contacts by rule, team and collector, the
overrides (waiting, decided, in force), and the rule sets with their sources.

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
from cuishou.compliance.packs import Pack, Rule, pack_get

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


@dataclass(frozen=True)
class OverrideRow:
    """One compliance override as the pages show it."""

    override: Any
    state: str  # what a person reads: waiting, in force, ended, expired, rejected
    waiting: bool  # may still be approved
    when: str  # the pack's ``override_when`` for the rule


def _override_rows(overrides: Any, now: dt.datetime) -> list[OverrideRow]:
    rows = []
    for o in overrides:
        rule = pack_get(o.case.client.policy_pack).rule(o.rule_id)
        rows.append(
            OverrideRow(
                override=o,
                state=o.state_at(now),
                waiting=o.status == "requested" and now < o.valid_until,
                when=rule.override_when if rule else "",
            )
        )
    return rows


def overrides_all() -> Any:
    """Every override, newest request first, with what the rows show (a queryset to page)."""
    from cuishou.compliance.models import ComplianceOverride

    return ComplianceOverride.objects.select_related(
        "case__client", "requested_by", "decided_by"
    ).order_by("-requested_at", "-pk")


def override_rows(overrides: Any, *, now: dt.datetime | None = None) -> list[OverrideRow]:
    """Overrides (a slice or page of ``overrides_all``) as the pages show them."""
    return _override_rows(overrides, now or timezone.now())


def overrides_waiting(*, now: dt.datetime | None = None) -> list[OverrideRow]:
    """Requests that wait for a compliance officer (their day has not ended), oldest first."""
    now = now or timezone.now()
    qs = (
        overrides_all()
        .filter(status="requested", valid_until__gt=now)
        .order_by("requested_at", "pk")
    )
    return _override_rows(qs, now)


def case_overrides(case: Any, *, now: dt.datetime | None = None) -> list[OverrideRow]:
    """The case's overrides, newest first."""
    return _override_rows(overrides_all().filter(case=case)[:RECENT], now or timezone.now())


def override_hints(case: Any, rule_ids: list[str]) -> list[Rule]:
    """Of the rules that refused a contact on the case, those its pack lets an approved
    override lift (the page offers to ask for one)."""
    pack = pack_get(case.client.policy_pack)
    return [r for rule_id in rule_ids if (r := pack.rule(rule_id)) is not None and r.overridable]


def overridable_rules(case: Any) -> tuple[Rule, ...]:
    return pack_get(case.client.policy_pack).overridable_rules
