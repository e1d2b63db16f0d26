"""Benchmark: the bulk compliance check, N planned contacts against H past attempts.

    .venv/bin/python bench/compliance_bulk.py [--planned N] [--history H] [--cases C]

Generates, with Polars (hashed row numbers as the random source), the two
frames ``cuishou.compliance.bulk.check_bulk`` reads (no
database: a dialer list or a campaign builds them from its own query): C cases (default
200,000; 80 % with the CN pack in Asia/Shanghai, 20 % US spread over four zones, one in
ten of those in Massachusetts), a history of H attempts (default 10,000,000) over the 30
days before the planned day — calls and SMS, two thirds unanswered, the rest answered
with realistic outcomes, one in eight to a related person — and N planned contacts
(default 1,000,000) on the next day from 06:00 to 23:00 local time: calls, SMS (one of
seven templates, one a threat, one a threat of suit) and a few visits; one in ten to a
related person, one in 200 on a case under a hold. What the rules read from the portfolio:
one US client in three collects its own accounts (first party); one contact in 100 goes to
a number opted out of that channel and one in 200 to one with consent on record; one in 20
to a workplace number; the employer forbids calls at work for one case in 50 and one US
case in 30 is time-barred; one contact in 500 is a suit.

It then times ``check_bulk(planned, history)`` (``seconds``), after one warm-up call on a
small slice. The last line is one JSON object:
``{"bench": "compliance_bulk", "planned": N, "history": H, "seconds": s,
"contacts_per_s": r, "blocked": b, "by_rule": {...}}``.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import sys
import time
from collections import Counter
from pathlib import Path

import polars as pl

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "cuishou.settings")

TEXTS = [
    "您好，您的借款已逾期，请及时还款。",
    "【提醒】您本期应还款项已到期，如已还款请忽略。",
    "您好，请尽快与我们联系。",
    "Your payment is past due. Call us to discuss options.",
    "Reply STOP to opt out. Please call us back.",
    "不还钱就让你全家不得安宁",
    "Pay now or we will take you to court. Reply STOP to opt out.",
]
US_ZONES = ["America/New_York", "America/Chicago", "America/Denver", "America/Los_Angeles"]
OUTCOMES_ANSWERED = ["rpc", "ptp", "refuses", "hardship", "claims_paid", "third_party"]
OUTCOMES_MISSED = ["no_answer", "busy", "switched_off"]


def _pick(choices: list[str], r: pl.Expr) -> pl.Expr:
    """One of ``choices`` per row, by the random integer ``r``."""
    expr = pl.lit(choices[-1])
    for i, c in reversed(list(enumerate(choices[:-1]))):
        expr = pl.when(r % len(choices) == i).then(pl.lit(c)).otherwise(expr)
    return expr


def _rand(seed: int) -> pl.Expr:
    """A pseudo-random unsigned integer per row (the row number hashed with ``seed``)."""
    return pl.int_range(0, pl.len(), dtype=pl.UInt64).hash(seed)


def _unit(seed: int) -> pl.Expr:
    return (_rand(seed) % 1_000_000).cast(pl.Float64) / 1_000_000


def generate(n_planned: int, n_history: int, n_cases: int):  # type: ignore[no-untyped-def]
    from cuishou.compliance.bulk import HISTORY_SCHEMA, PLANNED_SCHEMA

    day = int(dt.datetime(2026, 11, 16, tzinfo=dt.UTC).timestamp())
    cases = (
        pl.DataFrame({"case_id": pl.int_range(0, n_cases, eager=True)})
        .with_columns(us=_unit(1) < 0.2, ma=_unit(2) < 0.02)
        .with_columns(
            tz=pl.when(pl.col("ma"))
            .then(pl.lit("America/New_York"))
            .when(pl.col("us"))
            .then(_pick(US_ZONES, _rand(3)))
            .otherwise(pl.lit("Asia/Shanghai")),
            state=pl.when(pl.col("ma")).then(pl.lit("MA")).otherwise(pl.lit("")),
            pack=pl.when(pl.col("us") | pl.col("ma")).then(pl.lit("US")).otherwise(pl.lit("CN")),
            employer_forbids=_unit(4) < 0.02,
            barred=_unit(5) < 1 / 30,
        )
    )
    offsets = {
        "Asia/Shanghai": 8,
        "America/New_York": -5,
        "America/Chicago": -6,
        "America/Denver": -7,
        "America/Los_Angeles": -8,
    }

    h = pl.DataFrame({"n": pl.int_range(0, n_history, eager=True)}).with_columns(
        case_id=(_rand(11) % n_cases).cast(pl.Int64),
        secs=(_rand(12) % (30 * 86400)).cast(pl.Int64),
        answered=_unit(13) < 1 / 3,
        related=_unit(14) < 1 / 8,
        sms=_unit(15) < 0.2,
        cease=_unit(16) < 0.0005,
        r=_rand(17),
        which=(_rand(18) % 2).cast(pl.Int64),
    )
    history = h.select(
        pl.col("case_id"),
        ((day - pl.col("secs")) * 1_000_000).cast(pl.Datetime("us", "UTC")).alias("at"),
        pl.when(pl.col("sms")).then(pl.lit("sms")).otherwise(pl.lit("call")).alias("channel"),
        pl.when(~pl.col("answered"))
        .then(pl.lit("nobody"))
        .when(pl.col("related"))
        .then(pl.lit("related"))
        .otherwise(pl.lit("debtor"))
        .alias("party"),
        pl.when(pl.col("cease"))
        .then(pl.lit("cease"))
        .when(pl.col("answered"))
        .then(_pick(OUTCOMES_ANSWERED, pl.col("r")))
        .otherwise(_pick(OUTCOMES_MISSED, pl.col("r")))
        .alias("outcome"),
        (
            pl.col("case_id") * 4 + pl.when(pl.col("related")).then(2).otherwise(pl.col("which"))
        ).alias("contact_point_id"),
        pl.when(pl.col("related") & pl.col("answered"))
        .then(pl.col("case_id") * 2)
        .alias("related_person_id"),
        (~pl.col("related")).alias("own_point"),
    ).cast(HISTORY_SCHEMA)  # type: ignore[arg-type]

    p = (
        pl.DataFrame({"n": pl.int_range(0, n_planned, eager=True)})
        .with_columns(
            case_id=(_rand(21) % n_cases).cast(pl.Int64),
            related=_unit(22) < 0.1,
            channel=_pick(["call", "call", "call", "sms", "sms", "visit"], _rand(23)),
            local=(6 * 3600 + _rand(24) % (17 * 3600)).cast(pl.Int64),
            text=_pick(TEXTS, _rand(25)),
            which=(_rand(26) % 2).cast(pl.Int64),
            paused=_unit(27) < 0.02,
            invalid=_unit(28) < 0.03,
            refused=_unit(29) < 0.05,
            visitors=(1 + _rand(30) % 2).cast(pl.Int64),
            held=_unit(31) < 0.005,
            consent=_unit(32),
            workplace=_unit(33) < 0.05,
            suit=_unit(34) < 0.002,
        )
        .join(cases, on="case_id", how="left")
    )
    planned = p.select(
        pl.col("n").cast(pl.String).alias("id"),
        pl.col("case_id"),
        (pl.col("case_id") % 3).alias("client_id"),
        pl.col("pack"),
        pl.col("tz"),
        pl.col("state"),
        pl.when(pl.col("paused"))
        .then(pl.lit("paused"))
        .otherwise(pl.lit("open"))
        .alias("case_status"),
        pl.col("channel"),
        pl.when(pl.col("related"))
        .then(pl.lit("related"))
        .otherwise(pl.lit("debtor"))
        .alias("party"),
        (
            pl.col("case_id") * 4 + pl.when(pl.col("related")).then(2).otherwise(pl.col("which"))
        ).alias("contact_point_id"),
        pl.when(pl.col("invalid"))
        .then(pl.lit("invalid"))
        .otherwise(pl.lit("unverified"))
        .alias("point_status"),
        pl.when(pl.col("related")).then(pl.col("case_id") * 2).alias("related_person_id"),
        pl.col("related").alias("third_party"),
        (pl.col("related") & pl.col("refused")).alias("refused"),
        ((day + 86400 + pl.col("local") - pl.col("tz").replace_strict(offsets) * 3600) * 1_000_000)
        .cast(pl.Datetime("us", "UTC"))
        .alias("at"),
        pl.when(pl.col("suit")).then(pl.lit("suit")).otherwise(pl.lit("collect")).alias("purpose"),
        pl.when(pl.col("channel") == "sms")
        .then(pl.col("text"))
        .otherwise(pl.lit(""))
        .alias("text"),
        pl.when(pl.col("channel") == "visit").then(pl.col("visitors")).alias("visitors"),
        (pl.col("channel") == "visit").alias("route_approved"),
        pl.col("held"),
        ((pl.col("pack") == "US") & (pl.col("case_id") % 3 == 0)).alias("first_party"),
        pl.when(pl.col("consent") < 0.01)
        .then(pl.lit("withdrawn"))
        .when(pl.col("consent") < 0.015)
        .then(pl.lit("given"))
        .alias("consent_state"),
        (pl.col("consent").is_between(0.01, 0.0125, closed="left")).alias("consent_direct"),
        pl.col("workplace"),
        pl.col("employer_forbids"),
        ((pl.col("pack") == "US") & pl.col("barred")).alias("time_barred"),
    ).cast(PLANNED_SCHEMA)  # type: ignore[arg-type]
    return planned, history


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--planned", type=int, default=1_000_000)
    parser.add_argument("--history", type=int, default=10_000_000)
    parser.add_argument("--cases", type=int, default=200_000)
    args = parser.parse_args()

    import django

    django.setup()
    from cuishou.compliance.bulk import check_bulk

    t = time.perf_counter()
    planned, history = generate(args.planned, args.history, args.cases)
    generated = time.perf_counter() - t
    print(
        f"generated {planned.height} planned contacts and {history.height} past attempts "
        f"in {generated:.1f} s",
        file=sys.stderr,
    )
    check_bulk(planned.head(1000), history.head(10_000))  # warm-up: imports, lexicon
    t = time.perf_counter()
    result = check_bulk(planned, history)
    seconds = time.perf_counter() - t
    by_rule = Counter(r for rules in result["rules"].to_list() for r in rules)
    blocked = int((~result["allowed"]).sum())
    print(
        f"checked in {seconds:.2f} s: {blocked} blocked; {dict(by_rule.most_common())}",
        file=sys.stderr,
    )
    print(
        json.dumps(
            {
                "bench": "compliance_bulk",
                "planned": planned.height,
                "history": history.height,
                "seconds": round(seconds, 2),
                "contacts_per_s": round(planned.height / seconds),
                "blocked": blocked,
                "by_rule": dict(by_rule.most_common()),
                "generate_seconds": round(generated, 2),
            },
            ensure_ascii=False,
        )
    )


if __name__ == "__main__":
    main()
