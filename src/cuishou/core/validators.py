"""Identity and contact validation for single values (forms, API, admin).

Bulk imports validate whole columns at once (``cuishou.portfolio.importer.validate``);
the rules there must agree with these.
"""

from __future__ import annotations

import phonenumbers
from django.core.exceptions import ValidationError
from django.utils.translation import gettext as _
from stdnum.cn import ric
from stdnum.exceptions import ValidationError as StdnumError


def normalize_id_number(value: str) -> str:
    """Return the compact, upper-case 18-character resident ID or raise ValidationError.

    Checks GB 11643: 17 digits, the check digit (python-stdnum) and a real birth date.
    The birth-place code is not checked against stdnum's region table: region codes are
    renamed and retired over time, and an ID issued under an old code stays valid.
    """
    compact = ric.compact(value or "").upper()
    if len(compact) != 18:
        raise ValidationError(_("an ID number has 18 characters"), code="id_length")
    if not compact[:17].isdigit() or not (compact[17].isdigit() or compact[17] == "X"):
        raise ValidationError(_("an ID number has 17 digits and a check digit"), code="id_format")
    if compact[17] != ric.calc_check_digit(compact):
        raise ValidationError(_("wrong check digit in the ID number"), code="id_checksum")
    try:
        ric.get_birth_date(compact)
    except StdnumError as exc:
        raise ValidationError(
            _("the ID number's birth date is not a date"), code="id_date"
        ) from exc
    return compact


def normalize_phone(value: str) -> str:
    """Return a mainland number as dialled at home — a mobile's 11 digits, a landline
    with its trunk 0 and area code (``02112345678``) — or E.164 (``+852…``) for abroad;
    else raise ValidationError."""
    text = (value or "").strip().replace(" ", "").replace("-", "")
    if not text:
        raise ValidationError(_("phone number is empty"), code="phone_empty")
    try:
        parsed = phonenumbers.parse(text, "CN")
    except phonenumbers.NumberParseException as exc:
        raise ValidationError(_("not a phone number"), code="phone_invalid") from exc
    if not phonenumbers.is_valid_number(parsed):
        raise ValidationError(_("not a valid phone number"), code="phone_invalid")
    if parsed.country_code == 86:
        national = phonenumbers.format_number(parsed, phonenumbers.PhoneNumberFormat.NATIONAL)
        return "".join(ch for ch in national if ch.isdigit())
    return phonenumbers.format_number(parsed, phonenumbers.PhoneNumberFormat.E164)


def validate_id_number(value: str) -> None:
    normalize_id_number(value)


def validate_phone(value: str) -> None:
    normalize_phone(value)
