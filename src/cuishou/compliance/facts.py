"""What one compliance check reads from the database: two hand-written statements.

``contact_check`` used to gather its facts through five to eleven ORM queries (the client,
the debtor's addresses, the stricter client rules, the holds, the consent entries, the
loans, the history, the debtor's own numbers, the third party's history …). It now makes
two statements, and a third only when a blocking rule could be lifted by an override:

- ``check_context`` — everything about the case, the debtor, the contact point, the
  related person, the client and its policy that the rules read, as one row of single
  facts (joined from a one-row base, so an absent case, number or person is NULLs), with
  one extra row per address, hold, unpaid loan and stricter client rule;
- ``check_history`` — the counts over the case's logged attempts before the contact that
  the rules compare with their limits, as one row of conditional aggregates (the debtor's
  answered calls on the local day, unanswered calls on the number that day, calls and the
  last telephone conversation in each rule's window, failed attempts in a row on the
  debtor's own numbers, attempts with the related person, cease and deceased outcomes).

Nothing is cached: every check reads the rows as they are, so a client's changed rule, a
new hold, an opt-out or a contact logged a moment ago decides the very next check.

Both statements are plain SQL that SQLite and PostgreSQL run alike, through
``django.db.connection``; every runtime value (ids, times, the channel) is a parameter,
and the only literals written into the text are the outcome and status codes of the
``TextChoices`` (checked to be bare identifiers). Times go in as the backend stores them
(``adapt_datetimefield_value``) and come back as aware UTC datetimes; dates come back as
dates whichever backend converted them.
"""

from __future__ import annotations

import datetime as dt
import json
import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any

from django.db import connection
from django.utils.dateparse import parse_date, parse_datetime

from cuishou.cases.choices import UNANSWERED_OUTCOMES, Outcome, Party


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
class Hold:
    """A contact hold on the case, as ``check.hold_in_force`` reads it."""

    kind: str
    starts_on: dt.date
    ends_on: dt.date | None

    def get_kind_display(self) -> str:
        from cuishou.compliance.models import HoldKind

        return str(HoldKind(self.kind).label) if self.kind in HoldKind.values else self.kind


@dataclass(frozen=True)
class Address:
    kind: str
    pk: int
    text: str


@dataclass(frozen=True)
class CheckContext:
    """The single facts of one check. A field is None when its row is absent (no case,
    no contact point, no related person, no consent entry)."""

    policy_pack: str | None = None
    first_party: bool = False
    employer_forbids_since: dt.date | None = None
    point_status: str | None = None
    point_workplace: bool | None = None
    person_relation: str | None = None
    person_refused: bool | None = None
    consent: Consent | None = None
    override_in_force: bool = False  # an approved override of any rule on the case at ``at``
    addresses: tuple[Address, ...] = ()  # residence first, then by id
    holds: tuple[Hold, ...] = ()  # earliest first
    limitations: tuple[dt.date | None, ...] = ()  # of the unpaid loans of the case's debt
    stricter: dict[str, dict[str, Any]] = field(default_factory=dict)  # ClientRule params


@dataclass(frozen=True)
class CheckHistory:
    """The counts over the case's logged attempts before the contact."""

    answered_today: int = 0  # answered calls with the debtor on the debtor's local day
    unanswered_here_today: int = 0  # unanswered calls on this number that day
    calls_within: dict[int, int] = field(default_factory=dict)  # days → calls in them
    last_talk_within: dict[int, dt.datetime | None] = field(default_factory=dict)
    failed_in_a_row: int = 0  # the latest attempts on the debtor's own numbers that failed
    with_person: int = 0  # attempts with the related person, ever
    ceased: bool = False  # a cease outcome, however old
    deceased: bool = False  # a deceased outcome, however old


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


def _codes(values: Iterable[str]) -> str:
    """Choice codes as SQL string literals (codes only: bare identifiers)."""
    out = []
    for value in sorted(str(v) for v in values):
        if not re.fullmatch(r"[a-z_]+", value):
            raise ValueError(f"not a choice code: {value!r}")
        out.append(f"'{value}'")
    return ", ".join(out)


