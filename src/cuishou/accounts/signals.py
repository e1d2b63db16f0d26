from __future__ import annotations

from typing import Any

from django.apps import AppConfig, apps
from django.db.models.signals import post_migrate
from django.dispatch import receiver


@receiver(post_migrate)
def _sync_roles(sender: AppConfig, **kwargs: Any) -> None:
    # post_migrate is sent once per app with models, in INSTALLED_APPS order; every
    # app's permissions exist once the last such app has been handled.
    with_models = [a for a in apps.get_app_configs() if a.models_module is not None]
    if sender.label != with_models[-1].label:
        return
    from cuishou.accounts.roles import roles_sync

    roles_sync()
