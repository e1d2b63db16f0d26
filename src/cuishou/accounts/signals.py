from __future__ import annotations

from typing import Any

from django.apps import AppConfig
from django.db.models.signals import post_migrate
from django.dispatch import receiver


@receiver(post_migrate)
def _sync_roles(sender: AppConfig, **kwargs: Any) -> None:
    # post_migrate is sent once per app, in INSTALLED_APPS order; the permissions of
    # every app exist once the last one ("api") has been handled.
    if sender.label != "api":
        return
    from cuishou.accounts.roles import roles_sync

    roles_sync()
