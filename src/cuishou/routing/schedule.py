"""Timing one team's route: the earliest feasible times of a given order of stops, the
departure delayed to cut waiting, the lunch break placed where it fits, and the cheap
"could this stop still go in here?" test used to say why a case was left out.

The solver uses these after PyVRP's search; the feasibility checker (``check``) does not:
it recomputes times on its own.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass

from cuishou.routing.model import TIME_MAX, UNREACHABLE, Break, Matrix, Route, Stop, Team, Window


@dataclass(frozen=True)
class Item:
    """One thing the team does at a place: a visit (``case`` set) or the lunch break."""

    place: int
    service: int
    window: Window
    case: str = ""
    address: str = ""
    prize: int = 0
    demand: int = 0

    @property
    def is_lunch(self) -> bool:
        return not self.case


@dataclass(frozen=True)
class Timing:
    depart: int
    starts: tuple[int, ...]
    arrivals: tuple[int, ...]
    back: int


def max_duration(team: Team) -> int:
    length = team.shift.end - team.shift.start
    return length if team.max_duration is None else min(length, team.max_duration)


def _forward(
    team: Team, items: list[Item], matrix: Matrix, depart: int
) -> tuple[list[int], list[int], int] | None:
    dur = matrix.duration
    t, prev = depart, team.start
    arrivals: list[int] = []
    starts: list[int] = []
    for it in items:
        leg = int(dur[prev, it.place])
        if leg >= UNREACHABLE:
            return None
        arrival = t + leg
        start = max(arrival, it.window.start)
        if start > it.window.end:
            return None
        arrivals.append(arrival)
        starts.append(start)
        t, prev = start + it.service, it.place
    leg = int(dur[prev, team.end_place])
    if leg >= UNREACHABLE:
        return None
    back = t + leg
    if back > team.shift.end:
        return None
    return arrivals, starts, back


def timing(team: Team, items: list[Item], matrix: Matrix) -> Timing | None:
    """The earliest times of ``items`` in this order, leaving as late as possible without
    coming back later; None when the order breaks a window, the shift or its length."""
    first = _forward(team, items, matrix, team.shift.start)
    if first is None:
        return None
    arrivals, starts, back = first
    # Leaving D later shifts each start by max(0, D - the waiting before it): the latest
    # D that keeps every window and the return time is the total wait, capped per stop.
    waited, room = 0, TIME_MAX
    for it, a, s in zip(items, arrivals, starts, strict=True):
        waited += s - a
        room = min(room, it.window.end - s + waited)
    delay = max(0, min(room, waited))
    depart = team.shift.start + delay
    if delay:
        again = _forward(team, items, matrix, depart)
        if again is None:  # pragma: no cover - the delay keeps every window by construction
            depart, again = team.shift.start, first
        arrivals, starts, back = again
    if back - depart > max_duration(team):
        return None
    return Timing(depart, tuple(starts), tuple(arrivals), back)


def with_lunch(team: Team, visits: list[Item], matrix: Matrix) -> tuple[list[Item], Timing] | None:
    """``visits`` with the team's lunch break placed where the route still works (the
    earliest return, then the shortest day); None when it fits nowhere."""
    if team.lunch is None or not visits:
        t = timing(team, visits, matrix)
        return None if t is None else (visits, t)
    lunch = team.lunch
    best: tuple[tuple[int, int], list[Item], Timing] | None = None
    for k in range(len(visits) + 1):
        place = team.start if k == 0 else visits[k - 1].place
        item = Item(place, lunch.duration, Window(lunch.earliest, lunch.latest))
        items = [*visits[:k], item, *visits[k:]]
        t = timing(team, items, matrix)
        if t is None:
            continue
        key = (t.back, t.back - t.depart)
        if best is None or key < best[0]:
            best = (key, items, t)
    return None if best is None else (best[1], best[2])


def route_of(team: Team, vehicle: int, items: list[Item], t: Timing, matrix: Matrix) -> Route:
    stops: list[Stop] = []
    lunch: Break | None = None
    distance = travel = 0
    prev = team.start
    for it, arrival, start in zip(items, t.arrivals, t.starts, strict=True):
        distance += int(matrix.distance[prev, it.place])
        travel += int(matrix.duration[prev, it.place])
        prev = it.place
        if it.is_lunch:
            lunch = Break(start, start + it.service, len(stops))
            continue
        stops.append(
            Stop(it.case, it.address, it.place, it.window, arrival, start, start + it.service)
        )
    distance += int(matrix.distance[prev, team.end_place])
    travel += int(matrix.duration[prev, team.end_place])
    return Route(
        team=team.key,
        vehicle=vehicle,
        stops=tuple(stops),
        depart=t.depart,
        back=t.back,
        lunch=lunch,
        distance=distance,
        travel=travel,
        prize=sum(it.prize for it in items),
    )


def fit_with_lunch(
    team: Team, visits: list[Item], matrix: Matrix
) -> tuple[list[Item], Timing, list[Item]]:
    """Place the lunch break, dropping the visits of least prize until it fits. Returns
    the items (lunch included), their timing and the dropped visits."""
    dropped: list[Item] = []
    current = list(visits)
    while True:
        placed = with_lunch(team, current, matrix)
        if placed is not None:
            return placed[0], placed[1], dropped
        # Drop the visit whose removal lets the break fit and loses the least prize;
        # failing that, the visit of least prize.
        options = []
        for i in range(len(current)):
            rest = current[:i] + current[i + 1 :]
            if with_lunch(team, rest, matrix) is not None:
                options.append((current[i].prize, i))
        i = min(options)[1] if options else min(range(len(current)), key=lambda k: current[k].prize)
        dropped.append(current.pop(i))


def cost(team: Team, items: list[Item], t: Timing | None, matrix: Matrix) -> int:
    """What the route costs in the search's terms (0 for a team that stays in)."""
    if t is None or not any(not it.is_lunch for it in items):
        return 0
    places = [team.start, *(it.place for it in items), team.end_place]
    distance = sum(int(matrix.distance[a, b]) for a, b in itertools.pairwise(places))
    return team.cost_per_time * (t.back - t.depart) + team.cost_per_distance * distance


