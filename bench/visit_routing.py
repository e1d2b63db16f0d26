"""Benchmark: the field-visit route planner against published best-known results.

    .venv/bin/python bench/visit_routing.py [--seconds S] [--seed N] [--data DIR]
        [--city-seconds S] [--no-city] [--peer vroom]
    .venv/bin/python bench/visit_routing.py --instance PATH --format toptw|solomon|tsplib
        [--teams M] [--seconds S] [--best VALUE] [--peer vroom]

Without ``--instance`` it solves each public instance of ``../shared/data/routing/``
(TOPTW c101 and pr01 with one team, Solomon C101 and R201, TSPLIB berlin52 and eil51),
read at run time from there (``--data``), each for ``--seconds`` (default 10) with
``cuishou.routing.solve``; it checks each plan with the independent checker
(``cuishou.routing.check.check_plan``) and prints per instance the objective against the
best known (TOPTW: the score, the sum of the profits visited; Solomon: the distance in
double precision; TSPLIB: the tour length). Then a synthetic city day
(``cuishou.routing.synthetic.city``: 20 teams, 400 cases, Shanghai-sized, great-circle
travel times) solved for ``--city-seconds`` (default 20), timed whole (travel matrix,
search, lunch breaks, left-out reasons).

``--peer vroom`` also solves each instance with pyvroom (the optional ``bench``
dependency group: ``uv sync --group bench``), modelling the same instance (TOPTW prizes
as job priorities, the same integer matrices, one thread, the same time budget).

The last line is one JSON object. For one instance:
``{"bench": "visit_routing", "instance", "format", "teams", "seconds", "score" or
"distance", "best", "gap_pct", "feasible", "peer": {"name", "score"/"distance",
"gap_pct", "seconds"}}``; for the whole set: ``{"bench": "visit_routing", "seconds",
"instances": [the same per instance], "city": {"teams", "cases", "seconds", "planned",
"left_out", "reasons", "feasible"}, "feasible"}``. ``gap_pct`` is how far from the best
known, in percent (positive: worse).
"""

from __future__ import annotations

import argparse
import collections
import datetime as dt
import itertools
import json
import sys
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "src"))

from cuishou.routing.check import check_plan  # noqa: E402 (after the path)
from cuishou.routing.instances import Instance, read  # noqa: E402
from cuishou.routing.solver import SolveOptions, solve  # noqa: E402

DATA = ROOT.parent / "shared" / "data" / "routing"

# (file, format, teams, best known) — from the data folder's README.
SET: list[tuple[str, str, int, float]] = [
    ("toptw_c101.txt", "toptw", 1, 320),
    ("toptw_pr01.txt", "toptw", 1, 308),
    ("C101.txt", "solomon", 1, 828.94),
    ("R201.txt", "solomon", 1, 1149.68),
    ("berlin52.tsp", "tsplib", 1, 7542),
    ("eil51.tsp", "tsplib", 1, 426),
]
BEST_TOPTW_MANY = {"toptw_c101": (10, 1810)}  # m >= 10 visits every vertex


def _best_for(path: Path, fmt: str, teams: int) -> float | None:
    for name, kind, m, best in SET:
        if name == path.name and kind == fmt and (kind != "toptw" or m == teams):
            return best
    many = BEST_TOPTW_MANY.get(path.stem)
    if fmt == "toptw" and many and teams >= many[0]:
        return many[1]
    return None


def _gap(inst: Instance, value: float, best: float | None) -> float | None:
    if best is None or best == 0:
        return None
    gap = (best - value) / best if inst.kind == "toptw" else (value - best) / best
    return round(100 * gap, 3) or 0.0  # no "-0.0"


def _key(inst: Instance) -> str:
    return "score" if inst.kind == "toptw" else "distance"


def run_one(
    path: Path, fmt: str, *, teams: int, seconds: float, seed: int, best: float | None, peer: str
) -> dict[str, Any]:
    inst = read(path, fmt, teams=teams)
    began = time.perf_counter()
    plan = solve(inst.problem, SolveOptions(seconds=seconds, seed=seed))
    took = time.perf_counter() - began
    violations = check_plan(inst.problem, plan)
    value = inst.objective(plan)
    out: dict[str, Any] = {
        "instance": path.stem,
        "format": fmt,
        "teams": teams,
        "seconds": seconds,
        _key(inst): round(value, 2),
        "best": best,
        "gap_pct": _gap(inst, value, best),
        "feasible": not violations,
        "routes": len(plan.routes),
        "wall_seconds": round(took, 2),
    }
    if violations:
        out["violations"] = [str(v) for v in violations[:5]]
    if peer == "vroom":
        out["peer"] = vroom_peer(inst, seconds=seconds, best=best)
    line = (
        f"{path.stem:12s} m={teams} {_key(inst)} {value:10.2f}  best {best}  "
        f"gap {out['gap_pct']}%  feasible {out['feasible']}  ({took:.1f} s)"
    )
    if "peer" in out:
        p = out["peer"]
        line += f"  | vroom {p.get(_key(inst))} gap {p.get('gap_pct')}%"
    print(line, flush=True)
    return out


