from __future__ import annotations

import datetime as dt
from decimal import Decimal
from pathlib import Path

import pytest
from django.db.models import Sum
from django.utils import translation

from cuishou.audit.models import AuditEvent
from cuishou.portfolio.importer import import_portfolio
from cuishou.portfolio.models import (
    Address,
    ContactPoint,
    Debtor,
    ImportRun,
    Installment,
    Loan,
    Product,
    RelatedPerson,
)
from tests.factories import ProductFactory
from tests.portfolio.conftest import base_rows, write_folder, write_xlsx, write_zip

pytestmark = pytest.mark.django_db

TABLES = (Loan, Debtor, Installment, ContactPoint, RelatedPerson, Address, Product)


def table_counts() -> dict[str, int]:
    return {m.__name__: m.objects.count() for m in TABLES}


def run_import(client, path: Path, **kwargs):  # type: ignore[no-untyped-def]
    return import_portfolio(
        client=client,
        source=path,
        file_name=path.name,
        actor="tester",
        today=kwargs.pop("today", dt.date(2026, 11, 29)),
        **kwargs,
    )


def assert_base_portfolio_imported(client) -> None:  # type: ignore[no-untyped-def]
    assert Loan.objects.filter(client=client).count() == 2
    loan = Loan.objects.get(client=client, contract_no="HT-1")
    assert loan.principal == Decimal("6000.00")
    assert loan.annual_rate == Decimal("0.18")
    assert loan.penalty_annual_rate is None
    assert loan.disbursed_on == dt.date(2026, 5, 1)
    assert loan.debtor.name == "张三"
    schedule = loan.installments.aggregate(
        due=Sum("principal_due"), paid=Sum("principal_paid"), interest=Sum("interest_due")
    )
    assert schedule == {
        "due": Decimal("6000.00"),
        "paid": Decimal("2000.00"),
        "interest": Decimal("270.00"),
    }
    assert [i.due_on for i in loan.installments.order_by("seq")] == [
        dt.date(2026, 8, 10),
        dt.date(2026, 9, 10),
        dt.date(2026, 10, 10),
    ]
    other = Loan.objects.get(client=client, contract_no="HT-2")
    assert other.disbursed_on == dt.date(2026, 5, 1)
    assert other.currency == "CNY"
    assert other.debtor.mobile == "13900139000"  # +86 and spaces normalised
    debtor = loan.debtor
    assert debtor.mobile == "13800138000"
    own = set(
        debtor.contact_points.filter(related_person=None).values_list("kind", "value", "is_primary")
    )
    assert own == {
        ("phone", "13800138000", True),
        ("phone", "13700137000", False),
        ("email", "zs@example.com", False),
    }
    spouse = RelatedPerson.objects.get(debtor=debtor)
    assert (spouse.name, spouse.relation) == ("王芳", "spouse")
    assert list(spouse.contact_points.values_list("value", flat=True)) == ["13800000000"]
    home = Address.objects.get(debtor=debtor)
    assert (home.kind, home.province, home.city, home.district) == (
        "residence",
        "上海市",
        "上海市",
        "浦东新区",
    )
    assert home.lat == Decimal("31.220000")
    work = Address.objects.get(debtor=other.debtor)
    assert (work.province, work.city, work.district, work.lat) == (
        "广东省",
        "广州市",
        "天河区",
        None,
    )


def test_xlsx_with_chinese_headers_and_excel_dates_imports_everything(client, tmp_path):
    rows = base_rows()
    rows["installments"][2]["due_on"] = dt.date(2026, 10, 10)  # an Excel date cell
    rows["loans"][1]["principal"] = 1200  # a number cell
    result = run_import(client, write_xlsx(tmp_path / "p.xlsx", rows))
    assert result.ok, result.report_text()
    assert_base_portfolio_imported(client)
    run = ImportRun.objects.get(pk=result.run.pk)
    assert run.status == "committed"
    assert len(run.file_sha256) == 64
    assert run.counts["loans_created"] == 2
    assert run.actor_label == "tester"
    event = AuditEvent.objects.get(action="portfolio.import")
    assert event.object_id == str(run.pk)
    assert event.after["file_sha256"] == run.file_sha256
    assert event.after["counts"]["installments_written"] == 4


