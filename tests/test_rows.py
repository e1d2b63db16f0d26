"""The bulk row helpers (``cuishou.core.rows``) against the real database: every row
arrives whole, in as many statements as the database's limits need, and nothing else
changes."""

from __future__ import annotations

import datetime as dt

import pytest
from django.db import connection, transaction

from cuishou.core import rows
from cuishou.engine.models import RecomputeMark
from tests.factories import ClientFactory, DebtorFactory

pytestmark = pytest.mark.django_db

_COLUMNS = ("client_id", "debtor_id", "from_date", "reason", "created_at")


@pytest.fixture
def few_per_statement(monkeypatch: pytest.MonkeyPatch) -> None:
    """Seven rows a statement on SQLite, so a few hundred rows take many statements
    and a short last one."""
    monkeypatch.setattr(rows, "_SQLITE_ROWS", 7)


@pytest.mark.usefixtures("few_per_statement")
@pytest.mark.parametrize("count", [0, 1, 7, 8, 300])
def test_rows_insert_writes_every_row_once(count: int) -> None:
    client, debtor = ClientFactory(), DebtorFactory()
    stamp = "2026-11-29 04:00:00"
    with transaction.atomic():
        rows.rows_insert(
            RecomputeMark._meta.db_table,
            _COLUMNS,
            (
                (
                    client.pk,
                    debtor.pk,
                    (dt.date(2026, 1, 1) + dt.timedelta(days=i)).isoformat(),
                    f"row {i}",
                    stamp,
                )
                for i in range(count)
            ),
        )
    stored = list(RecomputeMark.objects.order_by("from_date").values_list("from_date", "reason"))
    assert stored == [
        (dt.date(2026, 1, 1) + dt.timedelta(days=i), f"row {i}") for i in range(count)
    ]


@pytest.mark.usefixtures("few_per_statement")
def test_rows_update_sets_the_named_rows_and_no_others() -> None:
    client, debtor = ClientFactory(), DebtorFactory()
    marks = RecomputeMark.objects.bulk_create(
        RecomputeMark(client=client, debtor=debtor, from_date=dt.date(2026, 1, 1), reason=f"r{i}")
        for i in range(40)
    )
    changed = marks[::2]  # 20 rows: two full statements and a short one
    with transaction.atomic():
        rows.rows_update(
            RecomputeMark._meta.db_table,
            (("reason", "text"), ("from_date", "date")),
            [(f"new {m.pk}", "2026-02-03", m.pk) for m in changed],
        )
    by_id = {m.pk: (m.reason, m.from_date) for m in RecomputeMark.objects.all()}
    for i, mark in enumerate(marks):
        if i % 2 == 0:
            assert by_id[mark.pk] == (f"new {mark.pk}", dt.date(2026, 2, 3))
        else:
            assert by_id[mark.pk] == (f"r{i}", dt.date(2026, 1, 1))


def test_a_statement_stays_under_the_parameter_limit(monkeypatch: pytest.MonkeyPatch) -> None:
    """A statement stays under SQLite's parameter limit whatever the row's width: with
    the cap at 39 parameters, 5-column rows go 7 a statement, and all are stored."""
    seen: list[int] = []
    real = rows._sqlite_many

    def counting(cur, head, tail, width, values):  # type: ignore[no-untyped-def]
        class Cursor:
            def execute(self, sql: str, params: list[object]) -> None:
                seen.append(len(params) // width)
                cur.execute(sql, params)

        real(Cursor(), head, tail, width, values)

    monkeypatch.setattr(rows, "_sqlite_many", counting)
    monkeypatch.setattr(rows, "_SQLITE_PARAMS", 13 * 3)
    client, debtor = ClientFactory(), DebtorFactory()
    with transaction.atomic():
        rows.rows_insert(
            RecomputeMark._meta.db_table,
            _COLUMNS,
            [
                (client.pk, debtor.pk, "2026-01-01", f"w{i}", "2026-11-29 04:00:00")
                for i in range(20)
            ],
        )
    assert RecomputeMark.objects.count() == 20
    if connection.vendor == "sqlite":
        assert seen == [7, 7, 6]  # 39 parameters // 5 columns = 7 rows a statement
