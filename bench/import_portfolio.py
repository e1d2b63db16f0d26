"""Benchmark: import a generated portfolio (CSV zip) into a fresh SQLite database.

    .venv/bin/python bench/import_portfolio.py [--loans N] [--postgres SERVER_URL] [--profile]

Generates N loans (default 200,000) with 6 installments each, 2 contacts (spouse and
colleague) and 2 addresses (residence and work) per loan, as a .zip of UTF-8 CSV files;
then runs ``import_portfolio`` once and prints, as its last line, one JSON object:
``{"bench": "import_portfolio", "loans": N, "seconds": s, "loans_per_s": r, ...}`` where
``seconds`` is the import only (reading, validating, writing; not the generation).

Mobiles are a real mainland 号段 followed by 8 random digits, so nearly every number is
distinct and the phone check cannot lean on repeated values.
"""

from __future__ import annotations

import argparse
import datetime as dt
import io
import json
import os
import random
import sys
import tempfile
import time
import zipfile
from pathlib import Path

import polars as pl

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "src"))

REGIONS = ["110105", "310104", "440106", "330102", "320106", "310115", "440305"]
SEGMENTS = [
    "130", "131", "132", "133", "134", "135", "136", "137", "138", "139", "150", "151",
    "152", "153", "155", "156", "157", "158", "159", "166", "176", "177", "178", "180",
    "181", "182", "183", "185", "186", "187", "188", "189", "191", "198", "199",
]  # fmt: skip
ADDRESSES = [
    "上海市浦东新区张杨路{n}号",
    "上海市黄浦区南京东路{n}号",
    "广东省广州市天河区体育西路{n}号",
    "浙江省杭州市西湖区文三路{n}号",
    "北京市朝阳区建国路{n}号",
]
WEIGHTS = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)


def _id_number(rng: random.Random) -> str:
    birth = dt.date(1960, 1, 1) + dt.timedelta(days=rng.randrange(15000))
    body = f"{rng.choice(REGIONS)}{birth:%Y%m%d}{rng.randrange(1000):03d}"
    total = sum(int(c) * w for c, w in zip(body, WEIGHTS, strict=True))
    return body + "10X98765432"[total % 11]


def _mobile(rng: random.Random) -> str:
    return f"{rng.choice(SEGMENTS)}{rng.randrange(10**8):08d}"


def _money(fen: int) -> str:
    return f"{fen // 100}.{fen % 100:02d}"


