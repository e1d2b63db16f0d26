"""Masking of personal data: ID numbers and phones are shown masked unless revealed."""

from __future__ import annotations


def mask_id_number(value: str | None) -> str:
    """``110105198604011114`` → ``110***********1114`` (first 3 and last 4 kept)."""
    if not value:
        return ""
    if len(value) <= 7:
        return "*" * len(value)
    return value[:3] + "*" * (len(value) - 7) + value[-4:]


def mask_phone(value: str | None) -> str:
    """``13800138000`` → ``138****8000``; ``+8613800138000`` → ``+86138****8000``."""
    if not value:
        return ""
    prefix = ""
    digits = value
    if value.startswith("+86") and len(value) == 14:
        prefix, digits = "+86", value[3:]
    if len(digits) <= 7:
        return prefix + "*" * len(digits)
    return prefix + digits[:3] + "*" * (len(digits) - 7) + digits[-4:]


def mask_email(value: str | None) -> str:
    if not value or "@" not in value:
        return value or ""
    local, _, domain = value.partition("@")
    return (local[:1] + "***@" + domain) if local else value


def mask_contact(kind: str, value: str | None) -> str:
    """A contact point's value masked by its kind (``email`` or a phone)."""
    return mask_email(value) if kind == "email" else mask_phone(value)


def mask_recipient(channel: str, recipient: str) -> str:
    """Where a notice went: an SMS number or e-mail address masked, a postal address or a
    hand-over as it is."""
    if channel == "sms":
        return mask_phone(recipient)
    if channel == "email":
        return mask_email(recipient)
    return str(recipient)
