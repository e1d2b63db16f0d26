"""The one compliance check every contact goes through before it happens.

Every channel — the workbench's contact logging, SMS and e-mail, letters, campaigns,
visit planning and visit stops, ``cuishou compliance check`` — calls ``contact_check``
and acts only on an allowed decision. It answers allowed or blocked with the ids of the
rules that decided and a sentence a collector understands.

What it checks:

- the client's **policy pack** (``cuishou.compliance.packs``: CN by default, US), rule by
  rule, each of a type below, in the debtor's local time (``debtor_timezone``);
- the **house rules** every pack shares: no contact on a closed case; while a dispute is
  open only the debtor, about the dispute; none while a hold (bankruptcy, litigation) is
  in force; no contact point marked invalid or do-not-contact; no channel a number or
  address has opted out of (``ContactConsent``: the latest entry for that number and
  channel decides, and an opt-out of SMS or e-mail leaves calls alone).

What a rule reads besides the history: the consent on record for the number and channel,
whether the number is the debtor's workplace and the employer forbids calls there, whether
the case's debt is time-barred on the debtor's day (``time_barred_since``), and whether
the client collects its own accounts (a rule with ``applies_to = "debt_collector"`` is
skipped for a first-party creditor).

The history a rule counts (answered calls today, unanswered attempts on a number,
attempts in the last 7 days) is the case's logged contact attempts before ``at``.
``contact_check`` writes nothing: the caller logs the attempt (allowed) or the refusal.

A blocking hit of a rule the pack marks overridable no longer blocks while an approved
override of that rule on the case is in force at ``at`` (``ComplianceOverride``): the
decision lists it under ``overridden``, with the override and its approver, so the
attempt and its audit event show that it was made under an override.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field, replace
from functools import lru_cache
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from django.db.models import Q
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from cuishou.cases.choices import (
    CLOSED_STATUSES,
    UNANSWERED_OUTCOMES,
    CaseStatus,
    Channel,
    Outcome,
    Party,
)
from cuishou.compliance.language import (
    LanguageHit,
    debt_disclosure,
    phrases_found,
    prohibited_language,
    suit_threat,
)
from cuishou.compliance.packs import CONSENT_CHANNELS, minutes_of, rule_applies
from cuishou.portfolio.choices import ConsentSource


@dataclass(frozen=True)
class RuleHit:
    """A rule that decided (or was applied to) a contact: its id, whether it is law or
    house policy, and a sentence a collector understands."""

    rule_id: str
    kind: str  # "law" or "house"
    message: str


@dataclass(frozen=True)
class Overridden:
    """A hit that would have blocked, lifted by an approved override in force."""

    hit: RuleHit
    override_id: int
    approved_by: str
    until: dt.datetime

    def record(self) -> dict[str, Any]:
        """As the audit log and ``compliance.overrides.override_uses_record`` read it."""
        return {
            "rule": self.hit.rule_id,
            "override": self.override_id,
            "approved_by": self.approved_by,
        }


@dataclass(frozen=True)
class Decision:
    allowed: bool
    rules: tuple[RuleHit, ...] = field(default_factory=tuple)
    pack: str = ""
    overridden: tuple[Overridden, ...] = field(default_factory=tuple)

    @property
    def rule_ids(self) -> list[str]:
        """The rules that block (none when allowed)."""
        return [r.rule_id for r in self.rules]

    @property
    def overridden_ids(self) -> list[str]:
        return [o.hit.rule_id for o in self.overridden]

    @property
    def applied_ids(self) -> list[str]:
        """What an attempt records as the rules applied to it: the blocking rules, and
        ``override:<rule id>`` for each rule lifted by an override."""
        return self.rule_ids + [f"override:{rule_id}" for rule_id in self.overridden_ids]

    @property
    def message(self) -> str:
        return " ".join(r.message for r in self.rules)


class ContactBlocked(Exception):  # noqa: N818 (reads as what happened: raise ContactBlocked)
    """A contact the compliance check refused; ``decision`` says which rules and why."""

    def __init__(self, decision: Decision) -> None:
        super().__init__(decision.message)
        self.decision = decision


@dataclass(frozen=True)
class Past:
    """One earlier contact attempt, as the rules read it."""

    at: dt.datetime
    channel: str
    party: str
    outcome: str
    contact_point_id: int | None
    related_person_id: int | None

    @property
    def answered(self) -> bool:
        return self.outcome not in UNANSWERED_OUTCOMES and self.outcome != Outcome.WRONG_NUMBER

    @property
    def failed(self) -> bool:
        return not self.answered


# Outcomes that mean a telephone conversation with the debtor took place (Regulation F).
CONVERSATION_OUTCOMES = frozenset(
    {
        Outcome.RPC,
        Outcome.PTP,
        Outcome.REFUSES,
        Outcome.DISPUTES,
        Outcome.CLAIMS_PAID,
        Outcome.HARDSHIP,
        Outcome.CEASE,
    }
)


@dataclass(frozen=True)
class Consent:
    """The latest consent entry of a number or address for a channel, as the rules read it."""

    state: str  # "given" or "withdrawn"
    source: str  # import, call, reply, written
    at: dt.datetime

    @property
    def withdrawn(self) -> bool:
        return self.state == "withdrawn"

    @property
    def direct(self) -> bool:
        """Given by the debtor directly (any source but the client's file)."""
        return self.state == "given" and self.source != "import"


@dataclass(frozen=True)
class Attempt:
    """A contact about to happen, with what the rules need to know about it."""

    case: Any
    channel: str
    party: str
    at: dt.datetime
    contact_point: Any = None
    related_person: Any = None
    purpose: str = "collect"  # collect | dispute | locate | notice | suit (a legal filing)
    text: str = ""  # what goes out (SMS, e-mail, letter)
    notes: str = ""  # the collector's notes (checked for prohibited language only)
    own_points: frozenset[int] = frozenset()  # the debtor's own contact points
    visitors: int | None = None
    route_approved: bool | None = None
    history: tuple[Past, ...] = ()
    timezone: str = "Asia/Shanghai"
    hold: str = ""  # the kind of a hold in force on the day, translated, or ""
    consent: Consent | None = None  # the latest entry for the contact point and channel
    employer_forbids: bool = False  # the debtor said so, on or before the day
    time_barred_since: dt.date | None = None  # the last limitation date, when all passed
    first_party: bool = False  # the client collects its own accounts

    @property
    def local(self) -> dt.datetime:
        return self.at.astimezone(ZoneInfo(self.timezone))

    @property
    def third_party(self) -> bool:
        person = self.related_person
        return self.party == Party.RELATED and person is not None and person.is_third_party

    def same_local_day(self) -> list[Past]:
        day = self.local.date()
        zone = ZoneInfo(self.timezone)
        return [p for p in self.history if p.at.astimezone(zone).date() == day]

    def within_days(self, days: int) -> list[Past]:
        since = self.at - dt.timedelta(days=days)
        return [p for p in self.history if since < p.at <= self.at]


def _spans(text: str, hits: Iterable[LanguageHit]) -> str:
    return "; ".join(f"“{h.found_in(text)}” [{h.start}:{h.end}]" for h in hits)


_WRITTEN = frozenset({Channel.SMS, Channel.EMAIL, Channel.LETTER})

_CATEGORY = {
    "threat": gettext_lazy("a threat"),
    "false_legal": gettext_lazy("a false threat of arrest or criminal charges"),
    "shaming": gettext_lazy("a threat to tell others or make it public"),
    "insult": gettext_lazy("an insult"),
    "obscenity": gettext_lazy("obscene language"),
}


# --- the rule types --------------------------------------------------------------------
# Each takes the rule (its params) and the attempt and returns a message when the rule
# blocks it, else None.


def _quiet_hours(rule: Any, a: Attempt) -> str | None:
    start, until = minutes_of(rule.param("from")), minutes_of(rule.param("until"))
    assert start is not None and until is not None  # pack_read checks them
    now = a.local.hour * 60 + a.local.minute
    quiet = (now >= start or now < until) if start > until else (start <= now < until)
    if not quiet:
        return None
    return _(
        "It is %(time)s where the debtor is (%(zone)s): no contact between %(start)s and %(until)s."
    ) % {
        "time": a.local.strftime("%H:%M"),
        "zone": a.timezone,
        "start": rule.param("from"),
        "until": rule.param("until"),
    }


def _answered_calls_per_day(rule: Any, a: Attempt) -> str | None:
    if a.channel != Channel.CALL or a.party == Party.RELATED:
        return None
    answered = [
        p
        for p in a.same_local_day()
        if p.channel == Channel.CALL and p.party == Party.DEBTOR and p.answered
    ]
    if len(answered) < rule.param("max"):
        return None
    return _("The debtor has already taken %(n)d calls today (at most %(max)d a day).") % {
        "n": len(answered),
        "max": rule.param("max"),
    }


def _unanswered_per_number_per_day(rule: Any, a: Attempt) -> str | None:
    if a.channel != Channel.CALL or a.contact_point is None:
        return None
    unanswered = [
        p
        for p in a.same_local_day()
        if p.channel == Channel.CALL
        and p.contact_point_id == a.contact_point.pk
        and p.outcome in UNANSWERED_OUTCOMES
    ]
    if len(unanswered) < rule.param("max"):
        return None
    return _(
        "This number has had %(n)d unanswered calls today (at most %(max)d a day per number)."
    ) % {"n": len(unanswered), "max": rule.param("max")}


def _third_party_unreachable(rule: Any, a: Attempt) -> str | None:
    if not a.third_party:
        return None
    needed = int(rule.param("failed_attempts"))
    own = [
        p
        for p in a.history
        if p.at < a.at and (p.party == Party.DEBTOR or p.contact_point_id in a.own_points)
    ]
    own.sort(key=lambda p: p.at)
    last = own[-needed:]
    if len(last) >= needed and all(p.failed for p in last):
        return None
    return _(
        "%(person)s is a third party: contact them only when the debtor is unreachable "
        "(%(n)d failed attempts in a row on the debtor's numbers; so far %(failed)d)."
    ) % {
        "person": a.related_person.get_relation_display(),
        "n": needed,
        "failed": _trailing_failures(own),
    }


def _trailing_failures(attempts: list[Past]) -> int:
    n = 0
    for p in reversed(attempts):
        if not p.failed:
            break
        n += 1
    return n


def _third_party_no_disclosure(rule: Any, a: Attempt) -> str | None:
    if not a.third_party or a.channel not in _WRITTEN:
        return None
    hits = debt_disclosure(a.text)
    if not hits:
        return None
    return _("A message to a third party must not mention the debt: %(found)s.") % {
        "found": _spans(a.text, hits)
    }


def _third_party_refused(rule: Any, a: Attempt) -> str | None:
    person = a.related_person
    if a.party != Party.RELATED or person is None or not person.refused_contact:
        return None
    return _("This person refused further contact: they are never contacted again.")


def _visit_visitors(rule: Any, a: Attempt) -> str | None:
    if a.channel != Channel.VISIT or (a.visitors or 0) >= rule.param("min"):
        return None
    return _("A visit needs at least %(min)d visitors (this one has %(n)d).") % {
        "min": rule.param("min"),
        "n": a.visitors or 0,
    }


def _visit_route(rule: Any, a: Attempt) -> str | None:
    if a.channel != Channel.VISIT or a.route_approved:
        return None
    return _("A visit goes only on an approved route.")


def _prohibited_language(rule: Any, a: Attempt) -> str | None:
    found = []
    for label, text in ((_("The text"), a.text), (_("The notes"), a.notes)):
        hits = prohibited_language(text)
        if hits:
            kinds = sorted({str(_CATEGORY.get(h.category, h.category)) for h in hits})
            found.append(
                _("%(what)s has %(kinds)s: %(found)s.")
                % {"what": label, "kinds": ", ".join(kinds), "found": _spans(text, hits)}
            )
    return " ".join(found) or None


def _ceased(history: Iterable[Past]) -> bool:
    return any(p.outcome == Outcome.CEASE for p in history)


def _cease(rule: Any, a: Attempt) -> str | None:
    if not _ceased(a.history) or a.purpose == "notice":
        return None
    return _(
        "The debtor asked to stop being contacted: only the notices the rules allow may be sent."
    )


def _deceased(rule: Any, a: Attempt) -> str | None:
    if not any(p.outcome == Outcome.DECEASED for p in a.history):
        return None
    return _("The debtor is reported deceased: the case goes to legal, not to collectors.")


def _calls_in_days(rule: Any, a: Attempt) -> str | None:
    if a.channel != Channel.CALL:
        return None
    days, most = int(rule.param("days")), int(rule.param("max"))
    calls = [p for p in a.within_days(days) if p.channel == Channel.CALL and p.at < a.at]
    if len(calls) < most:
        return None
    return _("%(n)d calls about this debt in the last %(days)d days (at most %(max)d).") % {
        "n": len(calls),
        "days": days,
        "max": most,
    }


def _call_after_conversation(rule: Any, a: Attempt) -> str | None:
    if a.channel != Channel.CALL:
        return None
    days = int(rule.param("days"))
    talks = [
        p
        for p in a.within_days(days)
        if p.channel == Channel.CALL
        and p.party == Party.DEBTOR
        and p.outcome in CONVERSATION_OUTCOMES
        and p.at < a.at
    ]
    if not talks:
        return None
    last = max(p.at for p in talks).astimezone(ZoneInfo(a.timezone))
    return _(
        "The debtor had a telephone conversation about this debt on %(day)s: no call "
        "within %(days)d days after it."
    ) % {"day": last.date().isoformat(), "days": days}


def _location_once(rule: Any, a: Attempt) -> str | None:
    if not a.third_party:
        return None
    person = a.related_person.pk
    if not any(p.related_person_id == person for p in a.history if p.at < a.at):
        return None
    return _("A third party is contacted once only, to learn where the debtor is.")


_CHANNEL_WORDS = {
    "call": gettext_lazy("calls"),
    "sms": gettext_lazy("text messages"),
    "email": gettext_lazy("e-mail"),
}


def _channel_words(channel: str) -> str:
    return str(_CHANNEL_WORDS.get(channel, channel))


def _prior_consent(rule: Any, a: Attempt) -> str | None:
    if a.channel not in rule.param("required_for"):
        return None
    if a.consent is not None and a.consent.state == "given":
        return None
    return _(
        "%(channel)s to this number or address need the debtor's consent first, and none "
        "is on record."
    ) % {"channel": _channel_words(a.channel).capitalize()}


def _opt_out_instruction(rule: Any, a: Attempt) -> str | None:
    if not a.text or phrases_found(a.text, tuple(rule.param("phrases"))):
        return None
    return _(
        "Every e-mail and text message must tell the reader how to opt out (for example "
        "“%(example)s”): this one does not."
    ) % {"example": rule.params.get("example") or rule.param("phrases")[0]}


def _workplace_calls(rule: Any, a: Attempt) -> str | None:
    point = a.contact_point
    if point is None or not point.is_workplace or not a.employer_forbids:
        return None
    return _(
        "This is the debtor's workplace number and the debtor said the employer forbids "
        "calls at work (since %(day)s): do not call or text it; use another number."
    ) % {"day": a.case.debtor.employer_forbids_calls_since.isoformat()}


def _employer_email(rule: Any, a: Attempt) -> str | None:
    point = a.contact_point
    if point is None or not point.is_workplace or (a.consent is not None and a.consent.direct):
        return None
    return _(
        "This e-mail address was provided by the debtor's employer: no e-mail to it unless "
        "the debtor consents to it directly or writes to us from it."
    )


def _time_barred_suit(rule: Any, a: Attempt) -> str | None:
    if a.time_barred_since is None or a.purpose != "suit":
        return None
    return _(
        "The debt is time-barred (the limitation period ended on %(day)s): no suit may be "
        "filed on it."
    ) % {"day": a.time_barred_since.isoformat()}


def _time_barred_threat(rule: Any, a: Attempt) -> str | None:
    if a.time_barred_since is None:
        return None
    found = []
    for label, text in ((_("The text"), a.text), (_("The notes"), a.notes)):
        hits = suit_threat(text)
        if hits:
            found.append(
                _("%(what)s threatens a lawsuit: %(found)s.")
                % {"what": label, "found": _spans(text, hits)}
            )
    if not found:
        return None
    return " ".join(
        [
            _(
                "The debt is time-barred (the limitation period ended on %(day)s): nobody may "
                "threaten to sue on it."
            )
            % {"day": a.time_barred_since.isoformat()},
            *found,
        ]
    )


CHECKS: dict[str, Callable[[Any, Attempt], str | None]] = {
    "quiet_hours": _quiet_hours,
    "answered_calls_per_day": _answered_calls_per_day,
    "unanswered_per_number_per_day": _unanswered_per_number_per_day,
    "third_party_unreachable": _third_party_unreachable,
    "third_party_no_disclosure": _third_party_no_disclosure,
    "third_party_refused": _third_party_refused,
    "visit_visitors": _visit_visitors,
    "visit_route": _visit_route,
    "prohibited_language": _prohibited_language,
    "cease": _cease,
    "deceased": _deceased,
    "calls_in_days": _calls_in_days,
    "call_after_conversation": _call_after_conversation,
    "location_once": _location_once,
    "prior_consent": _prior_consent,
    "opt_out_instruction": _opt_out_instruction,
    "workplace_calls": _workplace_calls,
    "employer_email": _employer_email,
    "time_barred_suit": _time_barred_suit,
    "time_barred_threat": _time_barred_threat,
}


def _house(a: Attempt) -> list[RuleHit]:
    hits: list[RuleHit] = []
    case = a.case
    if case is not None and case.status in CLOSED_STATUSES:
        hits.append(
            RuleHit(
                "house.case_closed", "house", _("The case is closed: no more collection contact.")
            )
        )
    paused = case is not None and case.status == CaseStatus.PAUSED
    if paused and not (a.purpose == "dispute" and a.party in (Party.DEBTOR, Party.NOBODY)):
        hits.append(
            RuleHit(
                "house.dispute_pause",
                "house",
                _(
                    "The debtor disputes the debt: collection is paused until the dispute "
                    "is resolved (only the debtor may be contacted, about the dispute)."
                ),
            )
        )
    if a.hold:
        hits.append(
            RuleHit(
                "house.hold",
                "house",
                _("The case is on hold (%(kind)s): nobody contacts the debtor about it.")
                % {"kind": a.hold},
            )
        )
    point = a.contact_point
    if point is not None and point.status in ("invalid", "do_not_contact"):
        hits.append(
            RuleHit(
                "house.contact_point",
                "house",
                _("This number or address is marked %(status)s: it is not used.")
                % {"status": point.get_status_display()},
            )
        )
    if a.consent is not None and a.consent.withdrawn:
        hits.append(
            RuleHit(
                "house.opt_out",
                "house",
                _(
                    "This number or address was opted out of %(channel)s on %(day)s "
                    "(%(source)s): no %(channel)s to it until consent is given again. Other "
                    "channels are not affected."
                )
                % {
                    "channel": _channel_words(a.channel),
                    "day": a.consent.at.astimezone(ZoneInfo(a.timezone)).date().isoformat(),
                    "source": ConsentSource(a.consent.source).label,
                },
            )
        )
    return hits


# --- the debtor's time zone ------------------------------------------------------------

_US_STATE = re.compile(r"\b([A-Z]{2})\s+\d{5}(?:-\d{4})?\b")
_STATE_ZONES = {
    **dict.fromkeys(
        [
            "CT",
            "DC",
            "DE",
            "FL",
            "GA",
            "IN",
            "KY",
            "MA",
            "MD",
            "ME",
            "MI",
            "NC",
            "NH",
            "NJ",
            "NY",
            "OH",
            "PA",
            "RI",
            "SC",
            "VA",
            "VT",
            "WV",
        ],
        "America/New_York",
    ),
    **dict.fromkeys(
        [
            "AL",
            "AR",
            "IA",
            "IL",
            "KS",
            "LA",
            "MN",
            "MO",
            "MS",
            "ND",
            "NE",
            "OK",
            "SD",
            "TN",
            "TX",
            "WI",
        ],
        "America/Chicago",
    ),
    **dict.fromkeys(["CO", "MT", "NM", "UT", "WY", "ID"], "America/Denver"),
    "AZ": "America/Phoenix",
    **dict.fromkeys(["CA", "NV", "OR", "WA"], "America/Los_Angeles"),
    "AK": "America/Anchorage",
    "HI": "Pacific/Honolulu",
}


def state_of(address_text: str) -> str:
    """The two-letter US state of an address written "…, City, ST 12345", else ""."""
    match = _US_STATE.search(address_text or "")
    return match.group(1) if match and match.group(1) in _STATE_ZONES else ""


def debtor_place(debtor: Any, pack_zone: str) -> tuple[str, str]:
    """(time zone, US state) of the debtor from their residence (else any) address; the
    pack's zone when no address says otherwise."""
    addresses = sorted(debtor.addresses.all(), key=lambda ad: (ad.kind != "residence", ad.pk))
    for address in addresses:
        state = state_of(address.text)
        if state:
            return _STATE_ZONES[state], state
    return pack_zone, ""


def debtor_zone(debtor: Any, pack: Any) -> tuple[str, str]:
    """(time zone, US state) the pack's rules read the debtor's local time in: from the
    address, else (or when the zone is unknown here) the pack's."""
    zone, state = debtor_place(debtor, pack.timezone)
    return (zone if _zone_ok(zone) else pack.timezone), state


@lru_cache(maxsize=16)
def _zone_ok(name: str) -> bool:
    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):  # an unknown or malformed zone name
        return False
    return True


