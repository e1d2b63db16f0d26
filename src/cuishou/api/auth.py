"""API authentication: a bearer token (``Authorization: Bearer <key>``) or the session.

The bearer user also becomes ``request.user``, so selectors and filtersets that read the
request see the same person whichever way they signed in.
"""

from __future__ import annotations

from typing import Any

from django.http import HttpRequest
from ninja.security import HttpBearer, SessionAuth

from cuishou.accounts.services import api_token_authenticate


class BearerToken(HttpBearer):
    def authenticate(self, request: HttpRequest, token: str) -> Any:
        user = api_token_authenticate(token.strip())
        if user is None:
            return None
        request.user = user
        return user


class Session(SessionAuth):
    """Django's session; unsafe methods need the CSRF token (``X-CSRFToken``).

    Anonymous requests fall through to 401 instead of failing the CSRF check first.
    """

    def _get_key(self, request: HttpRequest) -> str | None:
        if not request.user.is_authenticated:
            return None
        return super()._get_key(request)


def request_user(request: HttpRequest) -> Any:
    """The authenticated user of an API request."""
    return getattr(request, "auth", None) or request.user


API_AUTH = [BearerToken(), Session(csrf=True)]
