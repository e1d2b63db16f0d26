"""A strategy's cadence turned into the case's next actions.

A cadence is a JSON object of entries per channel (``call``, ``sms``, ``email``,
``letter``, ``visit``):

- ``"<channel>_every_days": n`` — one attempt on the channel every n days: due on the
  day the case opened, then n days after the latest attempt on that channel;
- ``"<channel>_on_days": [k, …]`` — an attempt on day k of the case (day 1 is the day it
  opened): the earliest such day not followed by an attempt on that channel is due.

A call-back the collector scheduled (the latest attempt's next follow-up) is a next
action too. Any attempt counts, answered or not: the cadence says when to try. The queue
puts cases with an action due today or earlier first among equals (docs/workflow.md), and
the case page shows the next one.
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass
from typing import Any

from django.utils.translation import gettext as _

from cuishou.cases.choices import Channel

_KEY = re.compile(r"^(?P<channel>[a-z]+)_(?P<kind>every_days|on_days)$")
MAX_DAYS = 3650


@dataclass(frozen=True)
class NextAction:
    channel: str  # a Channel value
    due_on: dt.date
    why: str  # translated: "every 2 days", "day 7 of the case", "call-back"
    call_back: bool = False  # scheduled by the collector, not by the cadence

    @property
    def channel_label(self) -> str:
        return str(Channel(self.channel).label)

    def is_due(self, today: dt.date) -> bool:
        return self.due_on <= today


def cadence_errors(cadence: Any) -> list[str]:
    """What is wrong with a cadence (empty when it is right), in words for the admin."""
    if not isinstance(cadence, dict):
        return [_('A cadence is an object such as {"call_every_days": 2, "sms_on_days": [1, 7]}.')]
    errors = []
    for key, value in cadence.items():
        match = _KEY.match(str(key))
        if match is None or match["channel"] not in Channel.values:
            errors.append(
                _(
                    "%(key)s: use <channel>_every_days or <channel>_on_days "
                    "with a channel of %(channels)s."
                )
                % {"key": key, "channels": ", ".join(Channel.values)}
            )
            continue
        days = value if match["kind"] == "on_days" else [value]
        if match["kind"] == "on_days" and not isinstance(value, list):
            errors.append(_("%(key)s: a list of days such as [1, 7].") % {"key": key})
        elif not days or not all(
            isinstance(d, int) and not isinstance(d, bool) and 1 <= d <= MAX_DAYS for d in days
        ):
            errors.append(
                _("%(key)s: whole numbers of days from 1 to %(max)d.")
                % {"key": key, "max": MAX_DAYS}
            )
    return errors


def next_actions(
    *,
    cadence: dict[str, Any] | None,
    opened_on: dt.date,
    last_attempts: dict[str, dt.date],
    follow_up_on: dt.date | None = None,
) -> list[NextAction]:
    """The case's next action per cadence entry (and the call-back), earliest first.
    ``last_attempts``: channel → the day of the latest attempt on it."""
    actions: list[NextAction] = []
    for key, value in (cadence or {}).items():
        match = _KEY.match(str(key))
        if match is None or match["channel"] not in Channel.values:
            continue  # the admin refuses these; an old row is not a reason to fail the queue
        channel = match["channel"]
        last = last_attempts.get(channel)
        if match["kind"] == "every_days":
            if not isinstance(value, int) or value < 1:
                continue
            due = opened_on if last is None else last + dt.timedelta(days=value)
            actions.append(NextAction(channel, due, _("every %(n)d days") % {"n": value}))
            continue
        for day in sorted(d for d in value if isinstance(d, int) and d >= 1):
            due = opened_on + dt.timedelta(days=day - 1)
            if last is None or last < due:
                actions.append(NextAction(channel, due, _("day %(n)d of the case") % {"n": day}))
                break
    if follow_up_on is not None:
        actions.append(NextAction(Channel.CALL.value, follow_up_on, _("call-back"), call_back=True))
    actions.sort(key=lambda a: (a.due_on, Channel.values.index(a.channel)))
    return actions