_FAILED = _codes([*UNANSWERED_OUTCOMES, Outcome.WRONG_NUMBER])
_UNANSWERED = _codes(UNANSWERED_OUTCOMES)
_CONVERSATION = _codes(CONVERSATION_OUTCOMES)


def _db_time(value: dt.datetime | None) -> Any:
    return connection.ops.adapt_datetimefield_value(value)


def _as_date(value: Any) -> dt.date | None:
    if value is None or (isinstance(value, dt.date) and not isinstance(value, dt.datetime)):
        return value
    if isinstance(value, dt.datetime):
        return value.date()
    return parse_date(str(value)[:10])


def _as_time(value: Any) -> dt.datetime | None:
    """A stored time as an aware UTC datetime (SQLite returns naive UTC, or text)."""
    if value is None:
        return None
    if not isinstance(value, dt.datetime):
        parsed = parse_datetime(str(value))
        if parsed is None:
            raise ValueError(f"not a stored time: {value!r}")
        value = parsed
    return value.replace(tzinfo=dt.UTC) if value.tzinfo is None else value.astimezone(dt.UTC)


# --- the context ---------------------------------------------------------------------------

# One row of single facts from a one-row base (so that every LEFT JOIN may miss), times one
# row per address, hold, unpaid loan and stricter client rule (``what``), or once with
# NULLs when there are none. The first branch of the union gives every column its type.
_CONTEXT_SQL = f"""
SELECT
    cl.policy_pack,
    CASE WHEN cl.first_party_creditor THEN 1 ELSE 0 END,
    d.employer_forbids_calls_since,
    cp.status,
    CASE WHEN cp.is_workplace THEN 1 ELSE 0 END,
    rp.relation,
    CASE WHEN rp.refused_contact THEN 1 ELSE 0 END,
    cc.state,
    cc.source,
    cc.at,
    CASE WHEN EXISTS (
        SELECT 1 FROM compliance_complianceoverride o
        WHERE o.case_id = %(case)s AND o.status = 'approved'
          AND o.valid_from <= %(at)s AND o.valid_until > %(at)s
    ) THEN 1 ELSE 0 END,
    m.what, m.k, m.t, m.u, m.d1, m.d2
FROM (SELECT 1 AS one) base
LEFT JOIN portfolio_client cl ON cl.id = %(client)s
LEFT JOIN portfolio_debtor d ON d.id = %(debtor)s
LEFT JOIN portfolio_contactpoint cp ON cp.id = %(point)s
LEFT JOIN portfolio_relatedperson rp ON rp.id = %(person)s
LEFT JOIN portfolio_contactconsent cc ON cc.id = (
    SELECT c2.id FROM portfolio_contactconsent c2
    WHERE c2.contact_point_id = %(point)s AND c2.channel = %(channel)s AND c2.at <= %(at)s
    ORDER BY c2.at DESC, c2.id DESC
    LIMIT 1
)
LEFT JOIN (
    SELECT 'hold' AS what, h.id AS k, h.kind AS t, NULL AS u,
           h.starts_on AS d1, h.ends_on AS d2
    FROM compliance_contacthold h WHERE h.case_id = %(case)s
    UNION ALL
    SELECT 'address', a.id, a.kind, a.text, NULL, NULL
    FROM portfolio_address a WHERE a.debtor_id = %(debtor)s
    UNION ALL
    SELECT 'loan', l.id, NULL, NULL, l.limitation_on, NULL
    FROM portfolio_loan l
    WHERE l.client_id = %(client)s AND l.debtor_id = %(debtor)s
      AND l.status <> {_codes(["paid_off"])}
    UNION ALL
    SELECT 'rule', r.id, r.rule_id, CAST(r.params AS TEXT), NULL, NULL
    FROM compliance_clientrule r WHERE r.client_id = %(client)s
) m ON 1 = 1
"""


