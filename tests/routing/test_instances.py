"""The benchmark formats' readers, on small files the tests write (the public instances
stay in the shared folder)."""

from __future__ import annotations

from pathlib import Path

import pytest

from cuishou.routing import SolveOptions, check_plan, solve
from cuishou.routing.instances import InstanceError, read_solomon, read_toptw, read_tsplib

TOPTW = """\
4 1 4 1
0 200
  0 0.00 0.00 0.00 0.00 0 0 0 60
  1 3.00 4.00 2.00 10.00 1 1 1 0 50
  2 6.00 8.00 2.00 30.00 1 1 1 10 40
  3 0.00 -5.00 2.00 20.00 1 1 1 0 60
  4 40.00 0.00 1.00 99.00 1 1 1 0 60
"""

CORDEAU = """\
5 1 2 1
500 200
 0 0.000 0.000 0 0 0 0 0 100
 1 1.005 0.000 1 5 4 2 1 2 0 100
 2 -1.001 0.001 1 7 1 4 1 2 4 8 0 100
"""

SOLOMON = """\
TINY

VEHICLE
NUMBER     CAPACITY
  2         15

CUSTOMER
CUST NO.  XCOORD.   YCOORD.    DEMAND   READY TIME  DUE DATE   SERVICE   TIME

    0      0          0          0          0        100          0
    1      3          4          10         0        50           5
    2      -3         4          10         0        50           5
    3      0          -1         5          0        50           5
"""

TSP = """\
NAME : square5
TYPE : TSP
DIMENSION : 5
EDGE_WEIGHT_TYPE : EUC_2D
NODE_COORD_SECTION
1 0 0
2 10 0
3 10 10
4 0 10
5 5 5.4
"""


def write(tmp_path: Path, name: str, text: str) -> Path:
    path = tmp_path / name
    path.write_text(text)
    return path


def test_toptw_distances_are_rounded_down_to_a_tenth(tmp_path: Path) -> None:
    inst = read_toptw(write(tmp_path, "t.txt", TOPTW))
    m = inst.problem.matrix
    assert m.duration[0, 1] == 50  # 5.0 × 10
    assert m.duration[1, 3] == 94  # √(9 + 81) = 9.486… → 9.4
    assert inst.problem.teams[0].shift.end == 600
    assert inst.problem.cases[1].addresses[0].windows[0].start == 100


def test_cordeau_distances_are_rounded_down_to_a_hundredth(tmp_path: Path) -> None:
    inst = read_toptw(write(tmp_path, "pr.txt", CORDEAU))
    assert inst.problem.matrix.duration[0, 1] == 100  # 1.005 → 1.00
    assert inst.problem.matrix.duration[0, 2] == 100  # 1.0010005 → 1.00
    assert inst.profits == (0, 5, 7)


def test_toptw_score_is_the_profit_collected_within_tmax(tmp_path: Path) -> None:
    # 0-1-2-0 takes 5 + 2 + 5 + 2 + 10 = 24 and 0-3-… adds 5 + 2 + 5: all three fit in 60;
    # 4 (profit 99) is 40 away, 80 there and back.
    inst = read_toptw(write(tmp_path, "t.txt", TOPTW))
    plan = solve(inst.problem, SolveOptions(seconds=0.3))
    assert check_plan(inst.problem, plan) == []
    assert inst.score(plan) == 60


def test_solomon_visits_every_customer_within_capacity(tmp_path: Path) -> None:
    inst = read_solomon(write(tmp_path, "s.txt", SOLOMON))
    assert inst.problem.teams[0].count == 2 and inst.problem.teams[0].capacity == 15
    plan = solve(inst.problem, SolveOptions(seconds=0.3))
    assert check_plan(inst.problem, plan) == []
    assert len(plan.routes) == 2  # 25 units of demand, 15 a vehicle
    # the cheapest split: 0-1-0 (10) and 0-2-3-0 (5 + √(9 + 25) + 1), or the mirror
    assert inst.distance(plan) == pytest.approx(10 + 5 + 34**0.5 + 1, abs=1e-6)


def test_tsplib_tour_uses_nearest_integer_distances(tmp_path: Path) -> None:
    inst = read_tsplib(write(tmp_path, "sq.tsp", TSP))
    assert inst.problem.matrix.distance[0, 4] == 7  # √(25 + 29.16) = 7.36 → 7
    plan = solve(inst.problem, SolveOptions(seconds=0.3))
    assert check_plan(inst.problem, plan) == []
    assert inst.distance(plan) == 44  # three sides and the dip to the centre: 30 + 7 + 7


def test_a_bad_vertex_line_names_the_file_and_line(tmp_path: Path) -> None:
    broken = TOPTW.replace("  2 6.00 8.00", "  7 6.00 8.00")
    with pytest.raises(InstanceError, match=r"t.txt:5: vertex 7, expected 2"):
        read_toptw(write(tmp_path, "t.txt", broken))


def test_an_unsupported_tsplib_distance_is_refused(tmp_path: Path) -> None:
    with pytest.raises(InstanceError, match="GEO is not supported"):
        read_tsplib(write(tmp_path, "g.tsp", TSP.replace("EUC_2D", "GEO")))