def positions(team: Team, items: list[Item], matrix: Matrix, new: Item) -> list[int]:
    """The positions in ``items`` (lunch included) where ``new`` may go without breaking
    a window or the return by the latest feasible starts (a quick, necessary test)."""
    dur = matrix.duration
    first = _forward(team, items, matrix, team.shift.start)
    if first is None:
        return []
    _, starts, _ = first
    n = len(items)
    # latest[i]: the latest start at item i that keeps the rest of the route feasible;
    # latest[n]: the latest return.
    latest = [0] * (n + 1)
    latest[n] = team.shift.end
    nxt = team.end_place
    for i in range(n - 1, -1, -1):
        it = items[i]
        latest[i] = min(it.window.end, latest[i + 1] - int(dur[it.place, nxt]) - it.service)
        nxt = it.place
    out = []
    for k in range(n + 1):
        prev_place = team.start if k == 0 else items[k - 1].place
        ready = team.shift.start if k == 0 else starts[k - 1] + items[k - 1].service
        to_new = int(dur[prev_place, new.place])
        if to_new >= UNREACHABLE:
            continue
        start = max(ready + to_new, new.window.start)
        if start > new.window.end:
            continue
        next_place = team.end_place if k == n else items[k].place
        leg = int(dur[new.place, next_place])
        if leg >= UNREACHABLE:
            continue
        arrive_next = start + new.service + leg
        if k < n:
            arrive_next = max(arrive_next, items[k].window.start)
        if arrive_next <= latest[k]:
            out.append(k)
    return out


def best_insertion(
    team: Team, items: list[Item], matrix: Matrix, new: Item
) -> tuple[int, list[Item], Timing] | None:
    """The cheapest way to add ``new`` to the route (the lunch break placed again):
    (the added cost, the new items, their timing), or None when it fits nowhere."""
    visits = [it for it in items if not it.is_lunch]
    before = cost(team, items, timing(team, items, matrix), matrix) if visits else 0
    best: tuple[int, list[Item], Timing] | None = None
    tried: set[int] = set()
    for k in positions(team, items, matrix, new):
        at = sum(1 for it in items[:k] if not it.is_lunch)
        if at in tried:
            continue
        tried.add(at)
        placed = with_lunch(team, [*visits[:at], new, *visits[at:]], matrix)
        if placed is None:
            continue
        added = cost(team, placed[0], placed[1], matrix) - before
        if best is None or added < best[0]:
            best = (added, placed[0], placed[1])
    return best
