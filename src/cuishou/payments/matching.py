"""Match bank-statement credits to loans, set-based (Polars frames in, a frame out; no
database access: the caller hands in the client's loans and a loader of expected amounts).

The rules, in order (docs/payments.md, "Reconciliation"):

1. **Memo**: a token of the memo that is exactly a contract number of the client; else a
   token of at least ``MIN_ID_FRAGMENT`` characters that ends a debtor's ID number (or is
   all of it). The loans found are the candidates; one loan → matched; several (a debtor
   with several loans, several contracts named, a fragment shared by several debtors) →
   the one whose expected amount equals the credit, if exactly one; else queued.
2. **Payer name** (only when the memo named nothing): the payer's name equals the
   debtor's, or equals it after traditional → simplified conversion (張三 = 张三), or, for
   a name in Latin letters, equals its pinyin (ZHANG SAN, Zhang San, zhangsan = 张三); a
   Chinese name is never compared by sound (章三 is not 张三). AND the amount equals an
   expected amount of the loan. One loan → matched; several → queued; none → unmatched
   (the name's loans, if any, listed for the person).

Never a guess: anything but exactly one loan goes to a person.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import lru_cache
from typing import Any

import polars as pl
from django.utils.translation import gettext as _

from cuishou.payments.choices import StatementLineStatus

# The shortest ID-number fragment that counts: the last 6 characters (3 of the
# sequence number, the check digit and the day of birth) are what banks' memo fields and
# debtors usually give; shorter ones (the last 4) would hit hundreds of debtors in a large
# portfolio. A fragment shared by several debtors is ambiguous and goes to the queue.
MIN_ID_FRAGMENT = 6
MAX_CANDIDATES = 20  # listed in the queue per line
_TOKEN_RE = r"[0-9A-Za-z][0-9A-Za-z_/\-]*"
_CJK_RE = r"[\u3400-\u9fff\uf900-\ufaff]"

# loan ids → frame (loan_id: Int64, amount_fen: Int64, what: String)
ExpectedLoader = Callable[[list[int]], pl.DataFrame]


@lru_cache(maxsize=65536)
def _char_keys(char: str) -> tuple[str, str]:
    """(simplified form, pinyin without tone) of one character."""
    from pypinyin import Style, lazy_pinyin

    simple = _t2s().convert(char) if char else char
    reading = "".join(lazy_pinyin(simple, style=Style.NORMAL, errors="ignore")).lower()
    return simple, reading


@lru_cache(maxsize=1)
def _t2s() -> Any:
    from opencc import OpenCC

    return OpenCC("t2s")


def _name_keys(names: pl.Series) -> pl.DataFrame:
    """For distinct Chinese names: ``name``, ``simple`` (traditional → simplified, spaces
    dropped) and ``pinyin`` (lower-case, no spaces), character by character (one
    Aho-Corasick pass per key over the names, the characters converted once each)."""
    frame = pl.DataFrame({"name": names}).unique()
    bare = pl.col("name").str.replace_all(r"\s+", "")
    chars = frame.select(bare.str.split("").explode().unique()).to_series()
    changed: dict[str, str] = {}
    pinyin: dict[str, str] = {}
    for char in chars.drop_nulls().to_list():
        simple, reading = _char_keys(char)
        if simple != char:
            changed[char] = simple
        pinyin[char] = reading
    simple_expr = bare.str.replace_many(list(changed), list(changed.values())) if changed else bare
    pinyin_expr = bare.str.replace_many(list(pinyin), list(pinyin.values())) if pinyin else bare
    return frame.with_columns(
        simple_expr.alias("simple"), pinyin_expr.str.to_lowercase().alias("pinyin")
    )


def _latin_key(expr: pl.Expr) -> pl.Expr:
    return (
        expr.str.to_lowercase()
        .str.replace_all("ü", "v", literal=True)
        .str.replace_all(r"[^a-z]", "")
    )


def _memo_hits(lines: pl.DataFrame, loans: pl.DataFrame) -> pl.DataFrame:
    """(line_no, loan_id, why) for the memo rule: contract numbers first, ID fragments for
    lines where no contract number was found."""
    tokens = (
        lines.select("line_no", pl.col("memo").str.extract_all(_TOKEN_RE).alias("token"))
        .explode("token")
        .drop_nulls("token")
        .unique()
    )
    contracts = tokens.join(
        loans.select("loan_id", pl.col("contract_no").alias("token")), on="token"
    ).select(
        "line_no",
        "loan_id",
        pl.format(_("memo names contract {}"), pl.col("token")).alias("why"),
    )
    fragments = tokens.filter(
        ~pl.col("line_no").is_in(contracts["line_no"].implode())
        & pl.col("token").str.contains(r"^[0-9]{5,17}[0-9Xx]$")
        & (pl.col("token").str.len_chars() >= MIN_ID_FRAGMENT)
    ).with_columns(pl.col("token").str.to_uppercase(), pl.col("token").str.len_chars().alias("n"))
    parts = [contracts]
    for n in sorted(set(fragments["n"].to_list())):
        wanted = fragments.filter(pl.col("n") == n)
        suffixes = loans.select(
            "loan_id", pl.col("id_number").str.slice(-n).str.to_uppercase().alias("token")
        )
        parts.append(
            wanted.join(suffixes, on="token").select(
                "line_no",
                "loan_id",
                pl.format(_("memo has ID-number fragment …{}"), pl.col("token")).alias("why"),
            )
        )
    return pl.concat(parts).unique(["line_no", "loan_id"], keep="first")


def _name_hits(lines: pl.DataFrame, loans: pl.DataFrame) -> pl.DataFrame:
    """(line_no, loan_id, why) for the payer-name rule."""
    payers = lines.select("line_no", pl.col("payer_name").str.strip_chars().alias("payer"))
    payers = payers.filter(pl.col("payer").str.len_chars() > 0)
    chinese = payers.filter(pl.col("payer").str.contains(_CJK_RE))
    latin = payers.filter(~pl.col("payer").str.contains(_CJK_RE)).with_columns(
        _latin_key(pl.col("payer")).alias("pinyin")
    )
    debtors = _name_keys(loans["debtor_name"])
    keyed = loans.select("loan_id", pl.col("debtor_name").alias("name")).join(debtors, on="name")
    payer_keys = _name_keys(chinese["payer"]).rename({"name": "payer"})
    by_chars = (
        chinese.join(payer_keys.select("payer", "simple"), on="payer")
        .join(keyed.select("loan_id", "name", "simple"), on="simple")
        .select(
            "line_no",
            "loan_id",
            pl.when(pl.col("payer") == pl.col("name"))
            .then(pl.format(_("payer name is the debtor's name {}"), pl.col("name")))
            .otherwise(
                pl.format(
                    _("payer name {} is the debtor's name {} in other characters"),
                    pl.col("payer"),
                    pl.col("name"),
                )
            )
            .alias("why"),
        )
    )
    by_sound = (
        latin.filter(pl.col("pinyin").str.len_chars() > 0)
        .join(keyed.select("loan_id", "name", "pinyin"), on="pinyin")
        .select(
            "line_no",
            "loan_id",
            pl.format(
                _("payer name {} is the pinyin of the debtor's name {}"),
                pl.col("payer"),
                pl.col("name"),
            ).alias("why"),
        )
    )
    return pl.concat([by_chars, by_sound]).unique(["line_no", "loan_id"], keep="first")


def _with_amounts(
    hits: pl.DataFrame, lines: pl.DataFrame, expected: ExpectedLoader, *, memo: bool
) -> pl.DataFrame:
    """Add ``amount_ok`` and ``amount_why`` (the expected amounts the credit equals)."""
    if hits.height == 0:
        return hits.select(
            "line_no",
            "loan_id",
            "why",
            pl.lit(False).alias("amount_ok"),
            pl.lit(None, pl.String).alias("amount_why"),
        )
    # A memo line with one loan needs no amount: load the amounts of the others only.
    several = hits.filter(pl.len().over("line_no") > 1) if memo else hits
    amounts = expected(several["loan_id"].unique().to_list()) if several.height else None
    if amounts is None:
        return hits.select(
            "line_no",
            "loan_id",
            "why",
            pl.lit(False).alias("amount_ok"),
            pl.lit(None, pl.String).alias("amount_why"),
        )
    credit = hits.join(lines.select("line_no", "amount_fen"), on="line_no")
    equal = (
        credit.join(amounts, on="loan_id")
        .filter(pl.col("amount_fen") == pl.col("expected_fen"))
        .group_by("line_no", "loan_id")
        .agg(pl.col("what").unique().sort().str.join(", ").alias("amount_why"))
    )
    return (
        credit.drop("amount_fen")
        .join(equal, on=["line_no", "loan_id"], how="left")
        .select(
            "line_no",
            "loan_id",
            "why",
            pl.col("amount_why").is_not_null().alias("amount_ok"),
            "amount_why",
        )
    )


def _decide(hits: pl.DataFrame, *, memo: bool) -> pl.DataFrame:
    """Per line: status, loan_id, reason, and the candidate rows for the queue."""
    per_line = hits.group_by("line_no").agg(
        pl.len().alias("n"),
        pl.col("amount_ok").sum().alias("n_ok"),
        pl.col("loan_id").filter(pl.col("amount_ok")).first().alias("ok_loan"),
        pl.col("loan_id").first().alias("only_loan"),
        pl.col("why").filter(pl.col("amount_ok")).first().alias("ok_why"),
        pl.col("amount_why").filter(pl.col("amount_ok")).first().alias("ok_amount"),
        pl.col("why").first().alias("only_why"),
    )
    single = pl.col("n") == 1 if memo else pl.lit(False)
    one_ok = pl.col("n_ok") == 1
    matched = single | one_ok
    status = (
        pl.when(matched)
        .then(pl.lit(StatementLineStatus.MATCHED.value))
        .when(pl.col("n_ok") > 1 if not memo else pl.lit(True))
        .then(pl.lit(StatementLineStatus.QUEUED.value))
        .otherwise(pl.lit(StatementLineStatus.UNMATCHED.value))
    )
    amount_part = pl.format(_("; amount equals {}"), pl.col("ok_amount"))
    reason = (
        pl.when(one_ok)
        .then(pl.concat_str([pl.col("ok_why"), amount_part]))
        .when(single)
        .then(pl.col("only_why"))
        .when(pl.col("n_ok") > 1)
        .then(pl.format(_("{} loans fit the name and amount: a person decides"), pl.col("n_ok")))
        .when(pl.lit(memo))
        .then(
            pl.format(
                _("the memo points at {} loans and the amount fits none of them"), pl.col("n")
            )
        )
        .otherwise(
            pl.format(
                _("the payer's name fits {} loans but the amount equals no expected amount"),
                pl.col("n"),
            )
        )
    )
    loan = pl.when(one_ok).then(pl.col("ok_loan")).when(single).then(pl.col("only_loan"))
    return per_line.select(
        "line_no",
        status.alias("status"),
        loan.cast(pl.Int64).alias("loan_id"),
        reason.alias("reason"),
    )


def match_lines(
    lines: pl.DataFrame, loans: pl.DataFrame, expected: ExpectedLoader
) -> tuple[pl.DataFrame, dict[int, list[dict[str, Any]]]]:
    """Return (one row per line: ``line_no``, ``status``, ``loan_id`` (matched only),
    ``reason``) and the candidates of every line that is not matched, by line number:
    ``[{"loan_id", "reasons": [...]}]`` (at most ``MAX_CANDIDATES``)."""
    memo = _with_amounts(_memo_hits(lines, loans), lines, expected, memo=True)
    rest = lines.filter(~pl.col("line_no").is_in(memo["line_no"].implode()))
    names = _with_amounts(_name_hits(rest, loans), lines, expected, memo=False)
    decided = pl.concat([_decide(memo, memo=True), _decide(names, memo=False)])
    out = (
        lines.select("line_no")
        .join(decided, on="line_no", how="left")
        .with_columns(
            pl.col("status").fill_null(StatementLineStatus.UNMATCHED.value),
            pl.col("reason").fill_null(
                _("neither the memo nor the payer's name points at a loan of the client")
            ),
        )
        .sort("line_no")
    )
    open_lines = out.filter(pl.col("status") != StatementLineStatus.MATCHED.value)["line_no"]
    hits = pl.concat([memo, names]).filter(pl.col("line_no").is_in(open_lines.implode()))
    candidates: dict[int, list[dict[str, Any]]] = {}
    for row in hits.sort(
        "line_no", pl.col("amount_ok"), "loan_id", descending=[False, True, False]
    ).iter_rows(named=True):
        listed = candidates.setdefault(row["line_no"], [])
        if len(listed) >= MAX_CANDIDATES:
            continue
        reasons = [row["why"]]
        if row["amount_ok"]:
            reasons.append(_("amount equals %(what)s") % {"what": row["amount_why"]})
        else:
            reasons.append(_("amount equals no expected amount"))
        listed.append({"loan_id": row["loan_id"], "reasons": reasons})
    return out, candidates
