"""The importer's vectorised mobile check gives phonenumbers' own verdict."""

from __future__ import annotations

import phonenumbers
import polars as pl
from hypothesis import given, settings
from hypothesis import strategies as st

from cuishou.portfolio.importer.phones import phone_table

_MOBILE = {phonenumbers.PhoneNumberType.MOBILE, phonenumbers.PhoneNumberType.FIXED_LINE_OR_MOBILE}


def _phonenumbers_says_mobile(national: str) -> bool:
    number = phonenumbers.PhoneNumber(country_code=86, national_number=int(national))
    return phonenumbers.is_valid_number(number) and phonenumbers.number_type(number) in _MOBILE


@settings(max_examples=60, deadline=None)
@given(st.lists(st.from_regex(r"\A1[3-9][0-9]{9}\Z", fullmatch=True), min_size=1, max_size=400))
def test_vectorised_mobile_check_agrees_with_phonenumbers(numbers: list[str]) -> None:
    table = phone_table(pl.Series(numbers, dtype=pl.String), mobile_only=True)
    verdict = dict(zip(table["raw"].to_list(), table["phone"].is_not_null().to_list(), strict=True))
    for number in numbers:
        assert verdict[number] == _phonenumbers_says_mobile(number), number


def test_every_three_digit_mobile_range_agrees_with_phonenumbers() -> None:
    # One number per 4-digit prefix and a few endings: covers every block phonenumbers knows.
    tails = ("0000000", "5123456", "9999999")
    numbers = [f"{prefix}{tail}" for prefix in range(1000, 2000) for tail in tails]
    table = phone_table(pl.Series(numbers, dtype=pl.String), mobile_only=True)
    verdict = dict(zip(table["raw"].to_list(), table["phone"].is_not_null().to_list(), strict=True))
    disagreements = [n for n in numbers if verdict[n] != _phonenumbers_says_mobile(n)]
    assert disagreements == []
    assert verdict["13805123456"] and not verdict["12000000000"]


def test_spaces_dashes_and_country_code_are_normalised() -> None:
    table = phone_table(
        pl.Series(["138 0013 8000", "+86 138-0013-8001", "+85291234567", "12345"]),
        mobile_only=True,
    )
    phones = dict(zip(table["raw"].to_list(), table["phone"].to_list(), strict=True))
    errors = dict(zip(table["raw"].to_list(), table["phone_error"].to_list(), strict=True))
    assert phones["138 0013 8000"] == "13800138000"
    assert phones["+86 138-0013-8001"] == "13800138001"
    assert phones["+85291234567"] == "+85291234567"
    assert phones["12345"] is None and errors["12345"]
