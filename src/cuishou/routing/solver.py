"""The route planner: a ``Problem`` in, a ``Plan`` out, solved with PyVRP.

Each case becomes one PyVRP client per (address, time window) it could be visited in;
a case with more than one becomes a client group, mutually exclusive (at most one member
visited; exactly one when the case is required). Optional cases carry their prize, so the
search leaves out those whose value does not pay for the detour or the time. Teams are
vehicle types (start and end depots, shift window, count, capacity, travel costs).

Before the search, cases that cannot be visited at all are set aside with the reason
(no coordinates, every window closed, unreachable, too far for any shift). After it, each
route is timed again, the lunch break placed (the search keeps its length free in the
route's duration), and every case left out gets the reason why.
"""

from __future__ import annotations

import time
import warnings
from dataclasses import dataclass, field

import numpy as np
import pyvrp
import pyvrp.stop
from pyvrp.exceptions import PenaltyBoundWarning
from pyvrp.IteratedLocalSearch import IteratedLocalSearch
from pyvrp.PenaltyManager import PenaltyManager, PenaltyParams
from pyvrp.search import LocalSearch, PerturbationManager, compute_neighbours
from pyvrp.solve import SolveParams

from cuishou.routing.choices import LeftOutReason
from cuishou.routing.model import (
    ALWAYS,
    UNREACHABLE,
    Case,
    LeftOut,
    Plan,
    Problem,
    Team,
    Window,
)
from cuishou.routing.schedule import (
    Item,
    Timing,
    best_insertion,
    fit_with_lunch,
    max_duration,
    route_of,
    with_lunch,
)

_INT_MAX = int(np.iinfo(np.int64).max)


class ProblemError(ValueError):
    """The problem cannot be planned as given (names what is wrong)."""


@dataclass(frozen=True)
class SolveOptions:
    """``seconds`` of search (or ``iterations``, for runs that must repeat exactly), with
    PyVRP's random ``seed``."""

    seconds: float = 10.0
    iterations: int | None = None
    seed: int = 0
    display: bool = False


@dataclass(frozen=True)
class _Alt:
    """One way to visit a case: an address in one of its windows."""

    case: int
    address: str
    place: int
    window: Window
    prize: int
    boost: int = 0  # added to the prize in the search only (required cases relaxed)


@dataclass
class _Prepared:
    alts: list[_Alt] = field(default_factory=list)
    by_case: dict[int, list[int]] = field(default_factory=dict)
    left_out: dict[int, LeftOutReason] = field(default_factory=dict)


def validate(problem: Problem) -> None:
    """Raise ProblemError naming the first thing wrong with the input."""
    n = problem.matrix.size
    keys: set[str] = set()
    for team in problem.teams:
        if team.key in keys:
            raise ProblemError(f"team {team.key}: the key is used twice")
        keys.add(team.key)
        for what, place in (("start", team.start), ("end", team.end_place)):
            if not 0 <= place < n:
                raise ProblemError(f"team {team.key}: {what} place {place} is not in the matrix")
        if team.count < 1:
            raise ProblemError(f"team {team.key}: count must be at least 1")
        if team.visitors < problem.min_visitors:
            raise ProblemError(
                f"team {team.key}: {team.visitors} visitor(s); a field visit needs at least "
                f"{problem.min_visitors} together"
            )
        if team.capacity is not None and team.capacity < 0:
            raise ProblemError(f"team {team.key}: capacity must not be negative")
        if team.lunch is not None and team.lunch.latest < team.lunch.earliest:
            raise ProblemError(f"team {team.key}: the lunch window ends before it starts")
    keys = set()
    for case in problem.cases:
        if case.key in keys:
            raise ProblemError(f"case {case.key}: the key is used twice")
        keys.add(case.key)
        if case.prize < 0 or case.service < 0 or case.demand < 0:
            raise ProblemError(f"case {case.key}: prize, service and demand must not be negative")
        for a in case.addresses:
            if a.place is not None and not 0 <= a.place < n:
                raise ProblemError(
                    f"case {case.key}: address {a.key} place {a.place} is not in the matrix"
                )
            if a.weight < 0:
                raise ProblemError(f"case {case.key}: address {a.key} weight must not be negative")


