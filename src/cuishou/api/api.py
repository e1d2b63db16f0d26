"""The HTTP API (django-ninja). OpenAPI at /api/openapi.json, docs at /api/docs.

Every endpoint needs a bearer token (``Authorization: Bearer <key>``, see
`cuishou token create`) or a signed-in session (with ``X-CSRFToken`` on unsafe methods).
"""

from __future__ import annotations

from typing import Any

from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpRequest, HttpResponse
from django.utils.translation import gettext as _
from ninja import NinjaAPI, Router
from ninja.errors import AuthenticationError

from cuishou.api import cases, loans, notices, payments, plans, visits, workbench
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


# The errors the API answers itself are in the user's language, like the pages.


@api.exception_handler(AuthenticationError)
def _unauthenticated(request: HttpRequest, exc: AuthenticationError) -> HttpResponse:
    detail = _("Sign in, or send Authorization: Bearer <key>.")
    return api.create_response(request, {"detail": detail}, status=401)


@api.exception_handler(PermissionDenied)
def _permission_denied(request: HttpRequest, exc: PermissionDenied) -> HttpResponse:
    detail = str(exc) or _("You may not do this.")
    return api.create_response(request, {"detail": detail}, status=403)


@api.exception_handler(Http404)
def _not_found(request: HttpRequest, exc: Http404) -> HttpResponse:
    # One answer for "does not exist" and "not in your scope": existence is not disclosed.
    return api.create_response(request, {"detail": _("Not found.")}, status=404)


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
api.add_router("/workbench", workbench.router)
api.add_router("/payments", payments.router)
api.add_router("/cases", plans.case_router)
api.add_router("/settlements", plans.settlement_router)
api.add_router("/receipts", plans.receipt_router)
api.add_router("/notices", notices.router)
api.add_router("/cases", notices.case_router)
api.add_router("/visits", visits.router)
api.add_router("/cases", visits.case_router)
