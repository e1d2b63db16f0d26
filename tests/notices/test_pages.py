"""The written-collection pages: templates (list, edit = new version, approve/reject by
a compliance officer), a case's documents and sends, campaigns. What a user sees."""

from __future__ import annotations

import re

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse

from cuishou.core.timeutil import today_shanghai
from cuishou.notices.choices import TemplateStatus
from cuishou.notices.documents import document_render, verify_url
from cuishou.notices.models import Campaign, Dispatch, Document, NoticeTemplate, SmsOutbox
from cuishou.notices.sends import document_send, print_batch_create
from cuishou.notices.templates import template_create
from tests.factories import (
    AddressFactory,
    CaseFactory,
    ContactPointFactory,
    DebtorFactory,
    LoanFactory,
)
from tests.notices.conftest import approved, default_spec

SCAN = b"\x89PNG\r\n\x1a\n" + b"signed" * 100


@pytest.fixture(autouse=True)
def _english(client, settings):  # type: ignore[no-untyped-def]
    client.cookies[settings.LANGUAGE_COOKIE_NAME] = "en"


def _text(response) -> str:  # type: ignore[no-untyped-def]
    return re.sub(r"\s+", " ", response.content.decode())


def _case_page(client, world):  # type: ignore[no-untyped-def]
    return client.get(reverse("web:case-detail", args=[world.case.pk]))


# --- templates ------------------------------------------------------------------------


def test_the_template_list_shows_each_key_latest_version_and_what_waits(client, world):
    approved(world.ren, world.gu, **default_spec("sms-reminder-zh"))
    template_create(actor=world.ren, **default_spec("collection-notice-zh"))  # type: ignore[arg-type]
    client.force_login(world.gu)
    page = _text(client.get(reverse("notices:template-list")))
    assert "1 draft waits for your approval." in page
    assert "Approved" in page and "Draft (awaiting approval)" in page
    assert 'href="/notices/templates/' in page


def test_a_collector_sees_templates_but_no_approval_and_no_edit(client, world):
    t = template_create(actor=world.ren, **default_spec("sms-reminder-zh"))  # type: ignore[arg-type]
    client.force_login(world.chen)
    page = _text(client.get(reverse("notices:template-detail", args=[t.pk])))
    assert "Compliance decision" not in page and "Edit (makes a new version)" not in page
    assert client.get(reverse("notices:template-edit", args=[t.pk])).status_code == 403
    response = client.post(
        reverse("notices:template-decide", args=[t.pk]), {"decision": "approve"}, follow=True
    )
    assert "Only a compliance officer approves notice templates." in _text(response)
    t.refresh_from_db()
    assert t.status == TemplateStatus.DRAFT


def test_editing_makes_a_new_draft_version_that_stops_sending_until_approved(client, world):
    v1 = approved(world.ren, world.gu, **default_spec("sms-reminder-zh"))
    client.force_login(world.ren)
    response = client.post(
        reverse("notices:template-edit", args=[v1.pk]),
        {"name": v1.name, "subject": v1.subject, "body": v1.body + " 谢谢。"},
        follow=True,
    )
    page = _text(response)
    assert "Version 2 saved as a draft: a compliance officer approves it." in page
    v2 = NoticeTemplate.objects.get(key=v1.key, version=2)
    assert v2.body.endswith("谢谢。") and v2.status == TemplateStatus.DRAFT
    v1.refresh_from_db()
    assert v1.status == TemplateStatus.APPROVED and "谢谢" not in v1.body
    # the case page offers no sendable version of the key any more
    client.force_login(world.chen)
    assert "No approved template yet." in _text(_case_page(client, world))


def test_a_bad_edit_says_why_and_saves_nothing(client, world):
    v1 = approved(world.ren, world.gu, **default_spec("sms-reminder-zh"))
    client.force_login(world.ren)
    response = client.post(
        reverse("notices:template-edit", args=[v1.pk]),
        {"name": v1.name, "subject": "", "body": "{% load static %}你好"},
    )
    assert response.status_code == 400
    assert NoticeTemplate.objects.filter(key=v1.key).count() == 1


