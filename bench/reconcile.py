"""Benchmark: reconcile a 100,000-line bank statement against 1,000,000 loans.

    .venv/bin/python bench/reconcile.py [--loans N] [--lines L]
        [--db sqlite|postgres] [--postgres-url URL] [--keep] [--profile]

Builds a throwaway database (an SQLite file in a temporary folder, or the PostgreSQL
database ``cuishou_bench_recon``, dropped and created again), migrates it and fills it with
set-based SQL (the recursive CTE / ``generate_series`` of ``_common.Sql``): one client,
one product, N debtors (default 1,000,000) with distinct three-character Chinese names
(100 surnames × 100 × 100 given-name characters) and 18-character ID numbers, one loan
each (``HT000000001`` …) with 3 monthly installments, the first overdue and unpaid.

The statement (a UTF-8 CSV made in Python from the same formulas, L lines, default
100,000) mixes: 35 % contract number in the memo, 10 % the last 6 characters of the ID
number in the memo, 30 % the debtor's name with the first installment's amount, 10 % the
name in pinyin (ZHANG SAN) with that amount, 15 % names and amounts that fit nobody.

Timed (``seconds``): ``cuishou.payments.reconcile.statement_import(...)``, what
``cuishou payments import-statement`` runs: reading and checking the file, the
skipped-txn lookup, reading the client's loans, matching, the expected amounts of the
candidate loans, writing every statement line (matched, queued, unmatched) in one
transaction, and posting every matched credit (``statement_post_matched``: the bulk path,
``payments.bulk``, one transaction per chunk of lines). ``match_seconds`` and
``post_seconds`` split it; ``posted`` counts the payments.

The last line is one JSON object: ``{"bench": "reconcile", "lines": L, "loans": N,
"seconds": s, "match_seconds": m_s, "post_seconds": p_s, "matched": m, "queued": q,
"unmatched": u, "posted": p, "allocation_lines": a, "db": ..., "generate_seconds": g}``.
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
from decimal import Decimal
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "src"))
sys.path.insert(0, str(ROOT / "bench"))

from _common import Sql, drop_postgres, fresh_postgres  # noqa: E402 (after the path)

PG_NAME = "cuishou_bench_recon"
TODAY = dt.date(2026, 11, 29)
STATEMENT_DAY = dt.date(2026, 11, 25)
SURNAMES = (
    "王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗郑梁谢宋唐许韩冯邓曹彭曾肖田董袁潘于蒋蔡余杜叶程"
    "苏魏吕丁任沈姚卢姜崔钟谭陆汪范金石廖贾夏韦付方白邹孟熊秦邱江尹薛闫段雷侯龙史陶黎贺顾毛"
    "郝龚邵万钱严覃武戴莫孔向汤"
)
GIVEN = (
    "伟芳娜敏静丽强磊军洋勇艳杰娟涛明超秀霞平刚桂英华玉萍红娥玲芬燕彬鹏辉斌宇浩凯健俊帆帅旭"
    "宁龙林欣佳琪瑶雪倩婷颖露晶莹慧巧美娴淑惠珠翠雅芝妍茜秋珊莎锦黛青倩楠榕风航弘义兴良海山"
    "仁波宁贵福生龙元全国胜学祥才发武新利清飞彪富顺信子杰"
)


def _hash(i: int) -> int:
    return (i * 2654435761) % 1000003


def per_fen(i: int) -> int:
    return (500 + _hash(i) % 9501) * 100


def name_of(i: int) -> str:
    return SURNAMES[i % 100] + GIVEN[(i // 100) % 100] + GIVEN[(i // 10000) % 100]


def generate(loans: int) -> int:
    """Fill the migrated database; return the client's id."""
    from django.db import connection, transaction

    from cuishou.portfolio.models import Client, Product

    s = Sql(connection.vendor)
    stamp = s.timestamp(dt.datetime(2026, 11, 29, 12, tzinfo=dt.UTC))
    client = Client.objects.create(code="BANKR", name="对账银行")
    product = Product.objects.create(
        client=client,
        name="消费贷",
        annual_rate=Decimal("0.18"),
        penalty_annual_rate=Decimal("0"),
        annual_cost_cap=Decimal("0.24"),
    )
    h = "((i * 2654435761) % 1000003)"
    fen = f"((500 + {h} % 9501) * 100)"
    name = (
        f"substr('{SURNAMES}', CAST((i % 100) + 1 AS INTEGER), 1)"
        f" || substr('{GIVEN}', CAST(((i / 100) % 100) + 1 AS INTEGER), 1)"
        f" || substr('{GIVEN}', CAST(((i / 10000) % 100) + 1 AS INTEGER), 1)"
    )
    with connection.cursor() as cur:
        if s.pg:
            cur.execute("SET session_replication_role = replica")
        else:
            cur.execute("PRAGMA foreign_keys = OFF")
            cur.execute("PRAGMA synchronous = OFF")
        with transaction.atomic():
            cur.execute(
                f"""{s.with_numbers(loans)}
                INSERT INTO portfolio_debtor
                    (id, id_number, name, mobile, birth_date, gender, created_at, updated_at)
                SELECT i, {s.padded("110105", "i", 12)}, {name},
                       {s.padded("138", "i", 8)}, NULL, '', {stamp}, {stamp}
                FROM n"""
            )
            cur.execute(
                f"""{s.with_numbers(loans)}
                INSERT INTO portfolio_loan (
                    id, client_id, contract_no, debtor_id, product_id, principal, annual_rate,
                    penalty_annual_rate, disbursed_on, currency, status, computed_as_of, dpd,
                    bucket, overdue_principal, overdue_interest, penalty, penalty_capped,
                    balance, last_import_id, created_at, updated_at)
                SELECT i, {client.pk}, {s.padded("HT", "i", 9)}, i, {product.pk},
                       {s.money(f"{fen} * 3")}, 0.18, NULL, {s.day(dt.date(2026, 7, 1))},
                       'CNY', 'active', NULL, 0, 'M0', 0, 0, 0, {s.false()},
                       {s.money(f"({fen} + {fen} / 20) * 3")}, NULL, {stamp}, {stamp}
                FROM n"""
            )
            cur.execute(
                f"""{s.with_numbers(loans)}, q(k) AS (SELECT 1 UNION ALL SELECT 2 UNION ALL
                    SELECT 3)
                INSERT INTO portfolio_installment (
                    id, loan_id, seq, due_on, principal_due, interest_due, principal_paid,
                    interest_paid)
                SELECT (i - 1) * 3 + k, i, k, {s.date("2026 * 12 + 9 + k", "10")},
                       {s.money(fen)}, {s.money(f"{fen} / 20")}, 0, 0
                FROM n CROSS JOIN q"""
            )
            if s.pg:
                for table in ("portfolio_debtor", "portfolio_loan", "portfolio_installment"):
                    cur.execute(
                        f"SELECT setval(pg_get_serial_sequence('{table}', 'id'),"
                        f" (SELECT MAX(id) FROM {table}))"
                    )
        if s.pg:
            cur.execute("VACUUM ANALYZE")
    connection.close()
    return client.pk


