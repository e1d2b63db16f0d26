"""The visit report: generated from the stops, submitted after the return with all the
equipment back, a PDF in each case file, reviewed by the team lead."""

from __future__ import annotations

import pytest
from django.core.exceptions import PermissionDenied, ValidationError

from cuishou.visits.choices import RouteStatus
from cuishou.visits.day import route_return
from cuishou.visits.equipment import equipment_return
from cuishou.visits.models import EquipmentLoan, Evidence
from cuishou.visits.report import report_draft, report_review, report_submit
from tests.visits.conftest import approved_route
from tests.visits.dayhelp import DEBTOR_MET, arrive, at, complete, depart, stop


@pytest.fixture
def returned(world, introduction):
    route = approved_route(world)
    depart(world, route)
    complete(world, arrive(world, stop(route, 1)), outcome="debtor_met", details=DEBTOR_MET)
    complete(world, arrive(world, stop(route, 2)))
    complete(
        world, arrive(world, stop(route, 3)), outcome="moved", details={"reason": "邻居说已搬走"}
    )
    return route_return(actor=world.visitors[0], route=route, at=at(17))


def _all_back(world, route):  # type: ignore[no-untyped-def]
    for loan in EquipmentLoan.objects.filter(route=route):
        equipment_return(actor=world.risk, loan=loan, signature=str(loan.visitor), at=at(17, 10))


def test_the_draft_is_made_from_the_stops(world, returned):
    draft = report_draft(returned)
    assert [s["debtor"] for s in draft["stops"]] == ["张伟", "王芳", "李娜"]
    assert draft["stops"][0]["outcome"] == "Debtor met (见到本人)"
    assert "Collection notice signed" in draft["stops"][0]["lines"]
    assert any("neighbours" in line.lower() for line in draft["stops"][1]["lines"])
    assert "No recording" in draft["stops"][0]["problems"]
    assert "Notice signed but no receipt uploaded" in draft["stops"][0]["problems"]
    assert "visited 3 of 3 stops" in draft["summary"]


def test_the_report_is_refused_while_equipment_is_out(world, returned):
    with pytest.raises(ValidationError) as e:
        report_submit(actor=world.visitors[0], route=returned, summary="ok")
    message = e.value.message_dict["equipment"][0]
    assert message.startswith("Hand back the equipment first")
    assert "外访员 孙 — Camera (相机)" in message


def test_the_report_is_refused_before_the_return(world, introduction):
    route = approved_route(world)
    depart(world, route)
    with pytest.raises(ValidationError, match="after the return"):
        report_submit(actor=world.visitors[0], route=route, summary="x")


def test_the_report_becomes_a_pdf_in_each_case_file_and_the_lead_reviews_it(world, returned):
    pytest.importorskip("cuishou.visits.evidence")
    from tests.notices.pdf import pdf_text, squeeze

    _all_back(world, returned)
    with pytest.raises(PermissionDenied):
        report_submit(actor=world.visitors[2], route=returned, summary="x")
    report = report_submit(actor=world.visitors[1], route=returned, summary="三户已访。")
    returned.refresh_from_db()
    assert returned.status == RouteStatus.REPORTED
    pdfs = Evidence.objects.filter(kind="report", route=returned)
    assert {e.case_id for e in pdfs} == {c.pk for c in world.cases[:3]}
    with report.pdf.file.open("rb") as f:
        text = squeeze(pdf_text(f.read()))
    for name in ("张伟", "王芳", "李娜", "三户已访", "上海市浦东新区世纪大道100号"):
        assert name in text
    with pytest.raises(PermissionDenied):
        report_review(actor=world.risk, report=report)
    reviewed = report_review(actor=world.lead, report=report)
    assert reviewed.reviewed_by == world.lead
    with pytest.raises(ValidationError, match="already reviewed"):
        report_review(actor=world.lead, report=report)
