"""Planning the day before (外访路线): a route per team from its allocated visit cases,
stored as a draft for the risk manager's approval.

For each team the planner (``cuishou.routing``) gets the team's cases with every address
it may visit them at — the work address in working hours (weekdays 09:00–12:00 and
13:30–17:30, a little more likely to find the debtor), the residence in the morning and
the evening (08:00–10:00, 17:30–21:00) and all day at the weekend, the address the
allocation chose when it is another — inside the contact hours (08:00–22:00 in the
debtor's zone); the team's shift and base, a 45-minute lunch between 11:30 and 13:30,
at most ``MAX_STOPS`` stops, and travel times from the coordinates at the team's mode's
speed (public transport or walking; there is no other mode). A case is worth its
balance × the likelihood of payment read from its phone records, × 1.5 for a
litigation-evidence or 协查 visit due within two days. The planner picks one address per
case and says why each case it leaves out is left out.

A team's route is a draft until the team lead submits it and a risk manager approves it
(or rejects it with a reason: it is the lead's draft again). Planning again replaces a
draft or rejected route of that team and day, never a submitted, approved or later one.
Moving a stop by hand is timed again and checked with ``routing.check.check_plan``;
a move that breaks a window or the shift is refused with what breaks.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.db.models import Prefetch
from django.utils import timezone
from django.utils.translation import gettext as _

from cuishou.audit.services import audit_record
from cuishou.cases.choices import REACHED_OUTCOMES, Outcome
from cuishou.core.timeutil import SHANGHAI, today_shanghai
from cuishou.portfolio.choices import AddressKind
from cuishou.portfolio.models import Address
from cuishou.routing import Address as PlanAddress
from cuishou.routing import Case as PlanCase
from cuishou.routing import (
    Clock,
    LeftOutReason,
    Lunch,
    Plan,
    Point,
    Problem,
    SolveOptions,
    Team,
    Window,
    check_plan,
    prize_from_value,
    solve,
)
from cuishou.routing import Route as PlanRoute
from cuishou.routing import Stop as PlanStop
from cuishou.routing.model import UNREACHABLE
from cuishou.routing.schedule import Item, route_of, with_lunch
from cuishou.routing.travel import TRANSIT, WALK, GreatCircle
from cuishou.visits import conf
from cuishou.visits.allocation import address_in_city
from cuishou.visits.choices import (
    ROUTE_MOVES,
    RouteStatus,
    TravelMode,
    VisitCaseStatus,
    VisitPurpose,
)
from cuishou.visits.models import FieldTeam, Route, RouteStop, VisitCase

PLAN_PERMISSION = "visits.add_route"
SUBMIT_PERMISSION = "visits.change_route"
APPROVE_PERMISSION = "visits.approve_route"

SERVICE_MINUTES = 30
MAX_STOPS = 10
LUNCH_FROM, LUNCH_UNTIL, LUNCH_MINUTES = dt.time(11, 30), dt.time(13, 30), 45
VALUE_PER_HOUR = Decimal(100)
WORK_WEIGHT = 1.2
DUE_BOOST = Decimal("1.5")
DUE_WITHIN = dt.timedelta(days=2)
Hours = tuple[tuple[dt.time, dt.time], ...]
WORK_HOURS: Hours = ((dt.time(9), dt.time(12)), (dt.time(13, 30), dt.time(17, 30)))
RESIDENCE_WEEKDAY: Hours = ((dt.time(8), dt.time(10)), (dt.time(17, 30), dt.time(21)))
RESIDENCE_WEEKEND: Hours = ((dt.time(9), dt.time(20)),)
DAYTIME: Hours = ((dt.time(9), dt.time(18)),)
# The routes planning may replace and a lead may edit; every later status is left alone.
EDITABLE = (RouteStatus.DRAFT, RouteStatus.REJECTED)


def payment_likelihood(records: Sequence[dict[str, Any]]) -> Decimal:
    """How likely a visit brings a payment, from the phone records: a promise to pay
    made, the debtor reached, somebody reached, nobody ever."""
    outcomes = {r.get("outcome") for r in records}
    if Outcome.PTP in outcomes:
        return Decimal("0.35")
    if outcomes & {Outcome.RPC, Outcome.HARDSHIP, Outcome.CLAIMS_PAID}:
        return Decimal("0.25")
    if outcomes & REACHED_OUTCOMES:
        return Decimal("0.15")
    return Decimal("0.08")


def visit_value(vc: VisitCase, day: dt.date) -> Decimal:
    """Balance × likelihood of payment, boosted for an evidence or 协查 visit that is due."""
    value = vc.amount * payment_likelihood(vc.phone_records or [])
    due = vc.due_by is not None and vc.due_by <= day + DUE_WITHIN
    if due and vc.purpose in (VisitPurpose.EVIDENCE, VisitPurpose.INVESTIGATE):
        value *= DUE_BOOST
    return value


def _hours(kind: str, day: dt.date) -> tuple[Hours, float]:
    weekend = day.weekday() >= 5
    if kind == AddressKind.WORK:
        return ((), 0.0) if weekend else (WORK_HOURS, WORK_WEIGHT)
    if kind == AddressKind.RESIDENCE:
        return (RESIDENCE_WEEKEND if weekend else RESIDENCE_WEEKDAY), 1.0
    return DAYTIME, 1.0


@dataclass
class TeamProblem:
    """One team's day as the planner sees it, with the rows behind its keys."""

    team: FieldTeam
    day: dt.date
    problem: Problem
    cases: dict[str, VisitCase]
    addresses: dict[str, Address]

    @property
    def clock(self) -> Clock:
        assert self.problem.clock is not None
        return self.problem.clock


