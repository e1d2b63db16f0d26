"""The portfolio file format (DESIGN.md, "Portfolio file format"): sheets and columns.

Each column has its English name (used in code and in error messages) and the Chinese
header accepted in its place.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Column:
    name: str
    zh: str
    header_required: bool = True


@dataclass(frozen=True)
class Sheet:
    name: str
    zh: str
    columns: tuple[Column, ...]

    @property
    def column_names(self) -> list[str]:
        return [c.name for c in self.columns]

    def header_map(self) -> dict[str, str]:
        """Accepted header text (lower-cased) → English column name."""
        mapping: dict[str, str] = {}
        for col in self.columns:
            mapping[col.name.lower()] = col.name
            mapping[col.zh] = col.name
        return mapping


LOANS = Sheet(
    "loans",
    "借款",
    (
        Column("contract_no", "合同编号"),
        Column("debtor_name", "姓名"),
        Column("id_number", "身份证号"),
        Column("mobile", "手机号"),
        Column("product", "产品"),
        Column("principal", "借款本金"),
        Column("annual_rate", "年利率"),
        Column("penalty_annual_rate", "罚息年利率", header_required=False),
        Column("disbursed_on", "放款日期"),
        Column("currency", "币种", header_required=False),
        Column("segment", "客群", header_required=False),
        Column("limitation_on", "诉讼时效届满日", header_required=False),
    ),
)
INSTALLMENTS = Sheet(
    "installments",
    "还款计划",
    (
        Column("contract_no", "合同编号"),
        Column("seq", "期数"),
        Column("due_on", "应还日期"),
        Column("principal_due", "应还本金"),
        Column("interest_due", "应还利息"),
        Column("principal_paid", "已还本金", header_required=False),
        Column("interest_paid", "已还利息", header_required=False),
    ),
)
CONTACTS = Sheet(
    "contacts",
    "联系人",
    (
        Column("contract_no", "合同编号"),
        Column("name", "姓名"),
        Column("relation", "关系"),
        Column("phone", "电话", header_required=False),
        Column("email", "邮箱", header_required=False),
        Column("workplace", "单位联系方式", header_required=False),
        Column("opt_out", "退订渠道", header_required=False),
    ),
)
ADDRESSES = Sheet(
    "addresses",
    "地址",
    (
        Column("contract_no", "合同编号"),
        Column("kind", "地址类型"),
        Column("address", "地址"),
        Column("lat", "纬度", header_required=False),
        Column("lon", "经度", header_required=False),
    ),
)

SHEETS: tuple[Sheet, ...] = (LOANS, INSTALLMENTS, CONTACTS, ADDRESSES)
SHEET_BY_NAME = {s.name: s for s in SHEETS}
SHEET_ORDER = {s.name: i for i, s in enumerate(SHEETS)}
COLUMN_ORDER = {(s.name, c.name): i for s in SHEETS for i, c in enumerate(s.columns)}

#: Source row numbers (as a person sees them in the spreadsheet) travel in this column.
ROW = "_row"
