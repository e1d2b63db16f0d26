"""Benchmark: one compliance check as the workbench makes it, in milliseconds.

    .venv/bin/python bench/compliance_single.py [--checks N] [--history H]
    DATABASE_URL=postgres://postgres@127.0.0.1:5432/NAME_bench \
        .venv/bin/python bench/compliance_single.py

Builds a throwaway SQLite database (migrated) — or, when ``DATABASE_URL`` names a
PostgreSQL database whose name contains ``bench``, that database, created afresh on its
server and dropped afterwards — one client of each pack, and per pack a
case whose debtor has two numbers, a colleague and a guarantor and H logged attempts
(default 200) over the last 30 days. It then times N calls (default 2,000) of
``cuishou.compliance.check.contact_check`` — a call to the debtor, and a call to the
colleague (the third-party rules read more history), an SMS with a text — each reading
the case's history from the database as the workbench does. The last line is one JSON
object: ``{"bench": "compliance_single", "checks": N, "ms_per_check": m,
"ms_p95": p, ...}``.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from _common import drop_postgres, fresh_postgres


def _postgres(url: str) -> tuple[str, str] | None:
    """(server URL, database name) when ``url`` names a PostgreSQL database; the bench
    drops and creates it, so its name must say ``bench``."""
    from urllib.parse import urlsplit, urlunsplit

    parts = urlsplit(url)
    if not parts.scheme.startswith("postgres"):
        return None
    name = parts.path.lstrip("/")
    if "bench" not in name:
        sys.exit(f"DATABASE_URL: the bench drops and recreates {name!r}; name one with 'bench'")
    return urlunsplit(parts._replace(path="/postgres")), name


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--checks", type=int, default=2000)
    parser.add_argument("--history", type=int, default=200)
    args = parser.parse_args()

    tmp = Path(tempfile.mkdtemp(prefix="cuishou-bench-compliance-"))
    os.environ["CUISHOU_VAR_DIR"] = str(tmp)
    pg = _postgres(os.environ.get("DATABASE_URL", ""))
    if pg is not None:
        os.environ["DATABASE_URL"] = fresh_postgres(*pg)
    else:
        os.environ["DATABASE_URL"] = f"sqlite:///{tmp / 'bench.sqlite3'}"
    os.environ["DJANGO_SETTINGS_MODULE"] = "cuishou.settings"
    os.environ["CUISHOU_DEBUG"] = "0"
    os.environ.setdefault("CUISHOU_SECRET_KEY", "bench-only-not-a-secret")
    import django

    django.setup()
    try:
        _run(args)
    finally:
        if pg is not None:
            drop_postgres(*pg)


def _run(args: argparse.Namespace) -> None:
    from django.core.management import call_command
    from django.db import connection
    from django.utils import timezone

    from cuishou.cases.models import Case, ContactAttempt
    from cuishou.compliance.check import contact_check
    from cuishou.portfolio.models import Address, Client, ContactPoint, Debtor, RelatedPerson

    call_command("migrate", verbosity=0)
    now = timezone.now()
    files = []
    for n, pack in enumerate(("CN", "US")):
        client = Client.objects.create(code=f"B{n}", name=f"Bench {pack}", policy_pack=pack)
        debtor = Debtor.objects.create(
            name=f"债务人{n}", id_number=f"11010519860401111{n}", mobile=f"1380013800{n}"
        )
        if pack == "US":
            Address.objects.create(
                debtor=debtor, kind="residence", text="5 Broadway, New York, NY 10004"
            )
        case = Case.objects.create(client=client, debtor=debtor, opened_on=now.date())
        own = [
            ContactPoint.objects.create(debtor=debtor, kind="phone", value=f"1380013{n}00{i}")
            for i in range(2)
        ]
        colleague = RelatedPerson.objects.create(debtor=debtor, name="同事", relation="colleague")
        theirs = ContactPoint.objects.create(
            debtor=debtor, related_person=colleague, kind="phone", value=f"139001390{n}0"
        )
        ContactAttempt.objects.bulk_create(
            ContactAttempt(
                case=case,
                channel="call",
                party="nobody",
                outcome="no_answer",
                contact_point=own[i % 2],
                attempted_at=now - dt.timedelta(minutes=30 * 24 * 60 * (i + 1) // args.history),
            )
            for i in range(args.history)
        )
        files.append((case, own[0], colleague, theirs))

    kinds = []
    for case, phone, person, point in files:
        kinds += [
            {"case": case, "channel": "call", "party": "debtor", "contact_point": phone},
            {
                "case": case,
                "channel": "call",
                "party": "related",
                "contact_point": point,
                "related_person": person,
            },
            {
                "case": case,
                "channel": "sms",
                "party": "debtor",
                "contact_point": phone,
                "text": "您好，您的借款已逾期，请及时还款。",
            },
        ]
    for kw in kinds:  # warm-up: packs, lexicon, statements
        contact_check(at=now, **kw)
    times = []
    for i in range(args.checks):
        kw = kinds[i % len(kinds)]
        t = time.perf_counter()
        contact_check(at=now, **kw)
        times.append((time.perf_counter() - t) * 1000)
    times.sort()
    mean = statistics.fmean(times)
    p95 = times[int(len(times) * 0.95)]
    print(f"{args.checks} checks: {mean:.2f} ms each on average, p95 {p95:.2f} ms", file=sys.stderr)
    print(
        json.dumps(
            {
                "bench": "compliance_single",
                "checks": args.checks,
                "ms_per_check": round(mean, 3),
                "ms_p95": round(p95, 3),
                "history": args.history,
                "db": connection.vendor,
            }
        )
    )


if __name__ == "__main__":
    main()
