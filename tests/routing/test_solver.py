"""The planner: optimum on tiny instances, the address group rule, lunch, contact hours,
a reason for every case left out, determinism."""

from __future__ import annotations

import datetime as dt
import random
from zoneinfo import ZoneInfo

import numpy as np
import pytest

from cuishou.routing import (
    UNREACHABLE,
    Address,
    Case,
    Clock,
    LeftOutReason,
    Lunch,
    Matrix,
    Problem,
    ProblemError,
    SolveOptions,
    Window,
    check_plan,
    solve,
)
from cuishou.routing.synthetic import city

from .helpers import FAST, best_prize_by_enumeration, case, plane, team

R = LeftOutReason


def planned(plan) -> list[str]:  # type: ignore[no-untyped-def]
    return [s.case for r in plan.routes for s in r.stops]


def reasons(plan) -> dict[str, LeftOutReason]:  # type: ignore[no-untyped-def]
    return {lo.case: lo.reason for lo in plan.left_out}


def solved(problem: Problem, **kw: object):  # type: ignore[no-untyped-def]
    options = SolveOptions(seconds=FAST, seed=1, **kw)  # type: ignore[arg-type]
    plan = solve(problem, options)
    assert check_plan(problem, plan) == []
    return plan


def test_a_square_is_toured_in_the_shortest_order() -> None:
    # Given the depot at a corner of a 10 × 10 square and the other three corners to visit,
    matrix = plane([(0, 0), (10, 10), (0, 10), (10, 0)])
    problem = Problem(
        (team(shift=(0, 1000), cost_per_time=0, cost_per_distance=1),),
        tuple(case(f"c{i}", i, required=True) for i in (1, 2, 3)),
        matrix,
    )
    # when planned, the route goes round the square (40), never across it (48).
    plan = solved(problem)
    assert plan.distance == 40
    assert sorted(planned(plan)) == ["c1", "c2", "c3"]


@pytest.mark.parametrize("seed", [1, 2, 3, 4])
def test_small_orienteering_instances_reach_their_optimum(seed: int) -> None:
    # Given six cases scattered on a plane, with windows and a day too short for all,
    rng = random.Random(seed)
    places = [(50, 50)] + [(rng.randint(0, 100), rng.randint(0, 100)) for _ in range(6)]
    cases = []
    for i in range(1, 7):
        open_ = rng.randint(0, 150)
        cases.append(
            case(
                f"c{i}",
                i,
                prize=rng.randint(1, 9) * 10,
                service=rng.randint(5, 20),
                windows=(Window(open_, open_ + rng.randint(20, 80)),),
            )
        )
    # (travel costs nothing: the prize alone counts, as in the orienteering problem)
    problem = Problem((team(shift=(0, 220), cost_per_time=0),), tuple(cases), plane(places))
    # when planned, the prize collected is the best any order of any subset gives.
    plan = solved(problem)
    assert plan.prize == best_prize_by_enumeration(problem)
    assert set(planned(plan)) | set(reasons(plan)) == {c.key for c in cases}


def test_a_debtor_is_visited_at_the_address_whose_window_fits_the_shift() -> None:
    # Given a debtor with a residence open only in the evening, after the shift, and a
    # work address open in the day,
    matrix = plane([(0, 0), (5, 0), (0, 5)])
    debtor = Case(
        "d1",
        (
            Address("residence", 1, (Window(200, 300),)),
            Address("work", 2, (Window(10, 60),)),
        ),
        prize=50,
        service=5,
    )
    problem = Problem((team(shift=(0, 100)),), (debtor,), matrix)
    # the plan visits the work address, once.
    plan = solved(problem)
    (stop,) = [s for r in plan.routes for s in r.stops]
    assert (stop.case, stop.address) == ("d1", "work")


