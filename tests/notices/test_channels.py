"""Channels: e-mail to a real SMTP server, SMS through the signed HTTP provider protocol
(retried with backoff on 5xx), the outbox, post (print batch + mailing list + tracking
numbers), hand-over; compliance first, and nothing marked sent that was not."""

from __future__ import annotations

import csv
import datetime as dt
import io

import pytest
from django.core.exceptions import ValidationError

from cuishou.audit.models import AuditEvent
from cuishou.compliance.check import ContactBlocked
from cuishou.core.timeutil import SHANGHAI, today_shanghai
from cuishou.notices.documents import document_render
from cuishou.notices.models import Dispatch, SmsOutbox
from cuishou.notices.sends import (
    dispatch_status_set,
    document_hand_over,
    document_send,
    print_batch_create,
    tracking_numbers_record,
)
from cuishou.portfolio.models import Address
from tests.notices.conftest import approved, default_spec
from tests.notices.pdf import pdf_pages, squeeze
from tests.notices.servers import free_port, sms_gateway, smtp_server


@pytest.fixture
def fast_retries(settings):
    settings.CUISHOU_SEND_RETRIES = 2
    settings.CUISHOU_SEND_BACKOFF = 0.01


def _smtp(settings, port):
    settings.MAILERS = {
        "default": {
            "BACKEND": "django.core.mail.backends.smtp.EmailBackend",
            "OPTIONS": {"host": "127.0.0.1", "port": port, "timeout": 5},
        }
    }


def _doc(world, key, **kw):
    return document_render(
        actor=world.chen,
        case=world.case,
        template=approved(world.ren, world.gu, **default_spec(key)),
        **kw,
    )


def test_an_email_with_the_letter_attached_reaches_the_smtp_server(world, settings, fast_retries):
    doc = _doc(world, "collection-notice-zh")
    with smtp_server() as sink:
        _smtp(settings, sink.port)
        sent = document_send(
            actor=world.chen, document=doc, channel="email", contact_point=world.email
        )
    assert sent.status == "sent" and sent.attempts == 1 and sent.provider_ref
    (message,) = sink.messages
    assert message["To"] == "zhangsan@example.com"
    assert message["X-Cuishou-Document"] == doc.number
    assert message["Subject"] == "催款通知书"
    (attachment,) = list(message.iter_attachments())
    assert attachment.get_filename() == f"{doc.number}.pdf"
    assert attachment.get_content() == bytes(doc.pdf)  # the very document that was hashed
    assert "张三" in message.get_body(("plain",)).get_content()


def test_smtp_refused_is_retried_then_failed_with_the_reason(world, settings, fast_retries):
    doc = _doc(world, "email-reminder-zh")
    _smtp(settings, free_port())  # nobody listens there
    sent = document_send(actor=world.chen, document=doc, channel="email", contact_point=world.email)
    assert sent.status == "failed" and sent.attempts == 3
    assert "could not take the message" in sent.reason
    assert not Dispatch.objects.filter(status="sent").exists()


def test_sms_through_the_http_provider_is_signed(world, settings, fast_retries):
    doc = _doc(world, "sms-reminder-zh")
    with sms_gateway() as gw:
        settings.CUISHOU_SMS_BACKEND, settings.CUISHOU_SMS_URL = "http", gw.url
        settings.CUISHOU_SMS_SECRET = gw.secret
        sent = document_send(
            actor=world.chen, document=doc, channel="sms", contact_point=world.mobile
        )
    assert (sent.status, sent.provider_ref, gw.bad_signatures) == ("sent", "gw-1", 0)
    assert gw.received == [{"to": "13812345678", "text": doc.text, "reference": doc.number}]


def test_provider_500_is_retried_with_backoff_and_then_it_goes_out(world, settings, fast_retries):
    doc = _doc(world, "sms-reminder-zh")
    with sms_gateway(fail_first=2) as gw:
        settings.CUISHOU_SMS_BACKEND, settings.CUISHOU_SMS_URL = "http", gw.url
        settings.CUISHOU_SMS_SECRET = gw.secret
        sent = document_send(
            actor=world.chen, document=doc, channel="sms", contact_point=world.mobile
        )
    assert (sent.status, sent.attempts, gw.calls) == ("sent", 3, 3)


def test_provider_500_every_time_fails_with_the_reason_and_nothing_is_sent(
    world, settings, fast_retries
):
    doc = _doc(world, "sms-reminder-zh")
    with sms_gateway(fail_first=99) as gw:
        settings.CUISHOU_SMS_BACKEND, settings.CUISHOU_SMS_URL = "http", gw.url
        settings.CUISHOU_SMS_SECRET = gw.secret
        sent = document_send(
            actor=world.chen, document=doc, channel="sms", contact_point=world.mobile
        )
    assert (sent.status, sent.attempts) == ("failed", 3)
    assert "HTTP 500" in sent.reason and gw.received == []


def test_a_wrong_secret_is_refused_for_good_not_retried(world, settings, fast_retries):
    doc = _doc(world, "sms-reminder-zh")
    with sms_gateway() as gw:
        settings.CUISHOU_SMS_BACKEND, settings.CUISHOU_SMS_URL = "http", gw.url
        settings.CUISHOU_SMS_SECRET = "not-the-secret"
        sent = document_send(
            actor=world.chen, document=doc, channel="sms", contact_point=world.mobile
        )
    assert (sent.status, sent.attempts, gw.bad_signatures) == ("failed", 1, 1)
    assert "HTTP 401" in sent.reason


