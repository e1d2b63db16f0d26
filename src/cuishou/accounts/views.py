"""Log-in that applies the user's language, and a language switch that remembers it."""

from __future__ import annotations

from contextlib import suppress

from django.conf import settings
from django.contrib.auth import views as auth_views
from django.contrib.auth.forms import AuthenticationForm
from django.core.exceptions import ValidationError
from django.http import HttpRequest, HttpResponse
from django.views.decorators.http import require_POST
from django.views.i18n import set_language

from cuishou.accounts.models import User
from cuishou.accounts.services import user_set_language


def _set_language_cookie(response: HttpResponse, language: str) -> None:
    response.set_cookie(
        settings.LANGUAGE_COOKIE_NAME,
        language,
        max_age=settings.LANGUAGE_COOKIE_AGE,
        path=settings.LANGUAGE_COOKIE_PATH,
        domain=settings.LANGUAGE_COOKIE_DOMAIN,
        secure=settings.LANGUAGE_COOKIE_SECURE,
        httponly=settings.LANGUAGE_COOKIE_HTTPONLY,
        samesite=settings.LANGUAGE_COOKIE_SAMESITE,
    )


class LoginView(auth_views.LoginView):
    """Django's log-in; a user who chose a language gets it from the first page on."""

    redirect_authenticated_user = True

    def form_valid(self, form: AuthenticationForm) -> HttpResponse:
        response = super().form_valid(form)
        user = form.get_user()
        if isinstance(user, User) and user.language:
            _set_language_cookie(response, user.language)
        return response


@require_POST
def language_switch(request: HttpRequest) -> HttpResponse:
    """Django's set_language, and for a logged-in user the choice is kept for next time."""
    response = set_language(request)
    language = request.POST.get("language", "")
    if isinstance(request.user, User) and request.user.is_authenticated:
        # An unknown code: set_language has already ignored it, and so do we.
        with suppress(ValidationError):
            user_set_language(actor=request.user, language=language)
    return response