def test_two_reachable_addresses_of_one_debtor_give_one_visit() -> None:
    # Given a debtor whose two addresses both fit, and a second case,
    matrix = plane([(0, 0), (5, 0), (6, 0), (0, 5)])
    both = Case("d1", (Address("home", 1), Address("work", 2)), prize=50)
    problem = Problem((team(shift=(0, 100), count=2),), (both, case("c2", 3, prize=20)), matrix)
    # the debtor is visited at exactly one of them.
    plan = solved(problem)
    assert sorted(planned(plan)) == ["c2", "d1"]


def test_a_required_debtor_with_alternatives_is_visited_exactly_once() -> None:
    matrix = plane([(0, 0), (5, 0), (0, 5)])
    debtor = Case("d1", (Address("home", 1), Address("work", 2)), prize=0, required=True)
    problem = Problem((team(),), (debtor,), matrix)
    plan = solved(problem)
    assert planned(plan) == ["d1"]


def test_every_case_left_out_says_why() -> None:
    # Given one team with a short day and at most two stops, and cases that cannot be
    # visited for each reason:
    places = [(0, 0), (10, 0), (0, 10), (400, 0), (-10, 0), (0, -10), (5, 5), (80, 0)]
    matrix = plane(places)
    matrix.duration[:, 7] = UNREACHABLE  # place 7 has no route to it
    matrix.duration[7, :] = UNREACHABLE
    matrix.duration[7, 7] = 0
    problem = Problem(
        (team(shift=(0, 100), capacity=2),),
        (
            case("near1", 1, prize=100, service=10),
            case("near2", 2, prize=90, service=10),
            case("full", 6, prize=80, service=10),  # a third stop: the team has two
            case("nocoords", None),
            case("closed", 4, windows=(Window(500, 600),)),  # opens after the shift
            case("far", 3),  # 400 away: no way there and back in 100
            case("unreachable", 7),
        ),
        matrix,
    )
    plan = solved(problem)
    assert sorted(planned(plan)) == ["near1", "near2"]
    assert reasons(plan) == {
        "full": R.MAX_STOPS,
        "nocoords": R.NO_COORDINATES,
        "closed": R.OUTSIDE_WINDOW,
        "far": R.TOO_FAR,
        "unreachable": R.UNREACHABLE,
    }


def test_a_case_without_room_in_the_day_is_left_out_for_lack_of_time() -> None:
    # Given a day that holds one of two equally valued visits on opposite sides,
    matrix = plane([(0, 0), (20, 0), (-20, 0)])
    problem = Problem(
        (team(shift=(0, 60)),),
        (case("east", 1, prize=1000, service=10), case("west", 2, prize=1000, service=10)),
        matrix,
    )
    plan = solved(problem)
    assert len(planned(plan)) == 1
    assert list(reasons(plan).values()) == [R.NO_TIME]


def test_a_case_worth_less_than_its_detour_is_left_out_as_lower_value() -> None:
    # Given travel that costs 1 per unit of time and a case worth 5 that is 20 away,
    matrix = plane([(0, 0), (20, 0), (1, 0)])
    problem = Problem(
        (team(shift=(0, 100)),),
        (case("cheap", 1, prize=5), case("worth", 2, prize=50)),
        matrix,
    )
    plan = solved(problem)
    assert planned(plan) == ["worth"]
    assert reasons(plan) == {"cheap": R.LOWER_VALUE}


def test_the_lunch_break_is_placed_in_its_window_between_stops() -> None:
    matrix = plane([(0, 0), (10, 0), (20, 0), (30, 0)])
    lunch = Lunch(earliest=40, latest=50, duration=15)
    problem = Problem(
        (team(shift=(0, 200), lunch=lunch),),
        tuple(case(f"c{i}", i, prize=100, service=20) for i in (1, 2, 3)),
        matrix,
    )
    plan = solved(problem)
    (route,) = plan.routes
    assert route.lunch is not None and 40 <= route.lunch.start <= 50
    assert route.lunch.end - route.lunch.start == 15
    assert len(route.stops) == 3


