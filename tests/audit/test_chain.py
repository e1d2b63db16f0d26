"""The audit log is append-only and hash-chained; `cuishou audit verify` finds tampering."""

from __future__ import annotations

import datetime as dt
import io
import threading
from decimal import Decimal

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.db import IntegrityError, connection, connections, transaction
from hypothesis import given, settings
from hypothesis import strategies as st

from cuishou.audit.models import AppendOnlyError, AuditEvent
from cuishou.audit.services import (
    _ENCODE,
    AuditEntry,
    CanonicalJSON,
    _canonical,
    _canonical_parts,
    _hashed_fields,
    audit_record,
    audit_record_many,
    audit_verify,
    jsonable,
)
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db


def _verify() -> str:
    out = io.StringIO()
    call_command("audit", "verify", stdout=out)
    return out.getvalue()


def _raw(sql: str, params: list[object]) -> None:
    with connection.cursor() as cursor:
        cursor.execute(sql, params)


def _record_five() -> None:
    actor = UserFactory(username="auditor")
    audit_record(
        actor=actor,
        action="case.assign",
        object_type="cases.case",
        object_id=1,
        case_id=1,
        summary="assigned",
        before={"assignee": None},
        after={"assignee": actor.pk},
    )
    audit_record_many(
        actor="import",
        entries=[
            AuditEntry(
                action="loan.update",
                object_type="portfolio.loan",
                object_id="HT-1",
                after={"balance": Decimal("6000.00"), "due_on": dt.date(2026, 8, 10)},
            ),
            # Values whose JSON form a database may rewrite: key order, big floats, CJK text.
            AuditEntry(
                action="debtor.update",
                object_type="portfolio.debtor",
                object_id="7",
                summary="姓名更正",
                before={"z": 1, "a": {"y": [1.5, 2.0], "b": "张三"}},
                after={
                    "big": 1e20,
                    "small": 1e-7,
                    "when": dt.datetime(2026, 11, 1, 8, tzinfo=dt.UTC),
                },
            ),
            AuditEntry(action="case.update", object_type="cases.case", object_id="1", case_id=1),
        ],
    )
    audit_record(actor=None, action="batch.run", object_type="engine.run", summary="nightly")


def test_an_intact_chain_verifies_and_prints_the_count():
    _record_five()
    assert _verify().strip() == "audit chain intact: 5 events"
    result = audit_verify()
    assert result.ok and result.count == 5


def test_an_empty_chain_is_intact():
    assert _verify().strip() == "audit chain intact: 0 events"


def test_altering_a_summary_with_raw_sql_names_that_event():
    _record_five()
    _raw("UPDATE audit_auditevent SET summary = %s WHERE seq = %s", ["nothing happened", 3])
    with pytest.raises(CommandError, match=r"broken at event 3\b"):
        _verify()


def test_altering_the_after_values_with_raw_sql_names_that_event():
    _record_five()
    _raw(
        'UPDATE audit_auditevent SET "after" = %s WHERE seq = %s',
        ['{"balance": "0.00", "due_on": "2026-08-10"}', 2],
    )
    with pytest.raises(CommandError, match=r"broken at event 2\b"):
        _verify()


def test_altering_the_actor_with_raw_sql_is_detected():
    _record_five()
    _raw("UPDATE audit_auditevent SET actor_label = %s WHERE seq = %s", ["someone-else", 5])
    with pytest.raises(CommandError, match=r"broken at event 5\b"):
        _verify()


def test_rehashing_an_altered_event_still_breaks_the_next_link():
    _record_five()
    _raw(
        "UPDATE audit_auditevent SET summary = %s, hash = %s WHERE seq = %s",
        ["forged", "f" * 64, 2],
    )
    with pytest.raises(CommandError, match=r"broken at event 2\b"):
        _verify()


def test_deleting_a_middle_event_with_raw_sql_names_the_missing_seq():
    _record_five()
    _raw("DELETE FROM audit_auditevent WHERE seq = %s", [3])
    with pytest.raises(CommandError, match=r"broken at event 3\b.*missing"):
        _verify()