def test_a_compliance_officer_approves_and_another_rejects(client, world):
    t = template_create(actor=world.ren, **default_spec("sms-reminder-zh"))  # type: ignore[arg-type]
    client.force_login(world.gu)
    page = _text(client.get(reverse("notices:template-detail", args=[t.pk])))
    assert "Compliance decision" in page
    response = client.post(
        reverse("notices:template-decide", args=[t.pk]),
        {"decision": "approve", "note": "ok"},
        follow=True,
    )
    assert "Version 1 approved: it may be sent." in _text(response)
    t.refresh_from_db()
    assert t.status == TemplateStatus.APPROVED and t.decided_by == world.gu

    client.force_login(world.ren)
    client.post(
        reverse("notices:template-edit", args=[t.pk]),
        {"name": t.name, "subject": "", "body": t.body + "!"},
    )
    v2 = NoticeTemplate.objects.get(key=t.key, version=2)
    client.force_login(world.he)
    response = client.post(
        reverse("notices:template-decide", args=[v2.pk]),
        {"decision": "reject", "note": "no"},
        follow=True,
    )
    assert "Version 2 rejected." in _text(response)


def test_the_author_of_a_draft_cannot_approve_it(client, world):
    t = template_create(actor=world.gu, **default_spec("sms-reminder-zh"))  # type: ignore[arg-type]
    client.force_login(world.gu)
    page = _text(client.get(reverse("notices:template-detail", args=[t.pk])))
    assert "You wrote this version: another compliance officer must decide it." in page
    assert "Compliance decision" not in page


def test_approval_refuses_prohibited_language_and_names_it(client, world):
    spec = default_spec("sms-reminder-zh")
    spec["body"] = "{{ debtor.name }}，不还钱就曝光你，让你全家丢脸。"
    t = template_create(actor=world.ren, **spec)  # type: ignore[arg-type]
    client.force_login(world.gu)
    page = _text(client.get(reverse("notices:template-detail", args=[t.pk])))
    assert "Problems the approval check finds" in page
    client.post(reverse("notices:template-decide", args=[t.pk]), {"decision": "approve"})
    t.refresh_from_db()
    assert t.status == TemplateStatus.DRAFT


# --- a case's documents and sends --------------------------------------------------------


def test_render_and_send_an_sms_from_the_case_page(client, world):
    t = approved(world.ren, world.gu, **default_spec("sms-reminder-zh"))
    client.force_login(world.chen)
    page = _text(_case_page(client, world))
    assert "Documents and sends" in page and "No documents yet." in page
    response = client.post(
        reverse("notices:document-new", args=[world.case.pk]), {"template": t.pk}, follow=True
    )
    doc = Document.objects.get(case=world.case)
    assert f"Document {doc.number} made." in _text(response)
    response = client.post(
        reverse("notices:document-send", args=[doc.number]),
        {"channel": "sms", "to": world.mobile.pk},
        follow=True,
    )
    page = _text(response)
    assert f"{doc.number}: Sent." in page
    assert '<td data-label="Sent to">138****5678</td>' in page  # masked, here
    assert world.mobile.value not in page  # and on the timeline
    assert SmsOutbox.objects.filter(to=world.mobile.value).count() == 1


def test_a_send_compliance_blocks_says_why_on_the_case_page(client, world):
    import time_machine

    from cuishou.core.timeutil import SHANGHAI

    t = approved(world.ren, world.gu, **default_spec("sms-reminder-zh"))
    doc = document_render(actor=world.chen, case=world.case, template=t)
    client.force_login(world.chen)
    import datetime as dt

    night = dt.datetime.combine(today_shanghai(), dt.time(23, 30), tzinfo=SHANGHAI)
    with time_machine.travel(night, tick=False):
        response = client.post(
            reverse("notices:document-send", args=[doc.number]),
            {"channel": "sms", "to": world.mobile.pk},
            follow=True,
        )
    page = _text(response)
    assert "Blocked by compliance:" in page
    assert "Blocked by compliance" in page and SmsOutbox.objects.count() == 0
    assert Dispatch.objects.get(document=doc).status == "blocked"