# --- the entry point -------------------------------------------------------------------


HISTORY_DAYS = 8  # the 7-day rules and the local day, with a day to spare


def history_days(rules: Iterable[Any]) -> int:
    """How many days of history the rules read: ``HISTORY_DAYS``, or a day more than the
    longest ``days`` window among them (a client may lengthen one, ``ClientRule``)."""
    longest = max((int(r.params["days"]) for r in rules if "days" in r.params), default=0)
    return max(HISTORY_DAYS, longest + 1)


def case_history(case: Any, before: dt.datetime, days: int = HISTORY_DAYS) -> tuple[Past, ...]:
    """The case's contact attempts in the ``days`` before ``before`` (what the rules
    count; one at the same instant is the attempt itself, checked again), plus every
    cease or deceased outcome ever logged (they never expire)."""
    if case is None or case.pk is None:
        return ()
    rows = case.contact_attempts.filter(
        Q(attempted_at__gt=before - dt.timedelta(days=days), attempted_at__lt=before)
        | Q(outcome__in=[Outcome.CEASE, Outcome.DECEASED], attempted_at__lt=before)
    ).values_list(
        "attempted_at", "channel", "party", "outcome", "contact_point_id", "related_person_id"
    )
    return tuple(Past(*row) for row in rows)


_FIELDS = ("attempted_at", "channel", "party", "outcome", "contact_point_id", "related_person_id")
OWN_RECENT = 10  # the debtor's latest attempts a third-party rule may look back on


