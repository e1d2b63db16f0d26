"""Phone numbers for a whole column at once, with phonenumbers as the authority.

Mainland mobiles (11 digits starting with 1, optionally written +86…) are checked as one
vectorised expression built from phonenumbers' own metadata for CN: the same patterns,
possible lengths and type order that ``phonenumbers.number_type`` applies (a number is a
mobile when it matches the general description and the mobile description and none of
the types phonenumbers tests before it: premium rate, toll free, shared cost, …). So the
verdict is phonenumbers' verdict, at the speed of a regex over the column; a property
test compares the two on random numbers. Numbers written with ``+`` (international) and,
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
# The types phonenumbers.number_type tests before fixed line and mobile, in its order.
_EARLIER_TYPES = (
    "premium_rate",
    "toll_free",
    "shared_cost",
    "voip",
    "personal_number",
    "pager",
    "uan",
    "voicemail",
)


def _desc_matches(desc: phonenumbers.PhoneNumberDesc | None, number: pl.Expr) -> pl.Expr:
    """phonenumbers' ``_is_number_matching_desc`` as a Polars expression."""
    if desc is None or not desc.national_number_pattern:
        return pl.lit(False)
    matches = number.str.contains(f"^(?:{desc.national_number_pattern})$")
    if desc.possible_length:
        matches = matches & number.str.len_chars().is_in(list(desc.possible_length))
    return matches


def cn_mobile_expr(national: pl.Expr) -> pl.Expr:
    """True where the national number is a CN mobile by phonenumbers' rules."""
    md = phonenumbers.PhoneMetadata.metadata_for_region("CN")
    assert md is not None
    earlier = pl.lit(False)
    for name in _EARLIER_TYPES:
        earlier = earlier | _desc_matches(getattr(md, name), national)
    is_mobile = (
        _desc_matches(md.fixed_line, national)
        if md.same_mobile_and_fixed_line_pattern
        else _desc_matches(md.mobile, national)
    )
    return _desc_matches(md.general_desc, national) & ~earlier & is_mobile


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


def phone_table(values: pl.Series, *, mobile_only: bool) -> pl.DataFrame:
    """For each distinct non-empty value: columns ``raw``, ``phone`` (normalised or null)
    and ``phone_error`` (the reason or null)."""
    frame = pl.DataFrame({"raw": values.drop_nulls().unique()}, schema={"raw": pl.String})
    frame = frame.with_columns(
        pl.col("raw")
        .str.replace_all(r"[\s\-()（）]", "")
        .str.extract(r"^(?:\+86|0086)?(1\d{10})$", 1)
        .alias("national")
    )
    ok = cn_mobile_expr(pl.col("national")).fill_null(False)
    result = frame.select(
        "raw",
        pl.when(ok).then(pl.col("national")).alias("phone"),
        pl.when(pl.col("national").is_not_null() & ~ok)
        .then(pl.lit(_("not a valid mainland mobile number")))
        .alias("phone_error"),
    )
    # International numbers (+CC…) and, for contacts, landlines: one distinct value at a time.
    singles = frame.filter(pl.col("national").is_null())["raw"].to_list()
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
    return result
