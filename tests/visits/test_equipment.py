"""Equipment: checked out to each visitor against a signature and a time, returned the
same way; the letter of introduction is a numbered document naming both visitors;
anything not back by the end of the day is an alert."""

from __future__ import annotations

import datetime as dt

import pytest
from django.core.exceptions import PermissionDenied, ValidationError

from cuishou.audit.models import AuditEvent
from cuishou.notices.models import Document
from cuishou.visits.choices import EquipmentKind
from cuishou.visits.equipment import (
    equipment_check_out,
    equipment_missing,
    equipment_outstanding,
    equipment_return,
)
from tests.visits.conftest import approved_route
from tests.visits.dayhelp import at, check_out_all


def test_the_letter_of_introduction_is_a_new_numbered_document_naming_both_visitors(
    world, introduction
):
    route = approved_route(world)
    loan = equipment_check_out(
        actor=world.risk,
        route=route,
        visitor=world.visitors[0],
        kind=EquipmentKind.INTRODUCTION,
        signature="外访员 孙",
        at=at(8, 30),
    )
    document = Document.objects.get(pk=loan.document_id)
    assert loan.label == document.number
    assert document.kind == "introduction"
    assert "外访员 孙" in document.text and "外访员 周" in document.text
    assert document.pdf  # a printed letter
    other = equipment_check_out(
        actor=world.risk,
        route=route,
        visitor=world.visitors[1],
        kind=EquipmentKind.INTRODUCTION,
        signature="外访员 周",
    )
    assert other.label != loan.label


def test_no_letter_without_an_approved_introduction_template(world):
    route = approved_route(world)
    with pytest.raises(ValidationError) as e:
        equipment_check_out(
            actor=world.risk,
            route=route,
            visitor=world.visitors[0],
            kind=EquipmentKind.INTRODUCTION,
            signature="外访员 孙",
        )
    assert "No letter of introduction template is approved" in str(e.value)


def test_check_out_needs_the_risk_manager_a_signature_a_serial_and_a_team_member(world):
    route = approved_route(world)
    with pytest.raises(PermissionDenied):
        equipment_check_out(
            actor=world.lead,
            route=route,
            visitor=world.visitors[0],
            kind="camera",
            label="C1",
            signature="孙",
        )
    with pytest.raises(ValidationError) as e:
        equipment_check_out(
            actor=world.risk,
            route=route,
            visitor=world.visitors[2],
            kind="camera",
            label="",
            signature=" ",
        )
    errors = e.value.message_dict
    assert "not a visitor of this route's team" in errors["visitor"][0]
    assert errors["signature"] == ["The visitor signs for the item."]
    assert "serial or badge number" in errors["label"][0]


def test_an_item_is_checked_out_once_per_route_and_returned_once(world):
    route = approved_route(world)
    loan = equipment_check_out(
        actor=world.risk,
        route=route,
        visitor=world.visitors[0],
        kind="recorder",
        label="R-7",
        signature="孙",
        at=at(8, 30),
    )
    with pytest.raises(ValidationError, match="already checked out"):
        equipment_check_out(
            actor=world.risk,
            route=route,
            visitor=world.visitors[0],
            kind="recorder",
            label="R-8",
            signature="孙",
        )
    back = equipment_return(actor=world.risk, loan=loan, signature="孙", at=at(17))
    assert back.returned_to == world.risk and back.return_signature == "孙"
    with pytest.raises(ValidationError, match="already returned"):
        equipment_return(actor=world.risk, loan=loan, signature="孙")
    assert AuditEvent.objects.filter(action="equipment.return").count() == 1


def test_missing_equipment_is_named_per_visitor(world, introduction):
    route = approved_route(world)
    check_out_all(world, route, kinds=[EquipmentKind.BADGE, EquipmentKind.CAMERA])
    missing = equipment_missing(route, list(route.team.members.all()))
    assert set(missing) == set(world.visitors[:2])
    assert "Recorder (录音笔)" in missing[world.visitors[0]]
    assert "Work badge (工作证)" not in missing[world.visitors[0]]


def test_anything_not_returned_by_the_end_of_the_day_is_an_alert(world, introduction):
    yesterday = at(9).date() - dt.timedelta(days=1)
    route = approved_route(world, day=yesterday)
    camera = equipment_check_out(
        actor=world.risk,
        route=route,
        visitor=world.visitors[0],
        kind="camera",
        label="C-1",
        signature="孙",
        at=at(8, day=yesterday),
    )
    recorder = equipment_check_out(
        actor=world.risk,
        route=route,
        visitor=world.visitors[1],
        kind="recorder",
        label="R-1",
        signature="周",
        at=at(8, day=yesterday),
    )
    equipment_return(actor=world.risk, loan=recorder, signature="周", at=at(18, day=yesterday))
    alerts = equipment_outstanding()
    assert [a.loan for a in alerts] == [camera]
    assert "Camera (相机) C-1 checked out to 外访员 孙" in alerts[0].message
    # The same day, before its end, an item still out is not an alert yet.
    today = approved_route(world, team=1)
    equipment_check_out(
        actor=world.risk,
        route=today,
        visitor=world.visitors[2],
        kind="camera",
        label="C-2",
        signature="吴",
    )
    assert [a.loan for a in equipment_outstanding()] == [camera]