def generate(n: int, seed: int = 7) -> bytes:
    rng = random.Random(seed)
    contracts = [f"HT{i:08d}" for i in range(n)]
    principal_fen = [rng.randrange(1000, 50000) * 600 for _ in range(n)]  # 6 equal periods
    loans = pl.DataFrame(
        {
            "contract_no": contracts,
            "debtor_name": [f"债务人{i}" for i in range(n)],
            "id_number": [_id_number(rng) for _ in range(n)],
            "mobile": [_mobile(rng) for _ in range(n)],
            "product": [rng.choice(["消费贷", "现金贷", "车贷"]) for _ in range(n)],
            "principal": [_money(p) for p in principal_fen],
            "annual_rate": ["0.18"] * n,
            "penalty_annual_rate": [""] * n,
            "disbursed_on": ["2026-01-15"] * n,
            "currency": ["CNY"] * n,
        }
    )
    k = 6
    inst: dict[str, list[str]] = {
        c: []
        for c in (
            "contract_no",
            "seq",
            "due_on",
            "principal_due",
            "interest_due",
            "principal_paid",
            "interest_paid",
        )
    }
    for contract, fen in zip(contracts, principal_fen, strict=True):
        per = fen // k
        interest = per * 15 // 1000
        paid_upto = rng.randrange(k + 1)
        for seq in range(1, k + 1):
            paid = seq <= paid_upto
            inst["contract_no"].append(contract)
            inst["seq"].append(str(seq))
            inst["due_on"].append(f"2026-{seq + 1:02d}-15")
            inst["principal_due"].append(_money(per))
            inst["interest_due"].append(_money(interest))
            inst["principal_paid"].append(_money(per if paid else 0))
            inst["interest_paid"].append(_money(interest if paid else 0))
    installments = pl.DataFrame(inst)
    contacts = pl.DataFrame(
        {
            "contract_no": [c for c in contracts for _ in range(2)],
            "name": [f"关系人{i}" for i in range(2 * n)],
            "relation": ["spouse", "colleague"] * n,
            "phone": [_mobile(rng) for _ in range(2 * n)],
            "email": [""] * (2 * n),
        }
    )
    addresses = pl.DataFrame(
        {
            "contract_no": [c for c in contracts for _ in range(2)],
            "kind": ["residence", "work"] * n,
            "address": [rng.choice(ADDRESSES).format(n=i) for i in range(2 * n)],
            "lat": [f"{31 + (i % 1000) / 1000:.6f}" for i in range(2 * n)],
            "lon": [f"{121 + (i % 1000) / 1000:.6f}" for i in range(2 * n)],
        }
    )
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED, compresslevel=1) as archive:
        for name, frame in (
            ("loans", loans),
            ("installments", installments),
            ("contacts", contacts),
            ("addresses", addresses),
        ):
            archive.writestr(f"{name}.csv", frame.write_csv())
    return buffer.getvalue()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--loans", type=int, default=200_000)
    parser.add_argument("--profile", action="store_true", help="cProfile the import")
    parser.add_argument(
        "--postgres",
        metavar="URL",
        help="measure on PostgreSQL instead: a server URL such as "
        "postgres://postgres@127.0.0.1:5432/postgres; a fresh database is created and dropped",
    )
    args = parser.parse_args()

    tmp = Path(tempfile.mkdtemp(prefix="cuishou-bench-"))
    os.environ["CUISHOU_VAR_DIR"] = str(tmp)
    bench_db = None
    if args.postgres:
        bench_db = _fresh_postgres_database(args.postgres)
        os.environ["DATABASE_URL"] = bench_db
    else:
        os.environ["DATABASE_URL"] = f"sqlite:///{tmp / 'bench.sqlite3'}"
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "cuishou.settings")
    os.environ.setdefault("CUISHOU_DEBUG", "1")
    import django

    django.setup()
    from django.core.management import call_command

    call_command("migrate", verbosity=0)
    from cuishou.portfolio.importer import import_portfolio
    from cuishou.portfolio.models import Client, Installment, Loan

    t0 = time.perf_counter()
    data = generate(args.loans)
    gen_s = time.perf_counter() - t0
    path = tmp / "portfolio.zip"
    path.write_bytes(data)
    print(
        f"generated {args.loans} loans as a CSV zip (UTF-8) of {len(data) / 1e6:.1f} MB "
        f"in {gen_s:.1f} s"
    )
    client = Client.objects.create(code="BENCH", name="Bench")
    t0 = time.perf_counter()
    if args.profile:
        import cProfile
        import pstats

        profiler = cProfile.Profile()
        profiler.enable()
    result = import_portfolio(
        client=client, source=path, file_name=path.name, actor="bench", today=dt.date(2026, 11, 29)
    )
    seconds = time.perf_counter() - t0
    if args.profile:
        profiler.disable()
        pstats.Stats(profiler).sort_stats("cumulative").print_stats(35)
    if not result.ok:
        print(result.report_text()[:2000])
        raise SystemExit(1)
    print(result.report_text())
    print(f"loans {Loan.objects.count()}, installments {Installment.objects.count()}")
    print(
        json.dumps(
            {
                "bench": "import_portfolio",
                "loans": args.loans,
                "seconds": round(seconds, 2),
                "loans_per_s": round(args.loans / seconds),
                "installments": result.counts.get("installments_written", 0),
                "format": "csv-zip",
                "database": "postgresql" if args.postgres else "sqlite",
                "generate_seconds": round(gen_s, 2),
                **{f"{k}_seconds": round(v, 2) for k, v in result.timings.items()},
            }
        )
    )


def _fresh_postgres_database(server_url: str) -> str:
    """Create an empty database for this run on the server; dropped again at exit."""
    import atexit
    from urllib.parse import urlsplit, urlunsplit

    import psycopg

    name = f"cuishou_bench_{os.getpid()}"
    with psycopg.connect(server_url, autocommit=True) as conn:
        conn.execute(f"CREATE DATABASE {name}")

    def drop() -> None:
        from django.db import connections

        connections.close_all()
        with psycopg.connect(server_url, autocommit=True) as conn:
            conn.execute(f"DROP DATABASE IF EXISTS {name}")

    atexit.register(drop)
    return urlunsplit(urlsplit(server_url)._replace(path=f"/{name}"))


if __name__ == "__main__":
    main()
