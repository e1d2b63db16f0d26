"""The planner's input and output: plain frozen dataclasses, no ORM.

Times are integers in one unit for the whole problem: seconds since the local midnight of
the plan's day for real plans (``Clock`` turns them into aware datetimes), or the
instance's own unit in the benchmarks. Places are indices into the problem's travel
matrix (``Matrix``); ``Problem.points`` keeps their coordinates for drawing.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from decimal import Decimal
from zoneinfo import ZoneInfo

import numpy as np

from cuishou.routing.choices import LeftOutReason

# "No limit" for a window's end; far beyond any day in seconds or any benchmark's unit.
TIME_MAX = 10**12
# A matrix entry at or above this has no route (an OSRM ``null``).
UNREACHABLE = 10**12


@dataclass(frozen=True)
class Window:
    """Service (or a lunch break, or a shift) starts no earlier than ``start`` and, for a
    service, no later than ``end``; a shift's ``end`` is when the team is back."""

    start: int
    end: int

    def __post_init__(self) -> None:
        if self.end < self.start:
            raise ValueError(f"a window ends before it starts: [{self.start}, {self.end}]")

    def clip(self, other: Window | None) -> Window | None:
        """The overlap with ``other`` (None when there is none)."""
        if other is None:
            return self
        start, end = max(self.start, other.start), min(self.end, other.end)
        return Window(start, end) if start <= end else None


ALWAYS = Window(0, TIME_MAX)


@dataclass(frozen=True)
class Point:
    """WGS-84 latitude and longitude (or plain x = lon, y = lat in a benchmark's plane)."""

    lat: float
    lon: float


@dataclass(frozen=True, eq=False)
class Matrix:
    """Travel ``duration`` (time units) and ``distance`` (metres, or the instance's unit)
    between every pair of places, as square int64 arrays; ``UNREACHABLE`` marks no route."""

    duration: np.ndarray
    distance: np.ndarray

    def __post_init__(self) -> None:
        n = self.duration.shape[0]
        if self.duration.shape != (n, n) or self.distance.shape != (n, n):
            raise ValueError("the travel matrix must be square, durations and distances alike")

    @property
    def size(self) -> int:
        return int(self.duration.shape[0])

    @classmethod
    def from_lists(
        cls, duration: list[list[int]], distance: list[list[int]] | None = None
    ) -> Matrix:
        d = np.asarray(duration, dtype=np.int64)
        return cls(d, np.asarray(distance, dtype=np.int64) if distance is not None else d.copy())


@dataclass(frozen=True)
class Lunch:
    """A break of ``duration`` starting between ``earliest`` and ``latest``, taken where
    the team is (after a stop, or before the first one)."""

    earliest: int
    latest: int
    duration: int


@dataclass(frozen=True)
class Team:
    """One kind of team (a PyVRP vehicle type): ``count`` identical two-person teams that
    leave ``start`` no earlier than ``shift.start`` and are back at ``end`` (default: the
    start) by ``shift.end``. ``capacity`` caps the sum of the cases' ``demand`` (with the
    default demand of 1, the maximum number of stops); ``visitors`` is how many people go
    together (the two-visitors rule: at least ``Problem.min_visitors``). Travel costs
    ``cost_per_time`` per time unit of the route's duration and ``cost_per_distance`` per
    distance unit: the tie-break after the prizes (or the objective, when every case is
    required)."""

    key: str
    start: int
    shift: Window
    end: int | None = None
    count: int = 1
    capacity: int | None = None
    max_duration: int | None = None
    lunch: Lunch | None = None
    visitors: int = 2
    cost_per_time: int = 1
    cost_per_distance: int = 0

    @property
    def end_place(self) -> int:
        return self.start if self.end is None else self.end


@dataclass(frozen=True)
class Address:
    """One place where the case can be visited: ``place`` is the matrix index (None when
    the address has no coordinates), ``windows`` when service may start there (none: any
    time of the contact hours), ``weight`` scales the case's prize for this address (a
    work address in working hours succeeds more often)."""

    key: str
    place: int | None
    windows: tuple[Window, ...] = ()
    weight: float = 1.0


