"""Places on a visit: how far a phone, a photo or an arrival is from the address, and a
coordinate as a visitor's phone or a form gives it."""

from __future__ import annotations

from decimal import Decimal, InvalidOperation
from typing import Any

from django.core.exceptions import ValidationError
from django.utils.translation import gettext as _

from cuishou.routing.model import Point
from cuishou.routing.travel import haversine_m


def distance_m(lat1: Any, lon1: Any, lat2: Any, lon2: Any) -> int:
    """The great-circle distance in whole metres between two WGS-84 points (the route
    planner's own ``haversine_m``)."""
    matrix = haversine_m([Point(float(lat1), float(lon1)), Point(float(lat2), float(lon2))])
    return round(float(matrix[0, 1]))


def coordinate(value: Any, field: str, limit: int) -> Decimal | None:
    """``value`` as a latitude (``limit`` 90) or longitude (180) to six places; None when
    empty; ValidationError on ``field`` when it is not a finite number within the limit."""
    if value is None or value == "":
        return None
    try:
        number = Decimal(str(value))
    except InvalidOperation:
        number = None
    if number is None or not number.is_finite() or abs(number) > limit:
        raise ValidationError({field: [_("Not a valid coordinate.")]})
    return number.quantize(Decimal("0.000001"))