def _candidates(vc: VisitCase, debtor_addresses: Sequence[Address], city: str) -> list[Address]:
    """Where the case may be visited: its work address and residence in the team's city,
    and the address the allocation chose."""
    out = {
        a.pk: a
        for a in debtor_addresses
        if a.is_valid
        and a.kind in (AddressKind.WORK, AddressKind.RESIDENCE)
        and address_in_city(a, city)
    }
    if vc.address is not None:
        out.setdefault(vc.address.pk, vc.address)
    return sorted(out.values(), key=lambda a: a.pk)


def team_problem(team: FieldTeam, visit_cases: Sequence[VisitCase], day: dt.date) -> TeamProblem:
    """The planner's problem for ``team`` on ``day`` over ``visit_cases`` (with their
    case, client and address loaded). ValidationError when the team cannot go out."""
    members = len(team.members.all())
    if members < 2:
        raise ValidationError(
            {
                "team": [
                    _("%(team)s has fewer than two visitors: nobody visits alone.") % {"team": team}
                ]
            }
        )
    if team.base_lat is None or team.base_lon is None:
        raise ValidationError(
            {"team": [_("%(team)s has no coordinates for where it starts.") % {"team": team}]}
        )
    clock = Clock(day, SHANGHAI)
    points: list[Point | None] = [Point(float(team.base_lat), float(team.base_lon))]
    place_of: dict[int, int | None] = {}
    debtor_ids = {vc.case.debtor_id for vc in visit_cases}
    by_debtor: dict[int, list[Address]] = {}
    for a in Address.objects.filter(debtor_id__in=debtor_ids).order_by("pk"):
        by_debtor.setdefault(a.debtor_id, []).append(a)
    hours_from, hours_to = conf.visit_hours()
    cases: list[PlanCase] = []
    rows: dict[str, VisitCase] = {}
    address_rows: dict[str, Address] = {}
    for vc in visit_cases:
        alternatives = []
        for a in _candidates(vc, by_debtor.get(vc.case.debtor_id, []), team.city):
            if a.pk not in place_of:
                if a.lat is None or a.lon is None:
                    place_of[a.pk] = None
                else:
                    points.append(Point(float(a.lat), float(a.lon)))
                    place_of[a.pk] = len(points) - 1
            hours, weight = _hours(a.kind, day)
            if not hours and place_of[a.pk] is not None:
                continue  # a work address at the weekend
            windows = tuple(clock.local_window(s, e) for s, e in hours)
            alternatives.append(PlanAddress(str(a.pk), place_of[a.pk], windows, weight))
            address_rows[str(a.pk)] = a
        zone = ZoneInfo(vc.case.client.timezone or "Asia/Shanghai")
        contact = (
            None if zone.key == SHANGHAI.key else clock.local_window(hours_from, hours_to, zone)
        )
        key = str(vc.pk)
        rows[key] = vc
        cases.append(
            PlanCase(
                key=key,
                addresses=tuple(alternatives),
                prize=prize_from_value(visit_value(vc, day), value_per_hour=VALUE_PER_HOUR),
                service=SERVICE_MINUTES * 60,
                contact_window=contact,
            )
        )
    plan_team = Team(
        key=str(team.pk),
        start=0,
        shift=clock.local_window(team.shift_start, team.shift_end),
        capacity=MAX_STOPS,
        lunch=Lunch(
            clock.seconds(dt.datetime.combine(day, LUNCH_FROM, tzinfo=SHANGHAI)),
            clock.seconds(dt.datetime.combine(day, LUNCH_UNTIL, tzinfo=SHANGHAI)),
            LUNCH_MINUTES * 60,
        ),
        visitors=members,
    )
    mode = WALK if team.travel_mode == TravelMode.WALKING else TRANSIT
    problem = Problem(
        teams=(plan_team,),
        cases=tuple(cases),
        matrix=GreatCircle(mode=mode).matrix(points),
        points=tuple(points),
        contact_hours=clock.local_window(hours_from, hours_to),
        clock=clock,
    )
    return TeamProblem(team, day, problem, rows, address_rows)


