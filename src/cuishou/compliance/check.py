"""The one compliance check every contact goes through before it happens.

Every channel — the workbench's contact logging, SMS and e-mail, letters, campaigns,
visit planning and visit stops, ``cuishou compliance check`` — calls ``contact_check``
and acts only on an allowed decision. It answers allowed or blocked with the ids of the
rules that decided and a sentence a collector understands.

What it checks:

- the client's **policy pack** (``cuishou.compliance.packs``: CN by default, US), rule by
  rule, each of a type below, in the debtor's local time (``debtor_zone``);
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

The history a rule counts (answered calls today, unanswered attempts on a number, calls
and conversations in a rule's window, failed attempts in a row on the debtor's numbers,
contacts with the person, a cease or deceased outcome however old) is the case's logged
contact attempts before ``at``. ``contact_check`` writes nothing: the caller logs the
attempt (allowed) or the refusal.

Where the facts come from: two hand-written statements per check
(``cuishou.compliance.facts``) — ``check_context`` (pack, client, stricter client rules,
addresses, holds, loans, the contact point, the related person, the consent entry, whether
an override is in force) and ``check_history`` (the counts above) — and the overrides only
when a blocking rule is overridable and one is in force. Nothing is cached, so a change
decides the very next check. The case's status is read from the ``case`` the caller
passes; the contact point, the related person and the rest are read from the database
(an unsaved contact point or person is taken as given).

A blocking hit of a rule the pack marks overridable no longer blocks while an approved
override of that rule on the case is in force at ``at`` (``ComplianceOverride``): the
decision lists it under ``overridden``, with the override and its approver, so the
attempt and its audit event show that it was made under an override.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from cuishou.cases.choices import (
    CLOSED_STATUSES,
    CaseStatus,
    Channel,
    Party,
)
from cuishou.compliance.facts import (
    CheckHistory,
    Consent,
    check_context,
    check_history,
)
from cuishou.compliance.language import (
    LanguageHit,
    debt_disclosure,
    phrases_found,
    prohibited_language,
    suit_threat,
)
from cuishou.compliance.packs import CONSENT_CHANNELS, minutes_of, rule_applies
from cuishou.portfolio.choices import ConsentSource, ContactStatus, Relation


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
class Attempt:
    """A contact about to happen, with what the rules need to know about it: what the
    caller passes, and the facts read for it (``compliance.facts``)."""

    case: Any
    channel: str
    party: str
    at: dt.datetime
    contact_point: Any = None
    related_person: Any = None
    purpose: str = "collect"  # collect | dispute | locate | notice | suit (a legal filing)
    text: str = ""  # what goes out (SMS, e-mail, letter)
    notes: str = ""  # the collector's notes (checked for prohibited language only)
    visitors: int | None = None
    route_approved: bool | None = None
    seen: CheckHistory = field(default_factory=CheckHistory)  # the counts over the history
    timezone: str = "Asia/Shanghai"
    hold: str = ""  # the kind of a hold in force on the day, translated, or ""
    consent: Consent | None = None  # the latest entry for the contact point and channel
    point_status: str = ""  # the contact point's status as stored
    point_workplace: bool = False  # the contact point is the workplace or employer-provided
    third_party: bool = False  # a related person other than a co-borrower or guarantor
    person_refused: bool = False  # the related person refused further contact
    employer_forbids: bool = False  # the debtor said so, on or before the day
    employer_forbids_since: dt.date | None = None
    time_barred_since: dt.date | None = None  # the last limitation date, when all passed
    first_party: bool = False  # the client collects its own accounts

    @property
    def local(self) -> dt.datetime:
        return self.at.astimezone(ZoneInfo(self.timezone))


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
    answered = a.seen.answered_today
    if answered < rule.param("max"):
        return None
    return _("The debtor has already taken %(n)d calls today (at most %(max)d a day).") % {
        "n": answered,
        "max": rule.param("max"),
    }


def _unanswered_per_number_per_day(rule: Any, a: Attempt) -> str | None:
    if a.channel != Channel.CALL or a.contact_point is None:
        return None
    unanswered = a.seen.unanswered_here_today
    if unanswered < rule.param("max"):
        return None
    return _(
        "This number has had %(n)d unanswered calls today (at most %(max)d a day per number)."
    ) % {"n": unanswered, "max": rule.param("max")}


def _third_party_unreachable(rule: Any, a: Attempt) -> str | None:
    if not a.third_party:
        return None
    needed = int(rule.param("failed_attempts"))
    failed = a.seen.failed_in_a_row
    if failed >= needed:
        return None
    return _(
        "%(person)s is a third party: contact them only when the debtor is unreachable "
        "(%(n)d failed attempts in a row on the debtor's numbers; so far %(failed)d)."
    ) % {
        "person": a.related_person.get_relation_display(),
        "n": needed,
        "failed": failed,
    }


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
    if a.party != Party.RELATED or a.related_person is None or not a.person_refused:
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


def _cease(rule: Any, a: Attempt) -> str | None:
    if not a.seen.ceased or a.purpose == "notice":
        return None
    return _(
        "The debtor asked to stop being contacted: only the notices the rules allow may be sent."
    )


def _deceased(rule: Any, a: Attempt) -> str | None:
    if not a.seen.deceased:
        return None
    return _("The debtor is reported deceased: the case goes to legal, not to collectors.")


def _calls_in_days(rule: Any, a: Attempt) -> str | None:
    if a.channel != Channel.CALL:
        return None
    days, most = int(rule.param("days")), int(rule.param("max"))
    calls = a.seen.calls_within[days]
    if calls < most:
        return None
    return _("%(n)d calls about this debt in the last %(days)d days (at most %(max)d).") % {
        "n": calls,
        "days": days,
        "max": most,
    }


def _call_after_conversation(rule: Any, a: Attempt) -> str | None:
    if a.channel != Channel.CALL:
        return None
    days = int(rule.param("days"))
    last = a.seen.last_talk_within[days]
    if last is None:
        return None
    return _(
        "The debtor had a telephone conversation about this debt on %(day)s: no call "
        "within %(days)d days after it."
    ) % {"day": last.astimezone(ZoneInfo(a.timezone)).date().isoformat(), "days": days}


def _location_once(rule: Any, a: Attempt) -> str | None:
    if not a.third_party or not a.seen.with_person:
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
    if a.contact_point is None or not a.point_workplace or not a.employer_forbids:
        return None
    return _(
        "This is the debtor's workplace number and the debtor said the employer forbids "
        "calls at work (since %(day)s): do not call or text it; use another number."
    ) % {"day": a.employer_forbids_since.isoformat() if a.employer_forbids_since else ""}


def _employer_email(rule: Any, a: Attempt) -> str | None:
    if a.contact_point is None or not a.point_workplace:
        return None
    if a.consent is not None and a.consent.direct:
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
    if a.contact_point is not None and a.point_status in ("invalid", "do_not_contact"):
        hits.append(
            RuleHit(
                "house.contact_point",
                "house",
                _("This number or address is marked %(status)s: it is not used.")
                % {"status": ContactStatus(a.point_status).label},
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
    return place_of((ad.text for ad in addresses), pack_zone)


def place_of(texts: Iterable[str], pack_zone: str) -> tuple[str, str]:
    """(time zone, US state) from the first of the address ``texts`` (residence first)
    that names a US state; the pack's zone when none does."""
    for text in texts:
        state = state_of(text)
        if state:
            return _STATE_ZONES[state], state
    return pack_zone, ""


