"""One sentence from a ``ValidationError`` for a page's message or an API's detail."""

from __future__ import annotations

from django.core.exceptions import ValidationError


def error_text(exc: ValidationError, *, with_fields: bool = False) -> str:
    """The messages of ``exc``, per field joined by "; " (``field: message`` when
    ``with_fields``), or all of them when it has no fields."""
    if hasattr(exc, "error_dict"):
        if with_fields:
            return "; ".join(f"{k}: {' '.join(v)}" for k, v in exc.message_dict.items())
        return "; ".join(" ".join(v) for v in exc.message_dict.values())
    return " ".join(exc.messages)