# --- planning a day -------------------------------------------------------------------


@dataclass
class LeftOutCase:
    visit_case: VisitCase
    reason: str  # a LeftOutReason value

    @property
    def label(self) -> str:
        return str(LeftOutReason(self.reason).label)


@dataclass
class TeamDay:
    """One team's planned day: its draft route and stops, the cases left out and why; or
    why the team was not planned (``skipped``)."""

    team: FieldTeam
    route: Route | None = None
    stops: list[RouteStop] = field(default_factory=list)
    left_out: list[LeftOutCase] = field(default_factory=list)
    skipped: str = ""
    seconds: float = 0.0


@dataclass
class DayPlan:
    day: dt.date
    teams: list[TeamDay]

    @property
    def planned(self) -> int:
        return sum(len(t.stops) for t in self.teams)

    @property
    def left_out(self) -> int:
        return sum(len(t.left_out) for t in self.teams)


def _require_lead(actor: Any, team: FieldTeam, permission: str) -> None:
    if not actor.has_perm(permission):
        raise PermissionDenied(_("Only a team lead plans and edits routes."))
    if team.lead_id != actor.pk and not actor.is_superuser:
        raise PermissionDenied(_("%(team)s is not a team you lead.") % {"team": team})


def _move(route: Route, to: str) -> None:
    if to not in ROUTE_MOVES[route.status]:
        raise ValidationError(
            {
                "status": [
                    _("A route that is %(status)s cannot become %(to)s.")
                    % {"status": route.get_status_display(), "to": RouteStatus(to).label}
                ]
            }
        )
    route.status = to


def _candidates_for(team: FieldTeam, day: dt.date, route: Route | None) -> list[VisitCase]:
    """The team's allocated visit cases, and those on its editable route of the day."""
    qs = VisitCase.objects.filter(team=team, status=VisitCaseStatus.ALLOCATED)
    on_route = (
        VisitCase.objects.filter(stops__route=route, status=VisitCaseStatus.PLANNED)
        if route is not None
        else VisitCase.objects.none()
    )
    ids = set(qs.values_list("pk", flat=True)) | set(on_route.values_list("pk", flat=True))
    return list(
        VisitCase.objects.filter(pk__in=ids)
        .select_related("case__client", "case__debtor", "address", "issue")
        .order_by("pk")
    )


def _plan_json(tp: TeamProblem, route: PlanRoute | None, plan: Plan) -> dict[str, Any]:
    clock = tp.clock
    out: dict[str, Any] = {
        "left_out": [
            {"visit_case": int(lo.case), "reason": lo.reason.value} for lo in plan.left_out
        ],
        "seconds": round(plan.runtime, 2),
        "mode": tp.team.travel_mode,
    }
    if route is not None:
        out.update(_route_json(clock, route))
    return out