def test_post_tracking_number_and_signed_receipt_from_the_case_page(client, world):
    t = approved(world.ren, world.gu, **default_spec("collection-notice-zh"))
    doc = document_render(actor=world.ren, case=world.case, template=t)
    address = world.case.debtor.addresses.get()
    client.force_login(world.ren)
    response = client.post(
        reverse("notices:document-send", args=[doc.number]),
        {"channel": "post", "to": address.pk},
        follow=True,
    )
    assert f"{doc.number}: Queued." in _text(response)
    assert "waits for the print batch" in _text(response)
    send = Dispatch.objects.get(document=doc)
    print_batch_create(actor=world.ren, dispatches=[send])
    response = client.post(
        reverse("notices:tracking-record", args=[send.pk]),
        {"tracking_number": "EMS123456789CN"},
        follow=True,
    )
    page = _text(response)
    assert f"Tracking number EMS123456789CN recorded for {doc.number}." in page
    send.refresh_from_db()
    assert send.tracking_number == "EMS123456789CN"

    response = client.post(
        reverse("notices:receipt-upload", args=[doc.number]),
        {
            "file": SimpleUploadedFile("scan.png", SCAN, content_type="image/png"),
            "reference": verify_url(doc.number),
            "signer_name": "张三",
            "signer_relation": "本人",
            "signed_on": today_shanghai().isoformat(),
        },
        follow=True,
    )
    page = _text(response)
    assert f"Signed receipt for {doc.number} kept." in page
    assert "Signed for by 张三" in page and "Signed for (回执)" in page
    send.refresh_from_db()
    assert send.status == "signed"


def test_a_receipt_without_a_file_is_refused_and_says_so(client, world):
    t = approved(world.ren, world.gu, **default_spec("collection-notice-zh"))
    doc = document_render(actor=world.chen, case=world.case, template=t)
    client.force_login(world.chen)
    response = client.post(
        reverse("notices:receipt-upload", args=[doc.number]),
        {"signer_name": "张三", "signed_on": today_shanghai().isoformat()},
        follow=True,
    )
    assert "Attach the photo or scan of the signed receipt." in _text(response)
    assert not doc.receipts.exists()


def test_another_collectors_case_documents_are_out_of_reach(client, world):
    from tests.factories import UserFactory

    t = approved(world.ren, world.gu, **default_spec("sms-reminder-zh"))
    doc = document_render(actor=world.chen, case=world.case, template=t)
    client.force_login(UserFactory(username="zhou", role="collector"))
    response = client.post(
        reverse("notices:document-send", args=[doc.number]),
        {"channel": "sms", "to": world.mobile.pk},
    )
    assert response.status_code == 404
    assert not Dispatch.objects.exists()


def test_the_case_page_takes_as_many_queries_with_many_documents(client, world):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    t = approved(world.ren, world.gu, **default_spec("sms-reminder-zh"))
    client.force_login(world.chen)

    def queries() -> int:
        with CaptureQueriesContext(connection) as captured:
            assert _case_page(client, world).status_code == 200
        return len(captured)

    doc = document_render(actor=world.chen, case=world.case, template=t)
    document_send(actor=world.chen, document=doc, channel="sms", contact_point=world.mobile)
    one = queries()
    for _n in range(4):
        doc = document_render(actor=world.chen, case=world.case, template=t)
        document_send(actor=world.chen, document=doc, channel="sms", contact_point=world.mobile)
    assert queries() == one


# --- campaigns ----------------------------------------------------------------------------


