"""Writes to users, teams and API tokens. Each service is atomic and audited."""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.conf import settings
from django.contrib.auth.models import Group
from django.contrib.auth.password_validation import validate_password
from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from cuishou.accounts.choices import Role
from cuishou.accounts.models import ApiToken, Team, User
from cuishou.audit.services import audit_record, model_snapshot
from cuishou.portfolio.models import Client

_LAST_USED_RESOLUTION = dt.timedelta(minutes=1)
_USER_FIELDS = ("username", "display_name", "team_id", "client_id", "is_active")


@transaction.atomic
def team_create(*, actor: Any, name: str, lead: User | None = None) -> Team:
    team = Team.objects.create(name=name, lead=lead)
    audit_record(
        actor=actor,
        action="team.create",
        target=team,
        summary=f"team {name}",
        after=model_snapshot(team),
    )
    return team


@transaction.atomic
def user_create(
    *,
    actor: Any,
    username: str,
    password: str | None,
    role: Role | str,
    display_name: str = "",
    team: Team | None = None,
    client: Client | None = None,
) -> User:
    """Create a user holding one role. A client user must name its client.

    ``password`` None leaves the account without a usable password. The password is
    checked by the configured validators and never written to the audit event.
    """
    role = str(role)
    if role not in Role.values:
        raise ValidationError(_("unknown role: %(role)s") % {"role": role}, code="role")
    if role == Role.CLIENT and client is None:
        raise ValidationError(_("a client user needs a client"), code="client_required")
    if role != Role.CLIENT and client is not None:
        raise ValidationError(_("only client users belong to a client"), code="client_role")
    if User.objects.filter(username__iexact=username).exists():
        raise ValidationError(
            _("user %(username)s already exists") % {"username": username}, code="exists"
        )
    user = User(username=username, display_name=display_name, team=team, client=client)
    if password is None:
        user.set_unusable_password()
    else:
        validate_password(password, user)
        user.set_password(password)
    user.save()
    user.groups.add(Group.objects.get(name=role))
    audit_record(
        actor=actor,
        action="user.create",
        target=user,
        summary=f"user {username} ({role})",
        after={**model_snapshot(user, _USER_FIELDS), "role": role},
    )
    return user


@transaction.atomic
def api_token_create(*, actor: Any, user: User, name: str) -> tuple[ApiToken, str]:
    """A new bearer token for ``user``. The key is returned once; only its hash is stored."""
    key = ApiToken.new_key()
    token = ApiToken.objects.create(
        user=user, name=name, key_hash=ApiToken.hash_key(key), prefix=key[:8]
    )
    audit_record(
        actor=actor,
        action="apitoken.create",
        target=token,
        summary=f"API token {token.prefix}… for {user.get_username()}",
        after={"user_id": user.pk, "name": name, "prefix": token.prefix},
    )
    return token, key


@transaction.atomic
def api_token_revoke(*, actor: Any, token: ApiToken) -> ApiToken:
    if token.revoked:
        return token
    token.revoked = True
    token.save(update_fields=["revoked"])
    audit_record(
        actor=actor,
        action="apitoken.revoke",
        target=token,
        summary=f"API token {token.prefix}… revoked",
        before={"revoked": False},
        after={"revoked": True},
    )
    return token


def api_token_authenticate(key: str) -> User | None:
    """The active user owning the (unrevoked) token ``key``, else None. Notes the use."""
    if not key:
        return None
    token = (
        ApiToken.objects.select_related("user")
        .filter(key_hash=ApiToken.hash_key(key), revoked=False, user__is_active=True)
        .first()
    )
    if token is None:
        return None
    now = timezone.now()
    # Noted at most once a minute, so a busy client does not write on every request.
    if token.last_used_at is None or now - token.last_used_at > _LAST_USED_RESOLUTION:
        token.last_used_at = now
        token.save(update_fields=["last_used_at"])
    return token.user


def user_set_language(*, actor: User, language: str) -> bool:
    """Remember the interface language a user chose; True when it changed.

    A preference, not a record of the case file: no audit event."""
    codes = {code for code, _name in settings.LANGUAGES}
    if language not in codes:
        raise ValidationError(_("unknown language %(code)s") % {"code": language})
    if actor.language == language:
        return False
    actor.language = language
    actor.save(update_fields=["language"])
    return True