def _route_json(clock: Clock, route: PlanRoute) -> dict[str, Any]:
    return {
        "depart": clock.at(route.depart).isoformat(),
        "back": clock.at(route.back).isoformat(),
        "lunch": (
            {
                "start": clock.at(route.lunch.start).isoformat(),
                "end": clock.at(route.lunch.end).isoformat(),
                "after": route.lunch.after,
            }
            if route.lunch is not None
            else None
        ),
        "distance_m": route.distance,
        "travel_s": route.travel,
        "arrivals": [clock.at(s.arrival).isoformat() for s in route.stops],
    }


def _stop_rows(tp: TeamProblem, db_route: Route, route: PlanRoute) -> list[RouteStop]:
    clock = tp.clock
    return [
        RouteStop(
            route=db_route,
            visit_case=tp.cases[s.case],
            address=tp.addresses[s.address],
            seq=i,
            expected_at=clock.at(s.start),
            window_start=clock.at(s.window.start),
            window_end=clock.at(s.window.end),
        )
        for i, s in enumerate(route.stops, start=1)
    ]


def visits_plan(
    *,
    actor: Any,
    day: dt.date,
    teams: Sequence[FieldTeam] | None = None,
    seconds: float = 10.0,
    seed: int = 0,
) -> DayPlan:
    """Plan ``day`` for ``teams`` (default: every active team the actor leads), splitting
    ``seconds`` of search among them. Stores each team's route as a draft (replacing its
    draft or rejected route of the day) and returns the stops and the cases left out with
    the reason. All teams' routes are stored together or none is."""
    if not actor.has_perm(PLAN_PERMISSION):
        raise PermissionDenied(_("Only a team lead plans routes."))
    if not isinstance(day, dt.date) or isinstance(day, dt.datetime):
        raise ValidationError({"date": [_("Give the day as a date.")]})
    if day < today_shanghai():
        raise ValidationError(
            {"date": [_("%(day)s is in the past: plan today or a later day.") % {"day": day}]}
        )
    if not seconds > 0:
        raise ValidationError({"seconds": [_("Give a positive number of seconds.")]})
    team_list = (
        list(teams)
        if teams is not None
        else list(FieldTeam.objects.filter(lead=actor, active=True).order_by("name"))
    )
    if not team_list:
        raise ValidationError({"teams": [_("There is no active field team to plan.")]})
    for team in team_list:
        _require_lead(actor, team, PLAN_PERMISSION)
    team_list = list(
        FieldTeam.objects.filter(pk__in=[t.pk for t in team_list])
        .prefetch_related("members")
        .order_by("name")
    )
    routes = {r.team_id: r for r in Route.objects.filter(team__in=team_list, day=day)}
    per_team = max(0.2, seconds / len(team_list))

    solved: list[tuple[TeamDay, TeamProblem | None, Plan | None, list[int]]] = []
    for team in team_list:
        td = TeamDay(team=team, route=routes.get(team.pk))
        if td.route is not None and td.route.status not in EDITABLE:
            td.skipped = _("The route is %(status)s: it is not planned again.") % {
                "status": td.route.get_status_display()
            }
            solved.append((td, None, None, []))
            continue
        candidates = _candidates_for(team, day, td.route)
        if not candidates:
            td.skipped = _("No allocated visit case to plan.")
            solved.append((td, None, None, []))
            continue
        try:
            tp = team_problem(team, candidates, day)
        except ValidationError as exc:
            td.skipped = " ".join(exc.messages)
            solved.append((td, None, None, []))
            continue
        plan = solve(tp.problem, SolveOptions(seconds=per_team, seed=seed))
        problems = check_plan(tp.problem, plan)
        if problems:  # pragma: no cover - the solver's plans pass the checker
            raise RuntimeError(f"{team}: the plan does not pass the check: {problems[0]}")
        td.seconds = plan.runtime
        solved.append((td, tp, plan, [vc.pk for vc in candidates]))

    with transaction.atomic():
        for td, problem_of, plan_of, ids in solved:
            if problem_of is not None and plan_of is not None:
                _store(actor, td, problem_of, plan_of, ids)
    return DayPlan(day=day, teams=[td for td, *_rest in solved])