def test_excel_number_cells_read_as_excel_shows_them(client, tmp_path):
    rows = base_rows()
    # A formula's float noise is read at Excel's 15 significant digits: 6000.00, 0.18.
    rows["loans"][0]["principal"] = 6000.000000000001
    rows["loans"][0]["annual_rate"] = 0.18000000000000002
    # An ID number typed as a number has lost its last digits: refused, not guessed.
    rows["loans"][1]["id_number"] = 310104199106062221
    result = run_import(client, write_xlsx(tmp_path / "p.xlsx", rows))
    lines = [str(e) for e in result.errors]
    assert lines == [
        "loans:3:id_number: an ID number has 18 characters: 17 digits and a check digit (0-9 or X)"
    ]


@pytest.mark.parametrize("encoding", ["gb18030", "utf-8-sig", "utf-8"])
def test_zip_of_csv_in_each_encoding(client, tmp_path, encoding):
    path = write_zip(tmp_path / "p.zip", base_rows(), encoding=encoding, chinese=True)
    result = run_import(client, path)
    assert result.ok, result.report_text()
    assert_base_portfolio_imported(client)


def test_folder_of_csv_files(client, tmp_path):
    result = run_import(client, write_folder(tmp_path / "files", base_rows(), "gb18030"))
    assert result.ok, result.report_text()
    assert_base_portfolio_imported(client)


def test_uploaded_file_object(client, tmp_path):
    path = write_zip(tmp_path / "p.zip", base_rows())
    with path.open("rb") as handle:
        result = import_portfolio(client=client, source=handle, file_name="p.zip", actor=None)
    assert result.ok, result.report_text()
    assert Loan.objects.count() == 2


def test_a_gb18030_file_is_read_as_gb18030(client, tmp_path):
    """GBK bytes are not valid UTF-8; the names must come out right, not as mojibake."""
    rows = base_rows()
    rows["loans"][0]["debtor_name"] = "欧阳震华"
    run_import(client, write_zip(tmp_path / "p.zip", rows, encoding="gb18030"))
    assert Debtor.objects.get(id_number="110105198604011114").name == "欧阳震华"


def test_a_file_neither_utf8_nor_gb18030_is_a_clear_error(client, tmp_path):
    path = write_zip(tmp_path / "p.zip", base_rows())
    import zipfile

    bad = tmp_path / "bad.zip"
    with zipfile.ZipFile(path) as src, zipfile.ZipFile(bad, "w") as dst:
        for name in src.namelist():
            data = src.read(name)
            if name == "contacts.csv":
                data += b"HT-1,\xff\xfe,spouse,,\r\n"
            dst.writestr(name, data)
    result = run_import(client, bad)
    assert not result.ok
    assert [str(e) for e in result.errors] == [
        "contacts:1:-: the file is neither UTF-8 (byte 0xff on line 5 is not UTF-8) nor "
        "GB18030 (byte 0x8b on line 4 is not GB18030); save it as UTF-8 CSV"
    ]
    assert table_counts()["Loan"] == 0


def test_a_utf16_csv_is_named_as_such(client, tmp_path):
    path = write_zip(tmp_path / "p.zip", base_rows())
    import zipfile

    bad = tmp_path / "utf16.zip"
    with zipfile.ZipFile(path) as src, zipfile.ZipFile(bad, "w") as dst:
        for name in src.namelist():
            data = src.read(name)
            if name == "loans.csv":
                data = data.decode("utf-8").encode("utf-16")
            dst.writestr(name, data)
    result = run_import(client, bad)
    assert [str(e) for e in result.errors] == [
        'loans:1:-: the file is UTF-16 (Excel\'s "Unicode text"); save it as CSV UTF-8 or GB18030'
    ]
    assert table_counts()["Loan"] == 0


def _set(sheet: str, index: int, **values: str):  # type: ignore[no-untyped-def]
    def change(rows):  # type: ignore[no-untyped-def]
        rows[sheet][index].update(values)

    return change


def _drop_column(sheet: str, column: str):  # type: ignore[no-untyped-def]
    def change(rows):  # type: ignore[no-untyped-def]
        for row in rows[sheet]:
            del row[column]

    return change


def _append(sheet: str, index: int, **values: str):  # type: ignore[no-untyped-def]
    def change(rows):  # type: ignore[no-untyped-def]
        rows[sheet].append({**rows[sheet][index], **values})

    return change


