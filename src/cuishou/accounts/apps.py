from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class AccountsConfig(AppConfig):
    name = "cuishou.accounts"
    label = "accounts"
    verbose_name = _("Users and roles")

    def ready(self) -> None:
        from cuishou.accounts import signals  # noqa: F401
