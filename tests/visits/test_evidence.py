"""evidence_add: what is refused (and that nothing is written then), what is flagged,
re-uploads, corrections, scope, and that stored evidence never changes."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from pathlib import Path

import pytest
from django.core.exceptions import PermissionDenied, ValidationError
from django.utils import timezone

from cuishou.audit.models import AuditEvent
from cuishou.cases.models import Case
from cuishou.visits.choices import EvidenceFlag, EvidenceKind
from cuishou.visits.evidence import evidence_add, evidence_for_case, evidence_for_stop
from cuishou.visits.models import Evidence, EvidenceImmutableError, RouteStop
from tests.visits import mediafiles as mf
from tests.visits.conftest import approved_route

# The first stop is world.work[0]: 上海市浦东新区世纪大道100号 at (31.2335, 121.5055).
AT_DOOR = (31.2336, 121.5056)  # about 14 m away
ACROSS_TOWN = (31.2390, 121.4840)  # Nanjing Road, about 2 km away


@pytest.fixture
def day(world, settings):
    """The first team's route, its first stop arrived at 20 minutes ago, and the cases
    in the first visitor's scope."""
    route = approved_route(world)
    # Until the visit scope lands in case_visible_queryset, the visitor holds the cases.
    Case.objects.filter(pk__in=[c.pk for c in world.cases[:3]]).update(assignee=world.visitors[0])
    stop = route.stops.order_by("seq").first()
    stop.arrived_at = timezone.now() - dt.timedelta(minutes=20)
    stop.save(update_fields=["arrived_at"])
    world.route, world.stop, world.visitor = route, stop, world.visitors[0]
    return world


def add(day, *, kind=EvidenceKind.DOOR_PHOTO, content=None, file_name="door.jpg", **kwargs):
    kwargs.setdefault("stop", day.stop)
    kwargs.setdefault("case", day.cases[0])
    return evidence_add(
        actor=kwargs.pop("actor", day.visitor),
        kind=kind,
        content=content if content is not None else mf.jpeg(taken=timezone.now(), gps=AT_DOOR),
        file_name=file_name,
        **kwargs,
    )


def codes(item: Evidence) -> set[str]:
    return {f["code"] for f in item.flags}


def stored_files(settings) -> list[Path]:
    root = Path(settings.MEDIA_ROOT) / "evidence"
    return sorted(p for p in root.rglob("*") if p.is_file()) if root.exists() else []


# --- accepted -------------------------------------------------------------------------


def test_a_door_photo_at_the_stop_is_stored_under_its_hash_with_time_and_place(day, settings):
    taken = timezone.now() - dt.timedelta(minutes=5)
    content = mf.jpeg(taken=taken, gps=AT_DOOR)
    item = add(day, content=content, phone_lat="31.233500", phone_lon="121.505500")
    item.refresh_from_db()
    assert item.flags == []
    assert item.captured_at == taken.replace(microsecond=0)
    assert item.file_lat == Decimal("31.233600")
    assert item.phone_lon == Decimal("121.505500")
    assert item.route == day.route and item.uploaded_by == day.visitor
    assert item.content_type == "image/jpeg" and item.size == len(content)
    assert item.file.name == f"evidence/{item.sha256[:2]}/{item.sha256}.jpg"
    assert [p.read_bytes() for p in stored_files(settings)] == [content]
    event = AuditEvent.objects.get(action="evidence.add")
    assert event.case_id == day.cases[0].pk
    assert event.after["sha256"] == item.sha256 and event.after["flags"] == []


def test_the_bytes_decide_the_stored_type_not_the_name(day):
    item = add(day, content=mf.png(), file_name="door.jpg", content_type="image/jpeg")
    assert item.content_type == "image/png"
    assert item.file.name.endswith(".png")
    assert item.file_name == "door.jpg"


def test_a_signed_receipt_may_be_a_photo_or_a_pdf_and_a_report_a_pdf(day):
    from weasyprint import HTML

    pdf = HTML(string="<p>签收回执</p>").write_pdf()
    receipt = add(day, kind=EvidenceKind.RECEIPT, content=pdf, file_name="receipt.pdf")
    photo = add(day, kind=EvidenceKind.RECEIPT, content=mf.jpeg(seed=9), file_name="r.jpg")
    report = add(day, kind=EvidenceKind.REPORT, content=pdf, file_name="report.pdf", stop=None)
    assert (receipt.content_type, photo.content_type) == ("application/pdf", "image/jpeg")
    assert report.route is None and report.meta["pages"] == 1
    # A receipt is not checked against the stop's time and place (it may come later).
    assert photo.flags == []


