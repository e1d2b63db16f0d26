"""Field-visit evidence over HTTP, through the same service and scope as the pages
(``cuishou.visits.evidence``): a case's evidence, one item, its stored file, and an
upload (multipart) for a stop.

There is no PUT, PATCH or DELETE: evidence is never changed or deleted (those methods
answer 405); a correction is a new upload with ``corrects_id``. A case, stop or item
outside the user's scope is 404; a refused upload is 422 naming the field and why.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.core.exceptions import PermissionDenied, ValidationError
from django.http import Http404, HttpRequest
from django.urls import reverse
from django.utils.translation import gettext as _
from ninja import File, Form, Router, Schema, Status, UploadedFile

from cuishou.api.auth import request_user
from cuishou.api.schemas import ErrorOut
from cuishou.cases.selectors import case_get_for_user
from cuishou.visits.evidence import (
    evidence_add,
    evidence_for_case,
    evidence_get_for_user,
    user_may_view_evidence,
)
from cuishou.visits.models import Evidence, RouteStop
from cuishou.visits.views_evidence import evidence_response

router = Router(tags=["visits"])
case_router = Router(tags=["visits"])


class FlagOut(Schema):
    code: str
    detail: str


class EvidenceOut(Schema):
    id: int
    case_id: int
    route_id: int | None
    stop_id: int | None
    kind: str
    file_name: str
    content_type: str
    size: int
    sha256: str
    uploaded_by: str
    uploaded_at: dt.datetime
    captured_at: dt.datetime | None
    file_lat: str | None
    file_lon: str | None
    phone_at: dt.datetime | None
    phone_lat: str | None
    phone_lon: str | None
    declared_start: dt.datetime | None
    declared_end: dt.datetime | None
    duration_seconds: str | None
    flags: list[FlagOut]
    corrects_id: int | None
    note: str
    meta: dict[str, Any]
    file_url: str


def _str(value: Any) -> str | None:
    return None if value is None else str(value)


def _out(e: Evidence) -> EvidenceOut:
    return EvidenceOut(
        id=e.pk,
        case_id=e.case_id,
        route_id=e.route_id,
        stop_id=e.stop_id,
        kind=e.kind,
        file_name=e.file_name,
        content_type=e.content_type,
        size=e.size,
        sha256=e.sha256,
        uploaded_by=e.uploaded_by.get_username(),
        uploaded_at=e.uploaded_at,
        captured_at=e.captured_at,
        file_lat=_str(e.file_lat),
        file_lon=_str(e.file_lon),
        phone_at=e.phone_at,
        phone_lat=_str(e.phone_lat),
        phone_lon=_str(e.phone_lon),
        declared_start=e.declared_start,
        declared_end=e.declared_end,
        duration_seconds=_str(e.duration_seconds),
        flags=[
            FlagOut(code=str(f.get("code", "")), detail=str(f.get("detail", "")))
            for f in e.flags or []
        ],
        corrects_id=e.corrects_id,
        note=e.note,
        meta=e.meta or {},
        file_url=reverse("visits:evidence_file", args=[e.pk]),
    )


def _require_view(user: Any) -> None:
    if not user_may_view_evidence(user):
        raise PermissionDenied


@case_router.get(
    "/{int:case_id}/evidence",
    response={200: list[EvidenceOut], 403: ErrorOut, 404: ErrorOut},
    summary="The case's evidence, oldest first, each with its hash, times, places and flags",
)
def case_evidence_list(request: HttpRequest, case_id: int) -> Any:
    user = request_user(request)
    _require_view(user)
    case = case_get_for_user(user, case_id)
    return [_out(e) for e in evidence_for_case(case)]


@router.get(
    "/evidence/{int:evidence_id}",
    response={200: EvidenceOut, 404: ErrorOut},
    summary="One item of evidence (never changed; corrections are new items)",
)
def evidence_get(request: HttpRequest, evidence_id: int) -> Any:
    return _out(evidence_get_for_user(request_user(request), evidence_id))


@router.get(
    "/evidence/{int:evidence_id}/file",
    response={200: None, 404: ErrorOut},
    summary="The stored file, byte for byte (X-Content-SHA256 carries its hash)",
)
def evidence_file_api(request: HttpRequest, evidence_id: int) -> Any:
    return evidence_response(evidence_get_for_user(request_user(request), evidence_id))


@router.post(
    "/stops/{int:stop_id}/evidence",
    response={201: EvidenceOut, 200: EvidenceOut, 403: ErrorOut, 404: ErrorOut, 422: ErrorOut},
    summary="Upload a photo, recording, receipt or signature for a stop (multipart); "
    "the same bytes again answer 200 with the item already stored",
)
def stop_evidence_upload(
    request: HttpRequest,
    stop_id: int,
    file: File[UploadedFile],
    kind: Form[str],
    phone_at: Form[dt.datetime | None] = None,
    phone_lat: Form[str | None] = None,
    phone_lon: Form[str | None] = None,
    declared_start: Form[dt.datetime | None] = None,
    declared_end: Form[dt.datetime | None] = None,
    corrects_id: Form[int | None] = None,
    note: Form[str] = "",
) -> Any:
    user = request_user(request)
    stop = RouteStop.objects.select_related("visit_case").filter(pk=stop_id).first()
    if stop is None:
        raise Http404(f"no stop {stop_id}")
    case = case_get_for_user(user, stop.visit_case.case_id)
    corrects = None
    if corrects_id is not None:
        corrects = Evidence.objects.filter(pk=corrects_id, case=case).first()
        if corrects is None:
            return Status(422, {"detail": {"corrects_id": [_("Not in this case's file.")]}})
    before = Evidence.objects.filter(case=case).count()
    try:
        item = evidence_add(
            actor=user,
            case=case,
            kind=kind,
            content=file.read(),
            file_name=file.name or "",
            content_type=file.content_type or "",
            stop=stop,
            phone_at=phone_at,
            phone_lat=phone_lat,
            phone_lon=phone_lon,
            declared_start=declared_start,
            declared_end=declared_end,
            corrects=corrects,
            note=note,
        )
    except ValidationError as err:
        detail = err.message_dict if hasattr(err, "error_dict") else err.messages
        return Status(422, {"detail": detail})
    created = Evidence.objects.filter(case=case).count() > before
    item = evidence_get_for_user(user, item.pk)
    return Status(201 if created else 200, _out(item))