BAD_INPUT = [
    pytest.param(
        _drop_column("loans", "principal"),
        "loans:1:principal: missing column (principal or 借款本金)",
        id="missing-column",
    ),
    pytest.param(
        _set("loans", 0, id_number="110105198604011115"),
        "loans:2:id_number: check digit is wrong (GB 11643): it should be 4",
        id="id-check-digit",
    ),
    pytest.param(
        _set("loans", 1, id_number="31010419910606222"),
        "loans:3:id_number: an ID number has 18 characters",
        id="id-length",
    ),
    pytest.param(
        _set("loans", 0, mobile="12345678901"),
        "loans:2:mobile: not a valid mainland mobile number",
        id="bad-mobile",
    ),
    pytest.param(
        _set("contacts", 1, phone="12345"),
        "contacts:3:phone: not a valid phone number",
        id="bad-contact-phone",
    ),
    pytest.param(
        _set("loans", 1, mobile="+86 21 6321 2345"),
        "loans:3:mobile: not a mobile number",
        id="landline-as-mobile",
    ),
    pytest.param(
        _set("installments", 0, principal_due="-2000.00"),
        "installments:2:principal_due: must not be negative",
        id="negative-amount",
    ),
    pytest.param(
        _set("loans", 0, principal="0"),
        "loans:2:principal: must be greater than 0",
        id="zero-principal",
    ),
    pytest.param(
        _set("installments", 0, principal_paid="2000.01"),
        "installments:2:principal_paid: paid 2000.01 is more than the 2000.00 due",
        id="paid-above-due",
    ),
    pytest.param(
        _set("contacts", 2, contract_no="HT-9"),
        "contacts:4:contract_no: unknown contract HT-9",
        id="unknown-contract",
    ),
    pytest.param(
        _append("loans", 0, mobile="13800138001"),
        "loans:4:contract_no: duplicate contract number HT-1 (first on row 2)",
        id="duplicate-contract",
    ),
    pytest.param(
        _append("installments", 1),
        "installments:6:seq: period 2 of contract HT-1 appears twice (first on row 3)",
        id="duplicate-seq",
    ),
    pytest.param(
        _set("loans", 1, disbursed_on="2099-01-01"),
        "loans:3:disbursed_on: disbursement date 2099-01-01 is in the future",
        id="future-disbursement",
    ),
    pytest.param(
        _set("installments", 3, due_on="2026-02-30"),
        "installments:5:due_on: not a date: 2026-02-30",
        id="bad-date",
    ),
    pytest.param(
        _set("installments", 3, due_on="10/08/2026"),
        "installments:5:due_on: not a date: 10/08/2026",
        id="date-format",
    ),
    pytest.param(
        _set("addresses", 1, lat="23.13"),
        "addresses:3:lon: lat is given without lon (give both or neither)",
        id="lat-without-lon",
    ),
    pytest.param(
        _set("contacts", 1, relation="邻居"),
        "contacts:3:relation: unknown relation 邻居",
        id="unknown-relation",
    ),
    pytest.param(
        _set("addresses", 0, kind="villa"),
        "addresses:2:kind: unknown address kind villa",
        id="unknown-address-kind",
    ),
    pytest.param(
        _set("loans", 0, principal="6000.123"),
        "loans:2:principal: more than 2 decimal places",
        id="three-decimals",
    ),
    pytest.param(
        _set("installments", 3, interest_due="18.505"),
        "installments:5:interest_due: more than 2 decimal places",
        id="three-decimals-installment",
    ),
    pytest.param(
        _set("loans", 0, annual_rate="1"),
        "loans:2:annual_rate: must be a fraction",
        id="rate-one",
    ),
    pytest.param(
        _set("loans", 0, annual_rate="-0.01"),
        "loans:2:annual_rate: must be a fraction",
        id="rate-negative",
    ),
    pytest.param(
        _set("loans", 0, principal="12,34.00"),
        "loans:2:principal: not an amount: 12,34.00",
        id="bad-thousands-separator",
    ),
    pytest.param(
        _set("contacts", 0, email="not-an-email"),
        "contacts:2:email: not an e-mail address: not-an-email",
        id="bad-email",
    ),
]


@pytest.mark.parametrize("change, expected", BAD_INPUT)
@pytest.mark.parametrize("form", ["xlsx", "zip"])
def test_bad_input_is_reported_and_nothing_is_written(client, tmp_path, change, expected, form):
    ProductFactory(client=client, name="现金贷")
    before = table_counts()
    rows = base_rows()
    change(rows)
    if form == "xlsx":
        path = write_xlsx(tmp_path / "bad.xlsx", rows, chinese=False)
    else:
        path = write_zip(tmp_path / "bad.zip", rows, encoding="gb18030", chinese=True)
    result = run_import(client, path)
    assert not result.ok
    lines = [str(e) for e in result.errors]
    assert any(line.startswith(expected) for line in lines), lines
    assert table_counts() == before
    run = ImportRun.objects.get(pk=result.run.pk)
    assert run.status == "rejected"
    assert run.error_count == len(lines)
    assert expected in run.report
    assert not AuditEvent.objects.filter(action="portfolio.import").exists()