def _third_party_history(
    case: Any, before: dt.datetime, own_points: frozenset[int], person: Any
) -> tuple[Past, ...]:
    """For a contact with a third party, whatever its age: the debtor's latest own
    attempts (is the debtor unreachable?) and every attempt with that person (contacted
    before?)."""
    earlier = case.contact_attempts.filter(attempted_at__lt=before)
    own = earlier.filter(Q(party=Party.DEBTOR) | Q(contact_point_id__in=own_points)).order_by(
        "-attempted_at", "-id"
    )[:OWN_RECENT]
    theirs = earlier.filter(related_person=person)
    return tuple(Past(*row) for row in [*own.values_list(*_FIELDS), *theirs.values_list(*_FIELDS)])


def client_overrides(client_ids: Iterable[int]) -> dict[int, dict[str, dict[str, Any]]]:
    """client → rule id → the stricter parameters the client set (``ClientRule``)."""
    from cuishou.compliance.models import ClientRule

    out: dict[int, dict[str, dict[str, Any]]] = {}
    for client_id, rule_id, params in ClientRule.objects.filter(
        client_id__in=list(client_ids)
    ).values_list("client_id", "rule_id", "params"):
        out.setdefault(client_id, {})[rule_id] = dict(params or {})
    return out


def holds_of(case_ids: Iterable[int]) -> dict[int, list[Any]]:
    """case → its contact holds (``ContactHold``), earliest first, in one query."""
    from cuishou.compliance.models import ContactHold

    out: dict[int, list[Any]] = {}
    for hold in ContactHold.objects.filter(case_id__in=list(case_ids)).order_by("starts_on", "pk"):
        out.setdefault(hold.case_id, []).append(hold)
    return out


