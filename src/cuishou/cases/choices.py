from django.db import models
from django.utils.translation import gettext_lazy as _


class Stage(models.TextChoices):
    """催收阶段, in escalation order."""

    REMINDER = "reminder", _("Reminder (提醒)")
    PHONE = "phone", _("Phone (电催)")
    WRITTEN = "written", _("Written (书面)")
    VISIT = "visit", _("Field visit (外访)")
    LEGAL = "legal", _("Legal (诉讼)")


STAGE_ORDER = [s.value for s in Stage]


class CaseStatus(models.TextChoices):
    OPEN = "open", _("Open")
    PAUSED = "paused", _("Paused (dispute or hold)")
    CURED = "cured", _("Cured (nothing overdue)")
    CLOSED = "closed", _("Closed (paid off)")
    WRITTEN_OFF = "written_off", _("Written off")


OPEN_STATUSES = [CaseStatus.OPEN.value, CaseStatus.PAUSED.value]
