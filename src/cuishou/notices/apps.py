from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class NoticesConfig(AppConfig):
    name = "cuishou.notices"
    verbose_name = _("Written collection")
