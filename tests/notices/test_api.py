"""Written collection through the API: what a client of the API sees — the templates,
a rendered document, a send (and a refusal with the rules), the public verification,
a campaign's status and report."""

from __future__ import annotations

import datetime as dt

import time_machine
from django.test import Client

from cuishou.core.timeutil import SHANGHAI, today_shanghai
from cuishou.notices.models import Dispatch, SmsOutbox
from cuishou.notices.templates import template_create
from tests.api.client import logged_in, post_json
from tests.factories import UserFactory
from tests.notices.conftest import approved, default_spec


def test_templates_list_and_get_say_which_may_be_sent(world):
    ok = approved(world.ren, world.gu, **default_spec("sms-reminder-zh"))
    draft = template_create(actor=world.ren, **default_spec("collection-notice-zh"))  # type: ignore[arg-type]
    c = logged_in(world.chen)
    rows = {r["key"]: r for r in c.get("/api/notices/templates").json()}
    assert rows[ok.key]["sendable"] is True and rows[ok.key]["status"] == "approved"
    assert rows[draft.key]["sendable"] is False and rows[draft.key]["status"] == "draft"
    only = c.get("/api/notices/templates", {"status": "draft"}).json()
    assert [r["key"] for r in only] == [draft.key]
    one = c.get(f"/api/notices/templates/{ok.pk}").json()
    assert one["body"] == ok.body and one["created_by"] == "ren"
    assert c.get("/api/notices/templates/999999").status_code == 404


def test_a_role_without_template_access_is_refused(db):
    finance = UserFactory(username="fin", role="finance")
    assert logged_in(finance).get("/api/notices/templates").status_code == 403


def test_render_send_and_verify_a_document(world):
    t = approved(world.ren, world.gu, **default_spec("sms-reminder-zh"))
    c = logged_in(world.chen)
    made = post_json(c, f"/api/cases/{world.case.pk}/documents", {"template_id": t.pk})
    assert made.status_code == 201, made.content
    doc = made.json()
    assert doc["kind"] == "sms" and doc["sends"] == [] and len(doc["sha256"]) == 64
    assert doc["verify_url"].endswith(f"/notices/verify/{doc['number']}/")

    sent = post_json(
        c,
        f"/api/notices/documents/{doc['number']}/send",
        {"channel": "sms", "contact_point_id": world.mobile.pk},
    )
    assert sent.status_code == 201, sent.content
    assert sent.json()["status"] == "sent"
    assert SmsOutbox.objects.filter(to=world.mobile.value).count() == 1
    listed = c.get(f"/api/cases/{world.case.pk}/documents").json()
    assert [s["status"] for s in listed[0]["sends"]] == ["sent"]

    public = Client().get(f"/api/notices/verify/{doc['number']}")
    assert public.status_code == 200
    assert public.json() == {
        "number": doc["number"],
        "kind": "sms",
        "issued_at": public.json()["issued_at"],
        "sha256": doc["sha256"],
    }
    assert Client().get("/api/notices/verify/N20000101-0000000000").status_code == 404


def test_a_send_compliance_refuses_is_409_with_the_rules_and_recorded(world):
    t = approved(world.ren, world.gu, **default_spec("sms-reminder-zh"))
    c = logged_in(world.chen)
    number = post_json(c, f"/api/cases/{world.case.pk}/documents", {"template_id": t.pk}).json()[
        "number"
    ]
    night = dt.datetime.combine(today_shanghai(), dt.time(23, 30), tzinfo=SHANGHAI)
    with time_machine.travel(night, tick=False):
        refused = post_json(
            c,
            f"/api/notices/documents/{number}/send",
            {"channel": "sms", "contact_point_id": world.mobile.pk},
        )
    assert refused.status_code == 409
    body = refused.json()
    assert body["rules"] and body["detail"] and body["send"]["status"] == "blocked"
    assert SmsOutbox.objects.count() == 0
    assert Dispatch.objects.get().status == "blocked"


def test_bad_input_names_the_field_and_scope_is_404(world):
    t = approved(world.ren, world.gu, **default_spec("sms-reminder-zh"))
    c = logged_in(world.chen)
    number = post_json(c, f"/api/cases/{world.case.pk}/documents", {"template_id": t.pk}).json()[
        "number"
    ]
    wrong = post_json(
        c,
        f"/api/notices/documents/{number}/send",
        {"channel": "sms", "contact_point_id": world.email.pk},
    )
    assert wrong.status_code == 422 and "contact_point" in wrong.json()["detail"]
    draft = template_create(actor=world.ren, **default_spec("collection-notice-zh"))  # type: ignore[arg-type]
    unapproved = post_json(c, f"/api/cases/{world.case.pk}/documents", {"template_id": draft.pk})
    assert unapproved.status_code == 422 and "template" in unapproved.json()["detail"]
    stranger = logged_in(UserFactory(username="zhou", role="collector"))
    url = f"/api/cases/{world.case.pk}/documents"
    assert post_json(stranger, url, {"template_id": t.pk}).status_code == 404
    assert (
        post_json(
            stranger,
            f"/api/notices/documents/{number}/send",
            {"channel": "sms", "contact_point_id": world.mobile.pk},
        ).status_code
        == 404
    )


def test_a_campaign_is_created_and_reports_its_status(world):
    t = approved(world.ren, world.gu, **default_spec("sms-reminder-zh"))
    c = logged_in(world.ren)
    made = post_json(
        c,
        "/api/notices/campaigns",
        {"name": "M2", "template_id": t.pk, "channel": "sms", "client": "ACME", "buckets": ["M2"]},
    )
    assert made.status_code == 201, made.content
    campaign = made.json()
    assert campaign["total"] == 1
    status = c.get(f"/api/notices/campaigns/{campaign['id']}").json()
    assert (status["status"], status["processed"], status["sent"]) == ("done", 1, 1)
    assert status["by_status"] == [{"status": "sent", "messages": 1}]
    assert status["blocked_messages"] == []

    assert (
        post_json(
            logged_in(world.chen),
            "/api/notices/campaigns",
            {"name": "x", "template_id": t.pk, "channel": "sms", "client": "ACME"},
        ).status_code
        == 403
    )
    unknown = post_json(
        c,
        "/api/notices/campaigns",
        {"name": "x", "template_id": t.pk, "channel": "sms", "client": "NOPE"},
    )
    assert unknown.status_code == 422 and unknown.json()["detail"] == {
        "client": ["No such client."]
    }
