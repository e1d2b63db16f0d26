"""The case timeline tells what happened to a case's documents and sends, in the
reader's language: made, queued, sent, blocked (which rule and why), posted with a
tracking number, handed over, signed for."""

from __future__ import annotations

import datetime as dt
import re

import pytest
import time_machine
from django.urls import reverse

from cuishou.compliance.check import ContactBlocked
from cuishou.core.timeutil import SHANGHAI, today_shanghai
from cuishou.notices.documents import document_render
from cuishou.notices.receipts import receipt_upload
from cuishou.notices.sends import (
    document_hand_over,
    document_send,
    print_batch_create,
    tracking_numbers_record,
)
from tests.notices.conftest import approved, default_spec

SCAN = b"\x89PNG\r\n\x1a\n" + b"signed" * 100


def _page(client, settings, world, language: str) -> str:  # type: ignore[no-untyped-def]
    client.cookies[settings.LANGUAGE_COOKIE_NAME] = language
    client.force_login(world.ren)
    html = client.get(reverse("web:case-detail", args=[world.case.pk])).content.decode()
    timeline = html[html.index('id="timeline"') :]
    return re.sub(r"\s+", " ", timeline)


@pytest.fixture
def story(world):  # type: ignore[no-untyped-def]
    sms = document_render(
        actor=world.chen,
        case=world.case,
        template=approved(world.ren, world.gu, **default_spec("sms-reminder-zh")),
    )
    document_send(actor=world.chen, document=sms, channel="sms", contact_point=world.mobile)
    night = dt.datetime.combine(today_shanghai(), dt.time(23, 30), tzinfo=SHANGHAI)
    with time_machine.travel(night, tick=False), pytest.raises(ContactBlocked):
        document_send(actor=world.chen, document=sms, channel="sms", contact_point=world.mobile)
    letter = document_render(
        actor=world.ren,
        case=world.case,
        template=approved(world.ren, world.gu, **default_spec("collection-notice-zh")),
    )
    post = document_send(
        actor=world.ren,
        document=letter,
        channel="post",
        address=world.case.debtor.addresses.get(),
    )
    batch = print_batch_create(actor=world.ren, dispatches=[post])
    tracking_numbers_record(actor=world.ren, batch=batch, text=f"{letter.number},EMS42")
    handed = document_render(actor=world.chen, case=world.case, template=letter.template)
    document_hand_over(actor=world.chen, document=handed, recipient_name="张三")
    receipt_upload(
        actor=world.chen,
        reference=handed.number,
        content=SCAN,
        file_name="scan.png",
        content_type="image/png",
        signer_name="张三",
        signer_relation="本人",
        signed_on=today_shanghai(),
    )
    return {"sms": sms, "letter": letter, "handed": handed, "batch": batch}


def test_the_timeline_reads_the_sends_in_english(client, settings, world, story):
    page = _page(client, settings, world, "en")
    sms, letter, handed = story["sms"], story["letter"], story["handed"]
    assert f"SMS text (短信) {sms.number} made (template sms-reminder-zh v1)" in page
    assert f"{sms.number} queued to go by SMS (短信)" in page
    assert f"{sms.number} by SMS (短信): Sent" in page
    assert f"{sms.number} by SMS (短信) blocked by compliance (" in page
    assert "Send blocked by compliance" in page
    assert f"{letter.number} by Post (邮寄): Sent (print batch {story['batch'].number})" in page
    assert f"{letter.number} posted, tracking number EMS42" in page
    assert f"{handed.number} handed over in person to 张三" in page
    assert f"signed receipt for {handed.number}: signed by 张三 (本人) on" in page
    assert f"{handed.number} by In person, on a field visit (当面送达): Signed for (回执)" in page
    # the phone number the SMS went to is not on the page
    assert world.mobile.value not in page


def test_the_timeline_reads_the_sends_in_chinese(client, settings, world, story):
    page = _page(client, settings, world, "zh-hans")
    sms, handed = story["sms"], story["handed"]
    assert f"{sms.number} 已排队，经 短信 发送" in page
    assert f"{sms.number} 经 短信：已发送" in page
    assert f"{sms.number} 经 短信 被合规拦截（" in page
    assert "EMS42" in page and "运单号" in page
    assert f"{handed.number} 已当面送交 张三" in page
    assert f"{handed.number} 的签收回执：张三（本人）于" in page


def test_a_campaigns_blocked_message_reads_on_the_case_timeline(client, settings, world):
    from cuishou.notices.campaigns import campaign_create
    from cuishou.portfolio.services import contact_consent_record

    contact_consent_record(
        actor=world.chen,
        contact_point=world.mobile,
        channel="sms",
        state="withdrawn",
        source="call",
    )
    campaign_create(
        actor=world.ren,
        name="M2",
        template=approved(world.ren, world.gu, **default_spec("sms-reminder-zh")),
        channel="sms",
        client=world.case.client,
        buckets=["M2"],
    )
    page = _page(client, settings, world, "en")
    assert "SMS (短信) blocked by compliance (house.opt_out): " in page
