"""A made-up city day for the benchmark and the tests: offices and teams, debtors with a
residence and often a work address, their windows, visit lengths and values.

Shanghai-sized (a radius of ``radius_km`` around People's Square), seeded, no data read.
Teams start at one of the offices (a few from home) at 08:30 and are back by 18:00 with a
45-minute lunch between 11:30 and 13:30 and at most ``max_stops`` stops. Residences can be
visited 08:00–10:00 and 18:00–21:00, work addresses 09:00–12:00 and 13:30–17:30 (a little
more likely to find the debtor, weight 1.2); one case in ten has a window the debtor
gave; a few have no coordinates at all. A case's value is its balance × the likelihood of
payment (× 1.5 when litigation evidence or an anti-fraud check is due), as a prize at
``value_per_hour`` yuan an hour of a team's time.
"""

from __future__ import annotations

import datetime as dt
import math
import random
from decimal import Decimal

from cuishou.routing.model import (
    Address,
    Case,
    Clock,
    Lunch,
    Point,
    Problem,
    Team,
    Window,
    prize_from_value,
)
from cuishou.routing.travel import GreatCircle, TravelTimes

SHANGHAI_CENTRE = Point(31.2304, 121.4737)


def _hm(h: int, m: int = 0) -> int:
    return h * 3600 + m * 60


def _near(rng: random.Random, centre: Point, radius_km: float) -> Point:
    r = radius_km * math.sqrt(rng.random())
    a = rng.random() * 2 * math.pi
    dlat = r * math.sin(a) / 111.0
    dlon = r * math.cos(a) / (111.0 * math.cos(math.radians(centre.lat)))
    return Point(round(centre.lat + dlat, 6), round(centre.lon + dlon, 6))


def city(
    *,
    teams: int = 20,
    cases: int = 400,
    seed: int = 0,
    day: dt.date = dt.date(2026, 12, 1),
    centre: Point = SHANGHAI_CENTRE,
    radius_km: float = 12.0,
    offices: int = 4,
    max_stops: int = 10,
    value_per_hour: Decimal = Decimal(100),
    travel: TravelTimes | None = None,
) -> Problem:
    from zoneinfo import ZoneInfo

    rng = random.Random(seed)
    clock = Clock(day, ZoneInfo("Asia/Shanghai"))
    points: list[Point | None] = []

    def place(p: Point | None) -> int | None:
        if p is None:
            return None
        points.append(p)
        return len(points) - 1

    office_places = [place(_near(rng, centre, radius_km * 0.5)) for _ in range(offices)]
    team_list: list[Team] = []
    for i in range(teams):
        start = office_places[i % offices]
        end = start
        if i % 5 == 4:  # a team that starts from home and ends at its office
            start = place(_near(rng, centre, radius_km))
        assert start is not None and end is not None
        team_list.append(
            Team(
                key=f"T{i + 1:02d}",
                start=start,
                end=end,
                shift=Window(_hm(8, 30), _hm(18)),
                capacity=max_stops,
                lunch=Lunch(_hm(11, 30), _hm(13, 30), 45 * 60),
            )
        )

    residence_windows = (Window(_hm(8), _hm(10)), Window(_hm(18), _hm(21)))
    work_windows = (Window(_hm(9), _hm(12)), Window(_hm(13, 30), _hm(17, 30)))
    case_list: list[Case] = []
    for i in range(cases):
        home = _near(rng, centre, radius_km)
        no_coordinates = rng.random() < 0.03
        addresses = []
        if rng.random() < 0.1:
            start = rng.choice([_hm(10), _hm(13), _hm(14), _hm(15)])
            windows: tuple[Window, ...] = (Window(start, start + _hm(2)),)
        else:
            windows = residence_windows
        addresses.append(Address("residence", place(None if no_coordinates else home), windows))
        if rng.random() < 0.7:
            work = _near(rng, centre, radius_km * 0.8)
            addresses.append(
                Address("work", place(None if no_coordinates else work), work_windows, 1.2)
            )
        balance = Decimal(round(rng.lognormvariate(math.log(30_000), 0.9)))
        likelihood = Decimal(str(round(rng.uniform(0.03, 0.35), 3)))
        boost = Decimal("1.5") if rng.random() < 0.1 else Decimal(1)
        case_list.append(
            Case(
                key=f"C{i + 1:04d}",
                addresses=tuple(addresses),
                prize=prize_from_value(balance * likelihood * boost, value_per_hour=value_per_hour),
                service=rng.choice([20, 25, 30, 40]) * 60,
            )
        )

    matrix = (travel or GreatCircle()).matrix(points)
    return Problem(
        teams=tuple(team_list),
        cases=tuple(case_list),
        matrix=matrix,
        points=tuple(points),
        contact_hours=clock.local_window(dt.time(8), dt.time(22)),
        clock=clock,
    )
