"""Serving a stored evidence file: only to users who may see evidence and its case, read
only (GET/HEAD; nothing here changes or deletes anything)."""

from __future__ import annotations

from typing import Any

from django.contrib.auth.decorators import login_required
from django.core.files.storage import default_storage
from django.http import FileResponse, Http404, HttpRequest
from django.views.decorators.http import require_safe

from cuishou.visits.evidence import evidence_get_for_user
from cuishou.visits.models import Evidence

INLINE_TYPES = ("image/", "audio/", "application/pdf")


def evidence_response(item: Evidence) -> FileResponse:
    """The stored bytes with the sniffed content type, the original file name, the
    SHA-256 they were stored with, and no content sniffing by the browser."""
    try:
        handle: Any = default_storage.open(str(item.file.name), "rb")
    except (FileNotFoundError, OSError) as err:
        raise Http404("The stored file is missing") from err
    response = FileResponse(
        handle,
        content_type=item.content_type,
        as_attachment=not item.content_type.startswith(INLINE_TYPES),
        filename=item.file_name,
    )
    response["X-Content-Type-Options"] = "nosniff"
    response["X-Content-SHA256"] = item.sha256
    response["Cache-Control"] = "private, no-store"
    return response


@login_required
@require_safe
def evidence_file(request: HttpRequest, pk: int) -> FileResponse:
    return evidence_response(evidence_get_for_user(request.user, pk))