def test_deleting_the_newest_event_with_raw_sql_is_detected_through_the_chain_head():
    _record_five()
    _raw("DELETE FROM audit_auditevent WHERE seq = %s", [5])
    with pytest.raises(CommandError, match=r"broken at event 5\b.*missing"):
        _verify()


def test_deleting_the_chain_head_row_is_detected():
    _record_five()
    _raw("DELETE FROM audit_auditchainhead", [])
    with pytest.raises(CommandError, match="chain head"):
        _verify()


def test_the_orm_refuses_to_change_or_delete_events():
    _record_five()
    event = AuditEvent.objects.get(seq=2)
    event.summary = "changed"
    with pytest.raises(AppendOnlyError):
        event.save()
    with pytest.raises(AppendOnlyError):
        event.delete()
    with pytest.raises(AppendOnlyError):
        AuditEvent.objects.filter(seq=2).update(summary="changed")
    with pytest.raises(AppendOnlyError):
        AuditEvent.objects.all().delete()
    # A fresh instance carrying an existing primary key is an insert, never an update.
    copy = AuditEvent.objects.get(seq=3)
    copy._state.adding = True
    copy.summary = "changed"
    with pytest.raises(IntegrityError), transaction.atomic():
        copy.save()
    assert "intact: 5 events" in _verify()


def test_events_store_the_time_they_were_hashed_with_to_the_microsecond():
    event = audit_record(actor=None, action="batch.run", object_type="engine.run")
    stored = AuditEvent.objects.get(seq=event.seq).at
    assert stored == event.at and stored.utcoffset() is not None
    assert audit_verify().ok


@pytest.mark.django_db(transaction=True)
def test_concurrent_appends_do_not_fork_the_chain():
    if connection.vendor != "postgresql":
        pytest.skip("needs a server database: SQLite's in-memory test database is one connection")
    per_thread = 25
    errors: list[BaseException] = []
    start = threading.Barrier(4)

    def append(n: int) -> None:
        try:
            start.wait()
            for i in range(per_thread):
                audit_record(actor=f"worker-{n}", action="test.append", object_id=i)
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(exc)
        finally:
            connections.close_all()

    threads = [threading.Thread(target=append, args=(n,)) for n in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    assert audit_verify().ok
    assert AuditEvent.objects.count() == 4 * per_thread
    assert sorted(AuditEvent.objects.values_list("seq", flat=True)) == list(
        range(1, 4 * per_thread + 1)
    )


@pytest.mark.django_db
def test_a_large_batch_goes_in_whole_and_verifies() -> None:
    # Given a batch the size of a night that opens a portfolio's cases (written in bulk)
    entries = [
        AuditEntry(
            action="case.open",
            object_type="cases.case",
            object_id=str(n),
            case_id=n,
            summary=f"opened {n}",
            before=None if n % 2 else {"status": "cured"},
            after={
                "bucket": "M1",
                "dpd": n % 30,
                "balance": Decimal("1234.50"),
                "as_of": dt.date(2026, 11, 15),
            },
        )
        for n in range(1, 2502)
    ]
    # When it is recorded
    audit_record_many(actor="engine", entries=entries)
    # Then every event is stored as given, in order, and the chain verifies
    assert AuditEvent.objects.count() == 2501
    last = AuditEvent.objects.order_by("-seq").first()
    assert last is not None and (last.seq, last.object_id, last.case_id) == (2501, "2501", 2501)
    assert last.after == {
        "bucket": "M1",
        "dpd": 2501 % 30,
        "balance": "1234.50",
        "as_of": "2026-11-15",
    }
    assert last.before is None
    assert AuditEvent.objects.get(seq=2).before == {"status": "cured"}
    assert audit_verify().ok


_json_leaves = (
    st.none()
    | st.booleans()
    | st.integers(-(2**63), 2**63 - 1)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text()
)
_json_values = st.recursive(
    _json_leaves,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(), inner, max_size=4),
    max_leaves=12,
)


