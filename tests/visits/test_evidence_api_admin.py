"""Evidence through the API, the file page and the admin: it can be listed, read,
downloaded and uploaded by those in scope, and never changed or deleted anywhere."""

from __future__ import annotations

import pytest
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from cuishou.visits.choices import EvidenceFlag, EvidenceKind
from cuishou.visits.models import Evidence, FieldTeam
from tests.factories import UserFactory
from tests.visits import mediafiles as mf
from tests.visits.evidencehelp import ACROSS_TOWN, AT_DOOR, add


def logged_in(user) -> Client:
    c = Client(HTTP_ACCEPT_LANGUAGE="en")
    c.force_login(user)
    return c


def upload(c: Client, stop_id: int, content: bytes, name: str = "door.jpg", **fields):
    from django.core.files.uploadedfile import SimpleUploadedFile

    data = {"kind": EvidenceKind.DOOR_PHOTO, **fields}
    data["file"] = SimpleUploadedFile(name, content, content_type="image/jpeg")
    return c.post(f"/api/visits/stops/{stop_id}/evidence", data)


# --- API ------------------------------------------------------------------------------


def test_a_visitor_uploads_a_photo_for_a_stop_and_the_same_bytes_again_change_nothing(evday):
    c = logged_in(evday.visitor)
    content = mf.jpeg(taken=timezone.now(), gps=ACROSS_TOWN)
    first = upload(c, evday.stop.pk, content, phone_lat="31.2336", phone_lon="121.5056")
    assert first.status_code == 201, first.content
    body = first.json()
    assert body["sha256"] and body["case_id"] == evday.cases[0].pk
    assert body["phone_lat"] == "31.233600"
    assert [f["code"] for f in body["flags"]] == [EvidenceFlag.FILE_LOCATION_FAR]
    again = upload(c, evday.stop.pk, content, name="door-again.jpg")
    assert again.status_code == 200 and again.json()["id"] == body["id"]
    assert Evidence.objects.count() == 1


def test_an_upload_that_is_not_what_it_claims_is_422_naming_the_file(evday):
    c = logged_in(evday.visitor)
    r = upload(c, evday.stop.pk, b"just text, named like a photo")
    assert r.status_code == 422
    assert "door.jpg is not a photo" in r.json()["detail"]["file"][0]
    assert not Evidence.objects.exists()


def test_a_stop_outside_the_users_scope_is_404(evday):
    other = logged_in(evday.visitors[2])
    assert upload(other, evday.stop.pk, mf.jpeg()).status_code == 404
    assert not Evidence.objects.exists()


def test_a_correction_through_the_api_points_to_the_old_item(evday):
    c = logged_in(evday.visitor)
    old = upload(c, evday.stop.pk, mf.jpeg(seed=1)).json()
    new = upload(c, evday.stop.pk, mf.jpeg(seed=2), corrects_id=old["id"], note="better one")
    assert new.status_code == 201 and new.json()["corrects_id"] == old["id"]


def test_the_case_list_and_one_item_show_hash_flags_and_file_url(evday):
    item = add(evday, content=mf.jpeg(make=""))
    c = logged_in(evday.risk)  # the risk manager sees every case and its evidence
    listed = c.get(f"/api/cases/{evday.cases[0].pk}/evidence")
    assert listed.status_code == 200
    assert [e["id"] for e in listed.json()] == [item.pk]
    one = c.get(f"/api/visits/evidence/{item.pk}").json()
    assert one["sha256"] == item.sha256
    assert {f["code"] for f in one["flags"]} == {
        EvidenceFlag.NO_CAPTURE_TIME,
        EvidenceFlag.NO_FILE_LOCATION,
    }
    assert one["file_url"] == f"/visits/evidence/{item.pk}/file"
    got = c.get(f"/api/visits/evidence/{item.pk}/file")
    assert got.status_code == 200 and b"".join(got.streaming_content) == item.file.open().read()


def test_another_visitor_cannot_see_the_cases_evidence(evday):
    item = add(evday)
    other = logged_in(evday.visitors[2])
    assert other.get(f"/api/cases/{evday.cases[0].pk}/evidence").status_code == 404
    assert other.get(f"/api/visits/evidence/{item.pk}").status_code == 404
    assert other.get(f"/api/visits/evidence/{item.pk}/file").status_code == 404


