"""An independent check of a plan: recomputes every time from the travel matrix and the
problem's own data (not from the solver or its timing code) and lists what is wrong.

Checked: every stop's case and address exist and match; a case is planned at most once
and every case is either planned or left out with a reason (never both, never neither);
arrival = the previous departure + the travel time; service starts inside the address's
window and the contact hours and ends by their close; the team leaves no earlier than
its shift starts and is back by its end, within its maximum duration; the lunch break
lies in its window and between stops; the stops' demand fits the team's capacity; the
team has enough visitors (the two-visitors rule); no leg is unreachable; each route's
distance and prize add up.
"""

from __future__ import annotations

from dataclasses import dataclass

from cuishou.routing.model import ALWAYS, UNREACHABLE, Case, Plan, Problem, Route, Team, Window


@dataclass(frozen=True)
class Violation:
    kind: str
    where: str
    message: str

    def __str__(self) -> str:
        return f"{self.where}: {self.kind}: {self.message}"


def check_plan(problem: Problem, plan: Plan) -> list[Violation]:
    """Every violation of the problem's rules in ``plan``; empty when it is feasible."""
    out: list[Violation] = []
    teams = {t.key: t for t in problem.teams}
    cases = {c.key: c for c in problem.cases}
    planned: dict[str, str] = {}
    vehicles: set[tuple[str, int]] = set()
    for route in plan.routes:
        where = f"route {route.team}#{route.vehicle}"
        team = teams.get(route.team)
        if team is None:
            out.append(Violation("unknown", where, "no such team"))
            continue
        if not 0 <= route.vehicle < team.count or (route.team, route.vehicle) in vehicles:
            out.append(Violation("vehicles", where, f"the team has {team.count} vehicle(s)"))
        vehicles.add((route.team, route.vehicle))
        if team.visitors < problem.min_visitors:
            out.append(
                Violation(
                    "visitors",
                    where,
                    f"{team.visitors} visitor(s), at least {problem.min_visitors} go together",
                )
            )
        for s in route.stops:
            if s.case in planned:
                out.append(
                    Violation("group", where, f"case {s.case} is also planned in {planned[s.case]}")
                )
            planned[s.case] = where
        out.extend(_route(problem, team, cases, route, where))
    left = {}
    for lo in plan.left_out:
        if lo.case in left:
            out.append(Violation("left_out", f"case {lo.case}", "left out twice"))
        left[lo.case] = lo
        if lo.case in planned:
            out.append(Violation("left_out", f"case {lo.case}", "both planned and left out"))
        if lo.case not in cases:
            out.append(Violation("unknown", f"case {lo.case}", "no such case"))
    for key in cases:
        if key not in planned and key not in left:
            out.append(Violation("missing", f"case {key}", "neither planned nor left out"))
    if plan.prize != sum(r.prize for r in plan.routes):
        out.append(Violation("totals", "plan", "the prize is not the routes' sum"))
    return out


def _window_of(problem: Problem, case: Case) -> Window:
    return case.contact_window or problem.contact_hours or ALWAYS


def _route(
    problem: Problem, team: Team, cases: dict[str, Case], route: Route, where: str
) -> list[Violation]:
    out: list[Violation] = []
    dur, dist = problem.matrix.duration, problem.matrix.distance
    if route.depart < team.shift.start:
        out.append(Violation("shift", where, f"leaves at {route.depart}, the shift starts later"))
    t, prev = route.depart, team.start
    distance = prize = load = 0
    lunch_done = team.lunch is None or not route.stops
    if team.lunch is not None and route.stops and route.lunch is None:
        out.append(Violation("lunch", where, "no lunch break"))

    def take_lunch(after: int) -> None:
        nonlocal t, lunch_done
        lunch, b = team.lunch, route.lunch
        if lunch is None or b is None or b.after != after:
            return
        if b.start < t:
            out.append(Violation("lunch", where, f"lunch at {b.start}, busy until {t}"))
        if not lunch.earliest <= b.start <= lunch.latest:
            out.append(Violation("lunch", where, f"lunch starts at {b.start}, outside its window"))
        if b.end - b.start != lunch.duration:
            out.append(Violation("lunch", where, "the lunch break is not its full length"))
        t = max(t, b.end)
        lunch_done = True

    for i, s in enumerate(route.stops):
        take_lunch(i)
        sw = f"{where} stop {i + 1} ({s.case})"
        case = cases.get(s.case)
        if case is None:
            out.append(Violation("unknown", sw, "no such case"))
            continue
        address = next((a for a in case.addresses if a.key == s.address), None)
        if address is None or address.place != s.place:
            out.append(Violation("group", sw, f"address {s.address} is not one of the case's"))
            continue
        leg = int(dur[prev, s.place])
        if leg >= UNREACHABLE:
            out.append(Violation("unreachable", sw, "no route to this place"))
            leg = 0
        arrival = t + leg
        if s.arrival != arrival:
            out.append(Violation("times", sw, f"arrival {s.arrival}, the matrix gives {arrival}"))
        if s.start < arrival:
            out.append(Violation("times", sw, f"starts at {s.start} before arriving at {arrival}"))
        if s.end - s.start != case.service:
            out.append(Violation("times", sw, "the service is not its full length"))
        windows = address.windows or (ALWAYS,)
        if not any(w.start <= s.start <= w.end for w in windows):
            out.append(
                Violation("window", sw, f"starts at {s.start}, outside the address's windows")
            )
        contact = _window_of(problem, case)
        if s.start < contact.start or s.start + case.service > contact.end:
            out.append(
                Violation(
                    "window", sw, f"{s.start}–{s.start + case.service} is outside contact hours"
                )
            )
        distance += int(dist[prev, s.place])
        prize += round(case.prize * address.weight)
        load += case.demand
        t, prev = s.start + case.service, s.place
    take_lunch(len(route.stops))
    if not lunch_done:
        out.append(Violation("lunch", where, "the lunch break is not between the stops"))
    leg = int(dur[prev, team.end_place])
    if leg >= UNREACHABLE:
        out.append(Violation("unreachable", where, "no route back"))
        leg = 0
    if route.back < t + leg:
        out.append(Violation("times", where, f"back at {route.back}, the matrix gives {t + leg}"))
    if route.back > team.shift.end:
        out.append(Violation("shift", where, f"back at {route.back}, after the shift's end"))
    limit = team.shift.end - team.shift.start
    if team.max_duration is not None:
        limit = min(limit, team.max_duration)
    if route.back - route.depart > limit:
        out.append(Violation("shift", where, f"{route.back - route.depart} long, at most {limit}"))
    if team.capacity is not None and load > team.capacity:
        out.append(Violation("capacity", where, f"demand {load}, capacity {team.capacity}"))
    distance += int(dist[prev, team.end_place])
    if distance != route.distance:
        out.append(
            Violation("totals", where, f"distance {route.distance}, the matrix gives {distance}")
        )
    if prize != route.prize:
        out.append(Violation("totals", where, f"prize {route.prize}, the cases give {prize}"))
    return out
