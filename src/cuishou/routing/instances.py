"""Readers for the public benchmark formats, as ``Problem``s the planner solves.

The files are read from wherever they are (``../shared/data/routing/`` holds one of each
kind); none are copied into the project.

- TOPTW (KU Leuven set: Solomon-based c/r/rc and Cordeau pr): vertex 0 is the start and
  end of each of ``teams`` routes, which return by Tmax (vertex 0's closing time); service
  starts within [O, C]; distances are Euclidean rounded *down* to 0.1 (Solomon-based) or
  0.01 (Cordeau). The score is the sum of the profits of the vertices visited.
- Solomon VRPTW: every customer visited, capacity and vehicle count from the header,
  Euclidean distances in double precision; the objective is the total distance.
- TSPLIB TSP (EUC_2D, CEIL_2D): one tour from node 1, distances rounded to nearest (up).

Times and distances become integers: TOPTW in units of its rounding (×10 or ×100),
Solomon ×1000 (durations rounded up, so a route feasible here is feasible in exact
arithmetic; its distance is then recomputed in double precision).
"""

from __future__ import annotations

import itertools
import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from cuishou.routing.model import (
    TIME_MAX,
    Address,
    Case,
    Matrix,
    Plan,
    Point,
    Problem,
    Team,
    Window,
)

SOLOMON_SCALE = 1000


class InstanceError(ValueError):
    """The file is not in the format named (says which line and why)."""


@dataclass(frozen=True, eq=False)
class Instance:
    name: str
    kind: str  # "toptw", "solomon" or "tsplib"
    problem: Problem
    xy: tuple[tuple[float, float], ...]
    profits: tuple[float, ...] = ()
    prize_scale: int = 1
    teams: int = 1

    def score(self, plan: Plan) -> float:
        """TOPTW: the profits of the vertices visited."""
        return sum(self.profits[int(s.case)] for r in plan.routes for s in r.stops)

    def distance(self, plan: Plan) -> float:
        """Solomon: the exact Euclidean length of the routes; TSPLIB: the matrix's."""
        if self.kind == "tsplib":
            return float(sum(r.distance for r in plan.routes))
        total = 0.0
        for r in plan.routes:
            seq = [0, *(s.place for s in r.stops), 0]
            for a, b in itertools.pairwise(seq):
                (xa, ya), (xb, yb) = self.xy[a], self.xy[b]
                total += math.hypot(xa - xb, ya - yb)
        return total

    def objective(self, plan: Plan) -> float:
        return self.score(plan) if self.kind == "toptw" else self.distance(plan)


def _numbers(line: str) -> list[float]:
    return [float(tok) for tok in line.split()]


def _euclid(xy: list[tuple[float, float]]) -> np.ndarray:
    a = np.array(xy, dtype=np.float64)
    return np.hypot(a[:, None, 0] - a[None, :, 0], a[:, None, 1] - a[None, :, 1])


def read_toptw(path: str | Path, *, teams: int = 1, decimals: int | None = None) -> Instance:
    """A TOPTW file (``TOPTW_format.txt``). ``decimals``: the distance rounding (1 for
    the Solomon-based, 2 for Cordeau's; by default 2 when any coordinate has a fraction)."""
    path = Path(path)
    lines = [ln for ln in path.read_text().splitlines() if ln.strip()]
    if len(lines) < 3:
        raise InstanceError(f"{path.name}: too short for a TOPTW file")
    rows: list[list[float]] = []
    for no, line in enumerate(lines[2:], start=3):
        try:
            values = _numbers(line)
        except ValueError as exc:
            raise InstanceError(f"{path.name}:{no}: not numbers ({exc})") from exc
        if len(values) < 9:
            raise InstanceError(f"{path.name}:{no}: a vertex needs i x y d S f a [list] O C")
        if int(values[0]) != len(rows):
            raise InstanceError(f"{path.name}:{no}: vertex {int(values[0])}, expected {len(rows)}")
        rows.append(values)
    xy = [(r[1], r[2]) for r in rows]
    if decimals is None:
        decimals = 2 if any(x != int(x) or y != int(y) for x, y in xy) else 1
    scale = 10**decimals
    d = np.floor(_euclid(xy) * scale + 1e-7).astype(np.int64)
    matrix = Matrix(d, d.copy())
    tmax = round(rows[0][-1] * scale)
    depot_open = round(rows[0][-2] * scale)
    # Prizes dominate: a whole day's travel of every team costs less than one profit unit.
    prize_scale = teams * (tmax - depot_open) + 1
    cases = tuple(
        Case(
            key=str(i),
            addresses=(Address("v", i, (Window(round(r[-2] * scale), round(r[-1] * scale)),)),),
            prize=round(r[4] * prize_scale),
            service=round(r[3] * scale),
        )
        for i, r in enumerate(rows)
        if i > 0
    )
    team = Team(
        "t",
        start=0,
        shift=Window(depot_open, tmax),
        count=teams,
        cost_per_time=0,
        cost_per_distance=1,
    )
    points = tuple(Point(y, x) for x, y in xy)
    problem = Problem((team,), cases, matrix, points=points)
    return Instance(
        path.stem,
        "toptw",
        problem,
        tuple(xy),
        profits=tuple(r[4] for r in rows),
        prize_scale=prize_scale,
        teams=teams,
    )


