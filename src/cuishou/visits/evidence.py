"""Evidence: photos, recordings, signed receipts and reports, stored once under their
SHA-256 and never changed (see ``Evidence`` in models.py).

``evidence_add`` refuses a file that is not what its kind says (the bytes decide, not the
name or the declared type) or is over the size limit, and writes nothing then. What the
checks see in an accepted file — a capture time outside the stop, a photo or a phone far
from the address, a gap in the recording, a recording that does not cover the stop — is
raised as a flag on the item, never hidden and never a refusal. ``evidence_verify``
re-hashes every stored file. Reads: ``evidence_for_case``, ``evidence_for_stop``,
``evidence_get_for_user``.
"""

from __future__ import annotations

import datetime as dt
import hashlib
from collections.abc import Iterator
from decimal import Decimal
from typing import Any

from django.conf import settings
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.db import transaction
from django.db.models import QuerySet
from django.http import Http404
from django.utils import timezone
from django.utils.translation import gettext as _

from cuishou.audit.services import audit_record
from cuishou.cases.models import Case
from cuishou.cases.selectors import case_require_in_scope, case_visible_queryset
from cuishou.core.timeutil import SHANGHAI
from cuishou.visits import conf
from cuishou.visits.choices import PHOTO_KINDS, EvidenceFlag, EvidenceKind
from cuishou.visits.geo import coordinate, distance_m
from cuishou.visits.media import (
    AUDIO_FORMATS,
    CONTENT_TYPES,
    EXTENSIONS,
    IMAGE_FORMATS,
    PDF_FORMAT,
    Gap,
    MediaError,
    PhotoInfo,
    RecordingInfo,
    inspect_pdf,
    inspect_photo,
    inspect_recording,
    sniff,
)
from cuishou.visits.models import Evidence, Route, RouteStop

ADD_PERMISSION = "visits.add_evidence"
VIEW_PERMISSION = "visits.view_evidence"

# Taken at the stop itself: the phone's place is checked against the address. A receipt
# or a report may be uploaded later from the office.
ON_SITE_KINDS = (*PHOTO_KINDS, EvidenceKind.RECORDING, EvidenceKind.SIGNATURE)
IMAGE_KINDS = (*PHOTO_KINDS, EvidenceKind.SIGNATURE)

# A recording this much shorter than its declared span is "short".
SHORT_SLACK = dt.timedelta(seconds=5)
_CHUNK = 1024 * 1024


def recording_slack() -> dt.timedelta:
    """How late after the arrival a recording may start, and how early before the
    departure it may end, before it is flagged as not covering the stop."""
    return dt.timedelta(minutes=int(getattr(settings, "CUISHOU_EVIDENCE_RECORDING_SLACK_MIN", 5)))


def _flag(code: EvidenceFlag, detail: str) -> dict[str, str]:
    return {"code": str(code), "detail": detail}


def _shanghai(value: dt.datetime) -> str:
    return value.astimezone(SHANGHAI).strftime("%Y-%m-%d %H:%M:%S")


def _clock(seconds: float) -> str:
    whole = round(seconds)
    return f"{whole // 3600}:{whole // 60 % 60:02d}:{whole % 60:02d}"


def _aware(value: dt.datetime | None, field: str) -> dt.datetime | None:
    if value is None:
        return None
    if not isinstance(value, dt.datetime) or timezone.is_naive(value):
        raise ValidationError({field: [_("A time needs its UTC offset.")]})
    return value


# --- what the file is ---------------------------------------------------------------


def _limit(kind: str) -> int:
    if kind in IMAGE_KINDS:
        return conf.max_photo_bytes()
    if kind == EvidenceKind.RECORDING:
        return conf.max_recording_bytes()
    return conf.max_document_bytes()


def _megabytes(n: int) -> str:
    return f"{n / 1024 / 1024:.1f}"


