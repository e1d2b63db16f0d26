"""A realistic synthetic portfolio, as the sheets of the import file format.

``generate_portfolio`` is a pure function of (accounts, seed, today): the same arguments
give the same rows. ``portfolio_zip`` writes one client's sheets as a ``.zip`` of UTF-8
CSV files that ``cuishou.portfolio.importer.import_portfolio`` reads.

What the portfolio looks like:

- two clients (HX 华夏消费金融, JY 锦源小贷), each with two or three products;
- one loan per account, principal 3,000–200,000 CNY by product, 6–36 monthly periods of
  equal instalments (等额本息), disbursed within the last two years; about one debtor in
  twenty has a second loan with the same client;
- about 60 % of the loans are current or paid up, the rest overdue, fewer in each deeper
  bucket (M1 … M7+); the first overdue period is sometimes partly paid, sometimes with its
  principal paid but not its interest;
- debtors: Faker zh_CN names, valid GB 11643 ID numbers (region code of the hukou
  district, birth 1960–2003, check digit computed), mainland mobiles; a residence and a
  work address with coordinates in Shanghai, Beijing, Guangzhou, Shenzhen, Hangzhou or
  Chengdu; one in five with a hukou in another city; related persons (spouse, parent,
  colleague, friend, sometimes a guarantor or co-borrower) with phones.
"""

from __future__ import annotations

import datetime as dt
import io
import itertools
import random
import zipfile
from dataclasses import dataclass, field
from decimal import ROUND_HALF_UP, Decimal

import polars as pl
from faker import Faker
from faker.providers.person.zh_CN import Provider as ZhPerson
from stdnum.cn import ric

from cuishou.portfolio.demo.geo import BUILDINGS, CITIES, City, District
from cuishou.portfolio.importer.columns import SHEETS

MOBILE_PREFIXES = ("138", "139", "150", "158", "186", "188", "135", "137", "159", "177")

# (bucket, share of accounts, lowest dpd, highest dpd); "current" loans owe nothing overdue.
DELINQUENCY: tuple[tuple[str, float, int, int], ...] = (
    ("current", 0.60, 0, 0),
    ("M1", 0.14, 1, 30),
    ("M2", 0.07, 31, 60),
    ("M3", 0.05, 61, 90),
    ("M4", 0.04, 91, 120),
    ("M5", 0.03, 121, 150),
    ("M6", 0.02, 151, 180),
    ("M7+", 0.05, 181, 540),
)


@dataclass(frozen=True)
class DemoProduct:
    name: str
    annual_rate: Decimal
    penalty_annual_rate: Decimal
    grace_days: int
    principal_range: tuple[int, int]  # yuan
    terms: tuple[int, ...]  # months
    weight: int
    guarantor_share: float = 0.05


@dataclass(frozen=True)
class DemoClient:
    code: str
    name: str
    share: int
    products: tuple[DemoProduct, ...]


DEMO_CLIENTS: tuple[DemoClient, ...] = (
    DemoClient(
        "HX",
        "华夏消费金融",
        60,
        (
            DemoProduct(
                "消费贷", Decimal("0.18"), Decimal("0.06"), 3, (5_000, 100_000), (6, 12, 24), 5
            ),
            DemoProduct("现金贷", Decimal("0.20"), Decimal("0.04"), 0, (3_000, 50_000), (6, 12), 4),
            DemoProduct(
                "车贷", Decimal("0.09"), Decimal("0.045"), 5, (50_000, 200_000), (24, 36), 1, 0.4
            ),
        ),
    ),
    DemoClient(
        "JY",
        "锦源小贷",
        40,
        (
            DemoProduct(
                "消费贷", Decimal("0.16"), Decimal("0.08"), 0, (5_000, 80_000), (12, 24), 3
            ),
            DemoProduct(
                "经营贷",
                Decimal("0.12"),
                Decimal("0.06"),
                3,
                (30_000, 200_000),
                (12, 24, 36),
                2,
                0.3,
            ),
        ),
    ),
)

# The demo writes every column of the import format (cuishou.portfolio.importer.columns).
SHEET_COLUMNS: dict[str, tuple[str, ...]] = {
    sheet.name: tuple(sheet.column_names) for sheet in SHEETS
}


