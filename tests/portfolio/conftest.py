"""Small portfolio files built per test: xlsx (openpyxl), zips of CSVs, folders of CSVs."""

from __future__ import annotations

import copy
import csv
import datetime as dt
import io
import zipfile
from pathlib import Path
from typing import Any

import pytest
from openpyxl import Workbook

from cuishou.portfolio.importer.columns import SHEET_BY_NAME
from tests.factories import ClientFactory

Rows = dict[str, list[dict[str, Any]]]

BASE: Rows = {
    "loans": [
        {
            "contract_no": "HT-1",
            "debtor_name": "张三",
            "id_number": "110105198604011114",
            "mobile": "13800138000",
            "product": "消费贷",
            "principal": "6,000.00",
            "annual_rate": "0.18",
            "penalty_annual_rate": "",
            "disbursed_on": "2026-05-01",
            "currency": "CNY",
        },
        {
            "contract_no": "HT-2",
            "debtor_name": "李四",
            "id_number": "310104199106062221",
            "mobile": "+86 139 0013 9000",
            "product": "消费贷",
            "principal": "1200",
            "annual_rate": "0.18",
            "penalty_annual_rate": "0",
            "disbursed_on": "2026年5月1日",
            "currency": "",
        },
    ],
    "installments": [
        {
            "contract_no": "HT-1",
            "seq": "1",
            "due_on": "2026-08-10",
            "principal_due": "2000.00",
            "interest_due": "90.00",
            "principal_paid": "2000.00",
            "interest_paid": "90.00",
        },
        {
            "contract_no": "HT-1",
            "seq": "2",
            "due_on": "2026/09/10",
            "principal_due": "2000.00",
            "interest_due": "90.00",
            "principal_paid": "0",
            "interest_paid": "0",
        },
        {
            "contract_no": "HT-1",
            "seq": "3",
            "due_on": "2026-10-10",
            "principal_due": "2000.00",
            "interest_due": "90.00",
            "principal_paid": "",
            "interest_paid": "",
        },
        {
            "contract_no": "HT-2",
            "seq": "1",
            "due_on": "2026-08-10",
            "principal_due": "1200.00",
            "interest_due": "18.50",
            "principal_paid": "0",
            "interest_paid": "0",
        },
    ],
    "contacts": [
        {
            "contract_no": "HT-1",
            "name": "张三",
            "relation": "本人",
            "phone": "137-0013-7000",
            "email": "zs@example.com",
        },
        {
            "contract_no": "HT-1",
            "name": "王芳",
            "relation": "spouse",
            "phone": "13800000000",
            "email": "",
        },
        {
            "contract_no": "HT-2",
            "name": "周同事",
            "relation": "同事",
            "phone": "13900000001",
            "email": "",
        },
    ],
    "addresses": [
        {
            "contract_no": "HT-1",
            "kind": "住宅",
            "address": "上海市浦东新区张杨路100号",
            "lat": "31.22",
            "lon": "121.53",
        },
        {
            "contract_no": "HT-2",
            "kind": "work",
            "address": "广东省广州市天河区体育西路1号",
            "lat": "",
            "lon": "",
        },
    ],
}


def base_rows() -> Rows:
    return copy.deepcopy(BASE)


def _headers(sheet: str, rows: list[dict[str, Any]], chinese: bool) -> list[str]:
    spec = SHEET_BY_NAME[sheet]
    names = list(rows[0].keys()) if rows else spec.column_names
    zh = {c.name: c.zh for c in spec.columns}
    return [zh.get(n, n) if chinese else n for n in names]


def csv_bytes(
    sheet: str, rows: list[dict[str, Any]], encoding: str, chinese: bool = False
) -> bytes:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(_headers(sheet, rows, chinese))
    for row in rows:
        writer.writerow([row[k] for k in row])
    return out.getvalue().encode(encoding)


def write_zip(path: Path, rows: Rows, encoding: str = "utf-8", chinese: bool = False) -> Path:
    with zipfile.ZipFile(path, "w") as archive:
        for sheet, sheet_rows in rows.items():
            archive.writestr(f"{sheet}.csv", csv_bytes(sheet, sheet_rows, encoding, chinese))
    return path


def write_folder(path: Path, rows: Rows, encoding: str = "utf-8") -> Path:
    path.mkdir()
    for sheet, sheet_rows in rows.items():
        (path / f"{sheet}.csv").write_bytes(csv_bytes(sheet, sheet_rows, encoding))
    return path


def write_xlsx(path: Path, rows: Rows, chinese: bool = True) -> Path:
    workbook = Workbook()
    workbook.remove(workbook.active)
    for sheet, sheet_rows in rows.items():
        ws = workbook.create_sheet(sheet)
        ws.append(_headers(sheet, sheet_rows, chinese))
        for row in sheet_rows:
            ws.append([_excel_value(v) for v in row.values()])
    workbook.save(path)
    return path


def _excel_value(value: Any) -> Any:
    return None if value == "" else value


@pytest.fixture
def client(db):  # type: ignore[no-untyped-def]
    return ClientFactory(code="TC", name="Test creditor")


@pytest.fixture
def today() -> dt.date:
    return dt.date(2026, 11, 29)