def _inspect(kind: str, content: bytes, file_name: str) -> tuple[str, Any]:
    """(format, PhotoInfo | RecordingInfo | dict for a PDF); MediaError when the bytes
    are not what ``kind`` needs."""
    if not content:
        raise MediaError(_("The file is empty."))
    limit = _limit(kind)
    if len(content) > limit:
        raise MediaError(
            _("The file is %(size)s MB; at most %(limit)s MB for this kind.")
            % {"size": _megabytes(len(content)), "limit": _megabytes(limit)}
        )
    fmt = sniff(content)
    if kind in IMAGE_KINDS:
        if fmt not in IMAGE_FORMATS:
            raise MediaError(
                _("%(name)s is not a photo (JPEG, PNG, WebP or HEIC), whatever its name says.")
                % {"name": file_name}
            )
        return fmt, inspect_photo(content)
    if kind == EvidenceKind.RECORDING:
        if fmt not in AUDIO_FORMATS:
            raise MediaError(
                _("%(name)s is not a recording (WAV, M4A, MP3 or AMR), whatever its name says.")
                % {"name": file_name}
            )
        return fmt, inspect_recording(content, file_name)
    if kind == EvidenceKind.RECEIPT:
        if fmt in IMAGE_FORMATS:
            return fmt, inspect_photo(content)
        if fmt == PDF_FORMAT:
            return fmt, inspect_pdf(content)
        raise MediaError(
            _("%(name)s is not a photo or a PDF of the receipt, whatever its name says.")
            % {"name": file_name}
        )
    if fmt != PDF_FORMAT:
        raise MediaError(_("%(name)s is not a PDF, whatever its name says.") % {"name": file_name})
    return fmt, inspect_pdf(content)


# --- the flags ------------------------------------------------------------------------


def _window(stop: RouteStop | None, route: Route | None) -> tuple[dt.datetime, dt.datetime] | None:
    """When the item should have been captured: the stop (arrival to departure, or to
    now while there), else the route's day out; widened by the time tolerance."""
    tolerance = conf.time_tolerance()
    now = timezone.now()
    if stop is not None and stop.arrived_at is not None:
        return stop.arrived_at - tolerance, (stop.departed_at or now) + tolerance
    if stop is None and route is not None and route.departed_at is not None:
        return route.departed_at - tolerance, (route.returned_at or now) + tolerance
    return None


def _place_flags(
    kind: str,
    stop: RouteStop | None,
    file_lat: Decimal | None,
    file_lon: Decimal | None,
    phone_lat: Decimal | None,
    phone_lon: Decimal | None,
) -> list[dict[str, str]]:
    flags: list[dict[str, str]] = []
    if stop is None or kind not in ON_SITE_KINDS:
        return flags
    address = stop.address
    if address.lat is None or address.lon is None:
        return flags
    far = conf.far_metres()
    if file_lat is not None and file_lon is not None:
        metres = distance_m(file_lat, file_lon, address.lat, address.lon)
        if metres >= far:
            flags.append(
                _flag(
                    EvidenceFlag.FILE_LOCATION_FAR,
                    _("The photo's GPS position is %(m)d m from the address.") % {"m": metres},
                )
            )
    if phone_lat is not None and phone_lon is not None:
        metres = distance_m(phone_lat, phone_lon, address.lat, address.lon)
        if metres >= far:
            flags.append(
                _flag(
                    EvidenceFlag.PHONE_LOCATION_FAR,
                    _("The phone reported a position %(m)d m from the address.") % {"m": metres},
                )
            )
    return flags


def _photo_flags(
    info: PhotoInfo, stop: RouteStop | None, route: Route | None
) -> list[dict[str, str]]:
    flags: list[dict[str, str]] = []
    if info.taken_at is None:
        flags.append(
            _flag(EvidenceFlag.NO_CAPTURE_TIME, _("The photo carries no EXIF capture time."))
        )
    else:
        window = _window(stop, route)
        if window is not None and not (window[0] <= info.taken_at <= window[1]):
            flags.append(
                _flag(
                    EvidenceFlag.CAPTURE_TIME_OFF,
                    _("Taken at %(at)s, outside the stop (%(start)s to %(end)s).")
                    % {
                        "at": _shanghai(info.taken_at),
                        "start": _shanghai(window[0]),
                        "end": _shanghai(window[1]),
                    },
                )
            )
    if info.lat is None or info.lon is None:
        flags.append(_flag(EvidenceFlag.NO_FILE_LOCATION, _("The photo carries no GPS position.")))
    return flags


