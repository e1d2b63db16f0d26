"""Allocating confirmed visit cases to the team lead's two-person teams, and which
address each case is visited at (the seed's address rules).

Addresses (``address_choose``): the work address in working hours (a weekday: the
highest success), the residence otherwise (family and economic situation), then the
mailing address, other addresses learned by phone, and the hukou address. An address in
another city than the team's cannot be visited by the team: when that is all the case
has, a balance above ``conf.special_staff_balance()`` goes back to the risk department
for special staff (SPECIAL) and a smaller one gets a letter instead (LETTER: the
written-collection module sends a collection notice by post there; nothing is sent
here).

Order and teams (``visit_cases_allocate``): reachable accounts first (an answered call
in the phone records), within them the highest balance first; each case goes to the
team whose cases so far lie nearest to it (the team's base for the first), no team
taking more than its share, so neighbouring addresses end up together and the teams
get about as many cases each.
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from cuishou.audit.services import AuditEntry, audit_record_many
from cuishou.cases.choices import REACHED_OUTCOMES
from cuishou.core.timeutil import today_shanghai
from cuishou.portfolio.choices import AddressKind
from cuishou.portfolio.models import Address
from cuishou.visits import conf
from cuishou.visits.choices import VisitCaseStatus
from cuishou.visits.models import FieldTeam, VisitCase, VisitIssue

ALLOCATE_PERMISSION = "visits.change_visitcase"

VISIT, SPECIAL, LETTER, NONE = "visit", "special", "letter", "none"
# The letter the written-collection module sends to an out-of-town address.
LETTER_KIND = "collection_notice"


@dataclass(frozen=True)
class AddressChoice:
    """Where (and whether) a case is visited: ``outcome`` is VISIT (at ``address``),
    SPECIAL (back to the risk department), LETTER (a letter to ``address`` instead) or
    NONE (no address at all); ``reason`` says why, in the active language."""

    outcome: str
    address: Address | None
    reason: str


def _city(name: str) -> str:
    return name.strip().removesuffix("市")


def address_in_city(address: Address, city: str) -> bool:
    """Whether ``address`` lies in ``city`` (a team's city; empty: every address does)."""
    if not city:
        return True
    want = _city(city)
    if address.city:
        return _city(address.city) == want
    return want in address.text


def _team_city(visit_case: VisitCase, team: FieldTeam | None) -> str:
    team = team or visit_case.team
    return team.city if team is not None else ""


def address_choose(
    visit_case: VisitCase,
    day: dt.date,
    *,
    team: FieldTeam | None = None,
    addresses: Sequence[Address] | None = None,
) -> AddressChoice:
    """The address to visit ``visit_case`` at on ``day`` (the seed's rules, see the
    module), or SPECIAL / LETTER / NONE with the reason. ``team`` (default: the case's)
    gives the city; ``addresses`` the debtor's addresses when loaded already."""
    if addresses is None:
        addresses = list(Address.objects.filter(debtor_id=visit_case.case.debtor_id))
    valid = [a for a in addresses if a.is_valid]
    city = _team_city(visit_case, team)
    local = {a.kind: a for a in sorted(valid, key=lambda a: a.pk) if address_in_city(a, city)}
    working_day = day.weekday() < 5
    work, home = local.get(AddressKind.WORK), local.get(AddressKind.RESIDENCE)
    if work is not None and (working_day or home is None):
        reason = (
            _("Work address in working hours: the highest success.")
            if working_day
            else _("Work address (the only local one); visit on a working day.")
        )
        return AddressChoice(VISIT, work, reason)
    if home is not None:
        reason = (
            _("Residence: no work address; family and economic situation.")
            if working_day
            else _("Residence at the weekend: the debtor is more likely home.")
        )
        return AddressChoice(VISIT, home, reason)
    if AddressKind.MAILING in local:
        return AddressChoice(
            VISIT, local[AddressKind.MAILING], _("Mailing address: no residence or work address.")
        )
    if AddressKind.OTHER in local:
        return AddressChoice(
            VISIT,
            local[AddressKind.OTHER],
            _("Other address learned by phone: no residence, work or mailing address."),
        )
    if AddressKind.HUKOU in local:
        return AddressChoice(
            VISIT, local[AddressKind.HUKOU], _("Hukou address in the team's city.")
        )
    away = sorted(valid, key=lambda a: (a.kind != AddressKind.HUKOU, a.pk))
    if not away:
        return AddressChoice(NONE, None, _("No valid address to visit or write to."))
    target = away[0]
    threshold = conf.special_staff_balance()
    words = {
        "kind": target.get_kind_display(),
        "city": target.city or target.text,
        "balance": visit_case.amount,
        "threshold": threshold,
    }
    if visit_case.amount > threshold:
        return AddressChoice(
            SPECIAL,
            target,
            _(
                "Out-of-town %(kind)s address (%(city)s) and a balance of %(balance)s above "
                "%(threshold)s: back to the risk department for special staff."
            )
            % words,
        )
    return AddressChoice(
        LETTER,
        target,
        _(
            "Out-of-town %(kind)s address (%(city)s) and a balance of %(balance)s at or "
            "below %(threshold)s: send a collection notice (催款通知书) by post to it instead "
            "(written collection)."
        )
        % words,
    )


def case_reachable(visit_case: VisitCase) -> bool:
    """Whether the phone records show somebody answered (a right-party or other answered
    call): reachable accounts are visited first."""
    return any(r.get("outcome") in REACHED_OUTCOMES for r in visit_case.phone_records or [])


def _point(address: Address | None) -> tuple[float, float] | None:
    if address is None or address.lat is None or address.lon is None:
        return None
    return float(address.lat), float(address.lon)


def _km(a: tuple[float, float], b: tuple[float, float]) -> float:
    dlat = (a[0] - b[0]) * 111.0
    dlon = (a[1] - b[1]) * 111.0 * math.cos(math.radians((a[0] + b[0]) / 2))
    return math.hypot(dlat, dlon)


@dataclass
class _Load:
    team: FieldTeam
    points: list[tuple[float, float]] = field(default_factory=list)
    count: int = 0

    def centre(self) -> tuple[float, float] | None:
        if self.points:
            n = len(self.points)
            return sum(p[0] for p in self.points) / n, sum(p[1] for p in self.points) / n
        if self.team.base_lat is not None and self.team.base_lon is not None:
            return float(self.team.base_lat), float(self.team.base_lon)
        return None


@dataclass
class AllocationResult:
    allocated: dict[int, list[VisitCase]] = field(default_factory=dict)  # team id → cases
    special: list[VisitCase] = field(default_factory=list)
    letter: list[VisitCase] = field(default_factory=list)
    unaddressed: list[VisitCase] = field(default_factory=list)

    @property
    def count(self) -> int:
        return sum(len(v) for v in self.allocated.values())


def lead_teams(lead: Any) -> list[FieldTeam]:
    return list(FieldTeam.objects.filter(lead=lead, active=True).prefetch_related("members"))


def _teams_check(actor: Any, teams: Sequence[FieldTeam]) -> None:
    if not teams:
        raise ValidationError({"teams": [_("You lead no active field team.")]})
    for team in teams:
        if team.lead_id != actor.pk or not team.active:
            raise PermissionDenied(_("%(team)s is not an active team you lead.") % {"team": team})
        if len(team.members.all()) < 2:
            raise ValidationError(
                {
                    "teams": [
                        _("%(team)s has fewer than two visitors: nobody visits alone.")
                        % {"team": team}
                    ]
                }
            )


@transaction.atomic
def visit_cases_allocate(
    *,
    actor: Any,
    issue: VisitIssue | None = None,
    cases: Iterable[VisitCase] | None = None,
    teams: Sequence[FieldTeam] | None = None,
    day: dt.date | None = None,
) -> AllocationResult:
    """Allocate the confirmed visit cases of ``issue`` (or ``cases``) to ``teams``
    (default: every active team the actor leads); see the module for the order, the
    teams and the addresses. ``day`` is the day the visits are planned for (default:
    tomorrow), which decides work address or residence."""
    if not actor.has_perm(ALLOCATE_PERMISSION):
        raise PermissionDenied(_("Only a team lead allocates visit cases."))
    if (issue is None) == (cases is None):
        raise ValidationError({"cases": [_("Allocate one issue or a list of visit cases.")]})
    qs = VisitCase.objects.select_for_update()
    if issue is not None:
        qs = qs.filter(issue=issue)
    else:
        assert cases is not None
        qs = qs.filter(pk__in=[vc.pk for vc in cases])
    locked = list(qs.select_related("issue", "case").order_by("pk"))
    if not locked:
        raise ValidationError({"cases": [_("There are no visit cases to allocate.")]})
    for vc in locked:
        if vc.issue.team_lead_id != actor.pk:
            raise PermissionDenied(
                _("Visit case %(id)s was issued to another team lead.") % {"id": vc.pk}
            )
    todo = [vc for vc in locked if vc.status == VisitCaseStatus.CONFIRMED]
    if not todo:
        raise ValidationError(
            {"cases": [_("No confirmed visit case to allocate: check the count and amount first.")]}
        )
    team_list = list(teams) if teams is not None else lead_teams(actor)
    _teams_check(actor, team_list)
    day = day or (today_shanghai() + dt.timedelta(days=1))
    by_debtor: dict[int, list[Address]] = {}
    for a in Address.objects.filter(debtor_id__in={vc.case.debtor_id for vc in todo}):
        by_debtor.setdefault(a.debtor_id, []).append(a)

    result = AllocationResult()
    now = timezone.now()
    choices: dict[int, AddressChoice] = {}
    visits: list[VisitCase] = []
    for vc in todo:
        # The first team's city stands for the lead's teams (they work one city).
        choice = address_choose(
            vc, day, team=team_list[0], addresses=by_debtor.get(vc.case.debtor_id, [])
        )
        choices[vc.pk] = choice
        vc.address = choice.address
        vc.address_reason = choice.reason
        if choice.outcome == SPECIAL:
            vc.status, vc.status_reason = VisitCaseStatus.SPECIAL, choice.reason
            result.special.append(vc)
        elif choice.outcome == LETTER:
            vc.status, vc.status_reason = VisitCaseStatus.LETTER, choice.reason
            result.letter.append(vc)
        elif choice.outcome == NONE:
            vc.status_reason = choice.reason
            result.unaddressed.append(vc)
        else:
            visits.append(vc)

    visits.sort(key=lambda vc: (not case_reachable(vc), -vc.amount, vc.pk))
    loads = [_Load(t) for t in team_list]
    share = math.ceil(len(visits) / len(loads))
    for vc in visits:
        here = _point(vc.address)
        open_loads = [ld for ld in loads if ld.count < share]

        def distance(ld: _Load, here: tuple[float, float] | None = here) -> tuple[float, int]:
            centre = ld.centre()
            km = _km(here, centre) if here is not None and centre is not None else 0.0
            return (km, ld.count)

        best = min(open_loads, key=distance)
        best.count += 1
        if here is not None:
            best.points.append(here)
        vc.team = best.team
        vc.allocated_at = now
        vc.status = VisitCaseStatus.ALLOCATED
        vc.status_reason = ""
        result.allocated.setdefault(best.team.pk, []).append(vc)

    VisitCase.objects.bulk_update(
        todo, ["address", "address_reason", "status", "status_reason", "team", "allocated_at"]
    )
    audit_record_many(
        actor=actor,
        entries=[
            AuditEntry(
                action="visit.case_allocate",
                object_type="visits.visitcase",
                object_id=str(vc.pk),
                case_id=vc.case_id,
                summary=(
                    f"{vc.issue.number}: {vc.get_status_display()} {vc.team or ''}"
                    f" — {vc.address_reason}"
                ),
                before={"status": VisitCaseStatus.CONFIRMED},
                after={
                    "status": vc.status,
                    "team_id": vc.team_id,
                    "address_id": vc.address_id,
                    "address_reason": vc.address_reason,
                    "letter": LETTER_KIND if vc.status == VisitCaseStatus.LETTER else None,
                    "reachable": case_reachable(vc),
                    "amount": vc.amount,
                },
            )
            for vc in todo
        ],
    )
    return result


def allocation_day_default() -> dt.date:
    return today_shanghai() + dt.timedelta(days=1)


def amount_total(cases: Iterable[VisitCase]) -> Decimal:
    return sum((vc.amount for vc in cases), Decimal("0.00"))
