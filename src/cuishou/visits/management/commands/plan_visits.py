"""`cuishou plan-visits --date YYYY-MM-DD [--seconds S] [--lead USERNAME]`: plan every
team's day from the allocated visit cases, store the routes as drafts for approval, and
print per team the stops with their windows and the cases left out with the reason."""

from __future__ import annotations

import datetime as dt
import re
from typing import Any

from django.core.exceptions import PermissionDenied, ValidationError
from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.utils.translation import gettext as _

from cuishou.accounts.models import User
from cuishou.core.timeutil import SHANGHAI
from cuishou.visits.planning import DayPlan, TeamDay, day_plan


def _hm(when: dt.datetime | None) -> str:
    return f"{when.astimezone(SHANGHAI):%H:%M}" if when is not None else "—"


def _iso_hm(value: str | None) -> str:
    return _hm(dt.datetime.fromisoformat(value)) if value else "—"


class Command(BaseCommand):
    help = (
        "Plan the field teams' routes for a day and store them as drafts for approval. "
        "`cuishou plan-visits --date YYYY-MM-DD [--seconds S] [--lead USERNAME]`."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--date", required=True, help="the day to plan, YYYY-MM-DD")
        parser.add_argument(
            "--seconds", default="10", help="seconds of search for all teams (default 10)"
        )
        parser.add_argument("--lead", help="plan only the teams of this team lead (username)")
        parser.add_argument("--seed", type=int, default=0, help=_("the planner's random seed"))

    def handle(self, *args: Any, **options: Any) -> None:
        try:
            if not re.fullmatch(r"\d{4}-\d{2}-\d{2}", options["date"]):
                raise ValueError(options["date"])
            day = dt.date.fromisoformat(options["date"])
        except ValueError:
            raise CommandError(
                _("--date %(value)r is not a date like 2026-12-01.") % {"value": options["date"]}
            ) from None
        try:
            seconds = float(options["seconds"])
        except ValueError:
            seconds = -1.0
        if not 0 < seconds <= 3600:
            raise CommandError(_("--seconds must be a number of seconds above 0 and at most 3600."))
        lead = None
        if options["lead"]:
            lead = User.objects.filter(username=options["lead"], is_active=True).first()
            if lead is None:
                raise CommandError(_("No active user %(name)r.") % {"name": options["lead"]})
        try:
            plan = day_plan(day=day, seconds=seconds, lead=lead, seed=options["seed"])
        except ValidationError as exc:
            raise CommandError(" ".join(exc.messages)) from None
        except PermissionDenied as exc:
            raise CommandError(str(exc)) from None
        self._print(plan)

    def _print(self, plan: DayPlan) -> None:
        for td in plan.teams:
            self._team(td)
        self.stdout.write(
            _("%(day)s: %(n)d stops planned for %(teams)d teams, %(m)d cases left out.")
            % {"day": plan.day, "n": plan.planned, "teams": len(plan.teams), "m": plan.left_out}
        )

    def _team(self, td: TeamDay) -> None:
        team = td.team
        self.stdout.write(f"== {team} ({team.get_travel_mode_display()})")
        if td.skipped:
            self.stdout.write("   " + td.skipped)
            self.stdout.write("")
            return
        route = td.route
        assert route is not None
        figures = route.plan or {}
        if td.stops:
            self.stdout.write(
                "   "
                + _("Draft route: leaves %(depart)s, back %(back)s, %(km).1f km.")
                % {
                    "depart": _iso_hm(figures.get("depart")),
                    "back": _iso_hm(figures.get("back")),
                    "km": (figures.get("distance_m") or 0) / 1000,
                }
            )
        for stop in td.stops:
            vc = stop.visit_case
            self.stdout.write(
                f"   {stop.seq:2d}. {_hm(stop.expected_at)}  "
                + _("window %(from)s–%(to)s")
                % {"from": _hm(stop.window_start), "to": _hm(stop.window_end)}
                + f"  {vc.case.debtor.name}  {stop.address.get_kind_display()}  {stop.address.text}"
                + f"  ({vc.issue.number} #{vc.case_id}, {vc.amount})"
            )
        lunch = figures.get("lunch")
        if lunch:
            self.stdout.write(
                "   "
                + _("Lunch %(start)s–%(end)s")
                % {"start": _iso_hm(lunch["start"]), "end": _iso_hm(lunch["end"])}
            )
        for lo in td.left_out:
            vc = lo.visit_case
            self.stdout.write(
                "   "
                + _("Left out: %(debtor)s (#%(case)s, %(amount)s): %(reason)s")
                % {
                    "debtor": vc.case.debtor.name,
                    "case": vc.case_id,
                    "amount": vc.amount,
                    "reason": lo.label,
                }
            )
        self.stdout.write("")