def hold_in_force(holds: Iterable[Any], day: dt.date) -> str:
    """The (translated) kind of the first of ``holds`` in force on ``day``, or ""."""
    for hold in holds:
        if hold.starts_on <= day and (hold.ends_on is None or day <= hold.ends_on):
            return str(hold.get_kind_display())
    return ""


def hold_on(case: Any, day: dt.date) -> str:
    """The (translated) kind of a hold in force on the case on ``day``, or ""."""
    if case is None or case.pk is None:
        return ""
    return hold_in_force(holds_of([case.pk]).get(case.pk, []), day)


def overrides_in_force(case_id: int, rule_ids: Iterable[str], at: dt.datetime) -> dict[str, Any]:
    """rule id → the approved ``ComplianceOverride`` of it on the case in force at ``at``
    (the earliest approved when several are), in one indexed query."""
    from cuishou.compliance.models import ComplianceOverride, OverrideStatus

    out: dict[str, Any] = {}
    for override in (
        ComplianceOverride.objects.filter(
            case_id=case_id,
            rule_id__in=list(rule_ids),
            valid_until__gt=at,
            valid_from__lte=at,
            status=OverrideStatus.APPROVED,
        )
        .select_related("decided_by")
        .order_by("valid_from", "pk")
    ):
        out.setdefault(override.rule_id, override)
    return out


