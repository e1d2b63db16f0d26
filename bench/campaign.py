"""Benchmark: an SMS campaign over N cases, rendered and checked by compliance.

    .venv/bin/python bench/campaign.py [--cases N]

Builds a throwaway SQLite database (migrated) with one client (CN pack) and N open M2
cases (default 100,000), each with a debtor, a loan with stored figures and a mobile
number; one case in 40 is paused by a dispute, one number in 50 opted out of SMS, one
debtor in 100 has no mobile, and a few calls were logged on one case in 10. An approved
SMS template (the standard reminder) goes to all of them through
``cuishou.notices.campaigns.campaign_run`` with the outbox provider, as the background
task runs it: per chunk of 5,000 the contexts are read, every message rendered, every
message decided by the compliance bulk check, the blocked ones given the engine's
sentence, and the allowed ones recorded (documents, sends, outbox, audit events).

The last line is one JSON object: ``{"bench": "campaign", "messages": N, "seconds": s}``
where ``seconds`` is rendering and checking (reading the contexts, rendering, the bulk
check and the blocked messages' sentences), with ``total_seconds`` the whole run including
writing the documents, sends, outbox rows and audit events, and each phase's seconds.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import sys
import tempfile
import time
from decimal import Decimal
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))


def generate(n: int) -> None:
    from django.core.management import call_command
    from django.utils import timezone

    from cuishou.cases.models import Case, ContactAttempt
    from cuishou.portfolio.models import (
        Client,
        ContactConsent,
        ContactPoint,
        Debtor,
        Loan,
        Product,
    )

    call_command("migrate", verbosity=0)
    now = timezone.now()
    today = timezone.localdate()
    client = Client.objects.create(code="BENCH", name="基准银行", policy_pack="CN")
    product = Product.objects.create(
        client=client,
        name="消费贷",
        annual_rate=Decimal("0.18"),
        penalty_annual_rate=Decimal("0.00"),
        annual_cost_cap=Decimal("0.24"),
    )
    step = 5000
    for lo in range(0, n, step):
        hi = min(n, lo + step)
        Debtor.objects.bulk_create(
            Debtor(
                id=i + 1,
                id_number=f"110105{i:012d}",
                name=f"债务人{i}",
                mobile=f"138{i:08d}",
            )
            for i in range(lo, hi)
        )
        Case.objects.bulk_create(
            Case(
                id=i + 1,
                client=client,
                debtor_id=i + 1,
                stage="written",
                status="paused" if i % 40 == 7 else "open",
                bucket="M2",
                dpd=31 + i % 30,
                overdue_amount=Decimal(1000 + i % 5000),
                penalty=Decimal("12.50"),
                balance=Decimal(6000 + i % 20000),
                computed_as_of=today,
                opened_on=today - dt.timedelta(days=31 + i % 30),
            )
            for i in range(lo, hi)
        )
        Loan.objects.bulk_create(
            Loan(
                client=client,
                debtor_id=i + 1,
                product=product,
                contract_no=f"HT-{i:08d}",
                principal=Decimal(6000 + i % 20000),
                annual_rate=Decimal("0.18"),
                disbursed_on=today - dt.timedelta(days=200),
                computed_as_of=today,
                dpd=31 + i % 30,
                bucket="M2",
                overdue_principal=Decimal(900 + i % 5000),
                overdue_interest=Decimal("87.50"),
                penalty=Decimal("12.50"),
                balance=Decimal(6000 + i % 20000),
            )
            for i in range(lo, hi)
        )
        ContactPoint.objects.bulk_create(
            ContactPoint(debtor_id=i + 1, kind="phone", value=f"138{i:08d}", is_primary=True)
            for i in range(lo, hi)
            if i % 100 != 3
        )
    points = dict(ContactPoint.objects.values_list("debtor_id", "pk"))
    ContactConsent.objects.bulk_create(
        (
            ContactConsent(
                contact_point_id=points[i + 1],
                channel="sms",
                state="withdrawn",
                at=now - dt.timedelta(days=3),
                source="call",
            )
            for i in range(n)
            if i % 50 == 11 and (i + 1) in points
        ),
        batch_size=step,
    )
    ContactAttempt.objects.bulk_create(
        (
            ContactAttempt(
                case_id=i + 1,
                channel="call",
                party="nobody",
                outcome="no_answer",
                contact_point_id=points.get(i + 1),
                attempted_at=now - dt.timedelta(hours=k + 1),
            )
            for i in range(0, n, 10)
            for k in range(3)
        ),
        batch_size=step,
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--cases", type=int, default=100_000)
    args = parser.parse_args()

    tmp = Path(tempfile.mkdtemp(prefix="cuishou-bench-campaign-"))
    os.environ["CUISHOU_VAR_DIR"] = str(tmp)
    os.environ["DATABASE_URL"] = f"sqlite:///{tmp / 'bench.sqlite3'}"
    os.environ["DJANGO_SETTINGS_MODULE"] = "cuishou.settings"
    os.environ["CUISHOU_DEBUG"] = "0"
    os.environ["CUISHOU_TASKS"] = "immediate"
    os.environ["CUISHOU_SMS_BACKEND"] = "outbox"
    os.environ.setdefault("CUISHOU_SECRET_KEY", "bench-only-not-a-secret")
    import django

    django.setup()
    import time_machine
    from django.contrib.auth.models import Group

    from cuishou.accounts.models import User
    from cuishou.core.timeutil import SHANGHAI
    from cuishou.notices.campaigns import campaign_create, campaign_run
    from cuishou.notices.defaults import DEFAULTS
    from cuishou.notices.models import SmsOutbox
    from cuishou.notices.templates import template_create, template_decide

    t = time.perf_counter()
    generate(args.cases)
    print(f"generated {args.cases} cases in {time.perf_counter() - t:.1f} s", file=sys.stderr)
    author = User.objects.create(username="bench-risk", display_name="风控")
    author.groups.add(Group.objects.get(name="risk_manager"))
    officer = User.objects.create(username="bench-compliance", display_name="合规")
    officer.groups.add(Group.objects.get(name="compliance_officer"))
    spec = next(d for d in DEFAULTS if d["key"] == "sms-reminder-zh")
    template = template_decide(
        actor=officer, template=template_create(actor=author, **spec), approve=True
    )
    # Office hours in Shanghai, whenever the bench runs.
    ten = dt.datetime.combine(dt.datetime.now(SHANGHAI).date(), dt.time(10), tzinfo=SHANGHAI)
    with time_machine.travel(ten, tick=True):
        campaign = campaign_create(
            actor=author, name="bench", template=template, channel="sms", start=False
        )
        t = time.perf_counter()
        if os.environ.get("BENCH_PROFILE"):
            import cProfile

            prof = cProfile.Profile()
            phases = prof.runcall(campaign_run, campaign_id=campaign.pk)
            prof.dump_stats(str(tmp / "campaign.prof"))
            print(f"profile: {tmp / 'campaign.prof'}", file=sys.stderr)
        else:
            phases = campaign_run(campaign_id=campaign.pk)
        total = time.perf_counter() - t
    campaign.refresh_from_db()
    checked = phases["render"] + phases["check"] + phases["reasons"]
    print(
        f"{campaign.total} messages: {campaign.sent} sent, {campaign.blocked} blocked, "
        f"{campaign.failed} failed; rendered and checked in {checked:.1f} s, "
        f"whole run {total:.1f} s; outbox {SmsOutbox.objects.count()}",
        file=sys.stderr,
    )
    print(
        json.dumps(
            {
                "bench": "campaign",
                "messages": campaign.total,
                "seconds": round(checked, 2),
                "total_seconds": round(total, 2),
                "messages_per_s": round(campaign.total / checked) if checked else None,
                "sent": campaign.sent,
                "blocked": campaign.blocked,
                "failed": campaign.failed,
                "phases": {k: round(v, 2) for k, v in phases.items()},
            }
        )
    )


if __name__ == "__main__":
    main()