@pytest.mark.parametrize("method", ["put", "patch", "delete"])
def test_evidence_cannot_be_changed_or_deleted_through_the_api(evday, method):
    item = add(evday)
    c = logged_in(evday.visitor)
    for url in (
        f"/api/visits/evidence/{item.pk}",
        f"/api/visits/evidence/{item.pk}/file",
        f"/api/cases/{evday.cases[0].pk}/evidence",
        f"/api/visits/stops/{evday.stop.pk}/evidence",
    ):
        r = getattr(c, method)(url, data="{}", content_type="application/json")
        assert r.status_code == 405, (url, r.status_code)
    assert Evidence.objects.get().sha256 == item.sha256


# --- the file page --------------------------------------------------------------------


def test_the_file_page_serves_the_bytes_to_the_case_and_404_to_others(evday):
    content = mf.jpeg(taken=timezone.now(), gps=AT_DOOR)
    item = add(evday, content=content, file_name="门牌 合影.jpg")
    url = reverse("visits:evidence_file", args=[item.pk])
    r = logged_in(evday.visitor).get(url)
    assert r.status_code == 200
    assert b"".join(r.streaming_content) == content
    assert r["Content-Type"] == "image/jpeg"
    assert r["X-Content-Type-Options"] == "nosniff"
    assert r["X-Content-SHA256"] == item.sha256
    assert r["Content-Disposition"].startswith("inline;")
    assert "filename*=utf-8''%E9%97%A8%E7%89%8C" in r["Content-Disposition"]
    assert logged_in(evday.visitors[2]).get(url).status_code == 404
    anonymous = Client().get(url)
    assert anonymous.status_code == 302 and "/accounts/" in anonymous["Location"]


@pytest.mark.parametrize("method", ["post", "put", "delete"])
def test_the_file_page_changes_nothing(evday, method):
    item = add(evday)
    url = reverse("visits:evidence_file", args=[item.pk])
    assert getattr(logged_in(evday.visitor), method)(url).status_code == 405
    assert Evidence.objects.filter(pk=item.pk).exists()


# --- the admin ------------------------------------------------------------------------


@pytest.fixture
def admin_client_(db):
    boss = UserFactory(username="boss", is_staff=True, is_superuser=True)
    return logged_in(boss)


def test_the_admin_shows_evidence_but_never_adds_changes_or_deletes_it(evday, admin_client_):
    item = add(evday, note="")
    c = admin_client_
    assert c.get(reverse("admin:visits_evidence_changelist")).status_code == 200
    change = reverse("admin:visits_evidence_change", args=[item.pk])
    page = c.get(change)
    assert page.status_code == 200
    assert b'name="note"' not in page.content  # shown, not editable
    posted = c.post(change, {"note": "edited in the admin", "kind": EvidenceKind.PHOTO})
    assert posted.status_code == 403
    delete = reverse("admin:visits_evidence_delete", args=[item.pk])
    assert c.get(delete).status_code == 403
    assert c.post(delete, {"post": "yes"}).status_code == 403
    assert c.get(reverse("admin:visits_evidence_add")).status_code == 403
    bulk = c.post(
        reverse("admin:visits_evidence_changelist"),
        {"action": "delete_selected", "_selected_action": [item.pk], "post": "yes"},
    )
    assert bulk.status_code in (200, 302)
    item.refresh_from_db()
    assert (item.note, item.kind) == ("", EvidenceKind.DOOR_PHOTO)
    assert Evidence.objects.count() == 1


def test_the_admin_keeps_stops_and_reports_read_only_and_edits_field_teams(evday, admin_client_):
    c = admin_client_
    stop_change = reverse("admin:visits_routestop_change", args=[evday.stop.pk])
    assert c.post(stop_change, {"notes": "x"}).status_code == 403
    assert c.get(reverse("admin:visits_routestop_delete", args=[evday.stop.pk])).status_code == 403
    assert c.get(reverse("admin:visits_visitreport_changelist")).status_code == 200
    team = evday.teams[0]
    page = c.get(reverse("admin:visits_fieldteam_change", args=[team.pk]))
    assert page.status_code == 200 and b'name="name"' in page.content
    assert FieldTeam.objects.filter(pk=team.pk).exists()