def _lift(
    hits: list[RuleHit], liftable: list[str], case: Any, at: dt.datetime
) -> tuple[list[RuleHit], tuple[Overridden, ...]]:
    """``hits`` without those an override in force lifts, and the lifted ones. Reads the
    overrides only when a hit is of an overridable rule."""
    if not liftable or case is None or case.pk is None:
        return hits, ()
    granted = overrides_in_force(case.pk, liftable, at)
    if not granted:
        return hits, ()
    lifted = tuple(
        Overridden(
            hit=h,
            override_id=granted[h.rule_id].pk,
            approved_by=str(granted[h.rule_id].decided_by),
            until=granted[h.rule_id].valid_until,
        )
        for h in hits
        if h.rule_id in granted
    )
    return [h for h in hits if h.rule_id not in granted], lifted


def consents_of(point_ids: Iterable[int]) -> dict[int, list[Any]]:
    """contact point → its consent entries (``ContactConsent``), oldest first, in one query."""
    from cuishou.portfolio.models import ContactConsent

    out: dict[int, list[Any]] = {}
    for entry in ContactConsent.objects.filter(contact_point_id__in=list(point_ids)).order_by(
        "at", "pk"
    ):
        out.setdefault(entry.contact_point_id, []).append(entry)
    return out


def consent_at(entries: Iterable[Any], channel: str, at: dt.datetime) -> Consent | None:
    """The latest of a contact point's ``entries`` (oldest first) for ``channel`` made at or
    before ``at``, or None when there is none."""
    if channel not in CONSENT_CHANNELS:
        return None
    latest = None
    for entry in entries:
        if entry.channel == channel and entry.at <= at:
            latest = entry
    return None if latest is None else Consent(latest.state, latest.source, latest.at)


