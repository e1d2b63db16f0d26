"""The field-visit route planner: dataclasses in (``model``), PyVRP underneath (``solver``),
dataclasses out, no ORM. ``check.check_plan`` verifies a plan on its own."""

from cuishou.routing.check import Violation, check_plan
from cuishou.routing.choices import LeftOutReason
from cuishou.routing.model import (
    ALWAYS,
    TIME_MAX,
    UNREACHABLE,
    Address,
    Break,
    Case,
    Clock,
    LeftOut,
    Lunch,
    Matrix,
    Plan,
    Point,
    Problem,
    Route,
    Stop,
    Team,
    Window,
    prize_from_value,
)
from cuishou.routing.solver import ProblemError, SolveOptions, solve
from cuishou.routing.travel import GreatCircle, Mode, OsrmError, OsrmTable, TravelTimes

__all__ = [
    "ALWAYS",
    "TIME_MAX",
    "UNREACHABLE",
    "Address",
    "Break",
    "Case",
    "Clock",
    "GreatCircle",
    "LeftOut",
    "LeftOutReason",
    "Lunch",
    "Matrix",
    "Mode",
    "OsrmError",
    "OsrmTable",
    "Plan",
    "Point",
    "Problem",
    "ProblemError",
    "Route",
    "SolveOptions",
    "Stop",
    "Team",
    "TravelTimes",
    "Violation",
    "Window",
    "check_plan",
    "prize_from_value",
    "solve",
]
