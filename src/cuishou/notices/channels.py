"""The ways out: SMS providers (an HTTP provider adapter and the demo's outbox) and
e-mail over SMTP (Django's mailers), with retries for passing failures.

The HTTP SMS protocol (what a provider, or a gateway in front of one, speaks):

- ``POST {CUISHOU_SMS_URL}`` with a JSON body ``{"to": "+8613812345678", "text": "...",
  "reference": "N20261116-0A1B2C3D"}``;
- headers ``X-Cuishou-Timestamp`` (Unix seconds) and ``X-Cuishou-Signature``
  (``sha256=`` + hex HMAC-SHA256 of ``CUISHOU_SMS_SECRET`` over ``"{timestamp}.{body}"``);
- a 2xx answer with JSON ``{"id": "<the provider's message id>"}`` means accepted;
  5xx (or no answer) is tried again with backoff, 4xx is refused for good.

Delivery reports come back signed the same way (``api/notices``: ``POST
/api/notices/sms/reports``).
"""

from __future__ import annotations

import hashlib
import hmac
import json
import smtplib
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Protocol, TypeVar

from django.conf import settings
from django.core.mail import EmailMessage, make_msgid
from django.utils import timezone
from django.utils.translation import gettext as _

T = TypeVar("T")


class SendError(Exception):
    """A send that did not go out; ``retryable`` when trying again may help."""

    def __init__(self, reason: str, *, retryable: bool) -> None:
        super().__init__(reason)
        self.reason = reason
        self.retryable = retryable


@dataclass(frozen=True)
class Outcome:
    ok: bool
    attempts: int
    provider_ref: str = ""
    reason: str = ""


def with_retries(
    send: Callable[[], str],
    *,
    retries: int | None = None,
    backoff: float | None = None,
    sleep: Callable[[float], None] = time.sleep,
) -> Outcome:
    """Call ``send`` (it returns the provider's reference or raises SendError); a
    retryable failure is tried again up to ``retries`` more times, waiting ``backoff``
    seconds, then twice that, and so on."""
    retries = settings.CUISHOU_SEND_RETRIES if retries is None else retries
    wait = settings.CUISHOU_SEND_BACKOFF if backoff is None else backoff
    attempts = 0
    while True:
        attempts += 1
        try:
            return Outcome(ok=True, attempts=attempts, provider_ref=send())
        except SendError as exc:
            if not exc.retryable or attempts > retries:
                return Outcome(ok=False, attempts=attempts, reason=exc.reason)
        sleep(wait)
        wait *= 2


# --- SMS -------------------------------------------------------------------------------


class SmsProvider(Protocol):
    def send(self, *, to: str, text: str, reference: str) -> str:
        """Hand the message over; return the provider's id, or raise SendError."""


def signature(secret: str, timestamp: str, body: bytes) -> str:
    mac = hmac.new(secret.encode(), timestamp.encode() + b"." + body, hashlib.sha256)
    return "sha256=" + mac.hexdigest()


def signature_ok(
    secret: str, timestamp: str, body: bytes, given: str, *, max_age: int = 300
) -> bool:
    """Is ``given`` the signature of ``body`` at ``timestamp``, and is that recent?"""
    try:
        age = abs(time.time() - int(timestamp))
    except ValueError:
        return False
    return (
        bool(secret)
        and age <= max_age
        and hmac.compare_digest(signature(secret, timestamp, body), given or "")
    )


