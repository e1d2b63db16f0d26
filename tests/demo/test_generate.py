"""The demo generator on its own: valid identities, sound schedules, a realistic spread."""

from __future__ import annotations

import datetime as dt
from collections import Counter
from decimal import Decimal

from cuishou.core.validators import normalize_id_number, normalize_phone
from cuishou.portfolio.choices import bucket_for_dpd
from cuishou.portfolio.demo.generate import (
    equal_instalments,
    generate_portfolio,
    portfolio_zip,
)

TODAY = dt.date(2026, 11, 15)


def test_equal_instalments_repay_the_principal_exactly():
    periods = equal_instalments(1_234_567, Decimal("0.18"), 12)
    assert sum(p for p, _i in periods) == 1_234_567
    payments = {p + i for p, i in periods[:-1]}
    assert max(payments) - min(payments) <= 1  # the same instalment every month
    assert periods[0][1] == 18_519  # 1,234,567 fen × 1.5 % = 18,518.505 → half up


def test_equal_instalments_by_hand():
    # 12,000.00 at 12 % a year over 12 months: 1 % a month, payment
    # 1,200,000 × 0.01 / (1 − 1.01^−12) = 106,618.79 fen → 106,619; the first month's
    # interest is 12,000 fen, so its principal is 94,619.
    periods = equal_instalments(1_200_000, Decimal("0.12"), 12)
    assert periods[0] == (94_619, 12_000)
    assert {p + i for p, i in periods[:-1]} == {106_619}


def test_portfolio_rows_are_valid_and_spread_over_the_buckets():
    portfolios = generate_portfolio(accounts=2000, seed=5, today=TODAY)
    assert [p.client.code for p in portfolios] == ["HX", "JY"]
    assert sum(p.loans.height for p in portfolios) == 2000

    worst: dict[str, int] = {}
    for p in portfolios:
        loans = p.loans
        assert loans["contract_no"].is_unique().all()
        ids = loans["id_number"].to_list()
        assert all(normalize_id_number(n) == n for n in ids)
        assert all(1960 <= int(n[6:10]) <= 2003 for n in ids)
        assert all(normalize_phone(m) == m for m in loans["mobile"].to_list())
        assert all(dt.date.fromisoformat(d) <= TODAY for d in loans["disbursed_on"].to_list())
        for row in p.sheets["installments"].iter_rows(named=True):
            if row["due_on"] < TODAY.isoformat() and (
                row["principal_paid"] != row["principal_due"]
                or row["interest_paid"] != row["interest_due"]
            ):
                days = (TODAY - dt.date.fromisoformat(row["due_on"])).days
                worst[row["contract_no"]] = max(worst.get(row["contract_no"], 0), days)
        kinds = Counter(p.sheets["addresses"]["kind"].to_list())
        assert kinds["residence"] == kinds["work"] > kinds["hukou"] > 0

    buckets = Counter(bucket_for_dpd(d) for d in worst.values())
    current = 2000 - len(worst)
    assert 0.5 < current / 2000 < 0.7
    assert buckets["M1"] > buckets["M3"] > buckets["M6"] > 0
    assert buckets["M7+"] > 0


def test_the_zip_holds_one_csv_per_sheet():
    import io
    import zipfile

    (hx, _jy) = generate_portfolio(accounts=10, seed=1, today=TODAY)
    with zipfile.ZipFile(io.BytesIO(portfolio_zip(hx))) as archive:
        assert sorted(archive.namelist()) == [
            "addresses.csv",
            "contacts.csv",
            "installments.csv",
            "loans.csv",
        ]
        header = archive.read("loans.csv").decode().splitlines()[0]
    assert header.startswith("contract_no,debtor_name,id_number,mobile,product,principal")