def test_a_stop_gives_way_to_lunch_when_lunch_fits_with_neither_order() -> None:
    # Given A (10 away, starts at 10 sharp) and B (20 away, starts at 31 sharp): each fits
    # with a lunch break between 0 and 25, but no break fits between or around both,
    matrix = plane([(0, 0), (10, 0), (20, 0)])
    problem = Problem(
        (team(shift=(0, 200), lunch=Lunch(0, 25, 10), cost_per_time=0),),
        (
            case("A", 1, prize=100, service=10, windows=(Window(10, 10),)),
            case("B", 2, prize=50, service=5, windows=(Window(31, 31),)),
        ),
        matrix,
    )
    # the search takes both; the break then puts B, the lesser prize, out for lack of time.
    plan = solved(problem)
    (route,) = plan.routes
    assert [s.case for s in route.stops] == ["A"]
    assert route.lunch is not None and route.lunch.after == 1
    assert reasons(plan) == {"B": R.NO_TIME}


def test_visits_stay_inside_the_contact_hours_of_the_debtors_local_time() -> None:
    # Given a plan for a day in Shanghai, a team out 07:00–23:00, and debtors in Shanghai
    # and in Urumqi (UTC+6: its 08:00 is 10:00 in Shanghai),
    clock = Clock(dt.date(2026, 12, 1), ZoneInfo("Asia/Shanghai"))
    hours = clock.local_window(dt.time(8), dt.time(22))
    urumqi = clock.local_window(dt.time(8), dt.time(22), ZoneInfo("Asia/Urumqi"))
    matrix = Matrix(np.zeros((3, 3), dtype=np.int64), np.zeros((3, 3), dtype=np.int64))
    hour = 3600
    problem = Problem(
        (team(shift=(7 * hour, 23 * hour), cost_per_time=0),),
        (
            case("early", 1, prize=10, service=hour, windows=(Window(7 * hour, 8 * hour),)),
            case("late", 1, prize=10, service=hour, windows=(Window(21 * hour + 1, 23 * hour),)),
            case("west", 2, prize=10, service=hour, windows=(Window(7 * hour, 9 * hour),)),
            case(
                "west_ok",
                2,
                prize=10,
                service=hour,
                windows=(Window(9 * hour, 11 * hour),),
                contact_window=urumqi,
            ),
        ),
        matrix,
        contact_hours=hours,
        clock=clock,
    )
    plan = solved(problem)
    stops = {s.case: s for r in plan.routes for s in r.stops}
    # 07:00–08:00 can start at 08:00 sharp; a visit starting after 21:00 would end after 22:00.
    assert clock.at(stops["early"].start).time() == dt.time(8)
    assert reasons(plan)["late"] == R.OUTSIDE_WINDOW
    # In Urumqi 08:00 is 10:00 here: the window 09:00–11:00 leaves 10:00–11:00.
    assert stops["west_ok"].start >= 10 * hour
    assert clock.at(stops["west_ok"].start).tzinfo == ZoneInfo("Asia/Shanghai")
    assert "west" in stops  # the Shanghai debtor's 08:00–09:00


def test_teams_from_different_offices_and_several_per_office() -> None:
    matrix = plane([(0, 0), (100, 0), (5, 0), (6, 0), (95, 0), (94, 0)])
    problem = Problem(
        (
            team("west", start=0, shift=(0, 40), count=2),
            team("east", start=1, shift=(0, 40)),
        ),
        tuple(case(f"c{i}", i, prize=100, service=5) for i in (2, 3, 4, 5)),
        matrix,
    )
    plan = solved(problem)
    assert sorted(planned(plan)) == ["c2", "c3", "c4", "c5"]
    east = [s.case for r in plan.routes if r.team == "east" for s in r.stops]
    assert sorted(east) == ["c4", "c5"]