def read_solomon(path: str | Path, *, vehicles: int | None = None) -> Instance:
    """A Solomon VRPTW file: every customer required; the vehicle count is the header's
    (or ``vehicles``); time and distance ×1000."""
    path = Path(path)
    lines = path.read_text().splitlines()
    number = capacity = None
    rows: list[list[float]] = []
    for no, line in enumerate(lines, start=1):
        tokens = line.split()
        if not tokens:
            continue
        try:
            values = [float(t) for t in tokens]
        except ValueError:
            continue  # a title or a header line
        if len(values) == 2 and number is None:
            number, capacity = int(values[0]), int(values[1])
        elif len(values) == 7:
            if int(values[0]) != len(rows):
                raise InstanceError(
                    f"{path.name}:{no}: customer {int(values[0])}, expected {len(rows)}"
                )
            rows.append(values)
        else:
            raise InstanceError(f"{path.name}:{no}: expected 7 numbers per customer")
    if number is None or capacity is None or len(rows) < 2:
        raise InstanceError(f"{path.name}: no VEHICLE NUMBER/CAPACITY header or no customers")
    s = SOLOMON_SCALE
    xy = [(r[1], r[2]) for r in rows]
    exact = _euclid(xy) * s
    matrix = Matrix(np.ceil(exact - 1e-6).astype(np.int64), np.rint(exact).astype(np.int64))
    depot = rows[0]
    team = Team(
        "v",
        start=0,
        shift=Window(round(depot[4] * s), round(depot[5] * s)),
        count=vehicles or number,
        capacity=capacity,
        cost_per_time=0,
        cost_per_distance=1,
    )
    cases = tuple(
        Case(
            key=str(i),
            addresses=(Address("v", i, (Window(round(r[4] * s), round(r[5] * s)),)),),
            service=round(r[6] * s),
            demand=int(r[3]),
            required=True,
        )
        for i, r in enumerate(rows)
        if i > 0
    )
    problem = Problem((team,), cases, matrix, points=tuple(Point(y, x) for x, y in xy))
    return Instance(lines[0].strip() or path.stem, "solomon", problem, tuple(xy), teams=team.count)


def read_tsplib(path: str | Path) -> Instance:
    """A TSPLIB TSP with NODE_COORD_SECTION (EUC_2D or CEIL_2D): one tour from node 1."""
    path = Path(path)
    header: dict[str, str] = {}
    xy: list[tuple[float, float]] = []
    in_coords = False
    for no, line in enumerate(path.read_text().splitlines(), start=1):
        text = line.strip()
        if not text or text == "EOF":
            continue
        if text.startswith("NODE_COORD_SECTION"):
            in_coords = True
            continue
        if in_coords:
            parts = text.split()
            if len(parts) < 3:
                raise InstanceError(f"{path.name}:{no}: a node needs its number, x and y")
            xy.append((float(parts[1]), float(parts[2])))
        elif ":" in text:
            key, _, value = text.partition(":")
            header[key.strip().upper()] = value.strip()
    kind = header.get("EDGE_WEIGHT_TYPE", "")
    if kind not in ("EUC_2D", "CEIL_2D"):
        raise InstanceError(f"{path.name}: EDGE_WEIGHT_TYPE {kind or '(none)'} is not supported")
    if header.get("DIMENSION") and int(header["DIMENSION"]) != len(xy):
        raise InstanceError(f"{path.name}: DIMENSION {header['DIMENSION']}, {len(xy)} nodes read")
    exact = _euclid(xy)
    d = (np.ceil(exact - 1e-9) if kind == "CEIL_2D" else np.floor(exact + 0.5)).astype(np.int64)
    team = Team("t", start=0, shift=Window(0, TIME_MAX), cost_per_time=0, cost_per_distance=1)
    cases = tuple(Case(str(i), (Address("v", i),), required=True) for i in range(1, len(xy)))
    problem = Problem((team,), cases, Matrix(d, d.copy()), points=tuple(Point(y, x) for x, y in xy))
    return Instance(header.get("NAME", path.stem), "tsplib", problem, tuple(xy))


def read(path: str | Path, kind: str, *, teams: int = 1) -> Instance:
    if kind == "toptw":
        return read_toptw(path, teams=teams)
    if kind == "solomon":
        return read_solomon(path)
    if kind == "tsplib":
        return read_tsplib(path)
    raise InstanceError(f"unknown format {kind!r} (toptw, solomon or tsplib)")