def debtor_zone(debtor: Any, pack: Any) -> tuple[str, str]:
    """(time zone, US state) the pack's rules read the debtor's local time in: from the
    address, else (or when the zone is unknown here) the pack's."""
    zone, state = debtor_place(debtor, pack.timezone)
    return (zone if _zone_ok(zone) else pack.timezone), state


def _zone_from(addresses: Iterable[str], pack: Any) -> tuple[str, str]:
    zone, state = place_of(addresses, pack.timezone)
    return (zone if _zone_ok(zone) else pack.timezone), state


@lru_cache(maxsize=16)
def _zone_ok(name: str) -> bool:
    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):  # an unknown or malformed zone name
        return False
    return True


# --- what the bulk form shares ---------------------------------------------------------


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
WINDOW_TYPES = frozenset({"calls_in_days", "call_after_conversation"})


# --- overrides -------------------------------------------------------------------------


def overrides_in_force(case_id: int, rule_ids: Iterable[str], at: dt.datetime) -> dict[str, Any]:
    """rule id → the approved ``ComplianceOverride`` of it on the case in force at ``at``
    (the earliest approved when several are). Most cases have none: a tiny indexed
    existence check answers that, and only a case with one reads the overrides with
    their approvers."""
    from cuishou.compliance.models import ComplianceOverride, OverrideStatus

    rule_ids = list(rule_ids)
    in_force = ComplianceOverride.objects.filter(
        case_id=case_id,
        rule_id__in=rule_ids,
        valid_until__gt=at,
        valid_from__lte=at,
        status=OverrideStatus.APPROVED,
    )
    if not rule_ids or not in_force.exists():
        return {}
    out: dict[str, Any] = {}
    for override in in_force.select_related("decided_by").order_by("valid_from", "pk"):
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


