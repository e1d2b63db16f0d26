"""Small hand-checkable problems for the planner's tests."""

from __future__ import annotations

import itertools

from cuishou.routing import Address, Case, Matrix, Point, Problem, Team, Window
from cuishou.routing.travel import Euclidean

FAST = 0.3  # seconds of search: these problems are solved to optimality within it


def plane(points: list[tuple[float, float]]) -> Matrix:
    """Euclidean travel on a plane, (x, y) per place, rounded to the nearest unit."""
    return Euclidean().matrix([Point(y, x) for x, y in points])


def case(key: str, place: int | None, prize: int = 10, service: int = 0, **kw: object) -> Case:
    windows = kw.pop("windows", ())
    return Case(key, (Address("home", place, windows),), prize=prize, service=service, **kw)  # type: ignore[arg-type]


def team(key: str = "A", start: int = 0, shift: tuple[int, int] = (0, 100), **kw: object) -> Team:
    return Team(key, start=start, shift=Window(*shift), **kw)  # type: ignore[arg-type]


def best_prize_by_enumeration(problem: Problem) -> int:
    """The optimum of a one-team, one-address-per-case problem without lunch or capacity,
    by trying every order of every subset of the cases (at most 6 cases)."""
    (t,) = problem.teams
    dur = problem.matrix.duration
    cases = problem.cases
    assert len(cases) <= 6 and t.count == 1
    best = 0
    for r in range(1, len(cases) + 1):
        for subset in itertools.permutations(cases, r):
            clock, prev, ok = t.shift.start, t.start, True
            for c in subset:
                a = c.addresses[0]
                w = a.windows[0] if a.windows else Window(0, 10**9)
                clock = max(clock + int(dur[prev, a.place]), w.start)
                if clock > w.end:
                    ok = False
                    break
                clock += c.service
                prev = a.place
            if ok and clock + int(dur[prev, t.end_place]) <= t.shift.end:
                best = max(best, sum(c.prize for c in subset))
    return best