def _gap_text(gap: Gap) -> str:
    values = {"at": _clock(gap.offset), "len": f"{gap.length:.1f}"}
    if gap.kind == "silence":
        return _("at %(at)s, %(len)s s of exact silence") % values
    if gap.kind == "empty_edit":
        return _("at %(at)s, a %(len)s s pause in the edit list") % values
    return _("at %(at)s, a splice in the edit list") % values


def _recording_flags(
    info: RecordingInfo,
    stop: RouteStop | None,
    declared_start: dt.datetime | None,
    declared_end: dt.datetime | None,
) -> list[dict[str, str]]:
    flags: list[dict[str, str]] = []
    if info.gaps:
        flags.append(_flag(EvidenceFlag.RECORDING_GAP, "; ".join(_gap_text(g) for g in info.gaps)))
    duration = dt.timedelta(seconds=info.duration)
    if declared_start is not None and declared_end is not None:
        span = declared_end - declared_start
        if duration < span - SHORT_SLACK:
            flags.append(
                _flag(
                    EvidenceFlag.RECORDING_SHORT,
                    _("The file lasts %(file)s; the declared recording %(span)s.")
                    % {"file": _clock(info.duration), "span": _clock(span.total_seconds())},
                )
            )
    start = info.started_at
    if start is None:
        flags.append(
            _flag(
                EvidenceFlag.NO_CAPTURE_TIME,
                _("The file carries no start time; the declared start is used.")
                if declared_start is not None
                else _("The file carries no start time and none was declared."),
            )
        )
        start = declared_start
    if stop is None or stop.arrived_at is None:
        return flags
    slack = recording_slack()
    if start is None:
        if stop.departed_at is not None:
            stay = stop.departed_at - stop.arrived_at
            if duration < stay - slack and not any(
                f["code"] == EvidenceFlag.RECORDING_SHORT for f in flags
            ):
                flags.append(
                    _flag(
                        EvidenceFlag.RECORDING_SHORT,
                        _("The file lasts %(file)s; the stop lasted %(stay)s.")
                        % {"file": _clock(info.duration), "stay": _clock(stay.total_seconds())},
                    )
                )
        return flags
    end = start + duration
    problems = []
    if start > stop.arrived_at + slack:
        problems.append(
            _("it starts at %(start)s, after the arrival at %(arrived)s")
            % {"start": _shanghai(start), "arrived": _shanghai(stop.arrived_at)}
        )
    if stop.departed_at is not None and end < stop.departed_at - slack:
        problems.append(
            _("it ends at %(end)s, before the departure at %(left)s")
            % {"end": _shanghai(end), "left": _shanghai(stop.departed_at)}
        )
    if problems:
        flags.append(
            _flag(
                EvidenceFlag.RECORDING_NOT_COVERING,
                _("The recording does not cover the stop: %(why)s.") % {"why": "; ".join(problems)},
            )
        )
    return flags


# --- writes -----------------------------------------------------------------------------


def _stored_name(sha256: str, fmt: str) -> str:
    return f"evidence/{sha256[:2]}/{sha256}{EXTENSIONS[fmt]}"


def _store(sha256: str, fmt: str, content: bytes) -> str:
    """Write the bytes once under their hash; a file already there with the same bytes
    is kept as it is (the same photo in two cases is one file)."""
    name = _stored_name(sha256, fmt)
    if default_storage.exists(name) and _hash_stored(name) == sha256:
        return name
    # Absent, or present with other bytes (tampered): the storage picks a free name.
    return default_storage.save(name, ContentFile(content))


