"""The import upload page drives the portfolio importer and shows its outcome."""

from __future__ import annotations

import io

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse
from openpyxl import Workbook

from cuishou.portfolio.models import ImportRun, Loan
from tests.factories import ClientFactory, UserFactory

# The importer manages its own transactions (and on SQLite sets connection pragmas that
# cannot change inside one), so these tests run outside a wrapping test transaction,
# as a real request does.
pytestmark = pytest.mark.django_db(transaction=True)


XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


def _workbook(id_number: str = "310104199106062221") -> bytes:
    book = Workbook()
    loans = book.active
    loans.title = "loans"
    loans.append(
        [
            "contract_no",
            "debtor_name",
            "id_number",
            "mobile",
            "product",
            "principal",
            "annual_rate",
            "disbursed_on",
        ]
    )
    loans.append(
        ["WEB-001", "赵六", id_number, "13800138000", "消费贷", "6000.00", "0.18", "2026-05-01"]
    )
    installments = book.create_sheet("installments")
    installments.append(
        [
            "contract_no",
            "seq",
            "due_on",
            "principal_due",
            "interest_due",
            "principal_paid",
            "interest_paid",
        ]
    )
    installments.append(["WEB-001", 1, "2026-06-01", "3000.00", "90.00", "0", "0"])
    installments.append(["WEB-001", 2, "2026-07-01", "3000.00", "45.00", "0", "0"])
    contacts = book.create_sheet("contacts")
    contacts.append(["contract_no", "name", "relation", "phone", "email"])
    contacts.append(["WEB-001", "赵七", "spouse", "13912345678", ""])
    addresses = book.create_sheet("addresses")
    addresses.append(["contract_no", "kind", "address", "lat", "lon"])
    addresses.append(["WEB-001", "work", "上海市黄浦区南京东路1号", "", ""])
    buffer = io.BytesIO()
    book.save(buffer)
    return buffer.getvalue()


@pytest.fixture
def manager_client(client):  # type: ignore[no-untyped-def]
    client.force_login(UserFactory(username="rm", role="risk_manager"))
    return client


def _upload(client, content: bytes, *, dry_run: bool = False):  # type: ignore[no-untyped-def]
    bank = ClientFactory(code="BANK")
    data = {"client": bank.pk, "file": SimpleUploadedFile("portfolio.xlsx", content, XLSX)}
    if dry_run:
        data["dry_run"] = "on"
    return client.post(reverse("web:import-upload"), data, follow=True)


def test_a_good_file_is_imported_and_its_counts_shown(manager_client):
    response = _upload(manager_client, _workbook())
    html = response.content.decode()
    assert response.status_code == 200
    run = ImportRun.objects.get()
    assert response.redirect_chain[-1][0] == reverse("web:import-detail", args=[run.pk])
    assert run.status == "committed"
    assert "Committed" in html
    assert Loan.objects.filter(contract_no="WEB-001").exists()
    assert '<th scope="row">Loans created</th><td class="num">1</td>' in html
    assert '<th scope="row">Installments written</th><td class="num">2</td>' in html
    assert "消费贷" in html  # the new product, to review
    assert reverse("web:import-report", args=[run.pk]) in html


def test_a_bad_row_is_named_and_nothing_is_imported(manager_client):
    response = _upload(manager_client, _workbook(id_number="310104199106062222"))
    html = response.content.decode()
    assert "loans:2:id_number" in html
    assert not Loan.objects.exists()
    run = ImportRun.objects.get()
    report = manager_client.get(reverse("web:import-report", args=[run.pk]))
    assert "loans:2:id_number" in report.content.decode()
    assert "attachment" in report["Content-Disposition"]


def test_a_dry_run_writes_nothing(manager_client):
    response = _upload(manager_client, _workbook(), dry_run=True)
    assert response.status_code == 200
    assert not Loan.objects.exists()
    assert "Dry run" in response.content.decode()


def test_the_upload_page_lists_active_clients(manager_client):
    ClientFactory(code="BANK", name="华夏消费金融")
    html = manager_client.get(reverse("web:import-upload")).content.decode()
    assert "华夏消费金融" in html
    assert 'enctype="multipart/form-data"' in html