@dataclass
class DemoPortfolio:
    """One client's portfolio as the four sheets of the import format (all strings)."""

    client: DemoClient
    sheets: dict[str, pl.DataFrame]

    @property
    def loans(self) -> pl.DataFrame:
        return self.sheets["loans"]


@dataclass
class _Debtor:
    name: str
    id_number: str
    mobile: str


@dataclass
class _Rows:
    columns: dict[str, dict[str, list[str | None]]] = field(
        default_factory=lambda: {
            sheet: {c: [] for c in cols} for sheet, cols in SHEET_COLUMNS.items()
        }
    )

    def add(self, sheet: str, **values: str | None) -> None:
        for column, target in self.columns[sheet].items():
            target.append(values.get(column))

    def add_many(self, sheet: str, rows: list[tuple[str, ...]]) -> None:
        """Rows with a value for every column of the sheet, in order."""
        for target, values in zip(
            self.columns[sheet].values(), zip(*rows, strict=True), strict=True
        ):
            target.extend(values)

    def frames(self) -> dict[str, pl.DataFrame]:
        return {
            sheet: pl.DataFrame(cols, schema={c: pl.String for c in cols})
            for sheet, cols in self.columns.items()
        }


def add_months(day: dt.date, months: int) -> dt.date:
    """The same day of the month ``months`` later (days above 28 are clamped to 28)."""
    index = day.year * 12 + day.month - 1 + months
    return dt.date(index // 12, index % 12 + 1, min(day.day, 28))


def _money(fen: int) -> str:
    return f"{fen // 100}.{fen % 100:02d}"


def _whole_fen(amount: Decimal) -> int:
    return int(amount.quantize(Decimal(1), rounding=ROUND_HALF_UP))


def equal_instalments(
    principal_fen: int, annual_rate: Decimal, months: int
) -> list[tuple[int, int]]:
    """(principal, interest) in fen per period: equal instalments (等额本息), interest on the
    remaining principal at annual_rate / 12, the last period taking the remainder."""
    rate = Decimal(annual_rate) / 12
    if rate:
        payment = principal_fen * rate / (1 - (1 + rate) ** -months)
    else:
        payment = Decimal(principal_fen) / months
    remaining = principal_fen
    periods: list[tuple[int, int]] = []
    for seq in range(1, months + 1):
        interest = _whole_fen(remaining * rate)
        principal = remaining if seq == months else min(remaining, _whole_fen(payment) - interest)
        periods.append((principal, interest))
        remaining -= principal
    return periods


class _Generator:
    def __init__(self, *, seed: int, today: dt.date) -> None:
        self.rng = random.Random(seed)
        self.fake = Faker("zh_CN")
        self.fake.seed_instance(seed)
        self.today = today
        self.ids: set[str] = set()
        self.mobiles: set[str] = set()
        self.city_weights = [c.weight for c in CITIES]
        # Faker's zh_CN surnames (weighted by frequency) and given names, drawn from our own
        # seeded generator: the same as Faker's name_male()/name_female(), many times faster.
        self.surnames = list(ZhPerson.last_names)
        self.surname_weights = list(itertools.accumulate(ZhPerson.last_names.values()))

    # --- people ----------------------------------------------------------------

    def mobile(self) -> str:
        while True:
            number = self.rng.choice(MOBILE_PREFIXES) + f"{self.rng.randrange(10**8):08d}"
            if number not in self.mobiles:
                self.mobiles.add(number)
                return number

    def id_number(self, district: District, birth: dt.date, male: bool) -> str:
        """A new resident ID number (GB 11643) issued in ``district``."""
        order = self.rng.randrange(0, 999)
        if order % 2 != int(male):  # the 17th digit is odd for men, even for women
            order += 1
        for step in range(0, 1000, 2):
            body = f"{district.code}{birth:%Y%m%d}{(order + step) % 1000:03d}"
            number = body + ric.calc_check_digit(body + "0")  # the last character is ignored
            if number not in self.ids:
                self.ids.add(number)
                return number
        raise ValueError(f"no ID number left for {district.code} {birth}")  # pragma: no cover

    def given_name(self, male: bool) -> str:
        return self.rng.choice(ZhPerson.first_names_male if male else ZhPerson.first_names_female)

    def person_name(self, male: bool) -> str:
        surname = self.rng.choices(self.surnames, cum_weights=self.surname_weights)[0]
        return surname + self.given_name(male)

    # --- places ----------------------------------------------------------------

    def city(self, other_than: City | None = None) -> City:
        while True:
            city = self.rng.choices(CITIES, weights=self.city_weights)[0]
            if city is not other_than:
                return city

    def point(self, district: District) -> tuple[str, str]:
        lat = district.lat + self.rng.uniform(-0.02, 0.02)
        lon = district.lon + self.rng.uniform(-0.025, 0.025)
        return f"{lat:.6f}", f"{lon:.6f}"

    def home_address(self, city: City, district: District) -> str:
        street = self.rng.choice(district.streets)
        number = self.rng.randint(1, 1200)
        building, room = (
            self.rng.randint(1, 30),
            self.rng.randint(1, 32) * 100 + self.rng.randint(1, 6),
        )
        if city.name == "上海":
            return f"{city.prefix}{district.name}{street}{number}弄{building}号{room}室"
        unit = self.rng.randint(1, 4)
        return f"{city.prefix}{district.name}{street}{number}号{building}栋{unit}单元{room}室"

    def work_address(self, city: City, district: District) -> str:
        street = self.rng.choice(district.streets)
        number, floor = self.rng.randint(1, 900), self.rng.randint(2, 40)
        place = self.rng.choice(BUILDINGS)
        return f"{city.prefix}{district.name}{street}{number}号{place}{floor}层"

    # --- one account -------------------------------------------------------------

    def new_debtor(self, rows: _Rows, contract_no: str, product: DemoProduct) -> _Debtor:
        rng = self.rng
        male = rng.random() < 0.55
        name = self.person_name(male)
        birth = dt.date(1960, 1, 1) + dt.timedelta(days=rng.randrange(0, 16071))  # to 2003-12-31
        home = self.city()
        hukou = home if rng.random() < 0.8 else self.city(other_than=home)
        hukou_district = rng.choice(hukou.districts)
        debtor = _Debtor(name, self.id_number(hukou_district, birth, male), self.mobile())

        def add_address(kind: str, address: str, located: District | None) -> None:
            lat, lon = self.point(located) if located else (None, None)
            rows.add(
                "addresses", contract_no=contract_no, kind=kind, address=address, lat=lat, lon=lon
            )

        district = rng.choice(home.districts)
        add_address("residence", self.home_address(home, district), district)
        district = rng.choice(home.districts)
        add_address("work", self.work_address(home, district), district)
        if hukou is not home:
            add_address("hukou", self.home_address(hukou, hukou_district), hukou_district)
        if rng.random() < 0.1:
            add_address("mailing", self.home_address(home, rng.choice(home.districts)), None)

        self.related_persons(rows, contract_no, debtor, male, birth, product)
        return debtor

    def related_persons(
        self,
        rows: _Rows,
        contract_no: str,
        debtor: _Debtor,
        male: bool,
        birth: dt.date,
        product: DemoProduct,
    ) -> None:
        rng = self.rng
        surname = debtor.name[0]

        def add(name: str, relation: str, email: str | None = None) -> None:
            rows.add(
                "contacts",
                contract_no=contract_no,
                name=name,
                relation=relation,
                phone=self.mobile(),
                email=email,
            )

        if rng.random() < 0.2:
            add(debtor.name, "self", self.fake.free_email() if rng.random() < 0.5 else None)
        # Nothing here depends on today, so the same seed gives the same people any day.
        if birth.year <= 2000 and rng.random() < 0.65:
            add(self.person_name(not male), "spouse")
        if rng.random() < 0.6:
            add(surname + self.given_name(rng.random() < 0.5), "parent")
        if rng.random() < 0.5:
            add(self.person_name(rng.random() < 0.5), "colleague")
        if rng.random() < 0.2:
            add(self.person_name(rng.random() < 0.5), "friend")
        if rng.random() < product.guarantor_share:
            add(self.person_name(rng.random() < 0.6), "guarantor")
        if rng.random() < product.guarantor_share / 2:
            add(self.person_name(rng.random() < 0.5), "co_borrower")

    def loan(self, rows: _Rows, contract_no: str, debtor: _Debtor, product: DemoProduct) -> None:
        rng = self.rng
        low, high = product.principal_range
        principal_fen = rng.randint(low // 100, high // 100) * 100 * 100
        months = rng.choice(product.terms)
        state = rng.choices(DELINQUENCY, weights=[d[1] for d in DELINQUENCY])[0]
        bucket, _share, dpd_low, dpd_high = state

        if bucket == "current":
            disbursed = self.today - dt.timedelta(days=rng.randint(20, 730))
            first_unpaid = None
        else:
            dpd = rng.randint(dpd_low, dpd_high)
            oldest_due = self.today - dt.timedelta(days=dpd)
            # The first unpaid period k fits the two years since disbursement.
            k = rng.randint(1, max(1, min(months, (730 - dpd) // 31)))
            disbursed = add_months(oldest_due, -k)
            first_unpaid = k
        periods = equal_instalments(principal_fen, product.annual_rate, months)

        rows.add(
            "loans",
            contract_no=contract_no,
            debtor_name=debtor.name,
            id_number=debtor.id_number,
            mobile=debtor.mobile,
            product=product.name,
            principal=_money(principal_fen),
            annual_rate=str(product.annual_rate),
            penalty_annual_rate=None,
            disbursed_on=disbursed.isoformat(),
            currency="CNY",
        )
        partial = rng.random()
        schedule: list[tuple[str, ...]] = []
        for seq, (p_due, i_due) in enumerate(periods, start=1):
            due_on = add_months(disbursed, seq)
            if first_unpaid is None:
                paid = due_on < self.today
                p_paid, i_paid = (p_due, i_due) if paid else (0, 0)
            elif seq < first_unpaid:
                p_paid, i_paid = p_due, i_due
            elif seq == first_unpaid and partial < 0.15:
                p_paid, i_paid = p_due // 2 // 100 * 100, i_due  # part of the principal
            elif seq == first_unpaid and partial < 0.25:
                p_paid, i_paid = p_due, 0  # principal paid, interest not
            else:
                p_paid, i_paid = 0, 0
            schedule.append(
                (
                    contract_no,
                    str(seq),
                    due_on.isoformat(),
                    _money(p_due),
                    _money(i_due),
                    _money(p_paid),
                    _money(i_paid),
                )
            )
        rows.add_many("installments", schedule)

    def client_portfolio(self, client: DemoClient, accounts: int) -> DemoPortfolio:
        rows = _Rows()
        debtors: list[_Debtor] = []
        weights = [p.weight for p in client.products]
        for n in range(1, accounts + 1):
            product = self.rng.choices(client.products, weights=weights)[0]
            contract_no = f"{client.code}-{n:07d}"
            if debtors and self.rng.random() < 0.05:
                debtor = self.rng.choice(debtors)  # a second loan of the same debtor
            else:
                debtor = self.new_debtor(rows, contract_no, product)
                debtors.append(debtor)
            self.loan(rows, contract_no, debtor, product)
        return DemoPortfolio(client=client, sheets=rows.frames())


def split_accounts(accounts: int) -> list[int]:
    """How many accounts each demo client gets (by its share; every client at least one)."""
    total = sum(c.share for c in DEMO_CLIENTS)
    counts = [max(1, accounts * c.share // total) for c in DEMO_CLIENTS]
    counts[0] += accounts - sum(counts)
    return counts


def generate_portfolio(*, accounts: int, seed: int, today: dt.date) -> list[DemoPortfolio]:
    """``accounts`` loans split between the demo clients; the same arguments, the same rows."""
    if accounts < len(DEMO_CLIENTS):
        raise ValueError(f"at least {len(DEMO_CLIENTS)} accounts (one per demo client)")
    generator = _Generator(seed=seed, today=today)
    return [
        generator.client_portfolio(client, count)
        for client, count in zip(DEMO_CLIENTS, split_accounts(accounts), strict=True)
    ]


def portfolio_zip(portfolio: DemoPortfolio) -> bytes:
    """The portfolio as a ``.zip`` of UTF-8 CSV files (loans.csv, installments.csv, …)."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        for sheet, frame in portfolio.sheets.items():
            archive.writestr(f"{sheet}.csv", frame.write_csv())
    return buffer.getvalue()
