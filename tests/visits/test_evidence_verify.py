"""`cuishou evidence verify`: every stored file re-hashed; a changed or missing file is
named, the summary is the last line, and the command fails."""

from __future__ import annotations

import json
from io import StringIO
from pathlib import Path

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.utils import timezone

from cuishou.visits.choices import EvidenceKind
from cuishou.visits.evidence import evidence_verify
from tests.visits import mediafiles as mf
from tests.visits.evidencehelp import AT_DOOR, add


def run() -> tuple[list[str], CommandError | None]:
    out = StringIO()
    try:
        call_command("evidence", "verify", stdout=out)
    except CommandError as err:
        return out.getvalue().splitlines(), err
    return out.getvalue().splitlines(), None


def test_clean_storage_verifies_and_exits_zero(evday):
    add(evday, content=mf.jpeg(taken=timezone.now(), gps=AT_DOOR))
    add(evday, kind=EvidenceKind.RECORDING, content=mf.wav(3), file_name="s.wav")
    lines, err = run()
    assert err is None
    assert json.loads(lines[-1]) == {"checked": 2, "mismatched": 0}
    assert evidence_verify() == []


def test_a_tampered_file_and_a_missing_file_are_named_and_the_command_fails(evday, settings):
    photo = add(evday, content=mf.jpeg(seed=1))
    gone = add(evday, content=mf.jpeg(seed=2))
    fine = add(evday, content=mf.jpeg(seed=3))
    root = Path(settings.MEDIA_ROOT)
    (root / photo.file.name).write_bytes(mf.jpeg(seed=99))
    (root / gone.file.name).unlink()
    lines, err = run()
    assert err is not None and "2 of 3" in str(err)
    assert json.loads(lines[-1]) == {"checked": 3, "mismatched": 2}
    assert lines[0].startswith(f"evidence {photo.pk} {photo.file.name}: expected {photo.sha256}")
    assert "found missing" in lines[1] and str(gone.pk) in lines[1]
    assert {m["id"] for m in evidence_verify()} == {photo.pk, gone.pk}
    assert fine.pk not in {m["id"] for m in evidence_verify()}


def test_the_command_exits_one_from_the_shell(evday, settings):
    item = add(evday)
    (Path(settings.MEDIA_ROOT) / item.file.name).write_bytes(b"changed")
    from django.core.management import ManagementUtility

    with pytest.raises(SystemExit) as exit_:
        ManagementUtility(["cuishou", "evidence", "verify"]).execute()
    assert exit_.value.code == 1


def test_a_re_upload_after_tampering_stores_a_good_copy(evday, settings):
    content = mf.jpeg(seed=5)
    first = add(evday, content=content)
    (Path(settings.MEDIA_ROOT) / first.file.name).write_bytes(b"changed")
    again = add(evday, content=content, case=evday.cases[1], stop=evday.route.stops.get(seq=2))
    assert again.file.name != first.file.name
    assert (Path(settings.MEDIA_ROOT) / again.file.name).read_bytes() == content
    assert [m["id"] for m in evidence_verify()] == [first.pk]