def _store(actor: Any, td: TeamDay, tp: TeamProblem, plan: Plan, ids: list[int]) -> None:
    team, day = td.team, tp.day
    route = Route.objects.select_for_update().filter(team=team, day=day).first()
    if route is not None and route.status not in EDITABLE:
        td.skipped = _("The route became %(status)s while it was planned; it is left alone.") % {
            "status": route.get_status_display()
        }
        td.route = route
        return
    current = {
        vc.pk: vc for vc in VisitCase.objects.select_for_update().filter(pk__in=ids).order_by("pk")
    }
    on_route = set(route.stops.values_list("visit_case_id", flat=True)) if route else set()
    fresh = all(
        vc.team_id == team.pk
        and (
            vc.status == VisitCaseStatus.ALLOCATED
            or (vc.status == VisitCaseStatus.PLANNED and vc.pk in on_route)
        )
        for vc in current.values()
    )
    if len(current) != len(ids) or not fresh:
        raise ValidationError(
            {
                "teams": [
                    _("%(team)s: its visit cases changed while it was planned; plan again.")
                    % {"team": team}
                ]
            }
        )
    planned_route = plan.route_of(str(team.pk))
    now = timezone.now()
    before = None
    if route is not None:
        before = {"status": route.status, "stops": len(on_route)}
        route.stops.all().delete()
        if route.status == RouteStatus.REJECTED:
            _move(route, RouteStatus.DRAFT)
        route.travel_mode = team.travel_mode
        route.planned_by = actor
        route.created_at = now
        route.plan = _plan_json(tp, planned_route, plan)
        route.submitted_at = route.decided_at = None
        route.decided_by = None
        route.decision_note = ""
        route.save(
            update_fields=[
                "status",
                "travel_mode",
                "planned_by",
                "created_at",
                "plan",
                "submitted_at",
                "decided_at",
                "decided_by",
                "decision_note",
            ]
        )
    else:
        route = Route.objects.create(
            team=team,
            day=day,
            status=RouteStatus.DRAFT,
            travel_mode=team.travel_mode,
            planned_by=actor,
            created_at=now,
            plan=_plan_json(tp, planned_route, plan),
        )
    stops = _stop_rows(tp, route, planned_route) if planned_route is not None else []
    RouteStop.objects.bulk_create(stops)
    planned_ids = [s.visit_case.pk for s in stops]
    VisitCase.objects.filter(pk__in=planned_ids).update(
        status=VisitCaseStatus.PLANNED, status_reason=""
    )
    left = []
    for lo in plan.left_out:
        vc = tp.cases[lo.case]
        left.append(LeftOutCase(vc, lo.reason.value))
        VisitCase.objects.filter(pk=vc.pk).update(
            status=VisitCaseStatus.ALLOCATED, status_reason=str(lo.reason.label)
        )
    td.route, td.stops, td.left_out = route, stops, left
    audit_record(
        actor=actor,
        action="visit.route_plan",
        target=route,
        summary=_("%(team)s %(day)s: %(n)d stops planned, %(m)d cases left out")
        % {"team": team, "day": day, "n": len(stops), "m": len(left)},
        before=before,
        after={
            "status": route.status,
            "stops": [(s.visit_case.pk, s.address.pk) for s in stops],
            "left_out": route.plan["left_out"],
        },
    )


# --- a stop moved by hand, submitting, deciding -----------------------------------------


def _ordered_stops(route: Route) -> list[RouteStop]:
    return list(
        route.stops.select_related(
            "visit_case__case__client", "visit_case__address", "address"
        ).order_by("seq")
    )


def _contact(problem: Problem, case: PlanCase) -> Window | None:
    hours = case.contact_window or problem.contact_hours
    if hours is None:
        return None
    end = hours.end - case.service
    return Window(hours.start, end) if end >= hours.start else None


@dataclass
class Timed:
    """A fixed order of stops timed on the team's day: ``route`` when it works (lunch
    placed), else the plain forward timing with what breaks (``violations``)."""

    route: PlanRoute | None
    violations: list[str]


