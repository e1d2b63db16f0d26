"""Strategy matching and the champion/challenger split.

Each open case without a strategy gets the first of its client's active champion
strategies (in order) whose buckets, balance band and products it fits (empty: any).
When that strategy has an active challenger, a share of its new cases gets the
challenger instead: the split is decided by the SHA-256 of the case and strategy ids,
so it is random across cases, fixed for a case, and recorded on the case
(``strategy``, ``strategy_arm``) with an audit event, so results can be compared later.
The nightly batch assigns the cases it opened; a changed strategy table applies to new
cases, and ``strategies_assign(reassign=True)`` applies it to all open cases.
"""

from __future__ import annotations

import hashlib
from collections import defaultdict
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from django.db import transaction

from cuishou.audit.services import AuditEntry, audit_record_many
from cuishou.cases.choices import OPEN_STATUSES, Arm
from cuishou.cases.models import Case, Strategy
from cuishou.cases.services import cases_bulk_set
from cuishou.portfolio.models import Loan

ENGINE_ACTOR = "engine"


@dataclass(frozen=True)
class _Rule:
    strategy: Strategy
    buckets: frozenset[str]
    products: frozenset[int]
    challenger: Strategy | None

    def fits(self, bucket: str, balance: Decimal, products: set[int]) -> bool:
        s = self.strategy
        return (
            (not self.buckets or bucket in self.buckets)
            and (s.balance_min is None or balance >= s.balance_min)
            and (s.balance_max is None or balance < s.balance_max)
            and (not self.products or bool(self.products & products))
        )


def challenger_roll(case_id: int, strategy_id: int) -> int:
    """0 … 99, fixed for a case and a strategy, uniform across cases."""
    digest = hashlib.sha256(f"{case_id}:{strategy_id}".encode()).digest()
    return int.from_bytes(digest[:8], "big") % 100


def _rules(client_ids: set[int]) -> dict[int, list[_Rule]]:
    strategies = list(
        Strategy.objects.filter(client_id__in=client_ids, active=True).prefetch_related("products")
    )
    challengers: dict[int, Strategy] = {}
    for s in strategies:
        if s.challenger_of_id is not None and s.challenger_share > 0:
            challengers.setdefault(s.challenger_of_id, s)
    rules: dict[int, list[_Rule]] = defaultdict(list)
    for s in sorted(strategies, key=lambda s: (s.position, s.pk)):
        if s.challenger_of_id is not None:
            continue
        rules[s.client_id].append(
            _Rule(
                strategy=s,
                buckets=frozenset(s.buckets or ()),
                products=frozenset(p.pk for p in s.products.all()),
                challenger=challengers.get(s.pk),
            )
        )
    return rules


def strategies_assign(
    *, client_id: int | None = None, reassign: bool = False, actor: Any = ENGINE_ACTOR
) -> dict[str, int]:
    """Give open cases (without a strategy, or all with ``reassign``) their strategy and
    arm. Returns counts: strategy_assigned, strategy_challengers."""
    cases = Case.objects.filter(status__in=OPEN_STATUSES)
    if client_id is not None:
        cases = cases.filter(client_id=client_id)
    if not reassign:
        cases = cases.filter(strategy__isnull=True)
    counts = {"strategy_assigned": 0, "strategy_challengers": 0}
    # Clients that have strategies at all first: most nights there is nothing to match.
    with_strategies = set(
        Strategy.objects.filter(active=True).order_by().values_list("client_id", flat=True)
    )
    if not with_strategies:
        return counts
    client_ids = set(
        cases.filter(client_id__in=with_strategies)
        .order_by()
        .values_list("client_id", flat=True)
        .distinct()
    )
    rules = _rules(client_ids)
    if not any(rules.values()):
        return counts
    rows = list(
        cases.filter(client_id__in=[c for c, r in rules.items() if r]).values_list(
            "pk", "client_id", "debtor_id", "bucket", "balance", "strategy_id", "strategy_arm"
        )
    )
    products: dict[tuple[int, int], set[int]] = defaultdict(set)
    if any(rule.products for rs in rules.values() for rule in rs):
        for client, debtor, product in Loan.objects.filter(
            client_id__in=list(rules), debtor_id__in={r[2] for r in rows}
        ).values_list("client_id", "debtor_id", "product_id"):
            products[(client, debtor)].add(product)
    changes: list[tuple[int, str, int]] = []
    entries: list[AuditEntry] = []
    for case_id, client, debtor, bucket, balance, old_strategy, old_arm in rows:
        rule = next(
            (r for r in rules[client] if r.fits(bucket, balance, products[(client, debtor)])),
            None,
        )
        if rule is None:
            continue
        chosen, arm = rule.strategy, Arm.CHAMPION
        challenger = rule.challenger
        if (
            challenger is not None
            and challenger_roll(case_id, rule.strategy.pk) < challenger.challenger_share
        ):
            chosen, arm = challenger, Arm.CHALLENGER
        if (old_strategy, old_arm) == (chosen.pk, arm.value):
            continue
        changes.append((chosen.pk, arm.value, case_id))
        counts["strategy_assigned"] += 1
        counts["strategy_challengers"] += arm == Arm.CHALLENGER
        entries.append(
            AuditEntry(
                action="case.strategy",
                object_type="cases.case",
                object_id=str(case_id),
                case_id=case_id,
                summary=f"strategy {chosen.name} ({arm.value})",
                before={"strategy_id": old_strategy, "arm": old_arm},
                after={"strategy_id": chosen.pk, "strategy": chosen.name, "arm": arm.value},
            )
        )
    if changes:
        groups: dict[tuple[int, str], list[int]] = defaultdict(list)
        for strategy_id, arm_code, case_id in changes:
            groups[(strategy_id, arm_code)].append(case_id)
        with transaction.atomic():
            for (strategy_id, arm_code), case_ids in groups.items():  # one UPDATE per arm
                cases_bulk_set(case_ids=case_ids, strategy_id=strategy_id, strategy_arm=arm_code)
            audit_record_many(actor=actor, entries=entries)
    return counts
