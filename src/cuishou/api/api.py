"""The HTTP API (django-ninja). OpenAPI at /api/openapi.json, docs at /api/docs.

Every endpoint needs a bearer token (``Authorization: Bearer <key>``, see
`cuishou token create`) or a signed-in session (with ``X-CSRFToken`` on unsafe methods).
"""

from __future__ import annotations

from typing import Any

from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse
from ninja import NinjaAPI, Router

from cuishou.api import cases, loans
from cuishou.api.auth import API_AUTH, request_user
from cuishou.api.schemas import MeOut
from cuishou.cases.selectors import user_may_reveal_pii

api = NinjaAPI(
    title="cuishou API",
    version="1",
    description=(
        "Debt-collection operations: portfolio, cases and their records. "
        "Authenticate with `Authorization: Bearer <key>` (see `cuishou token create`) "
        "or a signed-in session. ID numbers and phones are masked; "
        "`POST /api/cases/{id}/reveal` shows one value and records it in the audit log."
    ),
    urls_namespace="api",
    auth=API_AUTH,
)


@api.exception_handler(PermissionDenied)
def _permission_denied(request: HttpRequest, exc: PermissionDenied) -> HttpResponse:
    return api.create_response(request, {"detail": str(exc) or "Forbidden"}, status=403)


me_router = Router(tags=["me"])


@me_router.get("", response=MeOut, summary="Who I am and what I may do")
def me(request: HttpRequest) -> Any:
    user = request_user(request)
    return MeOut(
        id=user.pk,
        username=user.get_username(),
        display_name=user.display_name,
        roles=sorted(user.roles),
        team=user.team.name if user.team_id else None,
        client=user.client.code if user.client_id else None,
        may_reveal_pii=user_may_reveal_pii(user),
    )


api.add_router("/me", me_router)
api.add_router("/cases", cases.router)
api.add_router("/loans", loans.router)
