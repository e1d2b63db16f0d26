"""Phone numbers for a whole column at once, with phonenumbers as the authority.

Mainland mobiles (11 digits starting with 1, optionally written +86…) are checked with a
vectorised regex and then with phonenumbers once per distinct 7-digit prefix (号段): one
representative number of the prefix (the lowest in the file) is validated. When
phonenumbers agrees with the regex (valid), every number of the prefix is valid; when
it disagrees, each number of that prefix is validated on its own, so phonenumbers has
the last word on every number it rejects. Verdicts are shared between the sheets of one
import through ``cache``. Numbers written with ``+`` (international) and,
where allowed, landlines are validated one distinct value at a time.

Normal form: 11 digits for mainland mobiles, E.164 (``+852…``) for numbers abroad —
the same as ``cuishou.core.validators.normalize_phone``.
"""

from __future__ import annotations

import phonenumbers
import polars as pl
from django.core.exceptions import ValidationError
from django.utils.translation import gettext as _

from cuishou.core.validators import normalize_phone

_MOBILE_TYPES = {
    phonenumbers.PhoneNumberType.MOBILE,
    phonenumbers.PhoneNumberType.FIXED_LINE_OR_MOBILE,
}


def _valid_cn_mobile(national: str) -> bool:
    number = phonenumbers.PhoneNumber(country_code=86, national_number=int(national))
    return phonenumbers.number_type(number) in _MOBILE_TYPES


def _one(raw: str, *, mobile_only: bool) -> tuple[str | None, str | None]:
    """Validate one number with phonenumbers: (normalised, None) or (None, reason)."""
    text = raw.replace(" ", "").replace("-", "")
    if mobile_only and not text.startswith("+"):
        return None, _("not a mainland mobile number (11 digits) or an international +CC number")
    try:
        parsed = phonenumbers.parse(text, "CN")
    except phonenumbers.NumberParseException:
        return None, _("not a phone number")
    if not phonenumbers.is_valid_number(parsed):
        return None, _("not a valid phone number")
    is_cn_landline = (
        parsed.country_code == 86 and phonenumbers.number_type(parsed) not in _MOBILE_TYPES
    )
    if mobile_only and is_cn_landline:
        return None, _("not a mobile number")
    try:
        return normalize_phone(text), None
    except ValidationError as exc:  # pragma: no cover - same library, same verdict
        return None, str(exc.messages[0])


def phone_table(
    values: pl.Series, *, mobile_only: bool, cache: dict[str, bool] | None = None
) -> pl.DataFrame:
    """For each distinct non-empty value: columns ``raw``, ``phone`` (normalised or null)
    and ``phone_error`` (the reason or null)."""
    cache = {} if cache is None else cache
    frame = pl.DataFrame({"raw": values.drop_nulls().unique()}, schema={"raw": pl.String})
    cleaned = pl.col("raw").str.replace_all(r"[\s\-()（）]", "")
    frame = frame.with_columns(
        cleaned.str.extract(r"^(?:\+86|0086)?(1\d{10})$", 1).alias("national"),
        cleaned.str.starts_with("+").alias("plus"),
    )
    shaped = frame.filter(pl.col("national").str.contains(r"^1[3-9]\d{9}$"))
    nationals = shaped.select(pl.col("national").unique()).with_columns(
        pl.col("national").str.slice(0, 7).alias("prefix")
    )
    reps = nationals.group_by("prefix").agg(pl.col("national").min().alias("rep"))
    verdict: dict[str, bool] = {}
    for prefix, rep in reps.iter_rows():
        if prefix not in cache:
            cache[prefix] = _valid_cn_mobile(rep)
        verdict[prefix] = cache[prefix]
    undecided = [prefix for prefix, ok in verdict.items() if not ok]
    member_verdict: dict[str, bool] = {}
    if undecided:
        members = nationals.filter(pl.col("prefix").is_in(undecided))["national"]
        member_verdict = {n: _valid_cn_mobile(n) for n in members}
        for prefix in undecided:
            del verdict[prefix]
    valid_map = pl.DataFrame(
        {
            "national": list(member_verdict),
            "national_ok": list(member_verdict.values()),
        },
        schema={"national": pl.String, "national_ok": pl.Boolean},
    )
    prefix_map = pl.DataFrame(
        {"prefix": list(verdict), "prefix_ok": list(verdict.values())},
        schema={"prefix": pl.String, "prefix_ok": pl.Boolean},
    )
    frame = (
        frame.with_columns(
            pl.col("national").str.contains(r"^1[3-9]\d{9}$").fill_null(False).alias("shaped"),
            pl.col("national").str.slice(0, 7).alias("prefix"),
        )
        .join(prefix_map, on="prefix", how="left")
        .join(valid_map, on="national", how="left")
        .with_columns(pl.coalesce("prefix_ok", "national_ok").fill_null(False).alias("ok"))
    )
    bad_mobile = _("not a valid mainland mobile number")
    result = frame.select(
        "raw",
        pl.when(pl.col("shaped") & pl.col("ok")).then(pl.col("national")).alias("phone"),
        pl.when(pl.col("shaped") & ~pl.col("ok"))
        .then(pl.lit(bad_mobile))
        .when(pl.col("national").is_not_null() & ~pl.col("shaped"))
        .then(pl.lit(bad_mobile))
        .alias("phone_error"),
        (pl.col("national").is_null()).alias("individual"),
    )
    # International numbers (+CC…) and, for contacts, landlines: one distinct value at a time.
    singles = result.filter(pl.col("individual"))["raw"].to_list()
    if singles:
        checked = [_one(raw, mobile_only=mobile_only) for raw in singles]
        fixed = pl.DataFrame(
            {
                "raw": singles,
                "phone_one": [c[0] for c in checked],
                "error_one": [c[1] for c in checked],
            },
            schema={"raw": pl.String, "phone_one": pl.String, "error_one": pl.String},
        )
        result = (
            result.join(fixed, on="raw", how="left")
            .with_columns(
                pl.coalesce("phone", "phone_one").alias("phone"),
                pl.coalesce("phone_error", "error_one").alias("phone_error"),
            )
            .drop("phone_one", "error_one")
        )
    return result.drop("individual")
