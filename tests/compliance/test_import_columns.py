"""The import columns the compliance rules read: each loan's limitation date
(limitation_on / 诉讼时效届满日), and on the contacts sheet the workplace mark (workplace /
单位联系方式) and the channels opted out of (opt_out / 退订渠道) — under either header,
validated per row, idempotent, and then deciding contacts."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

import pytest
from django.utils import timezone

from cuishou.audit.models import AuditEvent
from cuishou.portfolio.importer import import_portfolio
from cuishou.portfolio.models import ContactConsent, ContactPoint, Loan
from tests.factories import ClientFactory
from tests.portfolio.conftest import base_rows, write_xlsx, write_zip

pytestmark = pytest.mark.django_db


@pytest.fixture
def customer():  # type: ignore[no-untyped-def]
    return ClientFactory(code="UC", policy_pack="US")


def run_import(client: Any, path: Path) -> Any:
    return import_portfolio(
        client=client, source=path, file_name=path.name, actor="tester", today=dt.date(2026, 11, 29)
    )


def rows_with(
    limitations: tuple[str, str] = ("", ""),
    workplace: tuple[str, str, str] = ("", "", ""),
    opt_out: tuple[str, str, str] = ("", "", ""),
) -> dict[str, list[dict[str, Any]]]:
    rows = base_rows()
    for loan, value in zip(rows["loans"], limitations, strict=True):
        loan["limitation_on"] = value
    for contact, mark, channels in zip(rows["contacts"], workplace, opt_out, strict=True):
        contact["workplace"] = mark
        contact["opt_out"] = channels
    return rows


@pytest.mark.parametrize("form", ["zip-english", "xlsx-chinese"])
def test_the_new_columns_are_read_under_either_header(customer, tmp_path, form: str) -> None:
    rows = rows_with(
        limitations=("2029-05-01", "2029年6月30日"),
        workplace=("是", "", ""),
        opt_out=("短信、邮件", "", "call"),
    )
    path = (
        write_zip(tmp_path / "a.zip", rows)
        if form == "zip-english"
        else write_xlsx(tmp_path / "a.xlsx", rows, chinese=True)
    )
    result = run_import(customer, path)
    assert result.ok, result.report_text()
    assert dict(Loan.objects.values_list("contract_no", "limitation_on")) == {
        "HT-1": dt.date(2029, 5, 1),
        "HT-2": dt.date(2029, 6, 30),
    }
    # The debtor's own row (本人) marks both its phone and its e-mail as the workplace's.
    assert set(ContactPoint.objects.filter(is_workplace=True).values_list("value", flat=True)) == {
        "13700137000",
        "zs@example.com",
    }
    opted = set(
        ContactConsent.objects.values_list("contact_point__value", "channel", "state", "source")
    )
    assert opted == {
        ("13700137000", "sms", "withdrawn", "import"),
        ("zs@example.com", "email", "withdrawn", "import"),
        ("13900000001", "call", "withdrawn", "import"),  # the colleague's number
    }
    assert AuditEvent.objects.filter(action="contact.opt_out").count() == 3
    assert "Opt-outs recorded from the file: 3." in result.report_text()


def test_importing_the_same_file_again_changes_nothing_and_keeps_a_later_consent(
    customer, tmp_path
) -> None:
    rows = rows_with(
        limitations=("2029-05-01", ""), workplace=("yes", "", ""), opt_out=("sms", "", "")
    )
    assert run_import(customer, write_zip(tmp_path / "a.zip", rows)).ok
    point = ContactPoint.objects.get(value="13700137000")
    # The debtor later says texts are welcome again.
    ContactConsent.objects.create(
        contact_point=point,
        channel="sms",
        state="given",
        at=dt.datetime(2026, 12, 1, tzinfo=dt.UTC),
        source="call",
    )
    again = run_import(customer, write_zip(tmp_path / "b.zip", rows))
    assert again.unchanged, again.report_text()
    assert ContactConsent.objects.count() == 2  # the file's opt-out is not recorded twice


def test_a_later_file_sets_a_limitation_date_and_a_workplace_mark_audited(
    customer, tmp_path
) -> None:
    assert run_import(customer, write_zip(tmp_path / "a.zip", rows_with())).ok
    assert not ContactPoint.objects.filter(is_workplace=True).exists()
    later = rows_with(limitations=("2027-01-31", ""), workplace=("", "", ""))
    later["contacts"][0]["workplace"] = "1"
    result = run_import(customer, write_zip(tmp_path / "b.zip", later))
    assert result.ok and result.changed_contracts == ["HT-1"]
    event = AuditEvent.objects.get(action="loan.update")
    assert (event.before, event.after) == ({"limitation_on": None}, {"limitation_on": "2027-01-31"})
    assert ContactPoint.objects.get(value="13700137000").is_workplace is True


@pytest.mark.parametrize(
    ("change", "expected"),
    [
        (
            {"limitations": ("2029-02-30", "")},
            "loans:2:limitation_on: not a date: 2029-02-30 (use YYYY-MM-DD, YYYY/MM/DD or "
            "YYYY年M月D日)",
        ),
        (
            {"limitations": ("", "2026-04-30")},
            "loans:3:limitation_on: the limitation period cannot end (2026-04-30) before the "
            "loan was disbursed (2026-05-01)",
        ),
        (
            {"workplace": ("maybe", "", "")},
            "contacts:2:workplace: workplace is yes or no (是 or 否): maybe",
        ),
        (
            {"workplace": ("", "是", "")},
            "contacts:3:workplace: only the debtor's own numbers and addresses (relation self) "
            "are marked workplace",
        ),
        (
            {"opt_out": ("sms, fax", "", "")},
            "contacts:2:opt_out: unknown channel fax (use call, sms, email or 电话, 短信, 邮件)",
        ),
        (
            {"opt_out": ("", "email", "")},
            "contacts:3:opt_out: an opt-out of e-mail needs the row's email",
        ),
    ],
)
def test_a_bad_cell_is_refused_naming_the_row_and_column_and_nothing_is_written(
    customer, tmp_path, change: dict[str, Any], expected: str
) -> None:
    result = run_import(customer, write_zip(tmp_path / "a.zip", rows_with(**change)))
    assert not result.ok
    assert expected in result.report_text().splitlines()
    assert not Loan.objects.exists() and not ContactConsent.objects.exists()


def test_a_workplace_mark_without_a_number_or_address_is_refused(customer, tmp_path) -> None:
    rows = rows_with(workplace=("是", "", ""))
    rows["contacts"][0].update(phone="", email="")
    result = run_import(customer, write_zip(tmp_path / "a.zip", rows))
    assert "contacts:2:workplace: a workplace mark needs the row's phone or email" in (
        result.report_text().splitlines()
    )


def test_an_imported_limitation_date_and_opt_out_decide_contacts(customer, tmp_path) -> None:
    from cuishou.cases.models import Case
    from cuishou.compliance.check import contact_check
    from tests.factories import AddressFactory

    rows = rows_with(limitations=("2026-06-30", ""), opt_out=("sms", "", ""))
    assert run_import(customer, write_zip(tmp_path / "a.zip", rows)).ok
    loan = Loan.objects.get(contract_no="HT-1")
    AddressFactory(debtor=loan.debtor, text="5 Broadway, New York, NY 10004")
    case = Case.objects.create(
        client=customer, debtor=loan.debtor, opened_on=dt.date(2026, 6, 1), status="open"
    )
    # After the import (its opt-outs date from it), in New York's morning.
    at = timezone.now() + dt.timedelta(hours=12)
    suit = contact_check(case=case, channel="letter", party="debtor", at=at, purpose="suit")
    assert suit.rule_ids == ["us.time_barred_suit"]
    phone = ContactPoint.objects.get(value="13700137000")
    sms = contact_check(
        case=case,
        channel="sms",
        party="debtor",
        at=at,
        contact_point=phone,
        text="Hello. Reply STOP to opt out.",
    )
    assert sms.rule_ids == ["house.opt_out"]
    assert "The client's file" in sms.message


def test_a_file_without_the_column_keeps_the_limitation_date_and_segment(
    customer, tmp_path
) -> None:
    """Leaving a column out is not saying "none": a client's file without the limitation
    dates must not make a time-barred debt suable again (nor drop its segments)."""
    first = rows_with(limitations=("2026-06-30", "2029-01-31"))
    first["loans"][0]["segment"] = "高风险"
    assert run_import(customer, write_zip(tmp_path / "a.zip", first)).ok
    stored = dict(Loan.objects.values_list("contract_no", "limitation_on"))
    without = rows_with()
    for loan in without["loans"]:
        del loan["limitation_on"]
        loan.pop("segment", None)
    for form, path in (
        ("zip", write_zip(tmp_path / "b.zip", without)),
        ("xlsx", write_xlsx(tmp_path / "b.xlsx", without, chinese=True)),
    ):
        result = run_import(customer, path)
        assert result.ok and result.unchanged, (form, result.report_text())
        assert dict(Loan.objects.values_list("contract_no", "limitation_on")) == stored
        assert Loan.objects.get(contract_no="HT-1").segment == "高风险"
    # With the column there and the cell empty, the file does say "none".
    emptied = rows_with(limitations=("", "2029-01-31"))
    result = run_import(customer, write_zip(tmp_path / "c.zip", emptied))
    assert result.changed_contracts == ["HT-1"]
    assert Loan.objects.get(contract_no="HT-1").limitation_on is None
    event = AuditEvent.objects.filter(action="loan.update").latest("seq")
    assert event.before["limitation_on"] == "2026-06-30" and event.after["limitation_on"] is None
