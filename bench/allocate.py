"""Benchmark: case allocation, N open cases to M collectors and field visitors.

    .venv/bin/python bench/allocate.py [--cases N] [--collectors M]
        [--db sqlite|postgres] [--postgres-url URL] [--profile] [--keep]

Builds a throwaway database (an SQLite file in a temporary folder, or the PostgreSQL
database ``cuishou_bench_alloc``, dropped and created again), migrates it and fills it with
set-based SQL (``INSERT … SELECT`` over a recursive CTE on SQLite, ``generate_series`` on
PostgreSQL; not the ORM per row): 3 clients, N debtors (default 200,000; 2 % of them
speak Cantonese, ``yue``), one phone number (unverified, imported) for 85 % of them, and
one open case per debtor, the clients taking turns. The cases spread over the buckets
(M1 35 %, M2 25 %, M3 10 %, M4 10 %, M5 8 %, M6 6 %, M7+ 6 %) with a dpd inside the
bucket, a balance of 500 … 200,000 yuan and the default ladder's stage (M1 phone, M2
written, M3 visit, M4+ legal); nobody is assigned yet. The debtor of every visit-stage
case has a residence address in one of 6 cities × 10 districts. Then M users (default
500, ORM ``bulk_create``): 95 % in the ``collector`` group, 5 % (every twentieth) in
``field_visitor``, each with a collector profile of capacity ⌈1.1 N / M⌉; one collector
in five takes only M1 and M2, one in ten speaks ``yue`` (no field visitor does, and the
field visitors have room for about half the visit cases: those cases stay unallocated).

It then times, in the same process, ``cuishou.cases.allocation.allocation_plan()`` (the
dry plan, no writes: ``plan_seconds``) and after it
``cuishou.cases.allocation.cases_allocate(actor="bench")`` (reads, plans, writes every
assignment and its audit event in one transaction: ``seconds``). PostgreSQL gets
``VACUUM ANALYZE`` after the load (what autovacuum would have done), not timed; SQLite
gets nothing. The generation's connection (foreign keys off, no sync) is closed before
the timed calls, which use a connection opened with the production settings.

``--profile`` runs ``cases_allocate`` under cProfile and prints its slowest functions
(the reported ``seconds`` then include the profiler's overhead).

The last line is one JSON object:
``{"bench": "allocate", "cases": N, "collectors": M, "seconds": s, "plan_seconds": p,
"assigned": a, "unallocated": u, "cases_per_s": r, "db": ..., "generate_seconds": g}``.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "src"))
sys.path.insert(0, str(ROOT / "bench"))

from _common import Sql, drop_postgres, fresh_postgres  # noqa: E402 (after the path)

TODAY = dt.date(2026, 11, 29)  # the generation day: cases opened dpd days before it
PG_NAME = "cuishou_bench_alloc"

CLIENTS = [("BANKA", "甲银行信用卡中心"), ("CFCB", "乙消费金融"), ("MFC", "丙小额贷款")]

# (bucket, stage of the default ladder, share in %, lowest dpd, dpd range)
BUCKETS: list[tuple[str, str, int, int, int]] = [
    ("M1", "phone", 35, 1, 30),
    ("M2", "written", 25, 31, 30),
    ("M3", "visit", 10, 61, 30),
    ("M4", "legal", 10, 91, 30),
    ("M5", "legal", 8, 121, 30),
    ("M6", "legal", 6, 151, 30),
    ("M7+", "legal", 6, 181, 360),
]

# (province, city, districts)
CITIES: list[tuple[str, str, list[str]]] = [
    ("北京市", "北京市", ["朝阳区", "海淀区", "东城区", "西城区", "丰台区", "石景山区",
                          "通州区", "昌平区", "大兴区", "顺义区"]),
    ("上海市", "上海市", ["浦东新区", "黄浦区", "徐汇区", "长宁区", "静安区", "普陀区",
                          "虹口区", "杨浦区", "闵行区", "宝山区"]),
    ("广东省", "广州市", ["天河区", "越秀区", "海珠区", "荔湾区", "白云区", "黄埔区",
                          "番禺区", "花都区", "南沙区", "增城区"]),
    ("广东省", "深圳市", ["福田区", "罗湖区", "南山区", "盐田区", "宝安区", "龙岗区",
                          "龙华区", "坪山区", "光明区", "大鹏新区"]),
    ("四川省", "成都市", ["锦江区", "青羊区", "金牛区", "武侯区", "成华区", "龙泉驿区",
                          "青白江区", "新都区", "温江区", "双流区"]),
    ("浙江省", "杭州市", ["上城区", "拱墅区", "西湖区", "滨江区", "萧山区", "余杭区",
                          "临平区", "钱塘区", "富阳区", "临安区"]),
]  # fmt: skip

# Attribute hashes: x · multiplier mod prime, a different pair per attribute, so the
# generated data is the same on every run and on both databases.
HASHES = {
    "bucket": (2654435761, 1000003),
    "dpd": (2246822519, 999983),
    "balance": (3266489917, 999999937),
    "overdue": (668265263, 999961),
    "language": (374761393, 999959),
    "phone": (2870177453, 999953),
    "area": (1181783497, 999931),
    "mobile": (3121238909, 999999929),
}


def h(name: str, x: str) -> str:
    multiplier, prime = HASHES[name]
    return f"((({x}) * {multiplier}) % {prime})"


def capacity_for(cases: int, collectors: int) -> int:
    """⌈1.1 × cases / collectors⌉."""
    return -(-cases * 11 // (collectors * 10))


def generate(cases: int, collectors: int, *, now: dt.datetime) -> dict[str, float]:
    """Fill the migrated database; return the seconds each part took."""
    from django.contrib.auth.models import Group
    from django.db import connection, transaction

    from cuishou.accounts.choices import Role
    from cuishou.accounts.models import User
    from cuishou.cases.models import CollectorProfile
    from cuishou.portfolio.models import Client

    s = Sql(connection.vendor)
    stamp = s.timestamp(now)  # a literal: with parameters, every % would need doubling
    timings: dict[str, float] = {}

    t = time.perf_counter()
    client_ids = [Client.objects.create(code=code, name=name).pk for code, name in CLIENTS]
    groups = {
        role: Group.objects.get(name=role.value) for role in (Role.COLLECTOR, Role.FIELD_VISITOR)
    }
    capacity = capacity_for(cases, collectors)
    users = []
    for j in range(collectors):
        users.append(
            User(
                username=f"bench{j:05d}",
                password="!",  # unusable
                display_name=f"催收员{j:05d}",
                date_joined=now,
            )
        )
    User.objects.bulk_create(users, batch_size=500)
    user_ids = dict(User.objects.filter(username__startswith="bench").values_list("username", "pk"))
    memberships = []
    profiles = []
    for j in range(collectors):
        user_id = user_ids[f"bench{j:05d}"]
        visitor = j % 20 == 0
        role = Role.FIELD_VISITOR if visitor else Role.COLLECTOR
        memberships.append(User.groups.through(user_id=user_id, group_id=groups[role].pk))
        profiles.append(
            CollectorProfile(
                user_id=user_id,
                capacity=capacity,
                buckets=["M1", "M2"] if j % 5 == 1 else [],
                languages=["yue"] if j % 10 == 3 else [],
                stages=[],
                active=True,
            )
        )
    User.groups.through.objects.bulk_create(memberships, batch_size=500)
    CollectorProfile.objects.bulk_create(profiles, batch_size=500)
    timings["people"] = time.perf_counter() - t

    with connection.cursor() as cur:
        if s.pg:
            # Foreign keys are valid by construction; skip the per-row checks.
            cur.execute("SET session_replication_role = replica")
            cur.execute("SET work_mem = '256MB'")
        else:
            cur.execute("PRAGMA foreign_keys = OFF")
            cur.execute("PRAGMA synchronous = OFF")
            cur.execute("PRAGMA cache_size = -1000000")
        with transaction.atomic():
            t = time.perf_counter()
            cur.execute(
                f"""{s.with_numbers(cases)}
                INSERT INTO portfolio_debtor
                    (id, id_number, name, mobile, birth_date, gender, language,
                     created_at, updated_at)
                SELECT i, {s.padded("110105", "i", 12)}, '债务人' || {s.text("i")},
                       '1' || {s.text("3 + i % 7")} || {s.padded("", h("mobile", "i"), 9)},
                       NULL, '',
                       CASE WHEN {h("language", "i")} % 50 = 0 THEN 'yue' ELSE '' END,
                       {stamp}, {stamp}
                FROM n"""
            )
            timings["debtors"] = time.perf_counter() - t

            t = time.perf_counter()
            cur.execute(
                f"""
                INSERT INTO portfolio_contactpoint
                    (debtor_id, related_person_id, kind, value, status, source, is_primary,
                     created_at, updated_at)
                SELECT id, NULL, 'phone', mobile, 'unverified', 'import', TRUE,
                       {stamp}, {stamp}
                FROM portfolio_debtor
                WHERE {h("phone", "id")} % 100 < 85
                ORDER BY id"""
            )
            timings["contact points"] = time.perf_counter() - t

            # Bucket index b (0 … 6) from the hash, by the shares of BUCKETS.
            whens, acc = [], 0
            for b, (_bucket, _stage, share, _low, _span) in enumerate(BUCKETS[:-1]):
                acc += share
                whens.append(f"WHEN {h('bucket', 'i')} % 100 < {acc} THEN {b}")
            bucket_index = f"CASE {' '.join(whens)} ELSE {len(BUCKETS) - 1} END"

            def by_bucket(values: list[str]) -> str:
                parts = " ".join(f"WHEN {b} THEN {v}" for b, v in enumerate(values))
                return f"CASE b {parts} END"

            bucket = by_bucket([f"'{row[0]}'" for row in BUCKETS])
            stage = by_bucket([f"'{row[1]}'" for row in BUCKETS])
            dpd = by_bucket([f"{low} + r % {span}" for _b, _s, _p, low, span in BUCKETS])
            client = "CASE (i - 1) % 3 " + " ".join(
                f"WHEN {k} THEN {pk}" for k, pk in enumerate(client_ids)
            )
            client += " END"
            # Overdue: 10 % of the balance in M1 up to 100 % in M7+ (and a little noise).
            overdue_fen = f"bal * {by_bucket([str(10 + 15 * b) for b in range(7)])}"
            overdue_fen = f"({overdue_fen} - bal * ({h('overdue', 'i')} % 10)) / 100"

            t = time.perf_counter()
            cur.execute(
                f"""{s.with_numbers(cases)},
                base AS (
                    SELECT i, {bucket_index} AS b, {h("dpd", "i")} AS r,
                           50000 + {h("balance", "i")} % 19950001 AS bal
                    FROM n)
                INSERT INTO cases_case (
                    id, client_id, debtor_id, stage, stage_set_by_hand, stage_set_by_id,
                    stage_set_at, status, status_reason, assignee_id, bucket, dpd,
                    overdue_amount, penalty, balance, computed_as_of, assignment_pinned,
                    opened_on, closed_on, created_at, updated_at)
                SELECT i, {client}, i, {stage}, FALSE, NULL,
                       NULL, 'open', '', NULL, {bucket}, {dpd},
                       {s.money(overdue_fen)}, 0, {s.money("bal")}, {s.day(TODAY)}, FALSE,
                       {s.days_before(TODAY, dpd)}, NULL, {stamp}, {stamp}
                FROM base"""
            )
            timings["cases"] = time.perf_counter() - t

            t = time.perf_counter()
            cur.execute(
                "CREATE TEMP TABLE gen_area (k INTEGER PRIMARY KEY, province VARCHAR(50),"
                " city VARCHAR(50), district VARCHAR(50))"
            )
            areas = [
                (k * len(districts) + d, province, city, district)
                for k, (province, city, districts) in enumerate(CITIES)
                for d, district in enumerate(districts)
            ]
            cur.executemany("INSERT INTO gen_area VALUES (%s, %s, %s, %s)", areas)
            cur.execute(
                f"""
                INSERT INTO portfolio_address
                    (debtor_id, kind, text, province, city, district, lat, lon, source,
                     is_valid, created_at, updated_at)
                SELECT c.debtor_id, 'residence',
                       a.city || a.district || '幸福路' || {s.text("c.debtor_id % 997 + 1")}
                           || '号' || {s.text("c.debtor_id")} || '室',
                       a.province, a.city, a.district, NULL, NULL, 'import', TRUE,
                       {stamp}, {stamp}
                FROM cases_case c
                JOIN gen_area a ON a.k = {h("area", "c.debtor_id")} % {len(areas)}
                WHERE c.stage = 'visit'
                ORDER BY c.debtor_id"""
            )
            cur.execute("DROP TABLE gen_area")
            timings["addresses"] = time.perf_counter() - t

            if s.pg:
                for table in ("portfolio_debtor", "cases_case"):
                    cur.execute(
                        f"SELECT setval(pg_get_serial_sequence('{table}', 'id'),"
                        f" (SELECT MAX(id) FROM {table}))"
                    )
    # The timed calls get a connection opened with the production settings (foreign
    # keys on, normal sync), not this one.
    connection.close()
    return timings


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--cases", type=int, default=200_000)
    parser.add_argument("--collectors", type=int, default=500)
    parser.add_argument("--db", choices=["sqlite", "postgres"], default="sqlite")
    parser.add_argument(
        "--postgres-url",
        default="postgres://postgres@127.0.0.1:5432/postgres",
        help="the server to create the database %(prog)s uses on (default: %(default)s)",
    )
    parser.add_argument("--profile", action="store_true", help="run cases_allocate under cProfile")
    parser.add_argument("--keep", action="store_true", help="keep the database afterwards")
    args = parser.parse_args()
    if args.cases < 1 or args.collectors < 1:
        parser.error("--cases and --collectors must be at least 1")

    tmp = Path(tempfile.mkdtemp(prefix="cuishou-bench-alloc-"))
    os.environ["CUISHOU_VAR_DIR"] = str(tmp)
    if args.db == "postgres":
        os.environ["DATABASE_URL"] = fresh_postgres(args.postgres_url, PG_NAME)
    else:
        os.environ["DATABASE_URL"] = f"sqlite:///{tmp / 'bench.sqlite3'}"
    os.environ["DJANGO_SETTINGS_MODULE"] = "cuishou.settings"
    # Production settings: DEBUG would keep every statement in connection.queries.
    os.environ["CUISHOU_DEBUG"] = "0"
    os.environ.setdefault("CUISHOU_SECRET_KEY", "bench-only-not-a-secret")
    import django

    django.setup()
    from django.core.management import call_command
    from django.db import connection
    from django.utils import timezone

    try:
        t = time.perf_counter()
        call_command("migrate", verbosity=0)
        print(f"{connection.vendor} database migrated in {time.perf_counter() - t:.1f} s")

        t = time.perf_counter()
        timings = generate(args.cases, args.collectors, now=timezone.now())
        generate_s = time.perf_counter() - t
        parts = ", ".join(f"{k} {v:.1f} s" for k, v in timings.items())
        print(f"generated in {generate_s:.1f} s ({parts})")
        if connection.vendor == "postgresql":
            t = time.perf_counter()
            with connection.cursor() as cur:
                cur.execute("VACUUM ANALYZE")
            print(f"VACUUM ANALYZE after the load: {time.perf_counter() - t:.1f} s")
        else:
            size = sum(f.stat().st_size for f in tmp.glob("bench.sqlite3*"))
            print(f"database file {size / 1e6:.0f} MB")
        with connection.cursor() as cur:
            cur.execute("SELECT stage, COUNT(*) FROM cases_case GROUP BY stage ORDER BY 1")
            stages = dict(cur.fetchall())
            cur.execute("SELECT COUNT(*) FROM portfolio_contactpoint")
            phones = cur.fetchone()[0]
            cur.execute("SELECT COUNT(*) FROM portfolio_address")
            addresses = cur.fetchone()[0]
        print(
            f"{args.cases} open cases by stage {stages}; {phones} phones, {addresses}"
            f" addresses; {args.collectors} people, capacity"
            f" {capacity_for(args.cases, args.collectors)} each"
        )
        connection.close()

        from cuishou.cases.allocation import allocation_plan, cases_allocate

        t = time.perf_counter()
        plan = allocation_plan()
        plan_s = time.perf_counter() - t
        print(
            f"allocation_plan: {plan_s:.2f} s  considered {plan.considered}, would assign"
            f" {plan.assigned}, keep {plan.kept}, leave {plan.unallocated} unallocated"
        )
        del plan

        if args.profile:
            import cProfile
            import pstats

            profiler = cProfile.Profile()
            t = time.perf_counter()
            result = profiler.runcall(cases_allocate, actor="bench")
            seconds = time.perf_counter() - t
            pstats.Stats(profiler).sort_stats("cumulative").print_stats(30)
        else:
            t = time.perf_counter()
            result = cases_allocate(actor="bench")
            seconds = time.perf_counter() - t
        print(
            f"cases_allocate: {seconds:.2f} s  considered {result.considered}, assigned"
            f" {result.assigned}, kept {result.kept}, unallocated {result.unallocated}"
        )

        with connection.cursor() as cur:
            cur.execute("SELECT COUNT(*) FROM cases_case WHERE assignee_id IS NOT NULL")
            assigned_rows = cur.fetchone()[0]
            cur.execute("SELECT COUNT(*) FROM audit_auditevent WHERE action = 'case.assign'")
            events = cur.fetchone()[0]
        print(f"cases with an assignee: {assigned_rows}; case.assign audit events: {events}")

        print(
            json.dumps(
                {
                    "bench": "allocate",
                    "cases": args.cases,
                    "collectors": args.collectors,
                    "seconds": round(seconds, 2),
                    "plan_seconds": round(plan_s, 2),
                    "assigned": result.assigned,
                    "unallocated": result.unallocated,
                    "cases_per_s": round(args.cases / seconds),
                    "db": args.db,
                    "generate_seconds": round(generate_s, 2),
                },
                ensure_ascii=False,
            )
        )
    finally:
        if args.keep:
            print(f"kept: {os.environ['DATABASE_URL']}", file=sys.stderr)
        else:
            if args.db == "postgres":
                drop_postgres(args.postgres_url, PG_NAME)
            connection.close()
            shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