def _contact(problem: Problem, case: Case) -> Window | None:
    """When service may start for the visit to stay inside the contact hours."""
    hours = case.contact_window or problem.contact_hours
    if hours is None:
        return ALWAYS
    end = hours.end - case.service
    return Window(hours.start, end) if end >= hours.start else None


def _fits_alone(problem: Problem, team: Team, case: Case, alt: _Alt) -> bool:
    if team.capacity is not None and case.demand > team.capacity:
        return False
    item = Item(alt.place, case.service, alt.window, case.key, alt.address, alt.prize)
    return with_lunch(team, [item], problem.matrix) is not None


def _prepare(problem: Problem) -> _Prepared:
    out = _Prepared()
    dur = problem.matrix.duration
    for ci, case in enumerate(problem.cases):
        placed = [a for a in case.addresses if a.place is not None]
        if not placed:
            out.left_out[ci] = LeftOutReason.NO_COORDINATES
            continue
        contact = _contact(problem, case)
        alts: list[_Alt] = []
        for a in placed:
            assert a.place is not None
            for w in a.windows or (ALWAYS,):
                eff = w.clip(contact) if contact is not None else None
                if eff is not None:
                    prize = round(case.prize * a.weight)
                    alts.append(_Alt(ci, a.key, a.place, eff, prize))
        if not alts:
            out.left_out[ci] = LeftOutReason.OUTSIDE_WINDOW
            continue
        reachable = [
            alt
            for alt in alts
            if any(
                dur[t.start, alt.place] < UNREACHABLE and dur[alt.place, t.end_place] < UNREACHABLE
                for t in problem.teams
            )
        ]
        if not reachable:
            out.left_out[ci] = LeftOutReason.UNREACHABLE
            continue
        fitting = [
            alt
            for alt in reachable
            if any(_fits_alone(problem, t, case, alt) for t in problem.teams)
        ]
        if not fitting:
            out.left_out[ci] = _why_not_alone(problem, case, reachable)
            continue
        out.by_case[ci] = []
        for alt in fitting:
            out.by_case[ci].append(len(out.alts))
            out.alts.append(alt)
    return out


def _why_not_alone(problem: Problem, case: Case, alts: list[_Alt]) -> LeftOutReason:
    if all(t.capacity is not None and case.demand > t.capacity for t in problem.teams):
        return LeftOutReason.MAX_STOPS
    in_shift = any(
        alt.window.start <= t.shift.end - case.service and alt.window.end >= t.shift.start
        for alt in alts
        for t in problem.teams
    )
    return LeftOutReason.TOO_FAR if in_shift else LeftOutReason.OUTSIDE_WINDOW


def _data(problem: Problem, prep: _Prepared, *, all_optional: bool) -> pyvrp.ProblemData:
    places = sorted(
        {t.start for t in problem.teams}
        | {t.end_place for t in problem.teams}
        | {a.place for a in prep.alts}
    )
    loc = {p: i for i, p in enumerate(places)}
    locations = [pyvrp.Location(x=0, y=0, name=str(p)) for p in places]
    sub = np.ix_(places, places)
    duration = np.minimum(problem.matrix.duration[sub], UNREACHABLE).astype(np.int64)
    distance = np.minimum(problem.matrix.distance[sub], UNREACHABLE).astype(np.int64)

    depot_places = sorted({t.start for t in problem.teams} | {t.end_place for t in problem.teams})
    depot_of = {p: i for i, p in enumerate(depot_places)}
    depots = [pyvrp.Depot(location=loc[p], name=str(p)) for p in depot_places]

    total_demand = sum(problem.cases[c].demand for c in prep.by_case) + 1
    vehicle_types = []
    for team in problem.teams:
        lunch = team.lunch.duration if team.lunch is not None else 0
        vehicle_types.append(
            pyvrp.VehicleType(
                num_available=team.count,
                capacity=[team.capacity if team.capacity is not None else total_demand],
                start_depot=depot_of[team.start],
                end_depot=depot_of[team.end_place],
                tw_early=team.shift.start,
                tw_late=team.shift.end,
                shift_duration=max(0, max_duration(team) - lunch),
                unit_distance_cost=team.cost_per_distance,
                unit_duration_cost=team.cost_per_time,
                name=team.key,
            )
        )

    clients: list[pyvrp.Client] = []
    groups: list[pyvrp.ClientGroup] = []
    for ci, members in prep.by_case.items():
        case = problem.cases[ci]
        required = case.required and not all_optional
        group: int | None = None
        if len(members) > 1:
            group = len(groups)
            groups.append(
                pyvrp.ClientGroup(
                    clients=list(range(len(clients), len(clients) + len(members))),
                    required=required,
                    name=case.key,
                )
            )
        for m in members:
            alt = prep.alts[m]
            assert m == len(clients), "client i of the data must be alternative i"
            clients.append(
                pyvrp.Client(
                    location=loc[alt.place],
                    delivery=[case.demand],
                    service_duration=case.service,
                    tw_early=alt.window.start,
                    tw_late=min(alt.window.end, _INT_MAX),
                    prize=alt.prize + alt.boost,
                    required=required and group is None,
                    group=group,
                    name=str(m),
                )
            )
    return pyvrp.ProblemData(
        locations, clients, depots, vehicle_types, [distance], [duration], groups
    )