@settings(max_examples=300, deadline=None)
@given(
    before=st.none() | _json_values,
    after=st.none() | _json_values,
    text=st.text(),
    actor_id=st.none() | st.integers(1, 2**31),
    case_id=st.none() | st.integers(1, 2**31),
)
def test_the_append_paths_canonical_form_is_the_verifiers(
    before: object, after: object, text: str, actor_id: int | None, case_id: int | None
) -> None:
    # What the append path hashes (spliced per field) is what verify recomputes.
    at = dt.datetime(2026, 11, 30, 1, 2, 3, 456789, tzinfo=dt.UTC)
    values = {
        "seq": 7,
        "at": at,
        "actor_id": actor_id,
        "actor_label": text[:20],
        "action": "case.assign",
        "object_type": "cases.case",
        "object_id": text[:10],
        "case_id": case_id,
        "summary": text,
        "before": before,
        "after": after,
    }
    spliced, _, _ = _canonical_parts(values, "2026-11-30T01:02:03.456789Z")
    assert spliced == _canonical(_hashed_fields(**values))


_plain_leaves = st.none() | st.booleans() | st.integers(-(2**63), 2**63 - 1) | st.text()
_plain_values = st.recursive(
    _plain_leaves,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(), inner, max_size=4),
    max_leaves=12,
)


@settings(max_examples=200, deadline=None)
@given(after=st.dictionaries(st.text(), _plain_values, max_size=5))
def test_plain_events_hash_as_the_converted_ones_do(after: dict[str, object]) -> None:
    # audit_record_many(plain=True) skips the conversion: same bytes, same stored text.
    values = {
        "seq": 3,
        "at": dt.datetime(2026, 11, 30, tzinfo=dt.UTC),
        "actor_id": None,
        "actor_label": "bulk",
        "action": "payment.post",
        "object_type": "payments.payment",
        "object_id": "9",
        "case_id": None,
        "summary": "HT-1: 1.00",
        "before": None,
        "after": after,
    }
    at = "2026-11-30T00:00:00.000000Z"
    assert _canonical_parts(values, at, plain=True) == _canonical_parts(
        {**values, "after": jsonable(after)}, at
    )


def test_a_large_batch_of_awkward_text_verifies_after_the_round_trip() -> None:
    awkward = ['引号"与\\反斜杠', "换行\n制表\t", "\u2028\u2029", "\x01\x1f", "emoji 😀", ""]
    entries = [
        AuditEntry(
            action="case.assign",
            object_type="cases.case",
            object_id=str(n),
            case_id=n,
            summary=awkward[n % len(awkward)],
            before={"assignee_id": None, "note": awkward[(n + 1) % len(awkward)]},
            after={"assignee_id": n, "list": [1.0, 2.5, awkward[n % len(awkward)]], "big": 1e20},
        )
        for n in range(1, 1202)
    ]
    audit_record_many(actor="bench", entries=entries)
    assert AuditEvent.objects.get(seq=3).summary == awkward[3]
    assert AuditEvent.objects.get(seq=4).after["list"] == [1, 2.5, awkward[4]]
    assert audit_verify().ok


@pytest.mark.parametrize("count", [3, 1201])  # model instances, and the raw insert
def test_events_given_as_canonical_json_text_store_and_verify_as_the_objects(
    count: int,
) -> None:
    awkward = ['引号"与\\反斜杠', "换行\n制表\t", "\x01\x1f", "emoji 😀", ""]
    objects = [
        {"allocations": [{"amount": "1.00", "seq": None}], "reference": awkward[n % 5], "n": n}
        for n in range(count)
    ]
    entries = [
        AuditEntry(
            action="payment.post",
            object_type="payments.payment",
            object_id=str(n),
            after=CanonicalJSON(_ENCODE(after)),
        )
        for n, after in enumerate(objects)
    ]
    audit_record_many(actor="bulk", entries=entries, plain=True)
    stored = list(AuditEvent.objects.order_by("seq").values_list("after", flat=True))
    assert stored == objects
    assert audit_verify().ok
