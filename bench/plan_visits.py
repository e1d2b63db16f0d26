"""Benchmark: `cuishou plan-visits` for 20 teams and 400 candidate cases, on a database.

    .venv/bin/python bench/plan_visits.py [--teams 20] [--cases 400] [--seconds 20]
        [--db sqlite|postgres] [--postgres-url URL] [--seed 0]

Builds a throwaway database (an SQLite file in a temporary folder, or the PostgreSQL
database ``cuishou_bench_visits``, dropped and created again), migrates it and fills it
with the ORM (``bulk_create``): one team lead, 20 field teams of two visitors at four
offices around People's Square in Shanghai, 400 visit-stage debtors each with a
residence and (seven in ten) a work address within 12 km, a few without coordinates,
balances of a few thousand to a few hundred thousand yuan, phone records for some; one
confirmed visit issue of the 400 cases, 20 allocated to each team. It then times
``cuishou.visits.planning.day_plan`` for the next working day with ``--seconds`` of
search (what the command runs: read the cases, build each team's problem, solve, check,
store the draft routes and stops with their audit events) and checks every stored route
again.

The last line is one JSON object:
``{"bench": "plan_visits", "teams": 20, "cases": 400, "seconds": s, "planned": n,
"left_out": m, "search_seconds": S, "db": ...}``.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import math
import os
import random
import shutil
import sys
import tempfile
import time
from decimal import Decimal
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "src"))
sys.path.insert(0, str(ROOT / "bench"))

from _common import drop_postgres, fresh_postgres  # noqa: E402 (after the path)

PG_NAME = "cuishou_bench_visits"
CENTRE = (31.2304, 121.4737)


def _near(rng: random.Random, radius_km: float) -> tuple[Decimal, Decimal]:
    r = radius_km * math.sqrt(rng.random())
    a = rng.random() * 2 * math.pi
    lat = CENTRE[0] + r * math.sin(a) / 111.0
    lon = CENTRE[1] + r * math.cos(a) / (111.0 * math.cos(math.radians(CENTRE[0])))
    return Decimal(f"{lat:.6f}"), Decimal(f"{lon:.6f}")


def generate(teams: int, cases: int, seed: int) -> None:
    from django.contrib.auth.models import Group
    from django.db import transaction
    from django.utils import timezone

    from cuishou.accounts.models import User
    from cuishou.cases.models import Case
    from cuishou.portfolio.models import Address, Client, Debtor
    from cuishou.visits.choices import IssueStatus, VisitCaseStatus
    from cuishou.visits.models import FieldTeam, VisitCase, VisitIssue

    rng = random.Random(seed)
    now = timezone.now()
    with transaction.atomic():
        client = Client.objects.create(code="BENCH", name="基准消费金融")
        lead = User.objects.create(username="lead", display_name="组长")
        lead.groups.add(Group.objects.get(name="team_lead"))
        risk = User.objects.create(username="risk", display_name="风控")
        risk.groups.add(Group.objects.get(name="risk_manager"))
        visitors = User.objects.bulk_create(
            [User(username=f"visitor{i:03d}", display_name=f"外访员{i}") for i in range(2 * teams)]
        )
        Group.objects.get(name="field_visitor").user_set.add(*visitors)
        offices = [_near(rng, 6) for _ in range(4)]
        team_rows = []
        for i in range(teams):
            lat, lon = offices[i % len(offices)]
            team_rows.append(
                FieldTeam(
                    name=f"外访{i + 1:02d}组",
                    lead=lead,
                    city="上海市",
                    base=f"办公室 {i % len(offices) + 1}",
                    base_lat=lat,
                    base_lon=lon,
                    shift_start=dt.time(8, 30),
                    shift_end=dt.time(18),
                )
            )
        team_rows = FieldTeam.objects.bulk_create(team_rows)
        for i, team in enumerate(team_rows):
            team.members.set(visitors[2 * i : 2 * i + 2])
        debtors = Debtor.objects.bulk_create(
            [
                Debtor(id_number=f"BENCH{i:013d}", name=f"债务人{i}", mobile=f"138{i:08d}")
                for i in range(cases)
            ]
        )
        addresses = []
        for i, d in enumerate(debtors):
            no_coordinates = rng.random() < 0.03
            lat, lon = (None, None) if no_coordinates else _near(rng, 12)
            addresses.append(
                Address(
                    debtor=d,
                    kind="residence",
                    text=f"上海市某区某路{i}号",
                    city="上海市",
                    lat=lat,
                    lon=lon,
                )
            )
            if rng.random() < 0.7:
                lat, lon = (None, None) if no_coordinates else _near(rng, 10)
                addresses.append(
                    Address(
                        debtor=d,
                        kind="work",
                        text=f"上海市某区某大厦{i}室",
                        city="上海市",
                        lat=lat,
                        lon=lon,
                    )
                )
        Address.objects.bulk_create(addresses)
        case_rows = Case.objects.bulk_create(
            [
                Case(
                    client=client,
                    debtor=d,
                    stage="visit",
                    bucket="M3",
                    dpd=75,
                    balance=Decimal(round(rng.lognormvariate(math.log(30_000), 0.9))),
                    opened_on=now.date(),
                )
                for d in debtors
            ]
        )
        total = sum((c.balance for c in case_rows), Decimal("0"))
        issue = VisitIssue.objects.create(
            number="VI-BENCH-001",
            issued_by=risk,
            team_lead=lead,
            issued_at=now,
            declared_count=cases,
            declared_amount=total,
            status=IssueStatus.CONFIRMED,
            counted=cases,
            counted_amount=total,
            confirmed_at=now,
            confirmed_by=lead,
        )
        outcomes = ["rpc", "no_answer", "ptp", "busy", "third_party"]
        VisitCase.objects.bulk_create(
            [
                VisitCase(
                    issue=issue,
                    case=c,
                    amount=c.balance,
                    phone_records=(
                        [
                            {
                                "at": now.isoformat(),
                                "channel": "call",
                                "party": "debtor",
                                "outcome": rng.choice(outcomes),
                                "notes": "",
                            }
                        ]
                        if rng.random() < 0.6
                        else []
                    ),
                    status=VisitCaseStatus.ALLOCATED,
                    team=team_rows[i % teams],
                    allocated_at=now,
                )
                for i, c in enumerate(case_rows)
            ]
        )


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--teams", type=int, default=20)
    parser.add_argument("--cases", type=int, default=400)
    parser.add_argument("--seconds", type=float, default=20.0, help="search for all teams")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--db", choices=["sqlite", "postgres"], default="sqlite")
    parser.add_argument("--postgres-url", default="postgres://postgres@127.0.0.1:5432/postgres")
    args = parser.parse_args()
    if args.teams < 1 or args.cases < 1 or args.seconds <= 0:
        parser.error("--teams, --cases and --seconds must be positive")

    tmp = Path(tempfile.mkdtemp(prefix="cuishou-bench-visits-"))
    os.environ["CUISHOU_VAR_DIR"] = str(tmp)
    if args.db == "postgres":
        os.environ["DATABASE_URL"] = fresh_postgres(args.postgres_url, PG_NAME)
    else:
        os.environ["DATABASE_URL"] = f"sqlite:///{tmp / 'bench.sqlite3'}"
    os.environ["DJANGO_SETTINGS_MODULE"] = "cuishou.settings"
    os.environ["CUISHOU_DEBUG"] = "0"
    os.environ.setdefault("CUISHOU_SECRET_KEY", "bench-only-not-a-secret")
    import django

    django.setup()
    from django.core.management import call_command
    from django.db import connection

    try:
        call_command("migrate", verbosity=0)
        t = time.perf_counter()
        generate(args.teams, args.cases, args.seed)
        print(
            f"generated {args.teams} teams, {args.cases} cases in {time.perf_counter() - t:.1f} s"
        )

        from cuishou.core.timeutil import today_shanghai
        from cuishou.visits.models import Route
        from cuishou.visits.planning import _ordered_stops, _route_problem, day_plan, time_order

        day = today_shanghai() + dt.timedelta(days=1)
        while day.weekday() >= 5:
            day += dt.timedelta(days=1)
        t = time.perf_counter()
        plan = day_plan(day=day, seconds=args.seconds, seed=args.seed)
        seconds = time.perf_counter() - t
        reasons: dict[str, int] = {}
        for td in plan.teams:
            for lo in td.left_out:
                reasons[lo.reason] = reasons.get(lo.reason, 0) + 1
        print(f"day_plan {day}: {seconds:.1f} s, {plan.planned} planned, left out {reasons}")
        bad = 0
        for route in Route.objects.filter(day=day):
            stops = _ordered_stops(route)
            if stops:
                tp = _route_problem(route, stops)
                timed = time_order(tp, [(str(s.visit_case_id), str(s.address_id)) for s in stops])
                bad += timed.route is None
        print(f"stored routes checked again: {bad} infeasible")
        result = {
            "bench": "plan_visits",
            "teams": args.teams,
            "cases": args.cases,
            "seconds": round(seconds, 2),
            "planned": plan.planned,
            "left_out": plan.left_out,
            "search_seconds": args.seconds,
            "infeasible_routes": bad,
            "db": connection.vendor,
        }
    finally:
        if args.db == "postgres":
            drop_postgres(args.postgres_url, PG_NAME)
        shutil.rmtree(tmp, ignore_errors=True)
    print(json.dumps(result))


if __name__ == "__main__":
    main()