def _stop(options: SolveOptions) -> pyvrp.stop.StoppingCriterion:
    if options.iterations is not None:
        return pyvrp.stop.MaxIterations(options.iterations)
    return pyvrp.stop.MaxRuntime(options.seconds)


def _search(data: pyvrp.ProblemData, options: SolveOptions) -> pyvrp.Result:
    """``pyvrp.solve`` with penalties scaled to the prizes: one unit of excess load (a
    stop more than a team may make) starts at the largest prize's cost, and no penalty is
    capped below four times it, so the search cannot buy a prize with a violation."""
    top = max((c.prize for c in data.clients()), default=0)
    penalty = PenaltyParams(max_penalty=max(100_000.0, 4.0 * top))
    params = SolveParams(penalty=penalty)
    rng = pyvrp.RandomNumberGenerator(seed=options.seed)
    neighbours = compute_neighbours(data, params.neighbourhood)
    ls = LocalSearch(data, rng, neighbours, PerturbationManager(params.perturbation))
    for op in params.operators:
        if op.supports(data):
            ls.add_operator(op(data))
    loads, tw, dist = PenaltyParams().midpoint_penalties(data)
    initial = ([max(x, float(top)) for x in loads], tw, dist)
    pm = PenaltyManager(initial, penalty)
    init = ls(pyvrp.Solution.make_random(data, rng), pm.max_cost_evaluator(), exhaustive=True)
    algo = IteratedLocalSearch(data, pm, ls, init, params.ils)
    with warnings.catch_warnings():
        # Raised when required cases cannot all fit; solve() then relaxes them.
        warnings.simplefilter("ignore", PenaltyBoundWarning)
        return algo.run(_stop(options), collect_stats=False, display=options.display)


def solve(problem: Problem, options: SolveOptions | None = None) -> Plan:
    """Plan every team's day. Every case is either in a route or in ``left_out`` with
    the reason; the routes pass ``check.check_plan``."""
    options = options or SolveOptions()
    validate(problem)
    began = time.perf_counter()
    prep = _prepare(problem)
    result = None
    all_optional = False
    if prep.alts and problem.teams:
        data = _data(problem, prep, all_optional=False)
        result = _search(data, options)
        if not result.is_feasible() and any(problem.cases[c].required for c in prep.by_case):
            # The required cases do not all fit: plan them as the most valuable optional ones.
            all_optional = True
            boosted = _boost_required(problem, prep)
            data = _data(problem, boosted, all_optional=True)
            prep = boosted
            result = _search(data, options)
    days = _decode(problem, prep, result)
    _repair(problem, prep, days)
    routes = [
        route_of(d.team, d.vehicle, d.items, d.timing, problem.matrix)
        for d in days
        if d.timing is not None and d.visits
    ]
    planned = {it.case for d in days for it in d.visits}
    left_out = dict(prep.left_out)
    for ci in prep.by_case:
        if problem.cases[ci].key not in planned:
            left_out[ci] = _why_left_out(problem, prep, ci, days)
    ordered = sorted(left_out.items())
    return Plan(
        routes=tuple(routes),
        left_out=tuple(LeftOut(problem.cases[ci].key, reason) for ci, reason in ordered),
        prize=sum(r.prize for r in routes),
        distance=sum(r.distance for r in routes),
        duration=sum(r.duration for r in routes),
        runtime=time.perf_counter() - began,
        iterations=result.num_iterations if result is not None else 0,
        info={
            "solver_feasible": bool(result.is_feasible()) if result is not None else True,
            "required_relaxed": all_optional,
            "clients": len(prep.alts),
            "cases": len(problem.cases),
        },
    )