def limitations_of(cases: Iterable[tuple[int, int]]) -> dict[tuple[int, int], list[Any]]:
    """(client, debtor) → the limitation dates (or None) of the debtor's loans with the
    client that are not paid off, in one query."""
    from cuishou.portfolio.choices import LoanStatus
    from cuishou.portfolio.models import Loan

    keys = set(cases)
    out: dict[tuple[int, int], list[Any]] = {}
    if not keys:
        return out
    rows = (
        Loan.objects.filter(client_id__in={c for c, _ in keys}, debtor_id__in={d for _, d in keys})
        .exclude(status=LoanStatus.PAID_OFF)
        .values_list("client_id", "debtor_id", "limitation_on")
    )
    for client_id, debtor_id, limitation_on in rows:
        if (client_id, debtor_id) in keys:
            out.setdefault((client_id, debtor_id), []).append(limitation_on)
    return out


def time_barred_since(limitations: Iterable[dt.date | None], day: dt.date) -> dt.date | None:
    """When every one of a case's loans (``limitations``: their limitation dates) is past its
    limitation date on ``day`` — the last day a suit could be filed is before ``day`` — the
    latest of those dates; else None (a loan without a date, or still within its period,
    keeps the case suable; a case without loans is not time-barred)."""
    dates = list(limitations)
    if not dates or any(d is None or d >= day for d in dates):
        return None
    return max(d for d in dates if d is not None)