def time_order(tp: TeamProblem, order: Sequence[tuple[str, str]]) -> Timed:
    """Time the stops ``order`` ((case key, address key) each) for the team, choosing
    for each stop the first of its address's windows it can still make, and check the
    result with ``check_plan``."""
    problem = tp.problem
    team = problem.teams[0]
    matrix = problem.matrix
    cases = {c.key: c for c in problem.cases}
    items: list[Item] = []
    stops: list[PlanStop] = []
    t, prev = team.shift.start, team.start
    distance = 0
    for case_key, address_key in order:
        case = cases[case_key]
        address = next(
            (a for a in case.addresses if a.key == address_key and a.place is not None), None
        )
        if address is None or address.place is None:
            return Timed(None, [_("A stop has no coordinates.")])
        contact = _contact(problem, case)
        windows = [w.clip(contact) for w in address.windows] if address.windows else [contact]
        usable = [w for w in windows if w is not None]
        leg = int(matrix.duration[prev, address.place])
        arrival = t + (leg if leg < UNREACHABLE else 0)
        window = next((w for w in usable if w.end >= arrival), usable[-1] if usable else None)
        if window is None:
            return Timed(None, [_("A stop has no time window inside the contact hours.")])
        prize = round(case.prize * address.weight)
        items.append(
            Item(address.place, case.service, window, case.key, address.key, prize, case.demand)
        )
        start = max(arrival, window.start)
        stops.append(
            PlanStop(
                case.key, address.key, address.place, window, arrival, start, start + case.service
            )
        )
        distance += int(matrix.distance[prev, address.place])
        t, prev = start + case.service, address.place
    placed = with_lunch(team, items, matrix)
    if placed is not None:
        route = route_of(team, 0, placed[0], placed[1], matrix)
        plan = Plan(
            routes=(route,),
            left_out=(),
            prize=route.prize,
            distance=route.distance,
            duration=route.duration,
        )
        problems = check_plan(_only(problem, order), plan)
        if not problems:
            return Timed(route, [])
        return Timed(None, [str(v) for v in problems])
    back = t + int(matrix.duration[prev, team.end_place])
    distance += int(matrix.distance[prev, team.end_place])
    naive = PlanRoute(
        team=team.key,
        vehicle=0,
        stops=tuple(stops),
        depart=team.shift.start,
        back=back,
        lunch=None,
        distance=distance,
        prize=sum(it.prize for it in items),
    )
    plan = Plan(
        routes=(naive,), left_out=(), prize=naive.prize, distance=distance, duration=naive.duration
    )
    problems = [v for v in check_plan(_only(problem, order), plan) if v.kind != "lunch"]
    words = [_describe(tp, v.kind, v.where, stops) for v in problems]
    if not words:
        words = [_("The lunch break no longer fits between the stops.")]
    return Timed(None, words)


def _only(problem: Problem, order: Sequence[tuple[str, str]]) -> Problem:
    keys = {c for c, _a in order}
    return Problem(
        teams=problem.teams,
        cases=tuple(c for c in problem.cases if c.key in keys),
        matrix=problem.matrix,
        points=problem.points,
        contact_hours=problem.contact_hours,
        min_visitors=problem.min_visitors,
        clock=problem.clock,
    )


def _describe(tp: TeamProblem, kind: str, where: str, stops: Sequence[PlanStop]) -> str:
    clock = tp.clock
    for i, s in enumerate(stops, start=1):
        if f"stop {i} (" in where:
            vc = tp.cases[s.case]
            if kind == "window":
                return _(
                    "Stop %(n)d (%(debtor)s) would start at %(at)s, outside its window "
                    "%(from)s–%(to)s."
                ) % {
                    "n": i,
                    "debtor": vc.case.debtor.name,
                    "at": f"{clock.at(s.start):%H:%M}",
                    "from": f"{clock.at(s.window.start):%H:%M}",
                    "to": f"{clock.at(s.window.end):%H:%M}",
                }
            return _("Stop %(n)d (%(debtor)s): %(what)s.") % {
                "n": i,
                "debtor": vc.case.debtor.name,
                "what": kind,
            }
    if kind == "shift":
        return _("The team would be back after its shift ends (%(end)s).") % {
            "end": f"{tp.team.shift_end:%H:%M}"
        }
    return _("The route breaks the %(what)s rule.") % {"what": kind}


def _route_problem(route: Route, stops: Sequence[RouteStop]) -> TeamProblem:
    team = FieldTeam.objects.prefetch_related("members").get(pk=route.team_id)
    return team_problem(team, [s.visit_case for s in stops], route.day)