class HttpSmsProvider:
    """The HTTP provider adapter (protocol above)."""

    def __init__(self, *, url: str, secret: str, timeout: float = 10.0) -> None:
        if not url or not secret:
            raise ValueError("the HTTP SMS provider needs CUISHOU_SMS_URL and CUISHOU_SMS_SECRET")
        self.url, self.secret, self.timeout = url, secret, timeout

    def send(self, *, to: str, text: str, reference: str) -> str:
        body = json.dumps({"to": to, "text": text, "reference": reference}, ensure_ascii=False)
        data = body.encode()
        stamp = str(int(time.time()))
        request = urllib.request.Request(
            self.url,
            data=data,
            method="POST",
            headers={
                "Content-Type": "application/json; charset=utf-8",
                "X-Cuishou-Timestamp": stamp,
                "X-Cuishou-Signature": signature(self.secret, stamp, data),
            },
        )
        try:
            with urllib.request.urlopen(request, timeout=self.timeout) as response:
                answer = json.loads(response.read() or b"{}")
        except urllib.error.HTTPError as exc:
            detail = exc.read()[:200].decode(errors="replace")
            raise SendError(
                _("The SMS provider answered HTTP %(code)d: %(detail)s")
                % {"code": exc.code, "detail": detail},
                retryable=exc.code >= 500 or exc.code == 429,
            ) from None
        except (urllib.error.URLError, TimeoutError, OSError) as exc:
            raise SendError(
                _("The SMS provider could not be reached: %(error)s") % {"error": exc},
                retryable=True,
            ) from None
        except ValueError:
            raise SendError(_("The SMS provider's answer is not JSON."), retryable=False) from None
        ref = str(answer.get("id") or "") if isinstance(answer, dict) else ""
        if not ref:
            raise SendError(_("The SMS provider's answer has no message id."), retryable=False)
        return ref


class OutboxSmsProvider:
    """The demo's provider: keeps the message in ``SmsOutbox``; nothing goes out."""

    def send(self, *, to: str, text: str, reference: str) -> str:
        from cuishou.notices.models import SmsOutbox

        row = SmsOutbox.objects.create(
            to=to, text=text, reference=reference, created_at=timezone.now()
        )
        return f"outbox-{row.pk}"

    def send_many(self, messages: list[tuple[str, str, str]]) -> list[str]:
        """(to, text, reference) each, in one insert; the references, in order."""
        from cuishou.notices.models import SmsOutbox

        now = timezone.now()
        rows = SmsOutbox.objects.bulk_create(
            [SmsOutbox(to=t, text=x, reference=r, created_at=now) for t, x, r in messages],
            batch_size=2000,
        )
        return [
            f"outbox-{row.pk}" if row.pk else f"outbox-{r}"
            for row, (_t, _x, r) in zip(rows, messages, strict=True)
        ]


def sms_provider() -> Any:
    """The configured provider (``CUISHOU_SMS_BACKEND``: ``outbox`` or ``http``)."""
    if settings.CUISHOU_SMS_BACKEND == "http":
        return HttpSmsProvider(
            url=settings.CUISHOU_SMS_URL,
            secret=settings.CUISHOU_SMS_SECRET,
            timeout=settings.CUISHOU_SMS_TIMEOUT,
        )
    if settings.CUISHOU_SMS_BACKEND == "outbox":
        return OutboxSmsProvider()
    raise ValueError("CUISHOU_SMS_BACKEND must be outbox or http")


# --- e-mail ----------------------------------------------------------------------------


def email_send(
    *,
    to: str,
    subject: str,
    body: str,
    reference: str,
    attachment: tuple[str, bytes, str] | None = None,
) -> str:
    """Send one e-mail through the default mailer; its Message-ID, or SendError."""
    message_id = make_msgid(domain="cuishou.localhost")
    message = EmailMessage(
        subject=subject,
        body=body,
        from_email=settings.DEFAULT_FROM_EMAIL,
        to=[to],
        headers={"X-Cuishou-Document": reference, "Message-ID": message_id},
    )
    if attachment is not None:
        message.attach(*attachment)
    try:
        message.send()
    except smtplib.SMTPRecipientsRefused as exc:
        raise SendError(
            _("The mail server refused the address: %(error)s") % {"error": exc.recipients},
            retryable=False,
        ) from None
    except (smtplib.SMTPException, OSError) as exc:
        raise SendError(
            _("The mail server could not take the message: %(error)s") % {"error": exc},
            retryable=True,
        ) from None
    return message_id