def _boost_required(problem: Problem, prep: _Prepared) -> _Prepared:
    top = max((a.prize for a in prep.alts), default=0)
    route_cost = sum(
        t.count * (t.cost_per_time * max_duration(t) + t.cost_per_distance * 10**6)
        for t in problem.teams
    )
    boost = (top + route_cost + 1) * 2
    alts = [
        _Alt(a.case, a.address, a.place, a.window, a.prize, boost)
        if problem.cases[a.case].required
        else a
        for a in prep.alts
    ]
    return _Prepared(alts=alts, by_case=prep.by_case, left_out=prep.left_out)


def _item(problem: Problem, alt: _Alt) -> Item:
    case = problem.cases[alt.case]
    return Item(alt.place, case.service, alt.window, case.key, alt.address, alt.prize, case.demand)


@dataclass
class _Day:
    """One vehicle's day after the search: its visits, with the lunch (``items``)."""

    team: Team
    vehicle: int
    items: list[Item]
    timing: Timing | None

    @property
    def visits(self) -> list[Item]:
        return [it for it in self.items if not it.is_lunch]


def _decode(problem: Problem, prep: _Prepared, result: pyvrp.Result | None) -> list[_Day]:
    """Every vehicle's day: the search's routes timed again with the lunch break placed
    (dropping the visits it does not leave room for), and the unused vehicles empty."""
    routes: dict[tuple[int, int], list[Item]] = {}
    if result is not None and result.is_feasible():
        seen: dict[int, int] = {}
        for r in result.best.routes():
            ti = r.vehicle_type()
            vehicle = seen.get(ti, 0)
            seen[ti] = vehicle + 1
            # Client i of the PyVRP data is alternative i (``_data`` adds them in order).
            alts = [prep.alts[a.idx] for a in r.schedule() if a.is_client()]
            routes[ti, vehicle] = [_item(problem, a) for a in alts]
    days: list[_Day] = []
    for ti, team in enumerate(problem.teams):
        for vehicle in range(team.count):
            visits = routes.get((ti, vehicle), [])
            if not visits:
                days.append(_Day(team, vehicle, [], None))
                continue
            items, t, _dropped = fit_with_lunch(team, visits, problem.matrix)
            days.append(
                _Day(team, vehicle, items, t if any(not i.is_lunch for i in items) else None)
            )
    return days


def _repair(problem: Problem, prep: _Prepared, days: list[_Day]) -> None:
    """Add the cases the search (or the lunch break) left out where one still fits and
    pays for its extra travel, most valuable first: a stop dropped for lunch is often
    taken by another team, and a short search can leave a gap."""
    planned = {it.case for d in days for it in d.visits}
    todo = [ci for ci in prep.by_case if problem.cases[ci].key not in planned]
    todo.sort(key=lambda ci: -max(prep.alts[m].prize for m in prep.by_case[ci]))
    for ci in todo:
        case = problem.cases[ci]
        best: tuple[int, _Day, list[Item], Timing] | None = None
        for day in days:
            team = day.team
            load = sum(it.demand for it in day.visits)
            if team.capacity is not None and load + case.demand > team.capacity:
                continue
            for m in prep.by_case[ci]:
                alt = prep.alts[m]
                worth = alt.prize + alt.boost
                found = best_insertion(team, day.items, problem.matrix, _item(problem, alt))
                if found is None or found[0] >= worth:
                    continue
                if best is None or found[0] - worth < best[0]:
                    best = (found[0] - worth, day, found[1], found[2])
        if best is not None:
            _, day, day.items, day.timing = best


def _why_left_out(problem: Problem, prep: _Prepared, ci: int, days: list[_Day]) -> LeftOutReason:
    case = problem.cases[ci]
    news = [_item(problem, prep.alts[m]) for m in prep.by_case[ci]]
    time_fits = False
    for day in days:
        team = day.team
        fits = any(best_insertion(team, day.items, problem.matrix, n) is not None for n in news)
        if not fits:
            continue
        load = sum(it.demand for it in day.visits)
        if team.capacity is not None and load + case.demand > team.capacity:
            time_fits = True
            continue
        return LeftOutReason.LOWER_VALUE
    return LeftOutReason.MAX_STOPS if time_fits else LeftOutReason.NO_TIME