def _store_timing(route: Route, stops: list[RouteStop], tp: TeamProblem, timed: PlanRoute) -> None:
    clock = tp.clock
    # Two steps, so the (route, seq) constraint holds in between.
    for s in stops:
        s.seq += 1000
    RouteStop.objects.bulk_update(stops, ["seq"])
    for i, (s, planned) in enumerate(zip(stops, timed.stops, strict=True), start=1):
        s.seq = i
        s.expected_at = clock.at(planned.start)
        s.window_start = clock.at(planned.window.start)
        s.window_end = clock.at(planned.window.end)
    RouteStop.objects.bulk_update(stops, ["seq", "expected_at", "window_start", "window_end"])
    route.plan = {**(route.plan or {}), **_route_json(clock, timed)}


@transaction.atomic
def route_stop_move(*, actor: Any, route: Route, stop: RouteStop, new_position: int) -> Route:
    """Move ``stop`` to ``new_position`` (1 = first) on a draft or rejected route. The
    new order is timed again and checked; a move that breaks a window, the shift or the
    lunch break is refused saying what breaks. A rejected route edited is a draft again.
    An approved route changes only through a route change on the day."""
    locked = Route.objects.select_for_update().select_related("team").get(pk=route.pk)
    _require_lead(actor, locked.team, SUBMIT_PERMISSION)
    if locked.status not in EDITABLE:
        raise ValidationError(
            {
                "status": [
                    _("The route is %(status)s: it changes only through a route change request.")
                    % {"status": locked.get_status_display()}
                ]
            }
        )
    stops = _ordered_stops(locked)
    moving = next((s for s in stops if s.pk == stop.pk), None)
    if moving is None:
        raise ValidationError({"stop": [_("That stop is not on this route.")]})
    try:
        position = int(new_position)
    except (TypeError, ValueError):
        raise ValidationError({"new_position": [_("Give the new position as a number.")]}) from None
    if not 1 <= position <= len(stops):
        raise ValidationError(
            {"new_position": [_("Give a position from 1 to %(n)d.") % {"n": len(stops)}]}
        )
    old = stops.index(moving) + 1
    if position == old:
        return locked
    stops.remove(moving)
    stops.insert(position - 1, moving)
    tp = _route_problem(locked, stops)
    timed = time_order(tp, [(str(s.visit_case_id), str(s.address_id)) for s in stops])
    if timed.route is None:
        raise ValidationError(
            {
                "new_position": [
                    _("Moving stop %(from)d to %(to)d does not work: %(why)s")
                    % {"from": old, "to": position, "why": " ".join(timed.violations)}
                ]
            }
        )
    _store_timing(locked, stops, tp, timed.route)
    fields = ["plan"]
    before = locked.status
    if locked.status == RouteStatus.REJECTED:
        _move(locked, RouteStatus.DRAFT)
        fields.append("status")
    locked.save(update_fields=fields)
    audit_record(
        actor=actor,
        action="visit.route_stop_move",
        target=locked,
        summary=_("%(route)s: stop %(from)d moved to %(to)d")
        % {"route": locked, "from": old, "to": position},
        before={"status": before, "order": None},
        after={"status": locked.status, "order": [s.visit_case_id for s in stops]},
    )
    return locked


@transaction.atomic
def route_submit(*, actor: Any, route: Route) -> Route:
    """The team lead submits a draft (or a rejected route, edited or not) to the risk
    manager. It must have stops, a team of two and still work as stored."""
    locked = Route.objects.select_for_update().select_related("team").get(pk=route.pk)
    _require_lead(actor, locked.team, SUBMIT_PERMISSION)
    if locked.status not in EDITABLE:
        raise ValidationError(
            {
                "status": [
                    _("The route is %(status)s already.") % {"status": locked.get_status_display()}
                ]
            }
        )
    if locked.day < today_shanghai():
        raise ValidationError({"day": [_("The day of this route is over.")]})
    stops = _ordered_stops(locked)
    if not stops:
        raise ValidationError({"stops": [_("The route has no stops.")]})
    try:
        tp = _route_problem(locked, stops)
    except ValidationError as exc:
        raise ValidationError({"team": exc.messages}) from None
    timed = time_order(tp, [(str(s.visit_case_id), str(s.address_id)) for s in stops])
    if timed.route is None:
        raise ValidationError(
            {
                "stops": [
                    _("The route does not work as it stands: %(why)s")
                    % {"why": " ".join(timed.violations)}
                ]
            }
        )
    before = locked.status
    if locked.status == RouteStatus.REJECTED:
        _move(locked, RouteStatus.DRAFT)
    _move(locked, RouteStatus.SUBMITTED)
    locked.submitted_at = timezone.now()
    locked.decided_by, locked.decided_at, locked.decision_note = None, None, ""
    locked.save(
        update_fields=["status", "submitted_at", "decided_by", "decided_at", "decision_note"]
    )
    audit_record(
        actor=actor,
        action="visit.route_submit",
        target=locked,
        summary=_("%(route)s submitted with %(n)d stops") % {"route": locked, "n": len(stops)},
        before={"status": before},
        after={"status": locked.status, "stops": [s.visit_case_id for s in stops]},
    )
    return locked


