"""Strategy matching and the champion/challenger split.

Each open case without a strategy gets the first of its client's active champion
strategies (in order) whose buckets, balance band, products and segments it fits (empty:
any; a case has the products and segments of its debtor's loans with the client).
When that strategy has an active challenger, a share of its new cases gets the
challenger instead: the split is decided by the SHA-256 of the case and strategy ids,
so it is random across cases, fixed for a case, and recorded on the case
(``strategy``, ``strategy_arm``) with an audit event, so results can be compared later.
The nightly batch assigns the cases it opened; a changed strategy table applies to new
cases, and ``strategies_assign(reassign=True)`` applies it to all open cases.
"""

from __future__ import annotations

import datetime as dt
import hashlib
from collections import defaultdict
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from django.db import transaction
from django.db.models import Max
from django.utils import timezone

from cuishou.audit.services import AuditEntry, audit_record_many
from cuishou.cases.choices import OPEN_STATUSES, STAGE_ORDER, Arm, CaseStatus, PlanStatus
from cuishou.cases.closure import escalate_locked
from cuishou.cases.models import Case, PromiseToPay, Strategy
from cuishou.cases.services import cases_bulk_set
from cuishou.core.timeutil import SHANGHAI
from cuishou.payments.choices import PaymentStatus
from cuishou.payments.models import Payment
from cuishou.portfolio.models import Loan

ENGINE_ACTOR = "engine"


@dataclass(frozen=True)
class _Rule:
    strategy: Strategy
    buckets: frozenset[str]
    products: frozenset[int]
    segments: frozenset[str]
    challenger: Strategy | None

    def fits(self, bucket: str, balance: Decimal, products: set[int], segments: set[str]) -> bool:
        s = self.strategy
        return (
            (not self.buckets or bucket in self.buckets)
            and (s.balance_min is None or balance >= s.balance_min)
            and (s.balance_max is None or balance < s.balance_max)
            and (not self.products or bool(self.products & products))
            and (not self.segments or bool(self.segments & segments))
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
                segments=frozenset(str(x) for x in s.segments or ()),
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
    segments: dict[tuple[int, int], set[str]] = defaultdict(set)
    if any(rule.products or rule.segments for rs in rules.values() for rule in rs):
        for client, debtor, product, segment in Loan.objects.filter(
            client_id__in=list(rules), debtor_id__in={r[2] for r in rows}
        ).values_list("client_id", "debtor_id", "product_id", "segment"):
            products[(client, debtor)].add(product)
            if segment:
                segments[(client, debtor)].add(segment)
    changes: list[tuple[int, str, int]] = []
    entries: list[AuditEntry] = []
    for case_id, client, debtor, bucket, balance, old_strategy, old_arm in rows:
        rule = next(
            (
                r
                for r in rules[client]
                if r.fits(bucket, balance, products[(client, debtor)], segments[(client, debtor)])
            ),
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


def strategies_escalate(
    *, as_of: dt.date, client_id: int | None = None, actor: Any = ENGINE_ACTOR
) -> int:
    """Act on the strategies' escalation points: an open case whose strategy says "after
    N days without a result, to stage S" and that is still before S moves to S (a floor,
    as an escalation by hand, with its visit request or legal review), audited with the
    strategy's name. The days count from the latest of: the case opening, its stage last
    set by hand (an approved de-escalation restarts the clock), a promise to pay, a
    payment on the debtor's loans with the client. Returns how many cases moved."""
    # The strategies with an escalation point first (a handful): the cases are read by
    # their strategy, not by scanning every open case of the portfolio.
    escalating = Strategy.objects.filter(active=True, escalate_after_days__isnull=False).exclude(
        escalate_to=""
    )
    if client_id is not None:
        escalating = escalating.filter(client_id=client_id)
    strategy_ids = list(escalating.values_list("pk", flat=True))
    if not strategy_ids:
        return 0
    cases = Case.objects.filter(status=CaseStatus.OPEN, strategy_id__in=strategy_ids)
    if client_id is not None:
        cases = cases.filter(client_id=client_id)
    # A case on an active repayment plan is left alone (docs/payments.md).
    cases = cases.exclude(plans__status=PlanStatus.ACTIVE)
    rows = list(
        cases.values_list(
            "pk",
            "client_id",
            "debtor_id",
            "stage",
            "opened_on",
            "stage_set_at",
            "strategy__escalate_after_days",
            "strategy__escalate_to",
            "strategy__name",
        )
    )
    rows = [r for r in rows if STAGE_ORDER.index(r[3]) < STAGE_ORDER.index(r[7])]
    if not rows:
        return 0
    promised = dict(
        PromiseToPay.objects.filter(case_id__in=[r[0] for r in rows])
        .order_by()
        .values_list("case_id")
        .annotate(last=Max("created_at"))
    )
    paid: dict[tuple[int, int], dt.date] = {}
    for client, debtor, last in (
        Payment.objects.filter(
            loan__debtor_id__in={r[2] for r in rows},
            status=PaymentStatus.POSTED,
            value_date__lte=as_of,
        )
        .order_by()
        .values_list("loan__client_id", "loan__debtor_id")
        .annotate(last=Max("value_date"))
    ):
        paid[(client, debtor)] = last
    moved = 0
    for case_id, client, debtor, _stage, opened, set_at, days, target, name in rows:
        starts = [opened]
        starts += [
            timezone.localtime(t, SHANGHAI).date() for t in (set_at, promised.get(case_id)) if t
        ]
        if (client, debtor) in paid:
            starts.append(paid[(client, debtor)])
        quiet = (as_of - max(starts)).days
        if days is None or quiet < days:
            continue
        reason = f"strategy {name}: {quiet} days without a result (escalate after {days})"
        with transaction.atomic():
            locked = Case.objects.select_for_update().get(pk=case_id)
            if locked.status != CaseStatus.OPEN or STAGE_ORDER.index(locked.stage) >= (
                STAGE_ORDER.index(target)
            ):
                continue
            escalate_locked(actor=actor, case=locked, stage=target, reason=reason, rule="strategy")
        moved += 1
    return moved
