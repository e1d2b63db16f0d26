"""Read and check a bank statement: a CSV (UTF-8 or GB18030, detected) or an .xlsx whose
first sheet has the columns ``txn_id, date, amount, payer_name, payer_account, memo``
(or the Chinese headers 流水号, 日期, 金额, 付款人, 付款账号, 摘要).

The portfolio importer's reader does the reading (encodings, Excel cells, header names);
this module adds the statement's rules. A bad line is reported as ``LINE:COLUMN: reason``
(line = the spreadsheet row: header 1, first credit 2) and a file with any bad line is
refused whole.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import io
import zipfile
from dataclasses import dataclass, field

import polars as pl
from django.utils.translation import gettext as _
from python_calamine import CalamineWorkbook

from cuishou.portfolio.importer.columns import ROW, Column, Sheet
from cuishou.portfolio.importer.errors import RowError
from cuishou.portfolio.importer.reader import read_csv_sheet, read_xlsx_sheet
from cuishou.portfolio.importer.validate import _amount, _date

STATEMENT = Sheet(
    "statement",
    "流水",
    (
        Column("txn_id", "流水号"),
        Column("date", "日期"),
        Column("amount", "金额"),
        Column("payer_name", "付款人"),
        Column("payer_account", "付款账号", header_required=False),
        Column("memo", "摘要", header_required=False),
    ),
)
LIMITS = {"txn_id": 64, "payer_name": 200, "payer_account": 64, "memo": 500}


@dataclass(frozen=True)
class LineError:
    line: int
    column: str
    reason: str

    def __str__(self) -> str:
        return f"{self.line}:{self.column}: {self.reason}"


@dataclass
class Statement:
    """The credits as a frame (``line_no``, ``txn_id``, ``date`` (pl.Date),
    ``amount_fen``, ``payer_name``, ``payer_account``, ``memo``), or the bad lines."""

    lines: pl.DataFrame | None = None
    errors: list[LineError] = field(default_factory=list)
    sha256: str = ""


def _from_rows(errors: list[RowError]) -> list[LineError]:
    return [LineError(e.row, e.column, e.reason) for e in errors]


def _read(data: bytes, errors: list[RowError]) -> pl.DataFrame | None:
    if zipfile.is_zipfile(io.BytesIO(data)):
        try:
            workbook = CalamineWorkbook.from_filelike(io.BytesIO(data))
        except Exception as exc:
            errors.append(RowError("statement", 1, "-", _("not an .xlsx workbook: %s") % exc))
            return None
        if not workbook.sheet_names:
            errors.append(RowError("statement", 1, "-", _("the workbook has no sheet")))
            return None
        return read_xlsx_sheet(STATEMENT, workbook, workbook.sheet_names[0], errors)
    return read_csv_sheet(STATEMENT, data, errors)


def statement_read(data: bytes, *, today: dt.date) -> Statement:
    """Read and check the statement's bytes; ``today`` bounds the dates."""
    result = Statement(sha256=hashlib.sha256(data).hexdigest())
    row_errors: list[RowError] = []
    raw = _read(data, row_errors)
    if raw is None:
        result.errors = _from_rows(row_errors)
        return result
    frame = raw.lazy().with_columns(*_amount("amount"), _date("date").alias("date_value")).collect()
    checks: list[tuple[str, pl.Expr, str]] = [
        ("txn_id", pl.col("txn_id").is_null(), _("required: the bank's transaction id")),
        (
            "txn_id",
            pl.col("txn_id").is_not_null() & pl.col("txn_id").is_duplicated(),
            _("the same transaction id is on another line of this file"),
        ),
        ("date", pl.col("date").is_null(), _("required: the date of the credit")),
        (
            "date",
            pl.col("date").is_not_null() & pl.col("date_value").is_null(),
            _("not a date (use YYYY-MM-DD, YYYY/MM/DD or YYYY年M月D日)"),
        ),
        (
            "date",
            pl.col("date_value") > pl.lit(today),
            _("the date is in the future (today is %(today)s)") % {"today": today.isoformat()},
        ),
        ("amount", pl.col("amount").is_null(), _("required: the amount credited")),
        (
            "amount",
            pl.col("amount").is_not_null() & ~pl.col("_amount_shape"),
            _("not an amount (e.g. 1500.00)"),
        ),
        (
            "amount",
            pl.col("_amount_shape") & ~pl.col("_amount_dec"),
            _("more than 2 decimal places"),
        ),
        (
            "amount",
            pl.col("amount_fen") < 0,
            _("a debit (negative amount): the statement must list credits only"),
        ),
        ("amount", pl.col("amount_fen") == 0, _("the amount is 0")),
    ]
    for column, limit in LIMITS.items():
        checks.append(
            (
                column,
                pl.col(column).str.len_chars() > limit,
                _("longer than %(n)d characters") % {"n": limit},
            )
        )
    bad = pl.concat(
        [
            frame.filter(condition.fill_null(False)).select(
                pl.col(ROW), pl.lit(column).alias("column"), pl.lit(reason).alias("reason")
            )
            for column, condition, reason in checks
        ]
    )
    if bad.height:
        order = {c.name: i for i, c in enumerate(STATEMENT.columns)}
        errors = [LineError(int(r), c, m) for r, c, m in bad.iter_rows()]
        result.errors = sorted(errors, key=lambda e: (e.line, order.get(e.column, 99), e.reason))
        return result
    result.lines = frame.select(
        pl.col(ROW).alias("line_no"),
        "txn_id",
        pl.col("date_value").alias("date"),
        "amount_fen",
        pl.col("payer_name").fill_null(""),
        pl.col("payer_account").fill_null(""),
        pl.col("memo").fill_null(""),
    )
    return result