@transaction.atomic
def route_decide(*, actor: Any, route: Route, approve: bool, reason: str = "") -> Route:
    """The risk manager approves a submitted route (nobody starts an unapproved one) or
    rejects it with a reason, back to the team lead."""
    if not actor.has_perm(APPROVE_PERMISSION):
        raise PermissionDenied(_("Only a risk manager approves routes."))
    locked = Route.objects.select_for_update().get(pk=route.pk)
    reason = (reason or "").strip()
    if not approve and not reason:
        raise ValidationError({"reason": [_("Say why the route is rejected.")]})
    if locked.status != RouteStatus.SUBMITTED:
        raise ValidationError(
            {
                "status": [
                    _("Only a submitted route is decided; this one is %(status)s.")
                    % {"status": locked.get_status_display()}
                ]
            }
        )
    _move(locked, RouteStatus.APPROVED if approve else RouteStatus.REJECTED)
    locked.decided_by, locked.decided_at, locked.decision_note = actor, timezone.now(), reason
    locked.save(update_fields=["status", "decided_by", "decided_at", "decision_note"])
    audit_record(
        actor=actor,
        action="visit.route_approve" if approve else "visit.route_reject",
        target=locked,
        summary=(_("%(route)s approved") if approve else _("%(route)s rejected: %(reason)s"))
        % {"route": locked, "reason": reason},
        before={"status": RouteStatus.SUBMITTED},
        after={"status": locked.status, "reason": reason},
    )
    return locked


def routes_for_day(
    day: dt.date, *, lead: Any = None, statuses: Sequence[str] | None = None
) -> list[Route]:
    """The routes of ``day`` (of ``lead``'s teams), stops and their cases loaded."""
    qs = Route.objects.filter(day=day).select_related("team", "planned_by", "decided_by")
    if lead is not None:
        qs = qs.filter(team__lead=lead)
    if statuses is not None:
        qs = qs.filter(status__in=statuses)
    stops = RouteStop.objects.select_related(
        "visit_case__case__debtor", "visit_case__issue", "address"
    ).order_by("seq")
    return list(qs.prefetch_related(Prefetch("stops", queryset=stops)).order_by("team__name"))


def day_plan(*, day: dt.date, seconds: float = 10.0, lead: Any = None, seed: int = 0) -> DayPlan:
    """Plan ``day`` for every active team (or ``lead``'s), each lead's teams planned as
    that lead; ``seconds`` of search shared among all the teams. What ``cuishou
    plan-visits`` runs. Every route is stored, or none."""
    qs = FieldTeam.objects.filter(active=True).select_related("lead").order_by("name")
    if lead is not None:
        qs = qs.filter(lead=lead)
    teams = list(qs)
    if not teams:
        raise ValidationError(
            {"teams": [_("There is no active field team to plan for.")]}
            if lead is None
            else {"lead": [_("%(lead)s leads no active field team.") % {"lead": lead}]}
        )
    by_lead: dict[int, list[FieldTeam]] = {}
    for team in teams:
        by_lead.setdefault(team.lead_id, []).append(team)
    out = DayPlan(day=day, teams=[])
    with transaction.atomic():
        for mine in by_lead.values():
            share = seconds * len(mine) / len(teams)
            part = visits_plan(actor=mine[0].lead, day=day, teams=mine, seconds=share, seed=seed)
            out.teams.extend(part.teams)
    out.teams.sort(key=lambda t: t.team.name)
    return out