def employer_forbids_on(debtor: Any, day: dt.date) -> bool:
    """Has the debtor said, on or before ``day``, that the employer forbids calls at work?"""
    since = getattr(debtor, "employer_forbids_calls_since", None)
    return since is not None and since <= day


TIME_BARRED_TYPES = frozenset({"time_barred_suit", "time_barred_threat"})


def _own_points(case: Any, party: str, related_person: Any) -> frozenset[int]:
    """The debtor's own contact points, read only when a third party is to be contacted
    (the rule that counts failed attempts on the debtor's numbers needs them)."""
    if case is None or party != Party.RELATED or related_person is None:
        return frozenset()
    return frozenset(
        case.debtor.contact_points.filter(related_person=None).values_list("pk", flat=True)
    )


def _history(
    case: Any, at: dt.datetime, party: str, person: Any, days: int = HISTORY_DAYS
) -> tuple[Past, ...]:
    rows = case_history(case, at, days)
    if case is None or case.pk is None or person is None or not person.is_third_party:
        return rows
    own = _own_points(case, party, person)
    seen = set(rows)
    return rows + tuple(p for p in _third_party_history(case, at, own, person) if p not in seen)


def contact_check(
    *,
    case: Any,
    channel: str,
    party: str,
    at: dt.datetime,
    actor: Any = None,
    contact_point: Any = None,
    related_person: Any = None,
    purpose: str = "collect",
    text: str = "",
    notes: str = "",
    visitors: int | None = None,
    route_approved: bool | None = None,
    history: tuple[Past, ...] | None = None,
) -> Decision:
    """Allowed or blocked, with the rules that decided. Writes nothing: the caller logs
    the attempt (allowed) or the refusal (``ContactBlocked``)."""
    from cuishou.compliance.packs import pack_get, rules_with

    if at.tzinfo is None:
        raise ValueError("contact_check needs an aware time")
    pack = pack_get(case.client.policy_pack if case is not None else "CN")
    zone, state = (pack.timezone, "")
    if case is not None:
        zone, state = debtor_zone(case.debtor, pack)
    stricter = client_overrides([case.client_id]).get(case.client_id, {}) if case else {}
    rules = rules_with(pack.rules_for(state), stricter)
    if history is None:
        history = _history(case, at, party, related_person, history_days(rules))
    attempt = Attempt(
        case=case,
        channel=channel,
        party=party,
        at=at,
        contact_point=contact_point,
        related_person=related_person,
        purpose=purpose,
        text=text or "",
        notes=notes or "",
        own_points=_own_points(case, party, related_person),
        visitors=visitors,
        route_approved=route_approved,
        history=history,
        timezone=zone,
    )
    day = attempt.local.date()
    consent = None
    if contact_point is not None and contact_point.pk is not None and channel in CONSENT_CHANNELS:
        consent = consent_at(consents_of([contact_point.pk]).get(contact_point.pk, []), channel, at)
    barred = None
    if case is not None and any(r.type in TIME_BARRED_TYPES for r in rules):
        key = (case.client_id, case.debtor_id)
        barred = time_barred_since(limitations_of([key]).get(key, []), day)
    first_party = bool(case is not None and case.client.first_party_creditor)
    attempt = replace(
        attempt,
        hold=hold_on(case, day),
        consent=consent,
        employer_forbids=case is not None and employer_forbids_on(case.debtor, day),
        time_barred_since=barred,
        first_party=first_party,
    )
    hits = _house(attempt)
    liftable: list[str] = []
    for rule in rules:
        if channel not in rule.channels or not rule_applies(rule, first_party=first_party):
            continue
        message = CHECKS[rule.type](rule, attempt)
        if message is not None:
            hits.append(RuleHit(rule.id, rule.kind, message))
            if rule.overridable:
                liftable.append(rule.id)
    hits, lifted = _lift(hits, liftable, case, at)
    return Decision(
        allowed=not hits,
        rules=tuple(hits),
        pack=f"{pack.code} {pack.version}",
        overridden=lifted,
    )


def contact_require(**kwargs: Any) -> Decision:
    """``contact_check``, raising ``ContactBlocked`` when the contact is refused."""
    decision = contact_check(**kwargs)
    if not decision.allowed:
        raise ContactBlocked(decision)
    return decision