# --- refused --------------------------------------------------------------------------


def _refused(day, settings, field="file", **kwargs) -> str:
    before = list(evidence_for_stop(day.stop).values_list("pk", flat=True))
    files = stored_files(settings)
    events = AuditEvent.objects.count()
    with pytest.raises(ValidationError) as err:
        add(day, **kwargs)
    assert list(evidence_for_stop(day.stop).values_list("pk", flat=True)) == before
    assert stored_files(settings) == files
    assert AuditEvent.objects.count() == events
    return " ".join(err.value.message_dict[field])


@pytest.fixture
def kept(day):
    """The stop already holds a good photo: a refused upload must leave it as it is."""
    return add(day, content=mf.jpeg(taken=timezone.now(), gps=AT_DOOR, seed=42))


def test_a_text_file_named_jpg_is_refused_whatever_it_claims(day, settings, kept):
    reason = _refused(
        day,
        settings,
        content=b"I am not a photo\n",
        file_name="door.jpg",
        content_type="image/jpeg",
    )
    assert "door.jpg is not a photo" in reason


def test_a_truncated_jpeg_is_refused(day, settings, kept):
    content = mf.jpeg(size=(400, 300))
    assert "does not decode" in _refused(day, settings, content=content[: len(content) // 2])


def test_a_garbage_wav_is_refused_as_a_recording(day, settings, kept):
    reason = _refused(
        day,
        settings,
        kind=EvidenceKind.RECORDING,
        content=b"RIFF\x24\x00\x00\x00WAVEnot really audio at all",
        file_name="stop.wav",
    )
    assert "damaged" in reason


def test_a_photo_is_not_a_recording(day, settings, kept):
    reason = _refused(day, settings, kind=EvidenceKind.RECORDING, file_name="stop.wav")
    assert "not a recording" in reason


def test_an_upload_over_the_size_limit_is_refused(day, settings, kept):
    settings.CUISHOU_EVIDENCE_MAX_PHOTO_BYTES = 500
    reason = _refused(day, settings, content=mf.jpeg(size=(200, 200)))
    assert "at most 0.0 MB" in reason or "MB" in reason
    settings.CUISHOU_EVIDENCE_MAX_RECORDING_BYTES = 1000
    reason = _refused(day, settings, kind=EvidenceKind.RECORDING, content=mf.wav(2))
    assert "MB" in reason


def test_an_empty_file_is_refused(day, settings, kept):
    assert "empty" in _refused(day, settings, content=b"")


def test_a_report_must_be_a_pdf(day, settings, kept):
    assert "not a PDF" in _refused(day, settings, kind=EvidenceKind.REPORT, file_name="r.pdf")


def test_a_stop_of_another_case_is_refused(day, settings, kept):
    reason = _refused(day, settings, field="stop", case=day.cases[1])
    assert "not a visit of this case" in reason


def test_a_route_without_the_case_is_refused(day, settings, kept):
    Case.objects.filter(pk=day.cases[3].pk).update(assignee=day.visitor)
    reason = _refused(day, settings, field="route", case=day.cases[3], stop=None, route=day.route)
    assert "not on that route" in reason


def test_half_a_phone_position_is_refused(day, settings, kept):
    assert "both" in _refused(day, settings, field="phone_lat", phone_lat="31.2")


def test_a_role_without_the_permission_or_a_case_out_of_scope_is_refused(day):
    with pytest.raises(PermissionDenied):
        add(day, actor=day.lead)
    with pytest.raises(PermissionDenied):
        add(day, actor=day.visitors[2])  # the other team's visitor; not in scope
    assert not Evidence.objects.exists()


# --- flagged, never hidden ------------------------------------------------------------


def test_a_photo_taken_hours_before_the_stop_is_flagged(day):
    item = add(day, content=mf.jpeg(taken=timezone.now() - dt.timedelta(hours=3), gps=AT_DOOR))
    assert codes(item) == {EvidenceFlag.CAPTURE_TIME_OFF}
    assert "outside the stop" in item.flags[0]["detail"]


def test_a_photo_whose_gps_is_across_town_is_flagged_with_the_distance(day):
    item = add(day, content=mf.jpeg(taken=timezone.now(), gps=ACROSS_TOWN))
    assert codes(item) == {EvidenceFlag.FILE_LOCATION_FAR}
    assert " m from the address" in item.flags[0]["detail"]
    metres = int(item.flags[0]["detail"].split("is ")[1].split(" m")[0])
    assert 1900 < metres < 2300


def test_a_phone_far_from_the_address_is_flagged(day):
    item = add(day, phone_lat=ACROSS_TOWN[0], phone_lon=ACROSS_TOWN[1])
    assert codes(item) == {EvidenceFlag.PHONE_LOCATION_FAR}


def test_a_photo_without_exif_is_flagged_for_no_time_and_no_place(day):
    item = add(day, content=mf.jpeg(make=""))
    assert codes(item) == {EvidenceFlag.NO_CAPTURE_TIME, EvidenceFlag.NO_FILE_LOCATION}
    assert item.captured_at is None


def _stop_for(day, minutes: int) -> RouteStop:
    """The stop arrived at an hour ago and left ``minutes`` later."""
    stop = day.stop
    stop.arrived_at = timezone.now() - dt.timedelta(hours=1)
    stop.departed_at = stop.arrived_at + dt.timedelta(minutes=minutes)
    stop.save(update_fields=["arrived_at", "departed_at"])
    return stop


def test_a_recording_covering_the_stop_has_no_flag(day):
    stop = _stop_for(day, 0)
    stop.departed_at = stop.arrived_at + dt.timedelta(seconds=20)
    stop.save(update_fields=["departed_at"])
    start = stop.arrived_at - dt.timedelta(seconds=5)
    item = add(
        day,
        kind=EvidenceKind.RECORDING,
        content=mf.wav(30, start=start),
        file_name="stop.wav",
        declared_start=start,
        declared_end=start + dt.timedelta(seconds=30),
    )
    assert item.flags == []
    assert item.duration_seconds == Decimal("30.00")
    assert item.captured_at == start.replace(microsecond=0)
    assert item.content_type == "audio/wav"


def test_a_recording_with_a_three_second_run_of_zeros_is_flagged_as_a_gap(day):
    start = day.stop.arrived_at
    item = add(
        day,
        kind=EvidenceKind.RECORDING,
        content=mf.wav(12, gap_at=5.0, gap_seconds=3.0, start=start),
        file_name="stop.wav",
    )
    assert codes(item) == {EvidenceFlag.RECORDING_GAP}
    assert "at 0:00:05, 3.0 s of exact silence" in item.flags[0]["detail"]
    assert item.meta["gaps"] == [{"offset": 5.0, "length": 3.0, "kind": "silence"}]


def test_a_recording_shorter_than_declared_is_flagged(day):
    start = day.stop.arrived_at
    item = add(
        day,
        kind=EvidenceKind.RECORDING,
        content=mf.wav(6, start=start),
        file_name="stop.wav",
        declared_start=start,
        declared_end=start + dt.timedelta(minutes=10),
    )
    assert codes(item) == {EvidenceFlag.RECORDING_SHORT}
    assert "0:00:06" in item.flags[0]["detail"] and "0:10:00" in item.flags[0]["detail"]


def test_a_recording_started_late_and_ended_early_does_not_cover_the_stop(day):
    stop = _stop_for(day, 20)
    start = stop.arrived_at + dt.timedelta(minutes=8)
    item = add(day, kind=EvidenceKind.RECORDING, content=mf.wav(6, start=start), file_name="s.wav")
    assert codes(item) == {EvidenceFlag.RECORDING_NOT_COVERING}
    detail = item.flags[0]["detail"]
    assert "after the arrival" in detail and "before the departure" in detail


def test_a_recording_without_its_own_time_uses_the_declared_start_and_says_so(day):
    stop = _stop_for(day, 20)
    declared = stop.arrived_at + dt.timedelta(minutes=10)
    item = add(
        day,
        kind=EvidenceKind.RECORDING,
        content=mf.wav(6),
        file_name="s.wav",
        declared_start=declared,
        declared_end=declared + dt.timedelta(seconds=6),
    )
    assert codes(item) == {EvidenceFlag.NO_CAPTURE_TIME, EvidenceFlag.RECORDING_NOT_COVERING}
    assert item.captured_at is None and item.declared_start == declared


def test_a_recording_without_any_time_is_checked_against_the_stops_length(day):
    _stop_for(day, 20)
    item = add(day, kind=EvidenceKind.RECORDING, content=mf.wav(6), file_name="s.wav")
    assert codes(item) == {EvidenceFlag.NO_CAPTURE_TIME, EvidenceFlag.RECORDING_SHORT}


def test_an_m4a_with_a_pause_in_its_edit_list_is_flagged(day):
    start = day.stop.arrived_at
    content = mf.m4a(60, created=start, edits=[(20, 0), (5, -1), (35, 20 * 44100)])
    item = add(day, kind=EvidenceKind.RECORDING, content=content, file_name="stop.m4a")
    assert codes(item) == {EvidenceFlag.RECORDING_GAP}
    assert "pause in the edit list" in item.flags[0]["detail"]
    clean = add(
        day, kind=EvidenceKind.RECORDING, content=mf.m4a(61, created=start), file_name="b.m4a"
    )
    assert clean.flags == [] and clean.content_type == "audio/mp4"


# --- once, and corrections ------------------------------------------------------------


def test_the_same_bytes_twice_make_one_row_and_one_file(day, settings):
    content = mf.jpeg(taken=timezone.now(), gps=AT_DOOR)
    first = add(day, content=content)
    again = add(day, content=content, file_name="door (1).jpg")
    assert again.pk == first.pk
    assert Evidence.objects.count() == 1
    assert len(stored_files(settings)) == 1
    assert AuditEvent.objects.filter(action="evidence.add").count() == 1


def test_the_same_file_in_two_cases_is_two_rows_over_one_file(day, settings):
    from weasyprint import HTML

    pdf = HTML(string="<p>外访报告</p>").write_pdf()
    a = add(day, kind=EvidenceKind.REPORT, content=pdf, stop=None, route=day.route)
    b = add(
        day, kind=EvidenceKind.REPORT, content=pdf, stop=None, route=day.route, case=day.cases[1]
    )
    assert a.pk != b.pk and a.file.name == b.file.name
    assert len(stored_files(settings)) == 1


def test_a_correction_is_a_new_item_pointing_to_the_old_which_stays(day):
    old = add(day, content=mf.jpeg(taken=timezone.now(), gps=ACROSS_TOWN))
    new = add(
        day,
        kind=EvidenceKind.NEAREST_DOOR_PHOTO,
        content=mf.jpeg(taken=timezone.now(), gps=AT_DOOR, seed=5),
        corrects=old,
        note="the door number was not visible; nearest door number instead",
    )
    assert new.pk != old.pk and new.corrects == old
    assert list(old.corrections.all()) == [new]
    old.refresh_from_db()
    assert old.kind == EvidenceKind.DOOR_PHOTO and codes(old) == {EvidenceFlag.FILE_LOCATION_FAR}
    assert [e.pk for e in evidence_for_case(day.cases[0])] == [old.pk, new.pk]
    assert "corrects" in AuditEvent.objects.filter(action="evidence.add").last().summary


def test_a_correction_of_another_cases_item_is_refused(day, settings):
    other = add(day, case=day.cases[1], stop=day.route.stops.get(seq=2))
    reason = _refused(day, settings, field="corrects", corrects=other, content=mf.jpeg(seed=3))
    assert "not in this case's file" in reason


# --- write-once -----------------------------------------------------------------------


def test_stored_evidence_cannot_be_changed_or_deleted_through_the_orm(day):
    item = add(day)
    item.note = "edited"
    with pytest.raises(EvidenceImmutableError):
        item.save()
    with pytest.raises(EvidenceImmutableError):
        item.save(update_fields=["note"])
    with pytest.raises(EvidenceImmutableError):
        item.delete()
    with pytest.raises(EvidenceImmutableError):
        Evidence.objects.filter(pk=item.pk).update(note="edited")
    with pytest.raises(EvidenceImmutableError):
        Evidence.objects.filter(pk=item.pk).delete()
    item.refresh_from_db()
    assert item.note == ""