def _hash_stored(name: str) -> str | None:
    try:
        with default_storage.open(name, "rb") as handle:
            digest = hashlib.sha256()
            while chunk := handle.read(_CHUNK):
                digest.update(chunk)
            return digest.hexdigest()
    except (FileNotFoundError, OSError):
        return None


def evidence_add(
    *,
    actor: Any,
    case: Case,
    kind: str,
    content: bytes,
    file_name: str,
    content_type: str = "",
    route: Route | None = None,
    stop: RouteStop | None = None,
    phone_at: dt.datetime | None = None,
    phone_lat: Any = None,
    phone_lon: Any = None,
    declared_start: dt.datetime | None = None,
    declared_end: dt.datetime | None = None,
    corrects: Evidence | None = None,
    note: str = "",
) -> Evidence:
    """Store one item of evidence for ``case`` (at ``stop`` of ``route`` when given).

    Refuses (ValidationError naming the field, nothing written) a file that is not what
    ``kind`` needs or is over its size limit, a stop or route of another case, a
    correction of another case's item. Flags what the checks see and stores anyway. The
    same bytes again for the same case, stop and kind return the item already stored."""
    if not getattr(actor, "is_authenticated", False) or not actor.has_perm(ADD_PERMISSION):
        raise PermissionDenied(_("This role does not add evidence."))
    case_require_in_scope(actor, case)
    if kind not in EvidenceKind.values:
        raise ValidationError({"kind": [_("Not a kind of evidence.")]})
    if stop is not None:
        stop = RouteStop.objects.select_related("route", "visit_case", "address").get(pk=stop.pk)
        if stop.visit_case.case_id != case.pk:
            raise ValidationError({"stop": [_("That stop is not a visit of this case.")]})
        if route is not None and route.pk != stop.route_id:
            raise ValidationError({"route": [_("That stop is not on this route.")]})
        route = stop.route
    elif (
        route is not None
        and not RouteStop.objects.filter(route=route, visit_case__case=case).exists()
    ):
        raise ValidationError({"route": [_("This case is not on that route.")]})
    if corrects is not None and corrects.case_id != case.pk:
        raise ValidationError({"corrects": [_("The item corrected is not in this case's file.")]})
    lat = coordinate(phone_lat, "phone_lat", 90)
    lon = coordinate(phone_lon, "phone_lon", 180)
    if (lat is None) != (lon is None):
        raise ValidationError({"phone_lat": [_("Give both latitude and longitude, or neither.")]})
    phone_at = _aware(phone_at, "phone_at")
    declared_start = _aware(declared_start, "declared_start")
    declared_end = _aware(declared_end, "declared_end")
    if declared_start and declared_end and declared_end < declared_start:
        raise ValidationError({"declared_end": [_("The end is before the start.")]})
    file_name = (file_name or "").strip().replace("\\", "/").rsplit("/", 1)[-1][:255] or "upload"

    try:
        fmt, info = _inspect(kind, content, file_name)
    except MediaError as err:
        raise ValidationError({"file": [str(err)]}) from err
    sha256 = hashlib.sha256(content).hexdigest()

    def existing() -> Evidence | None:
        return Evidence.objects.filter(
            case=case, stop=stop, route=route, kind=kind, sha256=sha256
        ).first()

    found = existing()
    if found is not None:
        return found

    captured_at = None
    file_lat = file_lon = None
    duration = None
    flags: list[dict[str, str]] = []
    if isinstance(info, PhotoInfo):
        meta: dict[str, Any] = info.as_meta()
        captured_at = info.taken_at
        if info.lat is not None and info.lon is not None:
            file_lat = Decimal(str(info.lat)).quantize(Decimal("0.000001"))
            file_lon = Decimal(str(info.lon)).quantize(Decimal("0.000001"))
        if kind in PHOTO_KINDS:
            flags += _photo_flags(info, stop, route)
    elif isinstance(info, RecordingInfo):
        meta = info.as_meta()
        captured_at = info.started_at
        duration = Decimal(str(round(info.duration, 2)))
        flags += _recording_flags(info, stop, declared_start, declared_end)
    else:
        meta = dict(info)
    flags += _place_flags(kind, stop, file_lat, file_lon, lat, lon)
    meta["declared_content_type"] = (content_type or "")[:100]

    name = _store(sha256, fmt, content)
    with transaction.atomic():
        # One upload at a time per case: the same bytes sent twice at once make one row.
        Case.objects.select_for_update().filter(pk=case.pk).first()
        found = existing()
        if found is not None:
            return found
        item = Evidence(
            case=case,
            route=route,
            stop=stop,
            kind=kind,
            file=name,
            file_name=file_name,
            content_type=CONTENT_TYPES[fmt],
            size=len(content),
            sha256=sha256,
            uploaded_by=actor,
            uploaded_at=timezone.now(),
            captured_at=captured_at,
            file_lat=file_lat,
            file_lon=file_lon,
            phone_at=phone_at,
            phone_lat=lat,
            phone_lon=lon,
            declared_start=declared_start,
            declared_end=declared_end,
            duration_seconds=duration,
            meta=meta,
            flags=flags,
            corrects=corrects,
            note=(note or "").strip(),
        )
        item.save(force_insert=True)
        audit_record(
            actor=actor,
            action="evidence.add",
            target=item,
            case_id=case.pk,
            summary=f"{kind} {sha256[:12]}" + (f" corrects #{corrects.pk}" if corrects else ""),
            after={
                "sha256": sha256,
                "kind": kind,
                "file": name,
                "size": len(content),
                "stop": stop.pk if stop else None,
                "route": route.pk if route else None,
                "corrects": corrects.pk if corrects else None,
                "flags": flags,
            },
        )
    return item