def test_every_bad_row_is_reported_in_sheet_and_row_order(client, tmp_path):
    rows = base_rows()
    rows["addresses"][0]["kind"] = "villa"
    rows["loans"][1]["mobile"] = "123"
    rows["loans"][0]["principal"] = "-5"
    result = run_import(client, write_zip(tmp_path / "p.zip", rows))
    assert [f"{e.sheet}:{e.row}:{e.column}" for e in result.errors] == [
        "loans:2:principal",
        "loans:3:mobile",
        "addresses:2:kind",
    ]
    assert result.report_text().splitlines()[0].startswith("loans:2:principal: ")


def test_child_rows_may_name_a_contract_imported_before(client, tmp_path):
    assert run_import(client, write_zip(tmp_path / "a.zip", base_rows())).ok
    rows = base_rows()
    rows["loans"] = rows["loans"][:1]  # HT-2 only in the database now
    rows["installments"].append({**rows["installments"][3], "seq": "2", "due_on": "2026-09-10"})
    result = run_import(client, write_zip(tmp_path / "b.zip", rows))
    assert result.ok, result.report_text()
    assert Installment.objects.filter(loan__contract_no="HT-2").count() == 2


def test_reimporting_the_same_file_changes_nothing_and_says_so(client, tmp_path):
    path = write_xlsx(tmp_path / "p.xlsx", base_rows())
    first = run_import(client, path)
    assert first.ok
    stamps = dict(Loan.objects.values_list("contract_no", "updated_at"))
    counts = table_counts()
    events = AuditEvent.objects.count()
    second = run_import(client, path)
    assert second.ok and second.unchanged
    assert "Nothing changed" in second.report_text()
    assert table_counts() == counts
    assert dict(Loan.objects.values_list("contract_no", "updated_at")) == stamps
    assert not AuditEvent.objects.filter(action="loan.update").exists()
    assert AuditEvent.objects.count() == events + 1  # only the second portfolio.import
    assert second.run.file_sha256 == first.run.file_sha256
    # The same data as a GB18030 zip is the same portfolio too.
    third = run_import(client, write_zip(tmp_path / "p.zip", base_rows(), encoding="gb18030"))
    assert third.unchanged


def test_a_later_file_updates_contracts_and_audits_the_changes(client, tmp_path):
    assert run_import(client, write_zip(tmp_path / "a.zip", base_rows())).ok
    rows = base_rows()
    rows["loans"][0]["principal"] = "6600.00"
    rows["loans"][0]["debtor_name"] = "张三丰"  # same ID number: the later file wins
    rows["installments"][2]["principal_due"] = "2600.00"
    del rows["installments"][1]  # period 2 no longer in the schedule
    rows["contacts"].append(
        {"contract_no": "HT-1", "name": "张父", "relation": "父母", "phone": "", "email": ""}
    )
    result = run_import(client, write_zip(tmp_path / "b.zip", rows))
    assert result.ok, result.report_text()
    assert result.changed_contracts == ["HT-1"]
    loan = Loan.objects.get(contract_no="HT-1")
    assert loan.principal == Decimal("6600.00")
    assert loan.last_import_id == result.run.pk
    assert loan.debtor.name == "张三丰"
    assert list(loan.installments.values_list("seq", "principal_due")) == [
        (1, Decimal("2000.00")),
        (3, Decimal("2600.00")),
    ]
    assert RelatedPerson.objects.filter(debtor=loan.debtor, relation="parent").exists()
    event = AuditEvent.objects.get(action="loan.update")
    assert event.object_id == str(loan.pk)
    assert event.before == {
        "principal": "6000.00",
        "installments": {
            "2": {
                "due_on": "2026-09-10",
                "principal_due": "2000.00",
                "interest_due": "90.00",
                "principal_paid": "0.00",
                "interest_paid": "0.00",
            },
            "3": {"principal_due": "2000.00"},
        },
    }
    assert event.after == {
        "principal": "6600.00",
        "installments": {"2": None, "3": {"principal_due": "2600.00"}},
    }
    assert result.counts["loans_updated"] == 1
    assert result.counts["installments_removed"] == 1
    assert result.counts["debtors_updated"] == 1
    untouched = Loan.objects.get(contract_no="HT-2")
    assert untouched.last_import_id != result.run.pk


