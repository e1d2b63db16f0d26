"""`cuishou plan-visits`: end to end on the visit world and on the demo; bad input."""

from __future__ import annotations

import datetime as dt
import io

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from cuishou.portfolio.models import Address
from cuishou.visits.choices import RouteStatus
from cuishou.visits.models import Route, RouteStop
from tests.visits.planning_helpers import allocated, next_weekday


def plan_visits(*args: str) -> str:
    out = io.StringIO()
    call_command("plan_visits", *args, stdout=out)
    return out.getvalue()


def test_the_command_plans_every_team_and_prints_stops_windows_and_left_out(world):
    day = next_weekday()
    Address.objects.filter(debtor=world.cases[3].debtor).update(lat=None, lon=None)
    allocated(world, day)

    output = plan_visits("--date", day.isoformat(), "--seconds", "2")

    routes = Route.objects.filter(day=day)
    assert set(routes.values_list("status", flat=True)) == {RouteStatus.DRAFT}
    assert RouteStop.objects.filter(route__day=day).count() == 3
    for team in world.teams:
        assert f"== {team.name}" in output
    for stop in RouteStop.objects.filter(route__day=day).select_related("visit_case__case__debtor"):
        assert stop.visit_case.case.debtor.name in output
    assert "window " in output
    assert "Left out: 刘洋" in output and "No address with coordinates" in output
    assert "3 stops planned for 2 teams, 1 cases left out" in output


def test_the_command_plans_only_the_named_leads_teams(world):
    day = next_weekday()
    allocated(world, day)
    output = plan_visits("--date", day.isoformat(), "--seconds", "1", "--lead", "lead")
    assert "4 stops planned for 2 teams" in output


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--date", "2026-02-30"], "not a date"),
        (["--date", "next week"], "not a date"),
        (["--date", "2020-01-01"], "in the past"),
        (["--date", "{day}", "--seconds", "-1"], "--seconds"),
        (["--date", "{day}", "--seconds", "many"], "--seconds"),
        (["--date", "{day}", "--lead", "nobody"], "No active user"),
        (["--date", "{day}", "--lead", "risk"], "leads no active field team"),
    ],
)
def test_bad_input_is_a_clear_error(world, args, message):
    day = next_weekday().isoformat()
    with pytest.raises(CommandError, match=message):
        plan_visits(*[a.format(day=day) for a in args])
    assert not Route.objects.exists()


def test_no_teams_at_all_is_an_error(db):
    with pytest.raises(CommandError, match="no active field team"):
        plan_visits("--date", next_weekday().isoformat())


def test_the_console_script_takes_the_hyphenated_name_and_fails_on_stderr():
    import subprocess
    import sys
    from pathlib import Path

    script = Path(sys.executable).parent / "cuishou"
    done = subprocess.run(
        [str(script), "plan-visits", "--date", "someday"],
        capture_output=True,
        text=True,
        env={"PATH": "/usr/bin:/bin", "LANGUAGE": "en", "CUISHOU_LANGUAGE": "en"},
        check=False,
    )
    assert done.returncode != 0
    assert "CommandError" in done.stderr and "'someday'" in done.stderr


def test_the_demo_has_a_visit_day_to_plan(db):
    from cuishou.core.timeutil import today_shanghai
    from cuishou.visits.models import FieldTeam, VisitCase

    demo_out = io.StringIO()
    call_command("demo", "--no-serve", "--accounts", "300", "--seed", "1", stdout=demo_out)
    tomorrow = (today_shanghai() + dt.timedelta(days=1)).isoformat()
    assert f"plan-visits --date {tomorrow}" in demo_out.getvalue()
    assert [t.members.count() for t in FieldTeam.objects.order_by("name")] == [2, 2]
    assert VisitCase.objects.filter(status="allocated").count() >= 4

    output = plan_visits("--date", tomorrow, "--seconds", "2")

    assert RouteStop.objects.filter(route__day=tomorrow).count() >= 4
    assert "== 外访一组" in output and "== 外访二组" in output