# --- verification -----------------------------------------------------------------------


def evidence_check() -> Iterator[dict[str, Any]]:
    """Re-hash every stored file (streamed in chunks; a file shared by several items is
    read once): one dict per item with id, file, expected, found and ok. A missing file
    is found = "missing"."""
    seen: dict[str, str | None] = {}
    rows = Evidence.objects.order_by("pk").values_list("pk", "file", "sha256")
    for pk, name, expected in rows.iterator(chunk_size=2000):
        if name not in seen:
            seen[name] = _hash_stored(name)
        found = seen[name] or "missing"
        ok = found == expected
        yield {"id": pk, "file": name, "expected": expected, "found": found, "ok": ok}


def evidence_verify() -> list[dict[str, Any]]:
    """The items whose stored file is missing or no longer hashes to its SHA-256."""
    return [r for r in evidence_check() if not r["ok"]]


# --- reads -------------------------------------------------------------------------------


def _evidence_rows() -> QuerySet[Evidence]:
    return Evidence.objects.select_related("uploaded_by", "stop", "route", "corrects")


def evidence_for_case(case: Case) -> QuerySet[Evidence]:
    """The case's evidence, oldest first, with who uploaded it and what it corrects."""
    return _evidence_rows().filter(case=case).order_by("uploaded_at", "pk")


def evidence_for_stop(stop: RouteStop) -> QuerySet[Evidence]:
    return _evidence_rows().filter(stop=stop).order_by("uploaded_at", "pk")


def user_may_view_evidence(user: Any) -> bool:
    return bool(getattr(user, "is_authenticated", False) and user.has_perm(VIEW_PERMISSION))


def evidence_get_for_user(user: Any, pk: int) -> Evidence:
    """The item when ``user`` may see evidence and its case; otherwise Http404 (existence
    is not disclosed)."""
    item = _evidence_rows().filter(pk=pk).first()
    if (
        item is None
        or not user_may_view_evidence(user)
        or not case_visible_queryset(user).filter(pk=item.case_id).exists()
    ):
        raise Http404("No such evidence")
    return item