@dataclass(frozen=True)
class Case:
    """A visit to plan at exactly one of its ``addresses``. ``prize`` is what visiting it
    is worth, in the travel cost's units (``prize_from_value``); an optional case whose
    prize does not cover its detour is left out. A ``required`` case is always planned
    when it can be. ``contact_window`` overrides the problem's contact hours (a debtor in
    another time zone); a visit starts and ends inside them."""

    key: str
    addresses: tuple[Address, ...]
    prize: int = 0
    service: int = 0
    demand: int = 1
    required: bool = False
    contact_window: Window | None = None


@dataclass(frozen=True)
class Clock:
    """The plan's day and zone: time 0 is local midnight of ``day``."""

    day: dt.date
    tz: ZoneInfo

    @property
    def origin(self) -> dt.datetime:
        return dt.datetime.combine(self.day, dt.time(0), tzinfo=self.tz)

    def at(self, t: int) -> dt.datetime:
        """The aware datetime of time ``t`` (seconds since the origin)."""
        return (self.origin.astimezone(dt.UTC) + dt.timedelta(seconds=t)).astimezone(self.tz)

    def seconds(self, when: dt.datetime) -> int:
        if when.tzinfo is None:
            raise ValueError("a time needs a UTC offset")
        return int((when - self.origin).total_seconds())

    def local_window(self, start: dt.time, end: dt.time, tz: ZoneInfo | None = None) -> Window:
        """``start``–``end`` on the plan's day in ``tz`` (default: the plan's zone), in
        seconds since the origin: the contact hours in the debtor's local time."""
        zone = tz or self.tz
        return Window(
            self.seconds(dt.datetime.combine(self.day, start, tzinfo=zone)),
            self.seconds(dt.datetime.combine(self.day, end, tzinfo=zone)),
        )


@dataclass(frozen=True, eq=False)
class Problem:
    teams: tuple[Team, ...]
    cases: tuple[Case, ...]
    matrix: Matrix
    points: tuple[Point | None, ...] = ()
    contact_hours: Window | None = None
    min_visitors: int = 2
    clock: Clock | None = None


def prize_from_value(value: Decimal, *, value_per_hour: Decimal, time_unit: int = 1) -> int:
    """A case's expected value (yuan) as a prize in the travel cost's units, when an hour
    of a team's time is worth ``value_per_hour`` and the cost is one per ``time_unit``
    seconds: 600 yuan at 200 yuan an hour is worth three hours of the team's day."""
    if value_per_hour <= 0:
        raise ValueError("value_per_hour must be positive")
    return max(0, int(value * 3600 / (value_per_hour * time_unit)))


@dataclass(frozen=True)
class Stop:
    case: str
    address: str
    place: int
    window: Window
    arrival: int
    start: int
    end: int

    @property
    def wait(self) -> int:
        return self.start - self.arrival


@dataclass(frozen=True)
class Break:
    """The lunch break: from ``start`` to ``end``, after stop number ``after`` (0: before
    the first stop, at the start place)."""

    start: int
    end: int
    after: int


@dataclass(frozen=True)
class Route:
    team: str
    vehicle: int
    stops: tuple[Stop, ...]
    depart: int
    back: int
    lunch: Break | None = None
    distance: int = 0
    travel: int = 0
    prize: int = 0

    @property
    def duration(self) -> int:
        return self.back - self.depart


@dataclass(frozen=True)
class LeftOut:
    case: str
    reason: LeftOutReason

    @property
    def label(self) -> str:
        return str(self.reason.label)


@dataclass(frozen=True)
class Plan:
    routes: tuple[Route, ...]
    left_out: tuple[LeftOut, ...]
    prize: int
    distance: int
    duration: int
    runtime: float = 0.0
    iterations: int = 0
    info: dict[str, object] = field(default_factory=dict)

    def route_of(self, team: str, vehicle: int = 0) -> Route | None:
        return next((r for r in self.routes if (r.team, r.vehicle) == (team, vehicle)), None)

    @property
    def planned(self) -> set[str]:
        return {s.case for r in self.routes for s in r.stops}
