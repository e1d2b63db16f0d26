from __future__ import annotations

import json
from io import StringIO

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from cuishou.portfolio.models import Client, ImportRun, Loan
from tests.factories import CaseFactory, UserFactory
from tests.portfolio.conftest import base_rows, write_xlsx, write_zip

pytestmark = pytest.mark.django_db


def run(*args: str) -> str:
    out = StringIO()
    call_command(*args, stdout=out)
    return out.getvalue()


def test_client_add_then_import_then_loan_show(tmp_path):
    assert "client TC added" in run("client", "add", "TC", "--name", "Test", "--pack", "US")
    assert Client.objects.get(code="TC").policy_pack == "US"
    path = write_xlsx(tmp_path / "p.xlsx", base_rows())
    out = run("import", str(path), "--client", "TC")
    assert "Loans: 2 created, 0 updated." in out
    assert "to review: 消费贷" in out
    run_id = ImportRun.objects.get().pk
    assert f"Import run: {run_id}" in out
    again = run("import", str(path), "--client", "TC")
    assert "Nothing changed" in again

    loan = Loan.objects.get(contract_no="HT-1")
    CaseFactory(client=loan.client, debtor=loan.debtor, stage="phone", status="open")
    state = json.loads(run("loan", "show", "HT-1", "--client", "TC", "--json"))
    assert state["contract_no"] == "HT-1"
    assert state["client"] == "TC"
    assert state["bucket"] == "M0"
    assert state["principal"] == "6000.00"
    assert (state["annual_rate"], state["penalty_annual_rate"]) == ("0.18", None)
    assert state["balance"] == "0.00"
    assert state["case"] == {"stage": "phone", "status": "open"}
    assert state["debtor"] == {"name": "张三", "id_number": "110***********1114"}
    assert [i["seq"] for i in state["schedule"]] == [1, 2, 3]
    assert state["schedule"][0]["principal_paid"] == "2000.00"
    other = json.loads(run("loan", "show", "HT-2", "--client", "TC", "--json"))
    assert other["penalty_annual_rate"] == "0"
    text = run("loan", "show", "HT-2", "--client", "TC")
    assert "HT-2" in text and "1200.00" in text and "case: -" in text


def test_client_add_twice_is_an_error():
    run("client", "add", "TC", "--name", "Test")
    with pytest.raises(CommandError, match="already exists"):
        run("client", "add", "TC", "--name", "Again")


def test_import_with_bad_rows_prints_them_and_fails(tmp_path):
    run("client", "add", "TC", "--name", "Test")
    rows = base_rows()
    rows["loans"][0]["mobile"] = "123"
    rows["installments"][1]["principal_paid"] = "2500"
    out = StringIO()
    with pytest.raises(CommandError, match="2 bad rows, nothing was written"):
        call_command(
            "import", str(write_zip(tmp_path / "p.zip", rows)), "--client", "TC", stdout=out
        )
    assert out.getvalue().splitlines() == [
        "loans:2:mobile: not a mainland mobile number (11 digits) or an international +CC number",
        "installments:3:principal_paid: paid 2500 is more than the 2000.00 due",
    ]
    assert Loan.objects.count() == 0
    assert ImportRun.objects.get().status == "rejected"


def test_import_dry_run(tmp_path):
    run("client", "add", "TC", "--name", "Test")
    out = run(
        "import", str(write_zip(tmp_path / "p.zip", base_rows())), "--client", "TC", "--dry-run"
    )
    assert "Dry run" in out
    assert Loan.objects.count() == 0
    assert ImportRun.objects.get().status == "dry_run"


def test_import_for_an_unknown_client_is_a_clear_error(tmp_path):
    path = write_zip(tmp_path / "p.zip", base_rows())
    with pytest.raises(CommandError, match="unknown client NOPE"):
        run("import", str(path), "--client", "NOPE")
    assert ImportRun.objects.count() == 0


def test_import_of_a_missing_file_is_a_clear_error(tmp_path):
    run("client", "add", "TC", "--name", "Test")
    with pytest.raises(CommandError, match="no such file"):
        run("import", str(tmp_path / "nope.xlsx"), "--client", "TC")


def test_loan_show_unknown_contract_or_client():
    run("client", "add", "TC", "--name", "Test")
    with pytest.raises(CommandError, match="client TC has no contract HT-404"):
        run("loan", "show", "HT-404", "--client", "TC", "--json")
    with pytest.raises(CommandError, match="unknown client XX"):
        run("loan", "show", "HT-1", "--client", "XX", "--json")


def test_admin_lists_mask_personal_data(client, tmp_path):  # the db client fixture "TC"
    from django.test import Client as HttpClient

    run("import", str(write_zip(tmp_path / "p.zip", base_rows())), "--client", "TC")
    admin = UserFactory(username="root", is_staff=True, is_superuser=True)
    browser = HttpClient()
    browser.force_login(admin)
    for url in ("/admin/portfolio/debtor/", "/admin/portfolio/loan/"):
        page = browser.get(url)
        assert page.status_code == 200
        body = page.content.decode()
        assert "110***********1114" in body
        assert "110105198604011114" not in body
    debtors = browser.get("/admin/portfolio/debtor/").content.decode()
    assert "138****8000" in debtors and "13800138000" not in debtors
    assert browser.get("/admin/portfolio/importrun/").status_code == 200
    debtor_id = Loan.objects.get(contract_no="HT-1").debtor_id
    assert browser.get(f"/admin/portfolio/debtor/{debtor_id}/change/").status_code == 200