def test_required_cases_that_cannot_all_fit_are_planned_as_far_as_they_go() -> None:
    matrix = plane([(0, 0), (20, 0), (-20, 0)])
    problem = Problem(
        (team(shift=(0, 60)),),
        (
            case("east", 1, prize=0, service=10, required=True),
            case("west", 2, prize=0, service=10, required=True),
        ),
        matrix,
    )
    plan = solved(problem)
    assert len(planned(plan)) == 1 and len(plan.left_out) == 1
    assert plan.info["required_relaxed"] is True


def test_the_same_seed_and_iterations_give_the_same_plan() -> None:
    problem = city(teams=3, cases=30, seed=5)
    one = solve(problem, SolveOptions(iterations=300, seed=7))
    two = solve(problem, SolveOptions(iterations=300, seed=7))
    assert one.routes == two.routes and one.left_out == two.left_out


def test_a_small_city_day_is_feasible_and_accounts_for_every_case() -> None:
    problem = city(teams=3, cases=40, seed=2)
    plan = solve(problem, SolveOptions(seconds=1.0, seed=0))
    assert check_plan(problem, plan) == []
    assert len(planned(plan)) + len(plan.left_out) == 40
    assert any(lo.reason == R.NO_COORDINATES for lo in plan.left_out) or all(
        any(a.place is not None for a in c.addresses) for c in problem.cases
    )
    for route in plan.routes:
        assert route.lunch is not None
        assert len(route.stops) <= 10


def test_a_team_of_one_is_refused() -> None:
    problem = Problem((team(visitors=1),), (case("c1", 1),), plane([(0, 0), (1, 0)]))
    with pytest.raises(ProblemError, match="at least 2 together"):
        solve(problem, SolveOptions(seconds=FAST))


def test_a_place_outside_the_matrix_is_refused() -> None:
    problem = Problem((team(),), (case("c1", 5),), plane([(0, 0), (1, 0)]))
    with pytest.raises(ProblemError, match="case c1: address home place 5"):
        solve(problem, SolveOptions(seconds=FAST))


def test_the_reasons_read_in_chinese_and_english() -> None:
    from django.utils import translation

    left = solved(
        Problem((team(),), (case("c1", None),), plane([(0, 0)])),
    ).left_out[0]
    with translation.override("zh-hans"):
        assert left.label == "没有带坐标的地址"
    with translation.override("en"):
        assert left.label == "No address with coordinates"


def test_the_team_leaves_in_time_for_its_first_stop_not_earlier() -> None:
    # Given a shift from 0 and a single visit 10 away that opens at 50,
    problem = Problem(
        (team(shift=(0, 200)),),
        (case("c1", 1, prize=100, service=5, windows=(Window(50, 60),)),),
        plane([(0, 0), (10, 0)]),
    )
    (route,) = solved(problem).routes
    # the team leaves at 40, arrives at 50 and does not wait.
    assert (route.depart, route.stops[0].arrival, route.stops[0].wait) == (40, 50, 0)
    assert route.back == 65


def test_an_expected_value_becomes_hours_of_a_teams_time() -> None:
    from decimal import Decimal

    from cuishou.routing import prize_from_value

    assert prize_from_value(Decimal(600), value_per_hour=Decimal(200)) == 3 * 3600
    assert prize_from_value(Decimal("0.01"), value_per_hour=Decimal(200)) == 0
    with pytest.raises(ValueError, match="positive"):
        prize_from_value(Decimal(1), value_per_hour=Decimal(0))


def test_clock_times_are_aware_in_the_plans_zone() -> None:
    clock = Clock(dt.date(2026, 12, 1), ZoneInfo("Asia/Shanghai"))
    at = clock.at(9 * 3600 + 30 * 60)
    assert at == dt.datetime(2026, 12, 1, 9, 30, tzinfo=ZoneInfo("Asia/Shanghai"))
    assert clock.seconds(at.astimezone(dt.UTC)) == 9 * 3600 + 30 * 60
    with pytest.raises(ValueError, match="UTC offset"):
        clock.seconds(dt.datetime(2026, 12, 1, 9, 30))  # noqa: DTZ001 (naive on purpose)
