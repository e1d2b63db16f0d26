"""Writing to and verifying the audit chain.

The hash of an event must be recomputable from its stored row on every database:

- ``before``/``after`` are turned into plain JSON (``jsonable``) *before* hashing, so what is
  hashed is what the JSONField stores; the canonical form sorts keys (PostgreSQL's jsonb
  reorders them) and writes integral floats as integers (jsonb returns ``1e20`` as an
  integer). NaN and infinities are refused: jsonb cannot store them.
- ``at`` is hashed to the microsecond in UTC, the precision of both SQLite and PostgreSQL.
- text columns are cut to their column length before hashing, so PostgreSQL never
  rejects (and SQLite never keeps more than) what was hashed.

Appends lock the single ``AuditChainHead`` row (``select_for_update`` on PostgreSQL; SQLite
serialises writers with ``BEGIN IMMEDIATE``), so concurrent appends never fork the chain.
The head also records the last seq and hash, so removing the newest event is detected.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from django.db import connection, models, transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from cuishou.audit.models import AuditChainHead, AuditEvent
from cuishou.core.rows import rows_insert

GENESIS = "0" * 64
# Column lengths: text is cut to these before hashing, so the stored row is what was hashed.
_MAX = {
    name: getattr(AuditEvent._meta.get_field(name), "max_length", None) or 0
    for name in ("actor_label", "action", "object_type", "object_id", "summary")
}


def _default(value: Any) -> Any:
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, dt.datetime):
        return value.astimezone(dt.UTC).isoformat()
    if isinstance(value, dt.date):
        return value.isoformat()
    if isinstance(value, models.Model):
        return value.pk
    if isinstance(value, set | frozenset):
        return sorted(value)
    return str(value)


def jsonable(value: Any) -> Any:
    """Turn Decimals, dates and model instances into plain JSON values."""
    if value is None:
        return None
    if type(value) is dict and all(
        type(k) is str and (v is None or type(v) in _PLAIN_TYPES) for k, v in value.items()
    ):
        return dict(value)  # already plain (most events): spare the round trip
    return json.loads(json.dumps(value, default=_default, ensure_ascii=False, allow_nan=False))


_PLAIN_TYPES = frozenset({str, int, bool})


_PLAIN = (str, int, bool, type(None))


def _normalized(value: Any) -> Any:
    if isinstance(value, _PLAIN):  # most values: nothing to do
        return value
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, dict):
        return {k: v if isinstance(v, _PLAIN) else _normalized(v) for k, v in value.items()}
    if isinstance(value, list):
        return [v if isinstance(v, _PLAIN) else _normalized(v) for v in value]
    return value


def _canonical(fields: dict[str, Any]) -> bytes:
    return json.dumps(
        _normalized(fields),
        sort_keys=True,
        ensure_ascii=False,
        separators=(",", ":"),
        allow_nan=False,
    ).encode()


def event_hash(prev_hash: str, fields: dict[str, Any]) -> str:
    return hashlib.sha256(prev_hash.encode() + b"\n" + _canonical(fields)).hexdigest()


# The same canonical form, built per field on the append path: ``before`` and ``after``
# are encoded once (that text is also what the row stores) and the rest are plain strings
# and integers, spliced in sorted key order. ``_canonical`` stays the definition (audit
# verify uses it); tests/audit checks that both agree.
_ENCODE = json.JSONEncoder(
    sort_keys=True, ensure_ascii=False, separators=(",", ":"), allow_nan=False
).encode
_QUOTE = json.encoder.encode_basestring  # what the encoder above writes for a str


def _number(value: int | None) -> str:
    return "null" if value is None else str(int(value))


_FLAT: dict[type, Callable[[Any], str]] = {
    str: _QUOTE,
    int: str,
    bool: lambda v: "true" if v else "false",
    type(None): lambda v: "null",
}


def _encode(value: Any) -> str:
    """``_ENCODE(_normalized(value))``; a flat object of strings, integers, booleans and
    nulls (most events) is written directly, without building an encoder."""
    if type(value) is dict:
        try:
            return (
                "{"
                + ",".join(f"{_QUOTE(k)}:{_FLAT[type(value[k])](value[k])}" for k in sorted(value))
                + "}"
            )
        except (KeyError, TypeError):  # a nested or float value, a non-str key
            pass
    return _ENCODE(_normalized(value))


def _canonical_parts(
    values: dict[str, Any], at: str, *, plain: bool = False
) -> tuple[bytes, str | None, str | None]:
    """(canonical bytes, before as JSON text or None, after as JSON text or None) of one
    event's ``values`` (as built in ``audit_record_many``; ``at`` already formatted).
    ``plain``: before and after hold no floats (nothing for ``_normalized`` to do)."""
    encode = _ENCODE if plain else _encode

    def json_text(value: Any) -> str | None:
        if value is None:
            return None
        return str.__str__(value) if type(value) is CanonicalJSON else encode(value)

    before, after = json_text(values["before"]), json_text(values["after"])
    text = "".join(
        (
            '{"action":',
            _QUOTE(values["action"]),
            ',"actor_id":',
            _number(values["actor_id"]),
            ',"actor_label":',
            _QUOTE(values["actor_label"]),
            ',"after":',
            "null" if after is None else after,
            ',"at":',
            _QUOTE(at),
            ',"before":',
            "null" if before is None else before,
            ',"case_id":',
            _number(values["case_id"]),
            ',"object_id":',
            _QUOTE(values["object_id"]),
            ',"object_type":',
            _QUOTE(values["object_type"]),
            ',"seq":',
            _number(values["seq"]),
            ',"summary":',
            _QUOTE(values["summary"]),
            "}",
        )
    )
    return text.encode(), before, after


def _hashed_fields(
    *,
    seq: int,
    at: dt.datetime,
    actor_id: int | None,
    actor_label: str,
    action: str,
    object_type: str,
    object_id: str,
    case_id: int | None,
    summary: str,
    before: Any,
    after: Any,
) -> dict[str, Any]:
    return {
        "seq": seq,
        "at": at.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ"),
        "actor_id": actor_id,
        "actor_label": actor_label,
        "action": action,
        "object_type": object_type,
        "object_id": object_id,
        "case_id": case_id,
        "summary": summary,
        "before": before,
        "after": after,
    }


def _fields_of(event: AuditEvent) -> dict[str, Any]:
    return _hashed_fields(
        seq=event.seq,
        at=event.at,
        actor_id=event.actor_id,
        actor_label=event.actor_label,
        action=event.action,
        object_type=event.object_type,
        object_id=event.object_id,
        case_id=event.case_id,
        summary=event.summary,
        before=event.before,
        after=event.after,
    )


class CanonicalJSON(str):
    """``before`` or ``after`` given as its canonical JSON text already (what ``_ENCODE``
    writes: keys sorted, no spaces, non-ASCII as it is): hashed and stored as it is. A
    bulk writer builds tens of thousands of these column-wise (``payments.bulk``);
    tests/audit checks that they hash as the objects they spell."""

    __slots__ = ()


@dataclass(frozen=True)
class AuditEntry:
    """One event to append; ``audit_record_many`` takes a batch of these."""

    action: str
    object_type: str
    object_id: str = ""
    case_id: int | None = None
    summary: str = ""
    before: Any = None
    after: Any = None


def _jsonable(value: Any) -> Any:
    return value if type(value) is CanonicalJSON else jsonable(value)


def actor_parts(actor: Any) -> tuple[int | None, str]:
    """Who acted, as (user id, name): a user gives both; a string (``"engine"``,
    ``"cli:alice"``) is a name without a user; None is ``"system"``. Every record that
    says who did something (audit events, import and batch runs, payments) uses this."""
    if actor is None:
        return None, "system"
    if isinstance(actor, str):
        return None, actor[: _MAX["actor_label"]]
    return actor.pk, actor.get_username()[: _MAX["actor_label"]]


# From this many events on (a nightly run opening a portfolio's cases, an allocation), rows
# go in through ``rows_insert`` instead of model instances: the same columns, a fraction
# of the time. Such a batch returns no events.
_RAW_INSERT_FROM = 1000
_COLUMNS = (
    "seq",
    "at",
    "actor_id",
    "actor_label",
    "action",
    "object_type",
    "object_id",
    "case_id",
    "summary",
    "before",
    "after",
    "prev_hash",
    "hash",
)


def _insert_raw(rows: list[dict[str, Any]], raw: list[tuple[str | None, str | None]]) -> None:
    """Insert event rows (the ``_COLUMNS`` of each) without model instances, through
    ``rows_insert`` (multi-row INSERTs on SQLite, ``COPY`` on PostgreSQL, where an
    executemany of tens of thousands of rows took seconds); ``before``/``after`` go in as
    the JSON text already encoded for the hash."""
    ops = connection.ops
    table = AuditEvent._meta.db_table
    at = ops.adapt_datetimefield_value(rows[0]["at"])
    params = [
        (
            r["seq"],
            at,
            r["actor_id"],
            r["actor_label"],
            r["action"],
            r["object_type"],
            r["object_id"],
            r["case_id"],
            r["summary"],
            before,
            after,
            r["prev_hash"],
            r["hash"],
        )
        for r, (before, after) in zip(rows, raw, strict=True)
    ]
    rows_insert(table, _COLUMNS, params)  # COPY parses the JSON text as jsonb


def audit_record_many(
    *, actor: Any, entries: Iterable[AuditEntry], plain: bool = False
) -> list[AuditEvent]:
    """Append events to the chain in one locked step. Must run inside the caller's
    transaction so the events commit (or roll back) with the change they describe.
    Returns the events, except for a batch of more than ``_RAW_INSERT_FROM`` (none).

    ``plain``: the caller promises that every ``before``/``after`` is JSON already —
    dicts with string keys, lists, strings, integers, booleans and nulls, no floats,
    Decimals or dates — so it is hashed and stored as it is, without the conversion
    (a bulk posting's tens of thousands of events with their allocation lines). The
    hash is the one the conversion would have given."""
    actor_id, actor_label = actor_parts(actor)
    with transaction.atomic():
        head, _ = AuditChainHead.objects.select_for_update().get_or_create(id=1)
        # Taken under the lock, so seq order and time order agree.
        now = timezone.now()
        seq, prev = head.last_seq, head.last_hash
        at = now.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")  # as _hashed_fields
        rows: list[dict[str, Any]] = []
        raw: list[tuple[str | None, str | None]] = []  # before/after as stored JSON text
        for entry in entries:
            seq += 1
            values: dict[str, Any] = {
                "seq": seq,
                "at": now,
                "actor_id": actor_id,
                "actor_label": actor_label,
                "action": entry.action[: _MAX["action"]],
                "object_type": entry.object_type[: _MAX["object_type"]],
                "object_id": str(entry.object_id)[: _MAX["object_id"]],
                "case_id": entry.case_id,
                "summary": str(entry.summary)[: _MAX["summary"]],
                "before": entry.before if plain else _jsonable(entry.before),
                "after": entry.after if plain else _jsonable(entry.after),
            }
            canonical, before_json, after_json = _canonical_parts(values, at, plain=plain)
            digest = hashlib.sha256(prev.encode() + b"\n" + canonical).hexdigest()
            values["prev_hash"], values["hash"] = prev, digest
            rows.append(values)
            raw.append((before_json, after_json))
            prev = digest
        if not rows:
            return []
        events: list[AuditEvent] = []
        if len(rows) > _RAW_INSERT_FROM:
            _insert_raw(rows, raw)
        else:
            for values in rows:  # the model stores objects, not their text
                for name in ("before", "after"):
                    if type(values[name]) is CanonicalJSON:
                        values[name] = json.loads(values[name])
            events = AuditEvent.objects.bulk_create(
                [AuditEvent(**values) for values in rows], batch_size=2000
            )
        head.last_seq, head.last_hash = seq, prev
        head.save(update_fields=["last_seq", "last_hash"])
    return events


def audit_record(
    *,
    actor: Any,
    action: str,
    target: models.Model | None = None,
    object_type: str | None = None,
    object_id: str | int | None = None,
    case_id: int | None = None,
    summary: str = "",
    before: Any = None,
    after: Any = None,
) -> AuditEvent:
    """Append one event. ``target`` fills in object type and id from a model instance."""
    if target is not None:
        object_type = object_type or target._meta.label_lower
        object_id = target.pk if object_id is None else object_id
    entry = AuditEntry(
        action=action,
        object_type=object_type or "",
        object_id="" if object_id is None else str(object_id),
        case_id=case_id,
        summary=summary,
        before=before,
        after=after,
    )
    return audit_record_many(actor=actor, entries=[entry])[0]


def model_snapshot(instance: models.Model, fields: Iterable[str] | None = None) -> dict[str, Any]:
    """The concrete field values of an instance, JSON-ready, for before/after."""
    names = (
        list(fields) if fields is not None else [f.attname for f in instance._meta.concrete_fields]
    )
    data = {name: getattr(instance, name) for name in names}
    result = jsonable(data)
    assert isinstance(result, dict)
    return result


@dataclass(frozen=True)
class VerifyResult:
    ok: bool
    count: int
    broken_seq: int | None = None
    reason: str = ""


def _iter_events(chunk: int = 5000) -> Iterator[AuditEvent]:
    last = 0
    while True:
        batch = list(AuditEvent.objects.filter(seq__gt=last).order_by("seq")[:chunk])
        if not batch:
            return
        yield from batch
        last = batch[-1].seq


def audit_verify() -> VerifyResult:
    """Walk the chain from the start; report the first event that does not hold."""
    prev = GENESIS
    expected_seq = 1
    count = 0
    for event in _iter_events():
        if event.seq != expected_seq:
            return VerifyResult(
                False,
                count,
                expected_seq,
                _("event %(seq)d is missing (next stored event is %(next)d)")
                % {"seq": expected_seq, "next": event.seq},
            )
        if event.prev_hash != prev:
            return VerifyResult(
                False,
                count,
                event.seq,
                _("event %(seq)d does not link to event %(prev)d")
                % {"seq": event.seq, "prev": event.seq - 1},
            )
        if event_hash(prev, _fields_of(event)) != event.hash:
            return VerifyResult(
                False,
                count,
                event.seq,
                _("event %(seq)d was altered (its hash does not match)") % {"seq": event.seq},
            )
        prev = event.hash
        expected_seq += 1
        count += 1
    head = AuditChainHead.objects.filter(id=1).first()
    if head is None and count:
        return VerifyResult(False, count, count, _("the chain head record is missing"))
    if head is not None and head.last_seq != count:
        if head.last_seq > count:
            return VerifyResult(
                False,
                count,
                count + 1,
                _("event %(seq)d is missing (the chain head records %(n)d events)")
                % {"seq": count + 1, "n": head.last_seq},
            )
        return VerifyResult(False, count, head.last_seq + 1, _("events beyond the recorded head"))
    if head is not None and head.last_hash != prev and count:
        return VerifyResult(
            False, count, count, _("event %(seq)d differs from the chain head") % {"seq": count}
        )
    return VerifyResult(True, count)