def test_the_demo_outbox_keeps_the_sms(world):
    doc = _doc(world, "sms-reminder-zh")
    sent = document_send(actor=world.chen, document=doc, channel="sms", contact_point=world.mobile)
    assert sent.status == "sent"
    assert SmsOutbox.objects.get().to == world.mobile.value
    assert SmsOutbox.objects.get().text == doc.text
    # the send's audit line, shown in lists, carries the number masked
    summary = AuditEvent.objects.get(action="dispatch.queue").summary
    assert doc.number in summary and world.mobile.value not in summary


def test_compliance_blocks_a_send_late_at_night_and_says_why(world):
    doc = _doc(world, "sms-reminder-zh")
    late = dt.datetime.combine(today_shanghai(), dt.time(22, 30), tzinfo=SHANGHAI)
    with pytest.raises(ContactBlocked) as exc:
        document_send(
            actor=world.chen, document=doc, channel="sms", contact_point=world.mobile, at=late
        )
    assert "cn.quiet_hours" in exc.value.decision.rule_ids
    blocked = Dispatch.objects.get()
    assert blocked.status == "blocked" and "22:30" in blocked.reason
    assert blocked.compliance_rules == ["cn.quiet_hours"]
    assert not SmsOutbox.objects.exists()
    assert AuditEvent.objects.filter(action="dispatch.blocked", case_id=world.case.pk).exists()


def test_a_template_edited_after_the_render_stops_the_send(world):
    from cuishou.notices.templates import template_revise

    doc = _doc(world, "sms-reminder-zh")
    template_revise(
        actor=world.ren, template=doc.template, name="x", subject="", body=doc.template.body + " "
    )
    with pytest.raises(ValidationError, match="newer version"):
        document_send(actor=world.chen, document=doc, channel="sms", contact_point=world.mobile)
    assert not Dispatch.objects.exists()


def test_post_print_batch_one_letter_per_page_mailing_list_and_tracking(world):
    address = Address.objects.get(debtor=world.case.debtor, kind="mailing")
    a = _doc(world, "collection-notice-zh")
    b = document_render(actor=world.chen, case=world.case, template=a.template)
    sends = [
        document_send(actor=world.chen, document=d, channel="post", address=address) for d in (a, b)
    ]
    assert [s.status for s in sends] == ["queued", "queued"]

    batch = print_batch_create(actor=world.ren, dispatches=sends)
    pages = pdf_pages(bytes(batch.pdf))
    assert len(pages) == 2
    assert a.number in squeeze(pages[0]) and b.number in squeeze(pages[1])
    rows = list(csv.DictReader(io.StringIO(batch.mailing_list)))
    assert [r["document_number"] for r in rows] == [a.number, b.number]
    assert rows[0]["address"] == "上海市徐汇区漕溪北路88号"
    assert set(Dispatch.objects.values_list("status", flat=True)) == {"sent"}

    with pytest.raises(ValidationError, match="line 2"):
        tracking_numbers_record(actor=world.ren, batch=batch, text=f"{a.number},EMS1\nN-NOPE,EMS2")
    assert not Dispatch.objects.exclude(tracking_number="").exists()  # all or nothing
    assert (
        tracking_numbers_record(
            actor=world.ren, batch=batch, text=f"{a.number},EMS1\n{b.number},EMS2"
        )
        == 2
    )
    assert sorted(Dispatch.objects.values_list("tracking_number", flat=True)) == ["EMS1", "EMS2"]


def test_a_hand_over_on_a_visit_is_recorded_delivered_and_can_be_returned_no_further(world):
    doc = _doc(world, "collection-notice-zh")
    handed = document_hand_over(actor=world.chen, document=doc, recipient_name="张三", place="住宅")
    assert handed.status == "delivered" and handed.channel == "in_person"
    with pytest.raises(ValidationError, match="cannot become"):
        dispatch_status_set(actor=world.chen, dispatch=handed, status="sent")


def test_the_providers_signed_delivery_report_marks_the_sms_delivered_once(
    world, settings, fast_retries, client
):
    import json
    import time

    from django.urls import reverse

    from cuishou.notices.channels import signature

    doc = _doc(world, "sms-reminder-zh")
    with sms_gateway() as gw:
        settings.CUISHOU_SMS_BACKEND, settings.CUISHOU_SMS_URL = "http", gw.url
        settings.CUISHOU_SMS_SECRET = gw.secret
        sent = document_send(
            actor=world.chen, document=doc, channel="sms", contact_point=world.mobile
        )
    url = reverse("notices:sms-delivery-report")

    def report(payload: dict, *, secret: str = gw.secret):  # type: ignore[no-untyped-def]
        body = json.dumps(payload).encode()
        stamp = str(int(time.time()))
        return client.post(
            url,
            body,
            content_type="application/json",
            headers={
                "X-Cuishou-Timestamp": stamp,
                "X-Cuishou-Signature": signature(secret, stamp, body),
            },
        )

    assert (
        report({"id": sent.provider_ref, "status": "delivered"}, secret="wrong").status_code == 403
    )
    assert report({"id": "gw-999", "status": "delivered"}).status_code == 404
    assert report({"id": sent.provider_ref, "status": "read"}).status_code == 400
    sent.refresh_from_db()
    assert sent.status == "sent"

    assert report({"id": sent.provider_ref, "status": "delivered"}).status_code == 204
    assert report({"id": sent.provider_ref, "status": "delivered"}).status_code == 204
    sent.refresh_from_db()
    assert sent.status == "delivered"
    reported = AuditEvent.objects.filter(action="dispatch.status", actor_label="sms-provider")
    assert reported.count() == 1  # the repeat changed nothing
    client.cookies[settings.LANGUAGE_COOKIE_NAME] = "en"
    conflict = report({"id": sent.provider_ref, "status": "failed", "reason": "late"})
    assert conflict.status_code == 409
    assert conflict.json()["detail"] == f"The SMS {sent.provider_ref} is delivered already."
