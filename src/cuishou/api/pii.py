"""Masking of personal data inside free-form API payloads (audit before/after, loan state)."""

from __future__ import annotations

from typing import Any

from cuishou.core.masking import mask_email, mask_id_number, mask_phone

_ID_KEYS = {"id_number"}
_PHONE_KEYS = {"mobile", "phone", "home_phone", "work_phone"}
_EMAIL_KEYS = {"email"}


def _mask_contact_value(value: str) -> str:
    return mask_email(value) if "@" in value else mask_phone(value)


def mask_payload(value: Any, *, contact_values: bool = False) -> Any:
    """A copy of ``value`` with ID numbers, phones and e-mail addresses masked by key.

    ``contact_values``: also mask ``value`` keys (a contact point's number or address).
    """
    if isinstance(value, list):
        return [mask_payload(v, contact_values=contact_values) for v in value]
    if not isinstance(value, dict):
        return value
    masked: dict[str, Any] = {}
    for key, item in value.items():
        if isinstance(item, str) and key in _ID_KEYS:
            masked[key] = mask_id_number(item)
        elif isinstance(item, str) and key in _PHONE_KEYS:
            masked[key] = mask_phone(item)
        elif isinstance(item, str) and key in _EMAIL_KEYS:
            masked[key] = mask_email(item)
        elif isinstance(item, str) and contact_values and key == "value":
            masked[key] = _mask_contact_value(item)
        else:
            masked[key] = mask_payload(item, contact_values=contact_values)
    return masked
