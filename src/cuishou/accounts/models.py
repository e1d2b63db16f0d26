from __future__ import annotations

import hashlib
import secrets

from django.contrib.auth.models import AbstractUser
from django.db import models
from django.utils.translation import gettext_lazy as _

from cuishou.accounts.choices import Role


class Team(models.Model):
    """A group of collectors or field visitors led by a team lead."""

    name = models.CharField(_("name"), max_length=100, unique=True)
    lead = models.ForeignKey(
        "accounts.User",
        verbose_name=_("team lead"),
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="led_teams",
    )

    class Meta:
        verbose_name = _("team")
        verbose_name_plural = _("teams")
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name


class User(AbstractUser):
    """A person who works in cuishou. Their role is their group (see ``roles.py``)."""

    display_name = models.CharField(_("display name"), max_length=100, blank=True)
    team = models.ForeignKey(
        Team,
        verbose_name=_("team"),
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="members",
    )
    client = models.ForeignKey(
        "portfolio.Client",
        verbose_name=_("client (for client users)"),
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="users",
        help_text=_("A client user sees only this client's portfolio."),
    )
    language = models.CharField(
        _("language"), max_length=10, blank=True, help_text=_("Preferred interface language.")
    )

    class Meta:
        verbose_name = _("user")
        verbose_name_plural = _("users")

    def __str__(self) -> str:
        return self.display_name or self.get_full_name() or self.username

    @property
    def roles(self) -> set[str]:
        cached = getattr(self, "_roles_cache", None)
        if cached is None:
            cached = set(self.groups.values_list("name", flat=True))
            self._roles_cache = cached
        return cached

    def has_role(self, role: Role | str) -> bool:
        return str(role) in self.roles


def _hash_token(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()


class ApiToken(models.Model):
    """A bearer token for the API; only its SHA-256 is stored."""

    user = models.ForeignKey(
        User, verbose_name=_("user"), on_delete=models.CASCADE, related_name="api_tokens"
    )
    name = models.CharField(_("name"), max_length=100)
    key_hash = models.CharField(_("key hash"), max_length=64, unique=True, editable=False)
    prefix = models.CharField(_("prefix"), max_length=8, editable=False)
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)
    last_used_at = models.DateTimeField(_("last used at"), null=True, blank=True)
    revoked = models.BooleanField(_("revoked"), default=False)

    class Meta:
        verbose_name = _("API token")
        verbose_name_plural = _("API tokens")

    def __str__(self) -> str:
        return f"{self.prefix}… ({self.user})"

    @classmethod
    def hash_key(cls, key: str) -> str:
        return _hash_token(key)

    @classmethod
    def new_key(cls) -> str:
        return secrets.token_urlsafe(32)