def check_context(
    *,
    client_id: int | None,
    debtor_id: int | None,
    case_id: int | None,
    contact_point_id: int | None,
    related_person_id: int | None,
    consent_channel: str | None,
    at: dt.datetime,
) -> CheckContext:
    """The facts about the case, debtor, contact point, person, client and policy that a
    check at ``at`` reads, in one statement. ``consent_channel``: the channel whose latest
    consent entry (at or before ``at``) of the contact point is read, or None."""
    params = {
        "client": client_id,
        "debtor": debtor_id,
        "case": case_id,
        "point": contact_point_id,
        "person": related_person_id,
        "channel": consent_channel,
        "at": _db_time(at),
    }
    with connection.cursor() as cursor:
        cursor.execute(_CONTEXT_SQL, params)
        rows = cursor.fetchall()
    first = rows[0]
    holds: list[tuple[dt.date, int, Hold]] = []
    addresses: list[Address] = []
    limitations: list[tuple[int, dt.date | None]] = []
    stricter: dict[str, dict[str, Any]] = {}
    for *_single, what, k, t, u, d1, d2 in rows:
        if what == "hold":
            starts = _as_date(d1)
            assert starts is not None
            holds.append((starts, k, Hold(t, starts, _as_date(d2))))
        elif what == "address":
            addresses.append(Address(t, k, u or ""))
        elif what == "loan":
            limitations.append((k, _as_date(d1)))
        elif what == "rule":
            params_ = json.loads(u) if isinstance(u, str) else u
            stricter[t] = dict(params_ or {})
    (pack, first_party, since, status, workplace, relation, refused) = first[:7]
    state, source, consent_at, overridden = first[7:11]
    addresses.sort(key=lambda a: (a.kind != "residence", a.pk))
    return CheckContext(
        policy_pack=pack,
        first_party=bool(first_party) and pack is not None,
        employer_forbids_since=_as_date(since),
        point_status=status,
        point_workplace=None if status is None else bool(workplace),
        person_relation=relation,
        person_refused=None if relation is None else bool(refused),
        consent=_consent(state, source, consent_at),
        override_in_force=bool(overridden),
        addresses=tuple(addresses),
        holds=tuple(h for _starts, _pk, h in sorted(holds, key=lambda x: (x[0], x[1]))),
        limitations=tuple(d for _pk, d in sorted(limitations, key=lambda x: x[0])),
        stricter=stricter,
    )


def _consent(state: str | None, source: str | None, at: Any) -> Consent | None:
    when = _as_time(at)
    if state is None or source is None or when is None:
        return None
    return Consent(state, source, when)


# --- the history ---------------------------------------------------------------------------

_OWN = (
    "({x}.party = '" + Party.DEBTOR + "' OR {x}.contact_point_id IN ("
    "SELECT p.id FROM portfolio_contactpoint p "
    "WHERE p.debtor_id = %(debtor)s AND p.related_person_id IS NULL))"
)


