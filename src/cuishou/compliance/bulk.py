"""The bulk form of the compliance check, for dialer lists and campaigns: many planned
contacts against the history of past attempts, decided column-wise with Polars.

It decides exactly what ``contact_check`` decides for each contact (the same rules of
the same packs, in the same order; tests/compliance holds the two together), from two
frames:

``planned`` — one row per planned contact: ``id`` (str), ``case_id``, ``client_id``,
``pack`` (CN, US),
``tz`` (the debtor's zone), ``state`` (US state or ""), ``case_status``, ``channel``,
``party``, ``contact_point_id`` (or null), ``point_status`` (or null),
``related_person_id`` (or null), ``third_party`` and ``refused`` (bools), ``at`` (UTC),
``purpose``, ``text``, ``visitors`` (or null), ``route_approved`` (or null), ``held`` (a
hold is in force on the contact's local day), ``first_party`` (the client collects its own
accounts), ``consent_state`` (the latest consent entry of the contact point for the
channel at ``at``: ``given``, ``withdrawn`` or null), ``consent_direct`` (that entry is
consent given by the debtor directly), ``workplace`` (the contact point is the debtor's
workplace or employer-provided), ``employer_forbids`` (the debtor said the employer
forbids calls at work, on or before the local day), ``time_barred`` (every loan of the
case is past its limitation date on the local day).

``history`` — one row per logged attempt: ``case_id``, ``at`` (UTC), ``channel``,
``party``, ``outcome``, ``contact_point_id``, ``related_person_id``, ``own_point``
(the contact point is the debtor's own).

``override_windows`` (optional) — one row per approved compliance override:
``case_id``, ``rule_id``, ``valid_from``, ``valid_until`` (UTC; ``override_frame``).

The result has ``id``, ``allowed``, ``rules`` (the rule ids, as ``Decision.rule_ids``)
and ``overridden`` (the rules an override in force lifted, as
``Decision.overridden_ids``).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterable
from typing import Any
from zoneinfo import ZoneInfo

import polars as pl

from cuishou.cases.choices import UNANSWERED_OUTCOMES, Outcome
from cuishou.compliance.facts import CONVERSATION_OUTCOMES
from cuishou.compliance.language import (
    debt_disclosure,
    phrases_found,
    prohibited_language,
    suit_threat,
)
from cuishou.compliance.packs import (
    CONSENT_CHANNELS,
    Pack,
    Rule,
    minutes_of,
    pack_get,
    rules_with,
)

_UNANSWERED = [o.value for o in UNANSWERED_OUTCOMES]
_FAILED = [*_UNANSWERED, Outcome.WRONG_NUMBER.value]
_CONVERSATION = [o.value for o in CONVERSATION_OUTCOMES]
_WRITTEN = ["sms", "email", "letter"]
_US = "us"
HISTORY_DAYS = 8  # the 7-day rules and the local day, with a day to spare
OWN_RECENT = 10  # the debtor's latest attempts before the first contact a streak reads


def history_days(rules: Iterable[Any]) -> int:
    """How many days of history get local days: ``HISTORY_DAYS``, or a day more than the
    longest ``days`` window among the rules (a client may lengthen one, ``ClientRule``)."""
    longest = max((int(r.params["days"]) for r in rules if "days" in r.params), default=0)
    return max(HISTORY_DAYS, longest + 1)


def _local(planned: pl.DataFrame, zones: Iterable[str]) -> pl.DataFrame:
    """``minute`` (minutes since local midnight) and ``day`` (local date) per row."""
    minute: Any = None
    day: Any = None
    for zone in zones:
        local = pl.col("at").dt.convert_time_zone(zone)
        m = local.dt.hour().cast(pl.Int32) * 60 + local.dt.minute().cast(pl.Int32)
        d = local.dt.date()
        here = pl.col("tz") == zone
        minute = pl.when(here).then(m) if minute is None else minute.when(here).then(m)
        day = pl.when(here).then(d) if day is None else day.when(here).then(d)
    if minute is None:
        return planned.with_columns(minute=pl.lit(None, pl.Int32), day=pl.lit(None, pl.Date))
    return planned.with_columns(minute=minute.otherwise(None), day=day.otherwise(None))


def _count_before(
    planned: pl.DataFrame,
    history: pl.DataFrame,
    by: list[str],
    *,
    shift: dt.timedelta | None = None,
) -> pl.Series:
    """Per planned row, how many ``history`` rows with the same ``by`` keys are strictly
    before ``at`` (or, with ``shift``, at or before ``at - shift``)."""
    # Rank within the group, from the sorted order: the row number minus the row number
    # where the group starts (cheaper than a window over the groups).
    row = pl.int_range(0, pl.len(), dtype=pl.Int64)
    starts = pl.any_horizontal([pl.col(k) != pl.col(k).shift(1) for k in by]).fill_null(True)
    h = (
        history.select([*by, "at"])
        .sort([*by, "at"])
        .with_columns(n=row - pl.when(starts).then(row).forward_fill() + 1)
        .sort("at")
    )
    probe = planned.select([*by, "_row", "at"])
    if shift is not None:
        probe = probe.with_columns(pl.col("at") - shift)
    joined = probe.sort("at").join_asof(
        h,
        on="at",
        by=by,
        strategy="backward",
        allow_exact_matches=shift is not None,
        check_sortedness=False,  # sorted by "at" overall, so within every group
    )
    return joined.sort("_row")["n"].fill_null(0)


def _last_before(
    planned: pl.DataFrame, history: pl.DataFrame, by: list[str], col: str
) -> pl.Series:
    """Per planned row, ``col`` of the latest ``history`` row with the same keys strictly
    before ``at`` (null when none)."""
    h = history.select([*by, "at", pl.col(col).alias("_v")]).sort("at")
    joined = (
        planned.select([*by, "_row", "at"])
        .sort("at")
        .join_asof(
            h,
            on="at",
            by=by,
            strategy="backward",
            allow_exact_matches=False,
            check_sortedness=False,
        )
    )
    return joined.sort("_row")["_v"]


def _texts(
    planned: pl.DataFrame, finder: Callable[[str], list[Any]], column: str = "text"
) -> pl.Series:
    """Per row: does the text have a hit (each distinct text matched once)."""
    distinct = planned.select(column).unique()
    hits = {t: bool(finder(t)) for t in distinct[column].to_list()}
    return planned[column].replace_strict(hits, return_dtype=pl.Boolean)


def check_bulk(
    planned: pl.DataFrame,
    history: pl.DataFrame,
    overrides: dict[int, dict[str, dict[str, Any]]] | None = None,
    override_windows: pl.DataFrame | None = None,
) -> pl.DataFrame:
    """Decide every planned contact: ``id``, ``allowed``, ``rules`` (list of rule ids),
    ``overridden`` (list of rule ids). ``overrides``: the clients' stricter rules
    (``check.client_overrides``); ``override_windows``: the approved compliance overrides
    of the cases (``override_frame``)."""
    p = planned.with_row_index("_row").with_columns(
        pl.col("text").fill_null(""), pl.col("purpose").fill_null("collect")
    )
    zones = p["tz"].unique().to_list()
    p = _local(p, zones)
    # The day and 7-day rules look back at most ``history_days`` (8, or a day more than a
    # client's longer window, as contact_check) from a contact: only that part of the
    # history gets local days.
    # Streaks, third parties' past contacts and holds read the whole history (``full``),
    # cut to what they can use.
    overrides = overrides or {}
    window = dt.timedelta(days=history_days(_rules_used(p["pack"].unique().to_list(), overrides)))
    cases = p.select("case_id", "tz").unique("case_id")
    first = p["at"].min()
    full = history.join(cases.select("case_id"), on="case_id", how="semi")
    h = full.filter(pl.col("at") > pl.lit(first) - window).join(cases, on="case_id", how="left")
    h = _local(h, zones)
    masks: list[tuple[str, pl.Series]] = []

    # House rules, in contact_check's order.
    masks.append(("house.case_closed", p["case_status"].is_in(["closed", "written_off"])))
    paused = p["case_status"] == "paused"
    dispute_ok = (p["purpose"] == "dispute") & p["party"].is_in(["debtor", "nobody"])
    masks.append(("house.dispute_pause", paused & ~dispute_ok))
    masks.append(("house.hold", p["held"].fill_null(False)))
    masks.append(
        (
            "house.contact_point",
            p["point_status"].is_in(["invalid", "do_not_contact"]).fill_null(False),
        )
    )
    masks.append(
        (
            "house.opt_out",
            p["channel"].is_in(CONSENT_CHANNELS)
            & (p["consent_state"] == "withdrawn").fill_null(False),
        )
    )

    # Each pack's rules on its own rows and their cases' history only; a client with
    # stricter settings (``overrides``: client → rule id → parameters) is a group of its own.
    for code in p["pack"].unique().sort().to_list():
        pack: Pack = pack_get(code)
        in_pack = pl.col("pack") == code
        special = [c for c in p.filter(in_pack)["client_id"].unique().to_list() if c in overrides]
        groups: list[tuple[pl.Expr, dict[str, dict[str, Any]]]] = [
            (in_pack & ~pl.col("client_id").is_in(special).fill_null(False), {})
        ] + [(in_pack & (pl.col("client_id") == c), overrides[c]) for c in special]
        by_rule: dict[str, pl.Series] = {}
        for where, stricter in groups:
            for rule_id, mask in _pack_masks(pack, stricter, p, where, h, full, first):
                by_rule[rule_id] = by_rule[rule_id] | mask if rule_id in by_rule else mask
        order = [r.id for r in pack.all_rules]
        masks += [(rule_id, by_rule[rule_id]) for rule_id in order if rule_id in by_rule]

    masks, lifted = _lift(p, masks, override_windows)
    code, rules_col = _rule_lists(p.height, masks)
    _, overridden_col = _rule_lists(p.height, lifted)
    return pl.DataFrame(
        {"id": p["id"], "allowed": code == 0, "rules": rules_col, "overridden": overridden_col}
    )


def _rules_used(codes: list[str], overrides: dict[int, dict[str, dict[str, Any]]]) -> list[Rule]:
    """Every rule of these packs, as the pack sets it and as each client sets it."""
    out: list[Rule] = []
    for code in codes:
        rules = pack_get(code).all_rules
        out += rules
        for stricter in overrides.values():
            out += rules_with(rules, stricter)
    return out


def _rule_lists(height: int, masks: list[tuple[str, pl.Series]]) -> tuple[pl.Series, pl.Series]:
    """Each row's rules as a bit set (0: none), and each distinct set (there are few) as
    its list of names, in ``masks`` order."""
    names = [name for name, _ in masks]
    assert len(names) <= 63
    if not masks:
        return (
            pl.repeat(0, height, dtype=pl.UInt64, eager=True),
            pl.repeat([], height, dtype=pl.List(pl.String), eager=True),
        )
    code = pl.DataFrame({f"m{i}": mask for i, (_, mask) in enumerate(masks)}).select(
        pl.sum_horizontal(
            [pl.col(f"m{i}").cast(pl.UInt64) * (1 << i) for i in range(len(names))]
        ).alias("code")
    )["code"]
    lists = {
        int(c): [name for i, name in enumerate(names) if int(c) >> i & 1]
        for c in code.unique().to_list()
    }
    return code, code.replace_strict(lists, return_dtype=pl.List(pl.String))


def _lift(
    p: pl.DataFrame, masks: list[tuple[str, pl.Series]], windows: pl.DataFrame | None
) -> tuple[list[tuple[str, pl.Series]], list[tuple[str, pl.Series]]]:
    """The masks with the rows an override in force lifts taken out, and the lifted rows
    per rule (as ``contact_check``: an approved override of an overridable rule of the
    pack, on the case, with ``valid_from <= at < valid_until``)."""
    if windows is None or windows.height == 0:
        return masks, []
    none = pl.repeat(False, p.height, eager=True)
    liftable = {
        r.id for code in p["pack"].unique().to_list() for r in pack_get(code).overridable_rules
    }
    rows = p.select("_row", "case_id", "at")
    kept, lifted = [], []
    for name, mask in masks:
        if name not in liftable:
            kept.append((name, mask))
            continue
        mine = windows.filter(pl.col("rule_id") == name).select(
            "case_id", "valid_from", "valid_until"
        )
        covered = (
            rows.join(mine, on="case_id", how="inner")
            .filter((pl.col("valid_from") <= pl.col("at")) & (pl.col("at") < pl.col("valid_until")))
            .get_column("_row")
            .unique()
        )
        in_force = p["_row"].is_in(covered.implode()) if covered.len() else none
        kept.append((name, mask & ~in_force))
        lifted.append((name, mask & in_force))
    return kept, lifted


def _pack_masks(
    pack: Pack,
    stricter: dict[str, dict[str, Any]],
    p: pl.DataFrame,
    where: pl.Expr,
    h: pl.DataFrame,
    full: pl.DataFrame,
    first: Any,
) -> list[tuple[str, pl.Series]]:
    """Full-length masks of the pack's rules (with a client's stricter parameters) on the
    rows ``where`` selects."""
    pp = p.filter(where).drop("_row").with_row_index("_row")
    rows = p.filter(where)["_row"]
    if pp.height == 0:
        return []
    its = pp.select("case_id").unique()
    hp = h.join(its, on="case_id", how="semi")
    fullp = full.join(its, on="case_id", how="semi")
    callsp = hp.filter(pl.col("channel") == "call")
    cache: dict[str, pl.Series] = {}

    def once(key: str, make: Any) -> pl.Series:
        if key not in cache:
            cache[key] = make()
        return cache[key]

    rules: list[tuple[Rule, pl.Series]] = [
        (r, pl.repeat(True, pp.height, eager=True)) for r in rules_with(pack.rules, stricter)
    ]
    for state, overlay in pack.overlays.items():
        rules += [(r, pp["state"] == state) for r in rules_with(overlay, stricter)]
    out = []
    for rule, scope in rules:
        applies = scope & pp["channel"].is_in(sorted(rule.channels))
        if rule.applies_to == "debt_collector":  # not for a first-party creditor
            applies = applies & ~pp["first_party"].fill_null(False)
        blocked = _rule_mask(rule, pp, hp, callsp, once, full=fullp, first=first)
        mask = pl.repeat(False, p.height, eager=True).scatter(
            rows, applies & blocked.fill_null(False)
        )
        out.append((rule.id, mask))
    return out


def _rule_mask(
    rule: Rule,
    p: pl.DataFrame,
    h: pl.DataFrame,
    calls: pl.DataFrame,
    once: Any,
    *,
    full: pl.DataFrame,
    first: Any,
) -> pl.Series:
    t = rule.type
    call = p["channel"] == "call"
    if t == "quiet_hours":
        start = minutes_of(rule.param("from"))
        until = minutes_of(rule.param("until"))
        assert start is not None and until is not None  # pack_read checks them
        m = p["minute"]
        return (m >= start) | (m < until) if start > until else (m >= start) & (m < until)
    if t == "answered_calls_per_day":
        answered = calls.filter((pl.col("party") == "debtor") & ~pl.col("outcome").is_in(_FAILED))
        n = once("answered_day", lambda: _count_before(p, answered, ["case_id", "day"]))
        return call & (p["party"] != "related") & (n >= rule.param("max"))
    if t == "unanswered_per_number_per_day":
        missed = calls.filter(pl.col("outcome").is_in(_UNANSWERED))
        n = once(
            "missed_day",
            lambda: _count_before(
                p.with_columns(pl.col("contact_point_id").fill_null(-1)),
                missed.with_columns(pl.col("contact_point_id").fill_null(-2)),
                ["contact_point_id", "day"],
            ),
        )
        return call & p["contact_point_id"].is_not_null() & (n >= rule.param("max"))
    if t == "third_party_unreachable":
        needed = int(rule.param("failed_attempts"))
        assert needed <= OWN_RECENT
        asking = p.filter(pl.col("third_party")).select("case_id").unique()
        own_all = full.join(asking, on="case_id", how="semi").filter(
            (pl.col("party") == "debtor") | pl.col("own_point")
        )
        # Before the first contact only each case's last OWN_RECENT attempts can matter
        # (a streak of ``needed`` failures looks back ``needed`` attempts).
        own = pl.concat(
            [
                own_all.filter(pl.col("at") < pl.lit(first))
                .sort(["case_id", "at"])
                .group_by("case_id", maintain_order=True)
                .tail(OWN_RECENT)
                .select(own_all.columns),
                own_all.filter(pl.col("at") >= pl.lit(first)),
            ]
        ).sort(["case_id", "at"])
        own = (
            own.with_columns(
                failed=pl.col("outcome").is_in(_FAILED),
            )
            .with_columns(run=(~pl.col("failed")).cast(pl.Int64).cum_sum().over("case_id"))
            .with_columns(streak=pl.col("failed").cast(pl.Int64).cum_sum().over(["case_id", "run"]))
        )
        streak = once("streak", lambda: _last_before(p, own, ["case_id"], "streak"))
        return p["third_party"] & (streak.fill_null(0) < needed)
    if t == "third_party_no_disclosure":
        tells = once("disclosure", lambda: _texts(p, debt_disclosure))
        return p["third_party"] & p["channel"].is_in(_WRITTEN) & tells
    if t == "third_party_refused":
        return (p["party"] == "related") & p["related_person_id"].is_not_null() & p["refused"]
    if t == "visit_visitors":
        return (p["channel"] == "visit") & (p["visitors"].fill_null(0) < rule.param("min"))
    if t == "visit_route":
        return (p["channel"] == "visit") & ~p["route_approved"].fill_null(False)
    if t == "prohibited_language":
        return once("language", lambda: _texts(p, prohibited_language))
    if t in ("cease", "deceased"):
        outcome = Outcome.CEASE.value if t == "cease" else Outcome.DECEASED.value
        ever = full.filter(pl.col("outcome") == outcome)
        n = once(t, lambda: _count_before(p, ever, ["case_id"]))
        held = n > 0
        return held & (p["purpose"] != "notice") if t == "cease" else held
    if t == "calls_in_days":
        days = dt.timedelta(days=int(rule.param("days")))
        upto = once("calls_before", lambda: _count_before(p, calls, ["case_id"]))
        old = once(
            f"calls_before_{days.days}", lambda: _count_before(p, calls, ["case_id"], shift=days)
        )
        return call & ((upto - old) >= rule.param("max"))
    if t == "call_after_conversation":
        days = dt.timedelta(days=int(rule.param("days")))
        talks = calls.filter((pl.col("party") == "debtor") & pl.col("outcome").is_in(_CONVERSATION))
        last = once("last_talk", lambda: _last_before(p, talks, ["case_id"], "at"))
        return call & last.is_not_null() & ((p["at"] - last) < days)
    if t == "location_once":
        seen = full.filter(pl.col("related_person_id").is_not_null())
        n = once(
            "seen_person",
            lambda: _count_before(
                p.with_columns(pl.col("related_person_id").fill_null(-1)),
                seen,
                ["related_person_id"],
            ),
        )
        return p["third_party"] & (n > 0)
    point = p["contact_point_id"].is_not_null()
    given = (p["consent_state"] == "given").fill_null(False)
    if t == "prior_consent":
        return p["channel"].is_in(list(rule.param("required_for"))) & ~given
    if t == "opt_out_instruction":
        phrases = tuple(rule.param("phrases"))
        says = once(
            f"opt_out_{phrases}", lambda: _texts(p, lambda text: phrases_found(text, phrases))
        )
        return (p["text"] != "") & ~says
    if t == "workplace_calls":
        return point & p["workplace"].fill_null(False) & p["employer_forbids"].fill_null(False)
    if t == "employer_email":
        direct = given & p["consent_direct"].fill_null(False)
        return point & p["workplace"].fill_null(False) & ~direct
    if t == "time_barred_suit":
        return p["time_barred"].fill_null(False) & (p["purpose"] == "suit")
    if t == "time_barred_threat":
        threat = once("suit_threat", lambda: _texts(p, suit_threat))
        return p["time_barred"].fill_null(False) & threat
    raise ValueError(f"no bulk check of type {t!r}")


# --- frames from the database ------------------------------------------------------------


def planned_frame(contacts: Iterable[dict[str, Any]]) -> pl.DataFrame:
    """The ``planned`` frame of contacts given as ``contact_check`` keyword arguments
    (``case``, ``channel``, ``party``, ``at``, ``contact_point``, ``related_person``,
    ``purpose``, ``text``, ``visitors``, ``route_approved``) plus an ``id``. The cases'
    addresses and holds are read once for all of them."""
    from django.db.models import prefetch_related_objects

    from cuishou.compliance.check import (
        TIME_BARRED_TYPES,
        consent_at,
        consents_of,
        debtor_zone,
        employer_forbids_on,
        hold_in_force,
        holds_of,
        limitations_of,
        time_barred_since,
    )

    contacts = list(contacts)
    cases = {c["case"].pk: c["case"] for c in contacts}
    prefetch_related_objects([case.debtor for case in cases.values()], "addresses")
    holds = holds_of(cases)
    places = {
        pk: debtor_zone(case.debtor, pack_get(case.client.policy_pack))
        for pk, case in cases.items()
    }
    consents = consents_of(
        {c["contact_point"].pk for c in contacts if c.get("contact_point") is not None}
    )
    # The loans' limitation dates, for the cases whose pack has a time-barred rule.
    barrable = [
        (case.client_id, case.debtor_id)
        for case in cases.values()
        if any(r.type in TIME_BARRED_TYPES for r in pack_get(case.client.policy_pack).all_rules)
    ]
    limitations = limitations_of(barrable)
    rows = []
    for c in contacts:
        case, point, person, party = (
            c["case"],
            c.get("contact_point"),
            c.get("related_person"),
            c["party"],
        )
        zone, state = places[case.pk]
        day = c["at"].astimezone(ZoneInfo(zone)).date()
        consent = (
            consent_at(consents.get(point.pk, []), c["channel"], c["at"])
            if point is not None
            else None
        )
        key = (case.client_id, case.debtor_id)
        rows.append(
            {
                "id": str(c["id"]),
                "case_id": case.pk,
                "client_id": case.client_id,
                "pack": case.client.policy_pack,
                "tz": zone,
                "state": state,
                "case_status": case.status,
                "channel": c["channel"],
                "party": party,
                "contact_point_id": point.pk if point is not None else None,
                "point_status": point.status if point is not None else None,
                "related_person_id": person.pk if person is not None else None,
                "third_party": party == "related" and person is not None and person.is_third_party,
                "refused": bool(person is not None and person.refused_contact),
                "at": c["at"],
                "purpose": c.get("purpose", "collect"),
                "text": c.get("text", "") or "",
                "visitors": c.get("visitors"),
                "route_approved": c.get("route_approved"),
                "held": bool(hold_in_force(holds.get(case.pk, []), day)),
                "first_party": bool(case.client.first_party_creditor),
                "consent_state": consent.state if consent is not None else None,
                "consent_direct": bool(consent is not None and consent.direct),
                "workplace": bool(point is not None and point.is_workplace),
                "employer_forbids": employer_forbids_on(case.debtor, day),
                "time_barred": key in limitations
                and time_barred_since(limitations[key], day) is not None,
            }
        )
    return pl.DataFrame(rows, schema=PLANNED_SCHEMA)


def override_frame(case_ids: Iterable[int]) -> pl.DataFrame:
    """The ``override_windows`` frame: the approved compliance overrides of these cases."""
    from cuishou.compliance.models import ComplianceOverride, OverrideStatus

    rows = ComplianceOverride.objects.filter(
        case_id__in=list(case_ids), status=OverrideStatus.APPROVED
    ).values_list("case_id", "rule_id", "valid_from", "valid_until")
    return pl.DataFrame(list(rows), schema=OVERRIDE_SCHEMA, orient="row")


def history_frame(case_ids: Iterable[int]) -> pl.DataFrame:
    """The ``history`` frame: every logged attempt of these cases."""
    from cuishou.cases.models import ContactAttempt

    rows = ContactAttempt.objects.filter(case_id__in=list(case_ids)).values_list(
        "case_id",
        "attempted_at",
        "channel",
        "party",
        "outcome",
        "contact_point_id",
        "related_person_id",
        "contact_point__related_person_id",
    )
    return pl.DataFrame(
        [
            (case, at, ch, party, outcome, cp, rp, cp is not None and cp_person is None)
            for case, at, ch, party, outcome, cp, rp, cp_person in rows
        ],
        schema=HISTORY_SCHEMA,
        orient="row",
    )


_AT = pl.Datetime("us", "UTC")
PLANNED_SCHEMA: dict[str, Any] = {
    "id": pl.String,
    "case_id": pl.Int64,
    "client_id": pl.Int64,
    "pack": pl.String,
    "tz": pl.String,
    "state": pl.String,
    "case_status": pl.String,
    "channel": pl.String,
    "party": pl.String,
    "contact_point_id": pl.Int64,
    "point_status": pl.String,
    "related_person_id": pl.Int64,
    "third_party": pl.Boolean,
    "refused": pl.Boolean,
    "at": _AT,
    "purpose": pl.String,
    "text": pl.String,
    "visitors": pl.Int64,
    "route_approved": pl.Boolean,
    "held": pl.Boolean,
    "first_party": pl.Boolean,
    "consent_state": pl.String,
    "consent_direct": pl.Boolean,
    "workplace": pl.Boolean,
    "employer_forbids": pl.Boolean,
    "time_barred": pl.Boolean,
}
OVERRIDE_SCHEMA: dict[str, Any] = {
    "case_id": pl.Int64,
    "rule_id": pl.String,
    "valid_from": _AT,
    "valid_until": _AT,
}
HISTORY_SCHEMA: dict[str, Any] = {
    "case_id": pl.Int64,
    "at": _AT,
    "channel": pl.String,
    "party": pl.String,
    "outcome": pl.String,
    "contact_point_id": pl.Int64,
    "related_person_id": pl.Int64,
    "own_point": pl.Boolean,
}
