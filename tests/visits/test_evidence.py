"""evidence_add: what is refused (and that nothing is written then), what is flagged,
re-uploads, corrections, scope, and that stored evidence never changes."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest
from django.core.exceptions import PermissionDenied, ValidationError
from django.utils import timezone

from cuishou.audit.models import AuditEvent
from cuishou.cases.models import Case
from cuishou.visits.choices import EvidenceFlag, EvidenceKind
from cuishou.visits.evidence import evidence_for_case, evidence_for_stop
from cuishou.visits.models import Evidence, EvidenceImmutableError, RouteStop
from tests.visits import mediafiles as mf
from tests.visits.evidencehelp import ACROSS_TOWN, AT_DOOR, add, codes, stored_files

# --- accepted -------------------------------------------------------------------------


def test_a_door_photo_at_the_stop_is_stored_under_its_hash_with_time_and_place(evday, settings):
    taken = timezone.now() - dt.timedelta(minutes=5)
    content = mf.jpeg(taken=taken, gps=AT_DOOR)
    item = add(evday, content=content, phone_lat="31.233500", phone_lon="121.505500")
    item.refresh_from_db()
    assert item.flags == []
    assert item.captured_at == taken.replace(microsecond=0)
    assert item.file_lat == Decimal("31.233600")
    assert item.phone_lon == Decimal("121.505500")
    assert item.route == evday.route and item.uploaded_by == evday.visitor
    assert item.content_type == "image/jpeg" and item.size == len(content)
    assert item.file.name == f"evidence/{item.sha256[:2]}/{item.sha256}.jpg"
    assert [p.read_bytes() for p in stored_files(settings)] == [content]
    event = AuditEvent.objects.get(action="evidence.add")
    assert event.case_id == evday.cases[0].pk
    assert event.after["sha256"] == item.sha256 and event.after["flags"] == []


def test_the_bytes_decide_the_stored_type_not_the_name(evday):
    item = add(evday, content=mf.png(), file_name="door.jpg", content_type="image/jpeg")
    assert item.content_type == "image/png"
    assert item.file.name.endswith(".png")
    assert item.file_name == "door.jpg"


def test_a_signed_receipt_may_be_a_photo_or_a_pdf_and_a_report_a_pdf(evday):
    from weasyprint import HTML

    pdf = HTML(string="<p>签收回执</p>").write_pdf()
    receipt = add(evday, kind=EvidenceKind.RECEIPT, content=pdf, file_name="receipt.pdf")
    photo = add(evday, kind=EvidenceKind.RECEIPT, content=mf.jpeg(seed=9), file_name="r.jpg")
    report = add(evday, kind=EvidenceKind.REPORT, content=pdf, file_name="report.pdf", stop=None)
    assert (receipt.content_type, photo.content_type) == ("application/pdf", "image/jpeg")
    assert report.route is None and report.meta["pages"] == 1
    # A receipt is not checked against the stop's time and place (it may come later).
    assert photo.flags == []


# --- refused --------------------------------------------------------------------------


def _refused(evday, settings, field="file", **kwargs) -> str:
    before = list(evidence_for_stop(evday.stop).values_list("pk", flat=True))
    files = stored_files(settings)
    events = AuditEvent.objects.count()
    with pytest.raises(ValidationError) as err:
        add(evday, **kwargs)
    assert list(evidence_for_stop(evday.stop).values_list("pk", flat=True)) == before
    assert stored_files(settings) == files
    assert AuditEvent.objects.count() == events
    return " ".join(err.value.message_dict[field])


@pytest.fixture
def kept(evday):
    """The stop already holds a good photo: a refused upload must leave it as it is."""
    return add(evday, content=mf.jpeg(taken=timezone.now(), gps=AT_DOOR, seed=42))


def test_a_text_file_named_jpg_is_refused_whatever_it_claims(evday, settings, kept):
    reason = _refused(
        evday,
        settings,
        content=b"I am not a photo\n",
        file_name="door.jpg",
        content_type="image/jpeg",
    )
    assert "door.jpg is not a photo" in reason


def test_a_truncated_jpeg_is_refused(evday, settings, kept):
    content = mf.jpeg(size=(400, 300))
    assert "does not decode" in _refused(evday, settings, content=content[: len(content) // 2])


def test_a_garbage_wav_is_refused_as_a_recording(evday, settings, kept):
    reason = _refused(
        evday,
        settings,
        kind=EvidenceKind.RECORDING,
        content=b"RIFF\x24\x00\x00\x00WAVEnot really audio at all",
        file_name="stop.wav",
    )
    assert "damaged" in reason


def test_a_photo_is_not_a_recording(evday, settings, kept):
    reason = _refused(evday, settings, kind=EvidenceKind.RECORDING, file_name="stop.wav")
    assert "not a recording" in reason


def test_an_upload_over_the_size_limit_is_refused(evday, settings, kept):
    settings.CUISHOU_EVIDENCE_MAX_PHOTO_BYTES = 500
    reason = _refused(evday, settings, content=mf.jpeg(size=(200, 200)))
    assert "at most 0.0 MB" in reason or "MB" in reason
    settings.CUISHOU_EVIDENCE_MAX_RECORDING_BYTES = 1000
    reason = _refused(evday, settings, kind=EvidenceKind.RECORDING, content=mf.wav(2))
    assert "MB" in reason


def test_an_empty_file_is_refused(evday, settings, kept):
    assert "empty" in _refused(evday, settings, content=b"")


def test_a_report_must_be_a_pdf(evday, settings, kept):
    assert "not a PDF" in _refused(evday, settings, kind=EvidenceKind.REPORT, file_name="r.pdf")


def test_a_stop_of_another_case_is_refused(evday, settings, kept):
    reason = _refused(evday, settings, field="stop", case=evday.cases[1])
    assert "not a visit of this case" in reason


def test_a_route_without_the_case_is_refused(evday, settings, kept):
    Case.objects.filter(pk=evday.cases[3].pk).update(assignee=evday.visitor)
    reason = _refused(
        evday, settings, field="route", case=evday.cases[3], stop=None, route=evday.route
    )
    assert "not on that route" in reason


def test_half_a_phone_position_is_refused(evday, settings, kept):
    assert "both" in _refused(evday, settings, field="phone_lat", phone_lat="31.2")


def test_a_role_without_the_permission_or_a_case_out_of_scope_is_refused(evday):
    with pytest.raises(PermissionDenied):
        add(evday, actor=evday.lead)
    with pytest.raises(PermissionDenied):
        add(evday, actor=evday.visitors[2])  # the other team's visitor; not in scope
    assert not Evidence.objects.exists()


# --- flagged, never hidden ------------------------------------------------------------


def test_a_photo_taken_hours_before_the_stop_is_flagged(evday):
    item = add(evday, content=mf.jpeg(taken=timezone.now() - dt.timedelta(hours=3), gps=AT_DOOR))
    assert codes(item) == {EvidenceFlag.CAPTURE_TIME_OFF}
    assert "outside the stop" in item.flags[0]["detail"]


def test_a_photo_whose_gps_is_across_town_is_flagged_with_the_distance(evday):
    item = add(evday, content=mf.jpeg(taken=timezone.now(), gps=ACROSS_TOWN))
    assert codes(item) == {EvidenceFlag.FILE_LOCATION_FAR}
    assert " m from the address" in item.flags[0]["detail"]
    metres = int(item.flags[0]["detail"].split("is ")[1].split(" m")[0])
    assert 1900 < metres < 2300


def test_a_phone_far_from_the_address_is_flagged(evday):
    item = add(evday, phone_lat=ACROSS_TOWN[0], phone_lon=ACROSS_TOWN[1])
    assert codes(item) == {EvidenceFlag.PHONE_LOCATION_FAR}


def test_a_photo_without_exif_is_flagged_for_no_time_and_no_place(evday):
    item = add(evday, content=mf.jpeg(make=""))
    assert codes(item) == {EvidenceFlag.NO_CAPTURE_TIME, EvidenceFlag.NO_FILE_LOCATION}
    assert item.captured_at is None


def _stop_for(evday, minutes: int) -> RouteStop:
    """The stop arrived at an hour ago and left ``minutes`` later."""
    stop = evday.stop
    stop.arrived_at = timezone.now() - dt.timedelta(hours=1)
    stop.departed_at = stop.arrived_at + dt.timedelta(minutes=minutes)
    stop.save(update_fields=["arrived_at", "departed_at"])
    return stop


def test_a_recording_covering_the_stop_has_no_flag(evday):
    stop = _stop_for(evday, 0)
    stop.departed_at = stop.arrived_at + dt.timedelta(seconds=20)
    stop.save(update_fields=["departed_at"])
    start = stop.arrived_at - dt.timedelta(seconds=5)
    item = add(
        evday,
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


def test_a_recording_with_a_three_second_run_of_zeros_is_flagged_as_a_gap(evday):
    start = evday.stop.arrived_at
    item = add(
        evday,
        kind=EvidenceKind.RECORDING,
        content=mf.wav(12, gap_at=5.0, gap_seconds=3.0, start=start),
        file_name="stop.wav",
    )
    assert codes(item) == {EvidenceFlag.RECORDING_GAP}
    assert "at 0:00:05, 3.0 s of exact silence" in item.flags[0]["detail"]
    assert item.meta["gaps"] == [{"offset": 5.0, "length": 3.0, "kind": "silence"}]


def test_a_recording_shorter_than_declared_is_flagged(evday):
    start = evday.stop.arrived_at
    item = add(
        evday,
        kind=EvidenceKind.RECORDING,
        content=mf.wav(6, start=start),
        file_name="stop.wav",
        declared_start=start,
        declared_end=start + dt.timedelta(minutes=10),
    )
    assert codes(item) == {EvidenceFlag.RECORDING_SHORT}
    assert "0:00:06" in item.flags[0]["detail"] and "0:10:00" in item.flags[0]["detail"]


def test_a_recording_started_late_and_ended_early_does_not_cover_the_stop(evday):
    stop = _stop_for(evday, 20)
    start = stop.arrived_at + dt.timedelta(minutes=8)
    wav = mf.wav(6, start=start)
    item = add(evday, kind=EvidenceKind.RECORDING, content=wav, file_name="s.wav")
    assert codes(item) == {EvidenceFlag.RECORDING_NOT_COVERING}
    detail = item.flags[0]["detail"]
    assert "after the arrival" in detail and "before the departure" in detail


def test_a_recording_without_its_own_time_uses_the_declared_start_and_says_so(evday):
    stop = _stop_for(evday, 20)
    declared = stop.arrived_at + dt.timedelta(minutes=10)
    item = add(
        evday,
        kind=EvidenceKind.RECORDING,
        content=mf.wav(6),
        file_name="s.wav",
        declared_start=declared,
        declared_end=declared + dt.timedelta(seconds=6),
    )
    assert codes(item) == {EvidenceFlag.NO_CAPTURE_TIME, EvidenceFlag.RECORDING_NOT_COVERING}
    assert item.captured_at is None and item.declared_start == declared


def test_a_recording_without_any_time_is_checked_against_the_stops_length(evday):
    _stop_for(evday, 20)
    item = add(evday, kind=EvidenceKind.RECORDING, content=mf.wav(6), file_name="s.wav")
    assert codes(item) == {EvidenceFlag.NO_CAPTURE_TIME, EvidenceFlag.RECORDING_SHORT}


def test_an_m4a_with_a_pause_in_its_edit_list_is_flagged(evday):
    start = evday.stop.arrived_at
    content = mf.m4a(60, created=start, edits=[(20, 0), (5, -1), (35, 20 * 44100)])
    item = add(evday, kind=EvidenceKind.RECORDING, content=content, file_name="stop.m4a")
    assert codes(item) == {EvidenceFlag.RECORDING_GAP}
    assert "pause in the edit list" in item.flags[0]["detail"]
    clean = add(
        evday, kind=EvidenceKind.RECORDING, content=mf.m4a(61, created=start), file_name="b.m4a"
    )
    assert clean.flags == [] and clean.content_type == "audio/mp4"


# --- once, and corrections ------------------------------------------------------------


def test_the_same_bytes_twice_make_one_row_and_one_file(evday, settings):
    content = mf.jpeg(taken=timezone.now(), gps=AT_DOOR)
    first = add(evday, content=content)
    again = add(evday, content=content, file_name="door (1).jpg")
    assert again.pk == first.pk
    assert Evidence.objects.count() == 1
    assert len(stored_files(settings)) == 1
    assert AuditEvent.objects.filter(action="evidence.add").count() == 1


def test_the_same_file_in_two_cases_is_two_rows_over_one_file(evday, settings):
    from weasyprint import HTML

    pdf = HTML(string="<p>外访报告</p>").write_pdf()
    a = add(evday, kind=EvidenceKind.REPORT, content=pdf, stop=None, route=evday.route)
    b = add(
        evday,
        kind=EvidenceKind.REPORT,
        content=pdf,
        stop=None,
        route=evday.route,
        case=evday.cases[1],
    )
    assert a.pk != b.pk and a.file.name == b.file.name
    assert len(stored_files(settings)) == 1


def test_a_correction_is_a_new_item_pointing_to_the_old_which_stays(evday):
    old = add(evday, content=mf.jpeg(taken=timezone.now(), gps=ACROSS_TOWN))
    new = add(
        evday,
        kind=EvidenceKind.NEAREST_DOOR_PHOTO,
        content=mf.jpeg(taken=timezone.now(), gps=AT_DOOR, seed=5),
        corrects=old,
        note="the door number was not visible; nearest door number instead",
    )
    assert new.pk != old.pk and new.corrects == old
    assert list(old.corrections.all()) == [new]
    old.refresh_from_db()
    assert old.kind == EvidenceKind.DOOR_PHOTO and codes(old) == {EvidenceFlag.FILE_LOCATION_FAR}
    assert [e.pk for e in evidence_for_case(evday.cases[0])] == [old.pk, new.pk]
    assert "corrects" in AuditEvent.objects.filter(action="evidence.add").last().summary


def test_a_correction_of_another_cases_item_is_refused(evday, settings):
    other = add(evday, case=evday.cases[1], stop=evday.route.stops.get(seq=2))
    reason = _refused(evday, settings, field="corrects", corrects=other, content=mf.jpeg(seed=3))
    assert "not in this case's file" in reason


# --- write-once -----------------------------------------------------------------------


def test_stored_evidence_cannot_be_changed_or_deleted_through_the_orm(evday):
    item = add(evday)
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