def statement(lines: int, loans: int) -> bytes:
    from pypinyin import Style, lazy_pinyin

    out = ["txn_id,date,amount,payer_name,payer_account,memo"]
    day = STATEMENT_DAY.isoformat()
    for j in range(lines):
        i = (j * 7919) % loans + 1
        due = per_fen(i) + per_fen(i) // 20
        amount = f"{due // 100}.{due % 100:02d}"
        kind = j % 20
        if kind < 7:
            row = (f"{7 * 1000 + j % 97}.00", "某代付公司", f"代还 HT{i:09d}")
        elif kind < 9:
            row = ("300.00", "", f"还款 身份证后六位{i % 1_000_000:06d}")
        elif kind < 15:
            row = (amount, name_of(i), "转账")
        elif kind < 17:
            latin = " ".join(lazy_pinyin(name_of(i), style=Style.NORMAL)).upper()
            row = (amount, latin, "")
        else:
            row = ("12.34", "无名氏", "其他")
        out.append(f"B{j:08d},{day},{row[0]},{row[1]},6222{j:012d},{row[2]}")
    return ("\n".join(out) + "\n").encode()


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--loans", type=int, default=1_000_000)
    parser.add_argument("--lines", type=int, default=100_000)
    parser.add_argument("--db", choices=["sqlite", "postgres"], default="sqlite")
    parser.add_argument("--postgres-url", default="postgres://postgres@127.0.0.1:5432/postgres")
    parser.add_argument("--keep", action="store_true")
    parser.add_argument("--profile", action="store_true", help="cProfile the timed call")
    args = parser.parse_args()

    tmp = Path(tempfile.mkdtemp(prefix="cuishou-bench-recon-"))
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
    from unittest import mock

    from django.core.management import call_command
    from django.db import connection

    from cuishou.engine import marks
    from cuishou.payments import reconcile, services
    from cuishou.payments.models import Payment, PaymentAllocation
    from cuishou.portfolio.models import Client

    try:
        t = time.perf_counter()
        call_command("migrate", verbosity=0)
        print(f"{connection.vendor} database migrated in {time.perf_counter() - t:.1f} s")
        t = time.perf_counter()
        client_id = generate(args.loans)
        data = statement(args.lines, args.loans)
        generate_s = time.perf_counter() - t
        print(f"generated {args.loans} loans and {args.lines} lines in {generate_s:.1f} s")
        client = Client.objects.get(pk=client_id)
        with (
            mock.patch.object(reconcile, "today_shanghai", lambda: TODAY),
            mock.patch.object(services, "today_shanghai", lambda: TODAY),
            mock.patch.object(marks, "today_shanghai", lambda: TODAY),
        ):
            profiler = None
            if args.profile:
                import cProfile

                profiler = cProfile.Profile()
                profiler.enable()
            post_s = 0.0
            real_post = reconcile.statement_post_matched

            def timed_post(**kwargs: object) -> int:
                nonlocal post_s
                started = time.perf_counter()
                try:
                    return real_post(**kwargs)  # type: ignore[arg-type]
                finally:
                    post_s = time.perf_counter() - started

            t = time.perf_counter()
            with mock.patch.object(reconcile, "statement_post_matched", timed_post):
                result = reconcile.statement_import(
                    actor="bench", client=client, data=data, file_name="bench.csv"
                )
            seconds = time.perf_counter() - t
            if profiler is not None:
                import pstats

                profiler.disable()
                pstats.Stats(profiler).sort_stats("cumulative").print_stats(40)
            assert result.ok, result.errors[:5]
            print(f"reconciled and posted in {seconds:.2f} s: {result.summary}")
        summary = result.summary
        assert Payment.objects.count() == summary["posted"] == summary["matched"]
        print(
            json.dumps(
                {
                    "bench": "reconcile",
                    "lines": args.lines,
                    "loans": args.loans,
                    "seconds": round(seconds, 2),
                    "match_seconds": round(seconds - post_s, 2),
                    "post_seconds": round(post_s, 2),
                    "matched": summary["matched"],
                    "queued": summary["queued"],
                    "unmatched": summary["unmatched"],
                    "posted": summary["posted"],
                    "allocation_lines": PaymentAllocation.objects.count(),
                    "db": connection.vendor,
                    "generate_seconds": round(generate_s, 1),
                }
            )
        )
    finally:
        if args.db == "postgres" and not args.keep:
            drop_postgres(args.postgres_url, PG_NAME)
        if not args.keep:
            shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
