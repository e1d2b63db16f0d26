"""The feasibility checker rejects each kind of violation, on a plan written by hand."""

from __future__ import annotations

from dataclasses import replace

import pytest

from cuishou.routing import (
    UNREACHABLE,
    Address,
    Break,
    Case,
    LeftOut,
    LeftOutReason,
    Lunch,
    Plan,
    Problem,
    Route,
    Stop,
    Window,
    check_plan,
)

from .helpers import plane, team

# A team out 0–100 with lunch 30–60 (10 long), at most 2 stops; cases 10 and 20 away on a
# line, 5 to serve each; the second only 20–40; a third case at 30 is left out.
MATRIX = plane([(0, 0), (10, 0), (20, 0), (30, 0)])
PROBLEM = Problem(
    (team(shift=(0, 100), capacity=2, lunch=Lunch(30, 60, 10)),),
    (
        Case("a", (Address("home", 1),), prize=7, service=5),
        Case("b", (Address("work", 2, (Window(20, 40),)),), prize=9, service=5),
        Case("c", (Address("home", 3),), prize=1, service=5),
    ),
    MATRIX,
)
W_ALL = Window(0, 10**12)
ROUTE = Route(
    team="A",
    vehicle=0,
    stops=(
        Stop("a", "home", 1, W_ALL, arrival=10, start=10, end=15),
        Stop("b", "work", 2, Window(20, 40), arrival=25, start=25, end=30),
    ),
    depart=0,
    back=60,
    lunch=Break(30, 40, after=2),
    distance=40,
    travel=40,
    prize=16,
)
PLAN = Plan(
    routes=(ROUTE,),
    left_out=(LeftOut("c", LeftOutReason.MAX_STOPS),),
    prize=16,
    distance=40,
    duration=60,
)


def kinds(plan: Plan, problem: Problem = PROBLEM) -> set[str]:
    return {v.kind for v in check_plan(problem, plan)}


def with_route(**changes: object) -> Plan:
    return replace(PLAN, routes=(replace(ROUTE, **changes),))


def with_stop(i: int, **changes: object) -> Plan:
    stops = list(ROUTE.stops)
    stops[i] = replace(stops[i], **changes)
    return with_route(stops=tuple(stops))


def test_the_hand_written_plan_is_feasible() -> None:
    assert check_plan(PROBLEM, PLAN) == []


@pytest.mark.parametrize(
    ("plan", "kind"),
    [
        # service starts after the address's window closes (arriving late, waiting out lunch)
        (
            with_route(
                stops=(
                    ROUTE.stops[0],
                    replace(ROUTE.stops[1], start=41, end=46),
                ),
                back=100,
                lunch=Break(46, 56, after=2),
            ),
            "window",
        ),
        (with_route(depart=-5), "shift"),  # leaves before the shift starts
        (with_route(back=101), "shift"),  # back after the shift
        (with_stop(0, arrival=9), "times"),  # an arrival the matrix does not give
        (with_stop(0, start=10, end=12), "times"),  # the service cut short
        (with_route(lunch=Break(61, 71, after=2), back=81), "lunch"),  # outside its window
        (with_route(lunch=Break(30, 35, after=2)), "lunch"),  # too short
        (with_route(lunch=None), "lunch"),  # no lunch at all
        (with_route(lunch=Break(20, 30, after=2)), "lunch"),  # while still visiting b
        (with_stop(1, address="home"), "group"),  # not one of b's addresses
        (with_stop(1, case="a", address="home", place=1), "group"),  # a visited twice
        (with_route(vehicle=1), "vehicles"),  # the team has one vehicle
        (with_route(team="Z"), "unknown"),
        (with_route(distance=39), "totals"),
        (with_route(prize=17), "totals"),
        (replace(PLAN, left_out=()), "missing"),  # c neither planned nor left out
        (
            replace(PLAN, left_out=(*PLAN.left_out, LeftOut("a", LeftOutReason.NO_TIME))),
            "left_out",
        ),  # a both planned and left out
    ],
)
def test_each_kind_of_violation_is_named(plan: Plan, kind: str) -> None:
    assert kind in kinds(plan)


def test_more_stops_than_the_capacity() -> None:
    problem = replace(PROBLEM, teams=(replace(PROBLEM.teams[0], capacity=1),))
    assert "capacity" in kinds(PLAN, problem)


def test_a_team_of_one_breaks_the_two_visitors_rule() -> None:
    problem = replace(PROBLEM, teams=(replace(PROBLEM.teams[0], visitors=1),))
    assert "visitors" in kinds(PLAN, problem)


def test_a_leg_without_a_route() -> None:
    matrix = plane([(0, 0), (10, 0), (20, 0), (30, 0)])
    matrix.duration[1, 2] = UNREACHABLE
    assert "unreachable" in kinds(PLAN, replace(PROBLEM, matrix=matrix))


def test_a_day_longer_than_the_maximum_duration() -> None:
    problem = replace(PROBLEM, teams=(replace(PROBLEM.teams[0], max_duration=50),))
    assert "shift" in kinds(PLAN, problem)


def test_a_visit_that_ends_after_the_contact_hours() -> None:
    problem = replace(PROBLEM, contact_hours=Window(0, 28))
    assert "window" in kinds(PLAN, problem)