def test_a_new_campaign_runs_and_its_report_lists_the_blocked(client, world):
    t = approved(world.ren, world.gu, **default_spec("sms-reminder-zh"))
    debtor = DebtorFactory(name="孙八")
    CaseFactory(client=world.case.client, debtor=debtor, bucket="M2", assignee=world.chen)
    LoanFactory(client=world.case.client, debtor=debtor)  # no mobile: blocked
    other = DebtorFactory(name="M3的人")
    CaseFactory(client=world.case.client, debtor=other, bucket="M3")
    ContactPointFactory(debtor=other, is_primary=True)
    AddressFactory(debtor=other)
    client.force_login(world.ren)
    page = _text(client.get(reverse("notices:campaign-new")))
    assert "Start the campaign" in page and t.name in page
    response = client.post(
        reverse("notices:campaign-new"),
        {
            "name": "M2 提醒",
            "template": t.pk,
            "channel": "sms",
            "client": world.case.client.pk,
            "buckets": ["M2"],
        },
        follow=True,
    )
    page = _text(response)
    campaign = Campaign.objects.get()
    assert "Campaign M2 提醒 queued: 2 cases." in page
    assert campaign.status == "done"  # the tests' task backend runs it at once
    assert 'data-count="sent">1<' in page and 'data-count="blocked">1<' in page
    assert "notices.no_contact_point" in page and "孙八" in page
    assert "Sends by delivery status" in page and "Sent" in page

    listing = _text(client.get(reverse("notices:campaign-list")))
    assert "M2 提醒" in listing and "Done" in listing


def test_a_campaign_without_a_client_is_refused_with_the_reason(client, world):
    t = approved(world.ren, world.gu, **default_spec("sms-reminder-zh"))
    client.force_login(world.ren)
    response = client.post(
        reverse("notices:campaign-new"),
        {"name": "x", "template": t.pk, "channel": "sms"},
    )
    assert response.status_code == 400
    assert "Pick the client whose cases it goes to." in _text(response)
    assert not Campaign.objects.exists()


def test_a_collector_has_no_campaign_pages(client, world):
    client.force_login(world.chen)
    assert client.get(reverse("notices:campaign-new")).status_code == 403
    assert client.get(reverse("notices:campaign-list")).status_code == 403
    assert "Campaigns</a>" not in _text(client.get(reverse("web:case-list")))


def test_a_running_campaign_page_polls_its_progress(client, world):
    t = approved(world.ren, world.gu, **default_spec("sms-reminder-zh"))
    from cuishou.notices.campaigns import campaign_create

    campaign = campaign_create(
        actor=world.ren,
        name="later",
        template=t,
        channel="sms",
        client=world.case.client,
        start=False,
    )
    client.force_login(world.ren)
    page = _text(client.get(reverse("notices:campaign-detail", args=[campaign.pk])))
    assert 'hx-trigger="every 2s"' in page and "Report" not in page
    fragment = client.get(
        reverse("notices:campaign-detail", args=[campaign.pk]),
        headers={"HX-Request": "true", "HX-Target": "campaign-progress"},
    )
    assert fragment.content.decode().lstrip().startswith('<div id="campaign-progress"')


def test_a_printed_letter_is_marked_delivered_then_returned_by_hand_with_the_reason(client, world):
    t = approved(world.ren, world.gu, **default_spec("collection-notice-zh"))
    doc = document_render(actor=world.ren, case=world.case, template=t)
    address = world.case.debtor.addresses.get()
    send = document_send(actor=world.ren, document=doc, channel="post", address=address)
    print_batch_create(actor=world.ren, dispatches=[send])
    send.refresh_from_db()
    assert send.status == "sent"
    client.force_login(world.ren)
    url = reverse("notices:send-status", args=[send.pk])

    page = _text(client.post(url, {"status": "delivered"}, follow=True))
    assert f"{doc.number}: Delivered recorded." in page
    page = _text(client.post(url, {"status": "returned", "reason": " "}, follow=True))
    assert "Say why the letter came back." in page
    send.refresh_from_db()
    assert send.status == "delivered"
    page = _text(client.post(url, {"status": "returned", "reason": "查无此人"}, follow=True))
    assert f"{doc.number}: Returned recorded." in page
    send.refresh_from_db()
    assert (send.status, send.reason) == ("returned", "查无此人")
    page = _text(client.post(url, {"status": "failed"}, follow=True))
    assert "Choose delivered or returned." in page