@lru_cache(maxsize=16)
def _history_sql(windows: int, streak: bool) -> str:
    """The history statement for ``windows`` day windows (parameters ``since0`` …), with
    the failed attempts in a row on the debtor's numbers when ``streak``."""
    columns = [
        "COALESCE(SUM(CASE WHEN a.attempted_at >= %(day_start)s AND a.channel = 'call' "
        f"AND a.party = '{Party.DEBTOR}' AND a.outcome NOT IN ({_FAILED}) "
        "THEN 1 ELSE 0 END), 0)",
        "COALESCE(SUM(CASE WHEN a.attempted_at >= %(day_start)s AND a.channel = 'call' "
        f"AND a.contact_point_id = %(point)s AND a.outcome IN ({_UNANSWERED}) "
        "THEN 1 ELSE 0 END), 0)",
        "COALESCE(MAX(CASE WHEN a.related_person_id = %(person)s THEN 1 ELSE 0 END), 0)",
        f"COALESCE(MAX(CASE WHEN a.outcome = '{Outcome.CEASE}' THEN 1 ELSE 0 END), 0)",
        f"COALESCE(MAX(CASE WHEN a.outcome = '{Outcome.DECEASED}' THEN 1 ELSE 0 END), 0)",
    ]
    for i in range(windows):
        columns.append(
            "COALESCE(SUM(CASE WHEN a.channel = 'call' "
            f"AND a.attempted_at > %(since{i})s THEN 1 ELSE 0 END), 0)"
        )
        columns.append(
            f"MAX(CASE WHEN a.channel = 'call' AND a.party = '{Party.DEBTOR}' "
            f"AND a.outcome IN ({_CONVERSATION}) AND a.attempted_at > %(since{i})s "
            "THEN a.attempted_at END)"
        )
    if streak:
        # The failed attempts on the debtor's own numbers (or with the debtor) after the
        # latest one that reached someone on them.
        columns.append(
            "(SELECT COUNT(*) FROM cases_contactattempt b "
            "WHERE b.case_id = %(case)s AND b.attempted_at < %(at)s "
            f"AND {_OWN.format(x='b')} AND b.outcome IN ({_FAILED}) "
            "AND b.attempted_at > COALESCE(("
            "SELECT MAX(c.attempted_at) FROM cases_contactattempt c "
            "WHERE c.case_id = %(case)s AND c.attempted_at < %(at)s "
            f"AND {_OWN.format(x='c')} AND c.outcome NOT IN ({_FAILED})"
            "), %(epoch)s))"
        )
    return (
        "SELECT "
        + ",\n       ".join(columns)
        + "\nFROM cases_contactattempt a\nWHERE a.case_id = %(case)s AND a.attempted_at < %(at)s"
    )


_EPOCH = dt.datetime(1970, 1, 1, tzinfo=dt.UTC)


def check_history(
    *,
    case_id: int | None,
    debtor_id: int | None,
    at: dt.datetime,
    day_start: dt.datetime,
    contact_point_id: int | None = None,
    related_person_id: int | None = None,
    windows: Iterable[int] = (),
    third_party: bool = False,
) -> CheckHistory:
    """The counts over the case's attempts logged before ``at`` that the rules read, in
    one statement. ``day_start``: the start of the debtor's local day of ``at``;
    ``windows``: the day counts of the rules that look back (calls in N days, a
    conversation in N days); ``third_party``: count the failed attempts in a row on the
    debtor's own numbers. An unsaved case has no history."""
    days = tuple(sorted({int(d) for d in windows}))
    if case_id is None:
        return CheckHistory(
            calls_within=dict.fromkeys(days, 0), last_talk_within=dict.fromkeys(days)
        )
    params: dict[str, Any] = {
        "case": case_id,
        "debtor": debtor_id,
        "at": _db_time(at),
        "day_start": _db_time(day_start),
        "point": contact_point_id,
        "person": related_person_id,
    }
    for i, d in enumerate(days):
        params[f"since{i}"] = _db_time(at - dt.timedelta(days=d))
    if third_party:
        params["epoch"] = _db_time(_EPOCH)
    with connection.cursor() as cursor:
        cursor.execute(_history_sql(len(days), third_party), params)
        row = cursor.fetchone()
    answered, unanswered, with_person, ceased, deceased = row[:5]
    per_window = row[5 : 5 + 2 * len(days)]
    return CheckHistory(
        answered_today=int(answered),
        unanswered_here_today=int(unanswered),
        calls_within={d: int(per_window[2 * i]) for i, d in enumerate(days)},
        last_talk_within={d: _as_time(per_window[2 * i + 1]) for i, d in enumerate(days)},
        failed_in_a_row=int(row[-1]) if third_party else 0,
        with_person=int(with_person),
        ceased=bool(ceased),
        deceased=bool(deceased),
    )