def test_a_new_mobile_becomes_the_only_primary_phone(client, tmp_path):
    assert run_import(client, write_zip(tmp_path / "a.zip", base_rows())).ok
    rows = base_rows()
    rows["loans"][0]["mobile"] = "13600136000"
    assert run_import(client, write_zip(tmp_path / "b.zip", rows)).ok
    debtor = Debtor.objects.get(id_number="110105198604011114")
    assert debtor.mobile == "13600136000"
    primary = debtor.contact_points.filter(is_primary=True)
    assert list(primary.values_list("value", flat=True)) == ["13600136000"]
    assert debtor.contact_points.filter(value="13800138000").exists()  # kept, not primary


def test_dry_run_writes_nothing_but_the_run_record(client, tmp_path):
    before = table_counts()
    events = AuditEvent.objects.count()
    result = run_import(client, write_xlsx(tmp_path / "p.xlsx", base_rows()), dry_run=True)
    assert result.ok
    assert table_counts() == before
    assert AuditEvent.objects.count() == events
    run = ImportRun.objects.get(pk=result.run.pk)
    assert (run.status, run.dry_run) == ("dry_run", True)
    assert run.counts["loans_created"] == 2  # what a real import would do
    assert "Dry run" in result.report_text()


def test_new_products_get_client_defaults_and_are_listed_for_review(client, tmp_path):
    client.default_annual_rate = Decimal("0.150000")
    client.default_grace_days = 3
    client.save()
    ProductFactory(client=client, name="消费贷")
    rows = base_rows()
    rows["loans"][1]["product"] = "车贷"
    result = run_import(client, write_zip(tmp_path / "p.zip", rows))
    assert result.new_products == ["车贷"]
    assert "车贷" in result.report_text()
    product = Product.objects.get(client=client, name="车贷")
    assert product.needs_review
    assert (product.annual_rate, product.grace_days) == (Decimal("0.15"), 3)
    assert not Product.objects.get(client=client, name="消费贷").needs_review


def test_the_same_debtor_in_two_clients_files_is_one_debtor(client, tmp_path):
    from tests.factories import ClientFactory

    other = ClientFactory(code="OT")
    run_import(client, write_zip(tmp_path / "a.zip", base_rows()))
    result = run_import(other, write_zip(tmp_path / "b.zip", base_rows()))
    assert result.ok
    assert Debtor.objects.count() == 2
    assert Loan.objects.count() == 4


def test_the_bad_row_report_speaks_chinese_for_a_chinese_user(client, tmp_path):
    rows = base_rows()
    _set("loans", 0, id_number="110105198604011115")(rows)
    path = write_xlsx(tmp_path / "bad.xlsx", rows)
    with translation.override("zh-hans"):
        result = run_import(client, path)
        report = result.report_text()
    assert "loans:2:id_number: 校验码错误（GB 11643）：应为 4" in report


def test_a_landline_in_contacts_is_kept_with_its_area_code(client, tmp_path):
    rows = base_rows()
    rows["contacts"][0]["phone"] = "021-6321 2345"
    result = run_import(client, write_xlsx(tmp_path / "p.xlsx", rows))
    assert result.ok, result.report_text()
    debtor = Debtor.objects.get(id_number="110105198604011114")
    assert debtor.contact_points.filter(value="02163212345", related_person=None).exists()


def test_a_segment_column_is_read_under_either_header_and_a_change_is_audited(client, tmp_path):
    rows = base_rows()
    for loan, segment in zip(rows["loans"], [" 新客 ", ""], strict=True):
        loan["segment"] = segment
    result = run_import(client, write_zip(tmp_path / "a.zip", rows, chinese=True))  # 客群
    assert result.ok, result.report_text()
    segments = dict(Loan.objects.values_list("contract_no", "segment"))
    assert segments == {"HT-1": "新客", "HT-2": ""}
    rows["loans"][0]["segment"] = "高风险"
    result = run_import(client, write_zip(tmp_path / "b.zip", rows))
    assert result.ok and result.changed_contracts == ["HT-1"]
    event = AuditEvent.objects.get(action="loan.update")
    assert (event.before, event.after) == ({"segment": "新客"}, {"segment": "高风险"})


def test_a_segment_longer_than_32_characters_is_refused(client, tmp_path):
    rows = base_rows()
    for loan in rows["loans"]:
        loan["segment"] = "客" * 33
    result = run_import(client, write_zip(tmp_path / "a.zip", rows))
    assert not result.ok
    assert "loans:2:segment: a segment has at most 32 characters" in result.report_text()
    assert not Loan.objects.exists()