def test_delivery_is_recorded_only_by_a_role_that_sends_on_a_case_in_scope(world):
    from django.core.exceptions import PermissionDenied

    from cuishou.notices.sends import dispatch_status_set
    from tests.factories import UserFactory

    t = approved(world.ren, world.gu, **default_spec("collection-notice-zh"))
    doc = document_render(actor=world.ren, case=world.case, template=t)
    send = document_send(
        actor=world.ren, document=doc, channel="post", address=world.case.debtor.addresses.get()
    )
    print_batch_create(actor=world.ren, dispatches=[send])
    officer = UserFactory(username="gu2", role="compliance_officer")
    with pytest.raises(PermissionDenied, match="may not record delivery"):
        dispatch_status_set(actor=officer, dispatch=send, status="delivered")
    stranger = UserFactory(username="zhou", role="collector")
    with pytest.raises(PermissionDenied, match="not in your scope"):
        dispatch_status_set(actor=stranger, dispatch=send, status="delivered")
    send.refresh_from_db()
    assert send.status == "sent"


# --- the post room --------------------------------------------------------------------


def test_the_post_room_prints_the_queued_letters_and_takes_their_tracking_numbers(client, world):
    t = approved(world.ren, world.gu, **default_spec("collection-notice-zh"))
    address = world.case.debtor.addresses.get()
    docs = [document_render(actor=world.ren, case=world.case, template=t) for _ in range(2)]
    for d in docs:
        document_send(actor=world.ren, document=d, channel="post", address=address)
    client.force_login(world.ren)
    page = _text(client.get(reverse("notices:print-batches")))
    assert "2 letters wait for the print batch" in page
    assert all(d.number in page for d in docs)

    page = _text(client.post(reverse("notices:print-batches"), follow=True))
    batch = world.case.dispatches.first().print_batch
    assert f"Print batch {batch.number}: 2 letters, one per page." in page
    assert "0 letters wait for the print batch" in page
    pdf = client.get(reverse("notices:print-batch-file", args=[batch.number, "pdf"]))
    assert pdf["Content-Type"] == "application/pdf" and pdf.content.startswith(b"%PDF")
    import io

    from pypdf import PdfReader

    assert len(PdfReader(io.BytesIO(pdf.content)).pages) >= 2
    mailing = client.get(reverse("notices:print-batch-file", args=[batch.number, "csv"]))
    text = mailing.content.decode("utf-8-sig")
    assert text.splitlines()[0] == "document_number,recipient,address,tracking_number"
    assert all(d.number in text for d in docs)

    # The mailing list comes back filled in; a line naming a letter of no batch is refused whole.
    filled = text.replace(f"{docs[0].number},", f"{docs[0].number},", 1)
    bad = f"{docs[0].number},EMS1\nNOPE-1,EMS2\n"
    page = _text(
        client.post(
            reverse("notices:print-batch-tracking", args=[batch.number]),
            {"lines": bad},
            follow=True,
        )
    )
    assert "line 2: NOPE-1 is not in this batch" in page
    assert not Dispatch.objects.exclude(tracking_number="").exists()
    lines = "\n".join(f"{d.number},EMS00{i}CN" for i, d in enumerate(docs))
    upload = SimpleUploadedFile(
        "mailing.csv", (filled.splitlines()[0] + "\n" + lines).encode("gb18030")
    )
    page = _text(
        client.post(
            reverse("notices:print-batch-tracking", args=[batch.number]),
            {"file": upload},
            follow=True,
        )
    )
    assert f"2 tracking numbers recorded for {batch.number}." in page
    assert sorted(Dispatch.objects.values_list("tracking_number", flat=True)) == [
        "EMS000CN",
        "EMS001CN",
    ]


def test_the_post_room_is_for_roles_that_make_print_batches_and_their_cases(client, world):
    from tests.factories import UserFactory

    t = approved(world.ren, world.gu, **default_spec("collection-notice-zh"))
    doc = document_render(actor=world.ren, case=world.case, template=t)
    document_send(
        actor=world.ren, document=doc, channel="post", address=world.case.debtor.addresses.get()
    )
    client.force_login(world.chen)  # a collector: no print batches
    assert client.get(reverse("notices:print-batches")).status_code == 403
    lead = UserFactory(username="lead9", role="team_lead")  # sees none of these cases
    client.force_login(lead)
    assert "0 letters wait for the print batch" in _text(
        client.get(reverse("notices:print-batches"))
    )
    client.post(reverse("notices:print-batches"))
    assert not doc.dispatches.filter(print_batch__isnull=False).exists()
