"""Steps of the visit day the tests share: equipment out, departure, a stop done."""

from __future__ import annotations

import datetime as dt
from typing import Any

from cuishou.core.timeutil import SHANGHAI, today_shanghai
from cuishou.visits.choices import ISSUED_EQUIPMENT, EquipmentKind
from cuishou.visits.day import CONDUCT, route_depart, stop_arrive, stop_complete
from cuishou.visits.equipment import equipment_check_out
from cuishou.visits.models import Route, RouteStop
from tests.visits.conftest import VisitWorld

ALL_CONDUCT = {key: True for key in CONDUCT}
DEBTOR_MET = {"identity_verified": True, "contacts_verified": True, "notice_signed": True}
NOBODY_HOME = {
    "home_phone_ringing": "no",
    "mobile_called": True,
    "asked": ["neighbours", "property"],
    "notice_delivery": "mailbox_sealed",
}


def at(hour: int, minute: int = 0, day: dt.date | None = None) -> dt.datetime:
    """Today (or ``day``) at hour:minute in Shanghai."""
    return dt.datetime.combine(day or today_shanghai(), dt.time(hour, minute), tzinfo=SHANGHAI)


def check_out_all(world: VisitWorld, route: Route, kinds: Any = ISSUED_EQUIPMENT) -> None:
    for visitor in route.team.members.all():
        for kind in kinds:
            label = (
                ""
                if kind in (EquipmentKind.INTRODUCTION, EquipmentKind.CASE_MATERIALS)
                else (f"{kind}-{visitor.username}")
            )
            equipment_check_out(
                actor=world.risk,
                route=route,
                visitor=visitor,
                kind=kind,
                label=label,
                signature=str(visitor),
                at=at(8, 30),
            )


def depart(world: VisitWorld, route: Route, team: int = 0) -> Route:
    check_out_all(world, route)
    pair = world.visitors[2 * team : 2 * team + 2]
    return route_depart(actor=pair[0], route=route, visitors=pair, at=at(9))


def stop(route: Route, seq: int) -> RouteStop:
    return route.stops.get(seq=seq)


def arrive(world: VisitWorld, s: RouteStop, when: dt.datetime | None = None) -> RouteStop:
    return stop_arrive(
        actor=world.visitors[0],
        stop=s,
        at=when or at(9, 30 + s.seq * 5),
        lat=s.address.lat,
        lon=s.address.lon,
    )


def complete(world: VisitWorld, s: RouteStop, **kwargs: Any) -> RouteStop:
    values: dict[str, Any] = {
        "outcome": "nobody_home",
        "details": NOBODY_HOME,
        "conduct": ALL_CONDUCT,
        "departed_at": at(9, 32 + s.seq * 5),
    }
    values.update(kwargs)
    return stop_complete(actor=world.visitors[0], stop=s, **values)
