"""Why a case was left out of the plan: every case not planned gets one of these."""

from django.db import models
from django.utils.translation import gettext_lazy as _


class LeftOutReason(models.TextChoices):
    """Checked in this order: the first that applies is the reason given."""

    NO_COORDINATES = "no_coordinates", _("No address with coordinates")
    OUTSIDE_WINDOW = (
        "outside_window",
        _("Every time window is closed during the contact hours and the teams' shifts"),
    )
    UNREACHABLE = "unreachable", _("No route from any team's start to any of its addresses")
    TOO_FAR = "too_far", _("Too far to reach and return within any team's shift")
    NO_TIME = "no_time", _("No time left in any team's day")
    MAX_STOPS = "max_stops", _("Every team with time for it has its maximum number of stops")
    LOWER_VALUE = "lower_value", _("Lower value: not worth the extra travel")