# --- the entry point -------------------------------------------------------------------


def _day_start(local: dt.datetime) -> dt.datetime:
    """The start of ``local``'s day in its zone (local midnight, or the first instant of
    the day when a DST change skips midnight), in UTC."""
    midnight = dt.datetime.combine(local.date(), dt.time(0), tzinfo=local.tzinfo)
    return midnight.astimezone(dt.UTC)


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
) -> Decision:
    """Allowed or blocked, with the rules that decided. Writes nothing: the caller logs
    the attempt (allowed) or the refusal (``ContactBlocked``).

    Reads two statements (``facts.check_context``, ``facts.check_history``), and a third
    only when a blocking rule is overridable and an override is in force on the case.
    The case's status is the caller's ``case`` as given; everything else is read fresh."""
    from cuishou.compliance.packs import pack_get, rules_with

    if at.tzinfo is None:
        raise ValueError("contact_check needs an aware time")
    point_id = contact_point.pk if contact_point is not None else None
    person_id = related_person.pk if related_person is not None else None
    ctx = check_context(
        client_id=case.client_id if case is not None else None,
        debtor_id=case.debtor_id if case is not None else None,
        case_id=case.pk if case is not None else None,
        contact_point_id=point_id,
        related_person_id=person_id,
        consent_channel=channel if channel in CONSENT_CHANNELS else None,
        at=at,
    )
    code = "CN"
    if case is not None:
        code = ctx.policy_pack or case.client.policy_pack
    pack = pack_get(code)
    zone, state = (pack.timezone, "")
    if case is not None:
        zone, state = _zone_from((ad.text for ad in ctx.addresses), pack)
    rules = rules_with(pack.rules_for(state), ctx.stricter if case is not None else {})
    local = at.astimezone(ZoneInfo(zone))
    day = local.date()

    relation = ctx.person_relation
    if relation is None and related_person is not None:
        relation = related_person.relation  # an unsaved person: as given
    third_party = (
        party == Party.RELATED
        and related_person is not None
        and relation not in {Relation.SELF, Relation.CO_BORROWER, Relation.GUARANTOR}
    )
    seen = check_history(
        case_id=case.pk if case is not None else None,
        debtor_id=case.debtor_id if case is not None else None,
        at=at,
        day_start=_day_start(local),
        contact_point_id=point_id,
        related_person_id=person_id,
        windows=[int(r.param("days")) for r in rules if r.type in WINDOW_TYPES],
        third_party=third_party,
    )
    barred = None
    if case is not None and any(r.type in TIME_BARRED_TYPES for r in rules):
        barred = time_barred_since(ctx.limitations, day)
    first_party = bool(case is not None and ctx.first_party)
    since = ctx.employer_forbids_since if case is not None else None
    refused = ctx.person_refused
    if refused is None and related_person is not None:
        refused = bool(related_person.refused_contact)
    status = ctx.point_status
    workplace = ctx.point_workplace
    if status is None and contact_point is not None:  # an unsaved contact point: as given
        status, workplace = contact_point.status, bool(contact_point.is_workplace)
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
        visitors=visitors,
        route_approved=route_approved,
        seen=seen,
        timezone=zone,
        hold=hold_in_force(ctx.holds, day) if case is not None else "",
        consent=ctx.consent if point_id is not None else None,
        point_status=status or "",
        point_workplace=bool(workplace),
        third_party=third_party,
        person_refused=bool(refused),
        employer_forbids=since is not None and since <= day,
        employer_forbids_since=since,
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
    if not ctx.override_in_force:
        liftable = []  # the context saw no override in force on the case: nothing to read
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