def vroom_peer(inst: Instance, *, seconds: float, best: float | None) -> dict[str, Any]:
    """The same instance in pyvroom: one vehicle per team, jobs at the same matrix
    indices with the same windows and service; TOPTW profits as priorities (0…100)."""
    try:
        import vroom
    except ImportError:
        return {"name": "vroom", "error": "pyvroom is not installed (uv sync --group bench)"}
    problem = inst.problem
    team = problem.teams[0]
    cost = problem.matrix.distance if team.cost_per_distance else problem.matrix.duration
    horizon = min(team.shift.end, 2**31 - 1)
    vi = vroom.Input()
    vi.set_durations_matrix("car", problem.matrix.duration.clip(0, 2**31 - 1))
    vi.set_costs_matrix("car", cost.clip(0, 2**31 - 1))
    for k in range(team.count):
        vi.add_vehicle(
            vroom.Vehicle(
                k + 1,
                start=team.start,
                end=team.end_place,
                capacity=[team.capacity] if team.capacity is not None else [],
                time_window=vroom.TimeWindow(team.shift.start, horizon),
            )
        )
    top = max((inst.profits or [0])[1:], default=0) or 1
    for case in problem.cases:
        address = case.addresses[0]
        assert address.place is not None
        windows = [vroom.TimeWindow(w.start, min(w.end, horizon)) for w in address.windows]
        job: dict[str, Any] = {
            "location": address.place,
            "default_service": case.service,
            "time_windows": windows or [vroom.TimeWindow(0, horizon)],
        }
        if team.capacity is not None:
            job["delivery"] = [case.demand]
        if inst.kind == "toptw":
            job["priority"] = max(0, min(100, round(100 * inst.profits[int(case.key)] / top)))
        vi.add_job(vroom.Job(int(case.key), **job))
    began = time.perf_counter()
    solution = vi.solve(exploration_level=5, nb_threads=1, timeout=dt.timedelta(seconds=seconds))
    took = time.perf_counter() - began
    frame = solution.routes
    jobs = frame[frame["type"] == "job"]
    out: dict[str, Any] = {"name": "vroom", "seconds": round(took, 2)}
    if inst.kind == "toptw":
        value = float(sum(inst.profits[int(j)] for j in jobs["id"]))
    else:
        value = 0.0
        for _, route in frame.groupby("vehicle_id"):
            seq = [int(x) for x in route["location_index"]]
            for a, b in itertools.pairwise(seq):
                if inst.kind == "tsplib":
                    value += float(problem.matrix.distance[a, b])
                else:
                    (xa, ya), (xb, yb) = inst.xy[a], inst.xy[b]
                    value += ((xa - xb) ** 2 + (ya - yb) ** 2) ** 0.5
        out["unassigned"] = len(problem.cases) - len(jobs)
    out[_key(inst)] = round(value, 2)
    out["gap_pct"] = _gap(inst, value, best)
    return out


def run_city(*, seconds: float, seed: int, teams: int, cases: int) -> dict[str, Any]:
    from cuishou.routing.synthetic import city

    began = time.perf_counter()
    problem = city(teams=teams, cases=cases, seed=seed)
    plan = solve(problem, SolveOptions(seconds=seconds, seed=seed))
    took = time.perf_counter() - began
    violations = check_plan(problem, plan)
    reasons = collections.Counter(lo.reason.value for lo in plan.left_out)
    out = {
        "teams": teams,
        "cases": cases,
        "search_seconds": seconds,
        "seconds": round(took, 2),
        "planned": sum(len(r.stops) for r in plan.routes),
        "left_out": len(plan.left_out),
        "reasons": dict(sorted(reasons.items())),
        "prize": plan.prize,
        "feasible": not violations,
    }
    print(
        f"city {teams}x{cases}: {out['planned']} planned, {out['left_out']} left out "
        f"{out['reasons']}, feasible {out['feasible']} ({took:.1f} s)",
        flush=True,
    )
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--instance", type=Path)
    parser.add_argument("--format", choices=["toptw", "solomon", "tsplib"])
    parser.add_argument("--teams", type=int, default=1, help="TOPTW: the number of routes m")
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--best", type=float)
    parser.add_argument("--peer", choices=["vroom", "none"], default="none")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--data", type=Path, default=DATA)
    parser.add_argument("--no-city", action="store_true")
    parser.add_argument("--city-seconds", type=float, default=20.0)
    parser.add_argument("--city-teams", type=int, default=20)
    parser.add_argument("--city-cases", type=int, default=400)
    args = parser.parse_args()

    if args.instance is not None:
        if args.format is None:
            parser.error("--instance needs --format")
        best = (
            args.best
            if args.best is not None
            else _best_for(args.instance, args.format, args.teams)
        )
        one = run_one(
            args.instance,
            args.format,
            teams=args.teams,
            seconds=args.seconds,
            seed=args.seed,
            best=best,
            peer=args.peer,
        )
        print(json.dumps({"bench": "visit_routing", **one}, ensure_ascii=False))
        return

    if not args.data.is_dir():
        parser.error(f"{args.data}: no such folder (the shared routing instances)")
    results = [
        run_one(
            args.data / name,
            fmt,
            teams=teams,
            seconds=args.seconds,
            seed=args.seed,
            best=best,
            peer=args.peer,
        )
        for name, fmt, teams, best in SET
    ]
    summary: dict[str, Any] = {
        "bench": "visit_routing",
        "seconds": args.seconds,
        "instances": results,
    }
    if not args.no_city:
        summary["city"] = run_city(
            seconds=args.city_seconds, seed=args.seed, teams=args.city_teams, cases=args.city_cases
        )
    summary["feasible"] = all(r["feasible"] for r in results) and summary.get("city", {}).get(
        "feasible", True
    )
    print(json.dumps(summary, ensure_ascii=False))


if __name__ == "__main__":
    main()
