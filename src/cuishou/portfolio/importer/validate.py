"""Validate the sheets of a portfolio file with Polars expressions, all rows at once.

``validate_frames`` takes the reader's frames of strings and returns clean, typed frames
for the writer (amounts as integer fen, rates as integer millionths, dates as ISO text,
phones normalised) plus a ``RowError`` for every bad cell. No database writes; the one
database question — which contract numbers a child sheet names that are not in this
file's loans sheet but were imported before — is asked through ``known_contracts``.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Callable
from dataclasses import dataclass, field

import polars as pl
from django.utils.translation import gettext as _

from cuishou.core.money import MONEY_MAX_DIGITS
from cuishou.portfolio.choices import (
    ADDRESS_KIND_ALIASES,
    RELATION_ALIASES,
    AddressKind,
    Relation,
)
from cuishou.portfolio.importer.address import region_columns
from cuishou.portfolio.importer.columns import ROW
from cuishou.portfolio.importer.errors import RowError, sorted_errors
from cuishou.portfolio.importer.phones import phone_table

ID_WEIGHTS = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
ID_CHECK_CHARS = "10X98765432"
SEQ_MAX = 32767
SEGMENT_MAX = 32  # portfolio.Loan.segment

_AMOUNT_RE = r"^[+-]?\d+(?:\.\d*)?$"
_GROUPED_AMOUNT_RE = r"^[+-]?\d{1,3}(?:[,，]\d{3})+(?:\.\d*)?$"
_RATE_RE = r"^(?:\d+(?:\.\d*)?|\.\d+)$"
_DATE_RE = (
    r"^\d{4}(?:-\d{1,2}-\d{1,2}|/\d{1,2}/\d{1,2}|年\d{1,2}月\d{1,2}日)"
    r"(?:[ T]\d{1,2}:\d{2}(?::\d{2}(?:\.\d+)?)?)?$"
)
_EMAIL_RE = r"^[^@\s]+@[^@\s]+\.[^@\s.]+$"
# The contacts sheet's yes/no cells (workplace) and opt-out channels.
_YES_NO = {
    **dict.fromkeys(["yes", "y", "true", "1", "是"], True),
    **dict.fromkeys(["no", "n", "false", "0", "否"], False),
}
_OPT_OUT_CHANNELS = {
    "call": "call",
    "sms": "sms",
    "email": "email",
    "电话": "call",
    "短信": "sms",
    "邮件": "email",
    "邮箱": "email",
}


@dataclass
class Validated:
    errors: list[RowError] = field(default_factory=list)
    loans: pl.DataFrame | None = None
    debtors: pl.DataFrame | None = None
    installments: pl.DataFrame | None = None
    contacts: pl.DataFrame | None = None
    addresses: pl.DataFrame | None = None
    rows: dict[str, int] = field(default_factory=dict)


def _msg(template: str, **values: pl.Expr) -> pl.Expr:
    """A translated message with ``{name}`` slots filled from expressions, per row."""
    parts: list[pl.Expr] = []
    for i, piece in enumerate(re.split(r"\{(\w+)\}", template)):
        if i % 2:
            parts.append(values[piece].cast(pl.String).fill_null(""))
        elif piece:
            parts.append(pl.lit(piece))
    return pl.concat_str(parts) if parts else pl.lit("")


class _Checks:
    """Collects (row, column, reason) for one sheet; each check is a boolean mask."""

    def __init__(self, sheet: str, frame: pl.DataFrame) -> None:
        self.sheet = sheet
        self.frame = frame.lazy()
        self.parts: list[pl.LazyFrame] = []

    def add(self, column: str, mask: pl.Expr, reason: str | pl.Expr) -> None:
        reason_expr = pl.lit(reason) if isinstance(reason, str) else reason
        self.parts.append(
            self.frame.filter(mask.fill_null(False)).select(
                pl.col(ROW), pl.lit(column).alias("column"), reason_expr.alias("reason")
            )
        )

    def required(self, *columns: str) -> None:
        for column in columns:
            self.add(column, pl.col(column).is_null(), _("required"))

    def max_length(self, column: str, length: int) -> None:
        self.add(
            column,
            pl.col(column).str.len_chars() > length,
            _("longer than %(n)d characters") % {"n": length},
        )

    def duplicates(self, column: str, key: list[str], template: str, **values: pl.Expr) -> None:
        """Every row whose ``key`` an earlier row already has; ``{row}`` in the template
        is the first row with that key."""
        complete = pl.all_horizontal(pl.col(key).is_not_null())
        self.parts.append(
            self.frame.filter(complete & pl.struct(key).is_duplicated())
            .with_columns(pl.col(ROW).min().over(key).alias("_first"))
            .filter(pl.col(ROW) != pl.col("_first"))
            .select(
                pl.col(ROW),
                pl.lit(column).alias("column"),
                _msg(template, row=pl.col("_first"), **values).alias("reason"),
            )
        )

    def collect(self) -> list[RowError]:
        if not self.parts:
            return []
        found = pl.concat(pl.collect_all(self.parts))
        return [RowError(self.sheet, row, col, reason) for row, col, reason in found.iter_rows()]


# --- value parsers (expressions) ---------------------------------------------------


def _amount(column: str) -> list[pl.Expr]:
    """Columns ``{column}_fen`` (null unless valid), ``_{column}_shape`` (a number below
    10¹⁴, thousands separators optional) and ``_{column}_dec`` (at most 2 decimals)."""
    value = pl.col(column)
    bare = value.str.replace_all(r"[,，]", "")
    fen = (bare.cast(pl.Decimal(38, 2), strict=False) * 100).cast(pl.Int64, strict=False)
    shape_ok = (
        (value.str.contains(_AMOUNT_RE) | value.str.contains(_GROUPED_AMOUNT_RE))
        & fen.is_not_null()
        & (fen.abs() < 10**MONEY_MAX_DIGITS)  # what a MoneyField holds, in fen
    )
    decimals_ok = ~bare.str.contains(r"\.\d{3,}$")
    return [
        pl.when(shape_ok & decimals_ok).then(fen).alias(f"{column}_fen"),
        shape_ok.fill_null(False).alias(f"_{column}_shape"),
        decimals_ok.fill_null(True).alias(f"_{column}_dec"),
    ]


def _rate(column: str) -> tuple[pl.Expr, pl.Expr]:
    """(millionths, shape_ok): 0.18 → 180000; null unless a plain fraction ≤ 6 places."""
    parts = pl.col(column).str.split_exact(".", 1)
    integer = parts.struct.field("field_0").replace("", "0")
    frac = parts.struct.field("field_1").fill_null("")
    shape_ok = pl.col(column).str.contains(_RATE_RE) & (frac.str.len_chars() <= 6)
    value = integer.cast(pl.Int64, strict=False) * 1_000_000 + frac.str.pad_end(6, "0").cast(
        pl.Int64, strict=False
    )
    return pl.when(shape_ok).then(value), shape_ok


def _date(column: str) -> pl.Expr:
    """The date (pl.Date) or null for YYYY-MM-DD, YYYY/MM/DD and YYYY年M月D日."""
    normal = (
        pl.col(column)
        .str.replace(r"[ T].*$", "")
        .str.replace_all(r"[/年月]", "-")
        .str.replace("日", "", literal=True)
    )
    return pl.when(pl.col(column).str.contains(_DATE_RE)).then(
        normal.str.strptime(pl.Date, "%Y-%m-%d", strict=False)
    )


def _with_columns(frame: pl.DataFrame, *exprs: pl.Expr) -> pl.DataFrame:
    """``with_columns`` through the lazy engine, which computes shared sub-expressions
    (the cleaned text, the parsed value) once."""
    return frame.lazy().with_columns(*exprs).collect()


def _iso(expr: pl.Expr) -> pl.Expr:
    return expr.dt.strftime("%Y-%m-%d")


# --- sheets -------------------------------------------------------------------------


def _id_columns(frame: pl.DataFrame) -> pl.DataFrame:
    idn = pl.col("id_number").str.replace_all(r"\s", "").str.to_uppercase()
    frame = frame.with_columns(idn.alias("id_number"))
    idc = pl.col("id_number")
    total = pl.sum_horizontal(
        [idc.str.slice(i, 1).cast(pl.Int64, strict=False) * w for i, w in enumerate(ID_WEIGHTS)]
    )
    expected = (total % 11).replace_strict(
        list(range(11)), list(ID_CHECK_CHARS), return_dtype=pl.String
    )
    return frame.with_columns(
        idc.str.contains(r"^\d{17}[0-9X]$").alias("_id_shape"),
        expected.alias("_id_expected"),
        idc.str.slice(6, 8).str.strptime(pl.Date, "%Y%m%d", strict=False).alias("_birth"),
    )


def _validate_loans(frame: pl.DataFrame, today: dt.date, out: Validated) -> None:
    frame = _id_columns(frame)
    phones = phone_table(frame["mobile"], mobile_only=True)
    rate, rate_shape = _rate("annual_rate")
    penalty, penalty_shape = _rate("penalty_annual_rate")
    frame = frame.with_columns(
        *_amount("principal"),
        rate.alias("rate_u"),
        rate_shape.alias("_r_shape"),
        penalty.alias("penalty_u"),
        penalty_shape.alias("_pr_shape"),
        _date("disbursed_on").alias("_disbursed"),
        _date("limitation_on").alias("_limitation"),
        pl.col("currency").str.to_uppercase().fill_null("CNY").alias("currency"),
        pl.col("segment").str.strip_chars().fill_null("").alias("segment"),
    ).join(phones, left_on="mobile", right_on="raw", how="left")
    c = _Checks("loans", frame)
    c.required(
        "contract_no",
        "debtor_name",
        "id_number",
        "mobile",
        "product",
        "principal",
        "annual_rate",
        "disbursed_on",
    )
    c.max_length("contract_no", 64)
    c.duplicates(
        "contract_no",
        ["contract_no"],
        _("duplicate contract number {no} (first on row {row})"),
        no=pl.col("contract_no"),
    )
    c.max_length("debtor_name", 100)
    has_id = pl.col("id_number").is_not_null()
    c.add(
        "id_number",
        has_id & ~pl.col("_id_shape"),
        _("an ID number has 18 characters: 17 digits and a check digit (0-9 or X)"),
    )
    check_wrong = pl.col("_id_shape") & (
        pl.col("id_number").str.slice(17, 1) != pl.col("_id_expected")
    )
    c.add(
        "id_number",
        check_wrong,
        _msg(
            _("check digit is wrong (GB 11643): it should be {digit}"),
            digit=pl.col("_id_expected"),
        ),
    )
    shape_and_check = pl.col("_id_shape") & ~check_wrong
    c.add(
        "id_number",
        shape_and_check & pl.col("_birth").is_null(),
        _("the birth date in the ID number is not a date"),
    )
    c.add("mobile", pl.col("phone_error").is_not_null(), pl.col("phone_error"))
    c.max_length("product", 100)
    has_p = pl.col("principal").is_not_null()
    c.add(
        "principal",
        has_p & ~pl.col("_principal_shape"),
        _msg(_("not an amount: {value}"), value=pl.col("principal")),
    )
    c.add(
        "principal",
        has_p & pl.col("_principal_shape") & ~pl.col("_principal_dec"),
        _("more than 2 decimal places"),
    )
    c.add("principal", pl.col("principal_fen") <= 0, _("must be greater than 0"))
    for column, shape, value in (
        ("annual_rate", "_r_shape", "rate_u"),
        ("penalty_annual_rate", "_pr_shape", "penalty_u"),
    ):
        c.add(
            column,
            pl.col(column).is_not_null() & (~pl.col(shape) | (pl.col(value) >= 1_000_000)),
            _msg(
                _("must be a fraction with at most 6 decimals, 0 ≤ rate < 1 (0.18 = 18 %): {v}"),
                v=pl.col(column),
            ),
        )
    c.add(
        "disbursed_on",
        pl.col("disbursed_on").is_not_null() & pl.col("_disbursed").is_null(),
        _msg(
            _("not a date: {value} (use YYYY-MM-DD, YYYY/MM/DD or YYYY年M月D日)"),
            value=pl.col("disbursed_on"),
        ),
    )
    c.add(
        "disbursed_on",
        pl.col("_disbursed") > pl.lit(today),
        _msg(
            _("disbursement date {value} is in the future"),
            value=_iso(pl.col("_disbursed")),
        ),
    )
    c.add(
        "limitation_on",
        pl.col("limitation_on").is_not_null() & pl.col("_limitation").is_null(),
        _msg(
            _("not a date: {value} (use YYYY-MM-DD, YYYY/MM/DD or YYYY年M月D日)"),
            value=pl.col("limitation_on"),
        ),
    )
    c.add(
        "limitation_on",
        pl.col("_limitation") < pl.col("_disbursed"),
        _msg(
            _("the limitation period cannot end ({value}) before the loan was disbursed ({d})"),
            value=_iso(pl.col("_limitation")),
            d=_iso(pl.col("_disbursed")),
        ),
    )
    c.add(
        "currency",
        ~pl.col("currency").str.contains(r"^[A-Z]{3}$"),
        _("a currency is a 3-letter ISO code such as CNY"),
    )
    c.add(
        "segment",
        pl.col("segment").str.len_chars() > SEGMENT_MAX,
        _("a segment has at most %(n)d characters") % {"n": SEGMENT_MAX},
    )
    out.errors.extend(c.collect())
    out.loans = frame.select(
        "contract_no",
        "id_number",
        "product",
        "principal_fen",
        "rate_u",
        "penalty_u",
        _iso(pl.col("_disbursed")).alias("disbursed_on"),
        "currency",
        "segment",
        _iso(pl.col("_limitation")).alias("limitation_on"),
    )
    gender = pl.when(pl.col("id_number").str.slice(16, 1).cast(pl.Int64, strict=False) % 2 == 1)
    out.debtors = (
        frame.sort(ROW)
        .unique(subset=["id_number"], keep="last", maintain_order=True)
        .select(
            "id_number",
            pl.col("debtor_name").alias("name"),
            pl.col("phone").alias("mobile"),
            _iso(pl.col("_birth")).alias("birth_date"),
            gender.then(pl.lit("M")).otherwise(pl.lit("F")).alias("gender"),
        )
    )


def _unknown_contract_check(
    c: _Checks, frame: pl.DataFrame, file_contracts: pl.Series, known: set[str]
) -> None:
    c.add(
        "contract_no",
        pl.col("contract_no").is_not_null()
        & ~pl.col("contract_no").is_in(file_contracts.implode())
        & ~pl.col("contract_no").is_in(pl.Series(list(known), dtype=pl.String).implode()),
        _msg(
            _("unknown contract {no}: not in the loans sheet and not imported before"),
            no=pl.col("contract_no"),
        ),
    )


def _validate_installments(
    frame: pl.DataFrame, file_contracts: pl.Series, known: set[str], out: Validated
) -> None:
    money = ("principal_due", "interest_due", "principal_paid", "interest_paid")
    frame = _with_columns(
        frame,
        *[e for column in money for e in _amount(column)],
        pl.col("seq").cast(pl.Int64, strict=False).alias("_seq"),
        _date("due_on").alias("_due"),
    )
    c = _Checks("installments", frame)
    c.required("contract_no", "seq", "due_on", "principal_due", "interest_due")
    _unknown_contract_check(c, frame, file_contracts, known)
    seq_ok = pl.col("seq").str.contains(r"^\d+$") & pl.col("_seq").is_between(1, SEQ_MAX)
    c.add(
        "seq",
        pl.col("seq").is_not_null() & ~seq_ok,
        _msg(_("a period is a whole number 1, 2, 3, …: {value}"), value=pl.col("seq")),
    )
    c.duplicates(
        "seq",
        ["contract_no", "_seq"],
        _("period {seq} of contract {no} appears twice (first on row {row})"),
        seq=pl.col("_seq"),
        no=pl.col("contract_no"),
    )
    c.add(
        "due_on",
        pl.col("due_on").is_not_null() & pl.col("_due").is_null(),
        _msg(
            _("not a date: {value} (use YYYY-MM-DD, YYYY/MM/DD or YYYY年M月D日)"),
            value=pl.col("due_on"),
        ),
    )
    for column in money:
        present = pl.col(column).is_not_null()
        shape, decimals = pl.col(f"_{column}_shape"), pl.col(f"_{column}_dec")
        c.add(column, present & ~shape, _msg(_("not an amount: {value}"), value=pl.col(column)))
        c.add(column, present & shape & ~decimals, _("more than 2 decimal places"))
        c.add(column, pl.col(f"{column}_fen") < 0, _("must not be negative"))
    for paid, due in (("principal_paid", "principal_due"), ("interest_paid", "interest_due")):
        c.add(
            paid,
            (pl.col(f"{paid}_fen") >= 0)
            & (pl.col(f"{due}_fen") >= 0)
            & (pl.col(f"{paid}_fen") > pl.col(f"{due}_fen")),
            _msg(
                _("paid {paid} is more than the {due} due"),
                paid=pl.col(paid),
                due=pl.col(due),
            ),
        )
    out.errors.extend(c.collect())
    out.installments = frame.select(
        "contract_no",
        pl.col("_seq").alias("seq"),
        _iso(pl.col("_due")).alias("due_on"),
        pl.col("principal_due_fen").alias("principal_due"),
        pl.col("interest_due_fen").alias("interest_due"),
        pl.col("principal_paid_fen").fill_null(0).alias("principal_paid"),
        pl.col("interest_paid_fen").fill_null(0).alias("interest_paid"),
    )


def _alias_expr(column: str, aliases: dict[str, str], values: list[str]) -> pl.Expr:
    mapping = {**{v: v for v in values}, **aliases}
    return (
        pl.col(column)
        .str.to_lowercase()
        .replace_strict(mapping, default=None, return_dtype=pl.String)
    )


def _validate_contacts(
    frame: pl.DataFrame,
    file_contracts: pl.Series,
    known: set[str],
    out: Validated,
) -> None:
    phones = phone_table(frame["phone"], mobile_only=False).rename(
        {"phone": "_phone", "phone_error": "_phone_error"}
    )
    # "sms, email", "短信、邮件": the channels, split on commas, 、, semicolons, / or spaces.
    opt_outs = (
        pl.col("opt_out")
        .str.to_lowercase()
        .str.replace_all(r"[,，、;；/\s]+", ",")
        .str.strip_chars(",")
        .str.split(",")
    )
    frame = frame.with_columns(
        _alias_expr("relation", RELATION_ALIASES, list(Relation.values)).alias("_relation"),
        pl.col("email").str.to_lowercase().alias("_email"),
        pl.col("workplace")
        .str.to_lowercase()
        .replace_strict(_YES_NO, default=None, return_dtype=pl.Boolean)
        .alias("_workplace"),
        opt_outs.alias("_opt_raw"),
    ).join(phones, left_on="phone", right_on="raw", how="left")
    channel = pl.element().replace_strict(_OPT_OUT_CHANNELS, default=None, return_dtype=pl.String)
    frame = frame.with_columns(
        pl.col("_opt_raw").list.eval(channel).alias("_opt"),
        pl.col("_opt_raw")
        .list.eval(pl.element().filter(channel.is_null()))
        .list.join(", ")
        .alias("_opt_unknown"),
    )
    opted = {
        ch: pl.col("_opt").list.contains(ch).fill_null(False) for ch in ("call", "sms", "email")
    }
    c = _Checks("contacts", frame)
    c.required("contract_no", "name", "relation")
    _unknown_contract_check(c, frame, file_contracts, known)
    c.max_length("name", 100)
    c.add(
        "relation",
        pl.col("relation").is_not_null() & pl.col("_relation").is_null(),
        _msg(
            _("unknown relation {value} (use one of: {choices})"),
            value=pl.col("relation"),
            choices=pl.lit(", ".join(Relation.values)),
        ),
    )
    c.add("phone", pl.col("_phone_error").is_not_null(), pl.col("_phone_error"))
    c.add(
        "email",
        pl.col("email").is_not_null() & ~pl.col("email").str.contains(_EMAIL_RE),
        _msg(_("not an e-mail address: {value}"), value=pl.col("email")),
    )
    c.max_length("email", 254)
    c.add(
        "workplace",
        pl.col("workplace").is_not_null() & pl.col("_workplace").is_null(),
        _msg(_("workplace is yes or no (是 or 否): {value}"), value=pl.col("workplace")),
    )
    marked = pl.col("_workplace").fill_null(False)
    c.add(
        "workplace",
        marked & pl.col("_relation").is_not_null() & (pl.col("_relation") != "self"),
        _("only the debtor's own numbers and addresses (relation self) are marked workplace"),
    )
    c.add(
        "workplace",
        marked & pl.col("phone").is_null() & pl.col("email").is_null(),
        _("a workplace mark needs the row's phone or email"),
    )
    c.add(
        "opt_out",
        pl.col("_opt_unknown").str.len_chars() > 0,
        _msg(
            _("unknown channel {value} (use call, sms, email or 电话, 短信, 邮件)"),
            value=pl.col("_opt_unknown"),
        ),
    )
    c.add(
        "opt_out",
        (opted["call"] | opted["sms"]) & pl.col("phone").is_null(),
        _("an opt-out of calls or SMS needs the row's phone"),
    )
    c.add(
        "opt_out",
        opted["email"] & pl.col("email").is_null(),
        _("an opt-out of e-mail needs the row's email"),
    )
    out.errors.extend(c.collect())
    out.contacts = frame.select(
        "contract_no",
        "name",
        pl.col("_relation").alias("relation"),
        pl.col("_phone").alias("phone"),
        pl.col("_email").alias("email"),
        marked.cast(pl.Int64).alias("workplace"),
        *[opted[ch].cast(pl.Int64).alias(f"opt_{ch}") for ch in ("call", "sms", "email")],
    )


def _validate_addresses(
    frame: pl.DataFrame, file_contracts: pl.Series, known: set[str], out: Validated
) -> None:
    frame = frame.with_columns(
        _alias_expr("kind", ADDRESS_KIND_ALIASES, list(AddressKind.values)).alias("_kind"),
        pl.col("lat").cast(pl.Float64, strict=False).alias("_lat"),
        pl.col("lon").cast(pl.Float64, strict=False).alias("_lon"),
    )
    c = _Checks("addresses", frame)
    c.required("contract_no", "kind", "address")
    _unknown_contract_check(c, frame, file_contracts, known)
    c.add(
        "kind",
        pl.col("kind").is_not_null() & pl.col("_kind").is_null(),
        _msg(
            _("unknown address kind {value} (use one of: {choices})"),
            value=pl.col("kind"),
            choices=pl.lit(", ".join(AddressKind.values)),
        ),
    )
    c.max_length("address", 300)
    for column, limit in (("lat", 90), ("lon", 180)):
        value = pl.col(f"_{column}")
        c.add(
            column,
            pl.col(column).is_not_null() & (value.is_null() | value.is_nan()),
            _msg(_("not a number: {value}"), value=pl.col(column)),
        )
        c.add(
            column,
            value.abs() > limit,
            _("must be between -%(n)d and %(n)d") % {"n": limit},
        )
    c.add(
        "lon",
        pl.col("lat").is_not_null() & pl.col("lon").is_null(),
        _("lat is given without lon (give both or neither)"),
    )
    c.add(
        "lat",
        pl.col("lon").is_not_null() & pl.col("lat").is_null(),
        _("lon is given without lat (give both or neither)"),
    )
    out.errors.extend(c.collect())
    out.addresses = frame.select(
        "contract_no",
        pl.col("_kind").alias("kind"),
        pl.col("address").alias("text"),
        *region_columns(pl.col("address")),
        pl.col("_lat").round(6).alias("lat"),
        pl.col("_lon").round(6).alias("lon"),
    )


def validate_frames(
    frames: dict[str, pl.DataFrame],
    *,
    today: dt.date,
    known_contracts: Callable[[list[str]], set[str]],
) -> Validated:
    """Validate all four sheets; ``known_contracts(numbers)`` returns those of ``numbers``
    that the client already has in the database."""
    out = Validated(rows={name: frame.height for name, frame in frames.items()})
    loans = frames["loans"]
    _validate_loans(loans, today, out)
    file_contracts = loans["contract_no"].drop_nulls().unique()
    children = ("installments", "contacts", "addresses")
    outside = (
        pl.concat([frames[name].select("contract_no") for name in children])
        .drop_nulls()
        .unique()
        .filter(~pl.col("contract_no").is_in(file_contracts.implode()))["contract_no"]
        .to_list()
    )
    known = known_contracts(outside) if outside else set()
    _validate_installments(frames["installments"], file_contracts, known, out)
    _validate_contacts(frames["contacts"], file_contracts, known, out)
    _validate_addresses(frames["addresses"], file_contracts, known, out)
    out.errors = sorted_errors(out.errors)
    return out
