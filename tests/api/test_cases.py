"""Cases through the API: each role sees its scope, personal data stays masked."""

from __future__ import annotations

import json

import pytest

from cuishou.audit.models import AuditEvent
from cuishou.audit.services import audit_record
from cuishou.cases.services import case_assign, case_reveal_pii
from cuishou.portfolio.models import Loan
from tests.api.client import logged_in
from tests.factories import (
    AddressFactory,
    CaseFactory,
    ClientFactory,
    ContactPointFactory,
    InstallmentFactory,
    LoanFactory,
)

pytestmark = pytest.mark.django_db


def _ids(response) -> set[int]:  # type: ignore[no-untyped-def]
    assert response.status_code == 200, response.content
    return {item["id"] for item in response.json()["items"]}


def test_a_collector_lists_only_the_cases_assigned_to_them(world):
    response = logged_in(world.chen).get("/api/cases")
    assert _ids(response) == {world.case_chen.pk, world.case_chen_other_client.pk}
    assert response.json()["count"] == 2


def test_a_collector_gets_404_for_another_collectors_case(world):
    chen = logged_in(world.chen)
    assert chen.get(f"/api/cases/{world.case_zhou.pk}").status_code == 404
    assert chen.get(f"/api/cases/{world.case_zhou.pk}/timeline").status_code == 404
    response = chen.post(
        f"/api/cases/{world.case_zhou.pk}/reveal",
        {"field": "id_number"},
        content_type="application/json",
    )
    assert response.status_code == 404
    # Same answer as for a case that does not exist at all.
    missing = chen.get("/api/cases/999999")
    assert missing.status_code == 404
    assert chen.get(f"/api/cases/{world.case_zhou.pk}").json() == missing.json()
    assert not AuditEvent.objects.filter(action="pii.reveal").exists()


def test_a_team_lead_sees_the_cases_of_their_team(world):
    assert _ids(logged_in(world.lin).get("/api/cases")) == {
        world.case_chen.pk,
        world.case_chen_other_client.pk,
    }
    assert logged_in(world.lin).get(f"/api/cases/{world.case_zhou.pk}").status_code == 404


def test_a_risk_manager_sees_every_case(world):
    assert _ids(logged_in(world.risk).get("/api/cases")) == {
        world.case_chen.pk,
        world.case_zhou.pk,
        world.case_chen_other_client.pk,
        world.case_unassigned.pk,
    }


def test_a_client_user_sees_only_its_clients_cases(world):
    viewer = logged_in(world.client_user)
    assert _ids(viewer.get("/api/cases")) == {world.case_chen.pk, world.case_zhou.pk}
    assert viewer.get(f"/api/cases/{world.case_chen_other_client.pk}").status_code == 404


def test_filters_and_paging_apply_within_the_scope(world):
    risk = logged_in(world.risk)
    assert _ids(risk.get("/api/cases?bucket=M3")) == {world.case_zhou.pk}
    assert _ids(risk.get("/api/cases?client=BETA")) == {
        world.case_chen_other_client.pk,
        world.case_unassigned.pk,
    }
    page = risk.get("/api/cases?limit=3&offset=3").json()
    assert page["count"] == 4 and len(page["items"]) == 1
    # A collector cannot widen the scope with a filter: zhou is not even a valid choice.
    widened = logged_in(world.chen).get("/api/cases?assignee=zhou")
    assert widened.status_code == 422 and "items" not in widened.json()
    assert risk.get("/api/cases?bucket=M99").status_code == 422


def test_money_is_a_string_with_two_decimals(world):
    item = logged_in(world.chen).get("/api/cases").json()["items"]
    balances = {i["id"]: i["balance"] for i in item}
    assert balances[world.case_chen.pk] == "6000.00"
    detail = logged_in(world.chen).get(f"/api/cases/{world.case_chen.pk}").json()
    loan = detail["loans"][0]
    assert loan["principal"] == "6000.00"
    assert loan["annual_rate"] == "0.18"  # as `cuishou loan show` writes it
    assert [i["principal_due"] for i in loan["installments"]] == ["1500.00", "1500.00"]


def test_case_detail_masks_id_numbers_and_phones(world):
    response = logged_in(world.chen).get(f"/api/cases/{world.case_chen.pk}")
    assert response.status_code == 200
    body = response.content.decode()
    for secret in ("110105198604011114", "13812345678", "13987654321"):
        assert secret not in body
    data = response.json()
    assert data["debtor"]["id_number"] == "110***********1114"
    assert data["debtor"]["mobile"] == "138****5678"
    assert [c["value"] for c in data["contacts"]] == ["139****4321"]
    assert data["contacts"][0]["owner"] == "李四"
    assert data["related_persons"][0]["relation"] == "spouse"
    assert data["loans"][0]["contract_no"] == "HT-ACME-1"


def test_case_list_masks_id_numbers_and_phones(world):
    body = logged_in(world.risk).get("/api/cases").content.decode()
    assert "110105198604011114" not in body and "13812345678" not in body
    assert "110***********1114" in body


def test_reveal_returns_the_value_and_records_who_saw_it(world):
    chen = logged_in(world.chen)
    url = f"/api/cases/{world.case_chen.pk}/reveal"
    response = chen.post(url, {"field": "id_number"}, content_type="application/json")
    assert response.status_code == 200
    assert response.json()["value"] == "110105198604011114"

    event = AuditEvent.objects.get(action="pii.reveal")
    assert event.actor_id == world.chen.pk
    assert event.case_id == world.case_chen.pk
    assert event.after == {"field": "id_number"}  # the value itself is not logged

    contact_id = chen.get(f"/api/cases/{world.case_chen.pk}").json()["contacts"][0]["id"]
    response = chen.post(
        url, {"field": "contact", "contact_point_id": contact_id}, content_type="application/json"
    )
    assert response.json()["value"] == "13987654321"
    assert AuditEvent.objects.filter(action="pii.reveal").count() == 2


def test_reveal_of_a_contact_point_of_another_file_is_404(world):
    other = CaseFactory(assignee=world.chen)
    foreign = ContactPointFactory(debtor=other.debtor)
    response = logged_in(world.chen).post(
        f"/api/cases/{world.case_chen.pk}/reveal",
        {"field": "contact", "contact_point_id": foreign.pk},
        content_type="application/json",
    )
    assert response.status_code == 404


def test_a_client_user_may_not_reveal(world):
    response = logged_in(world.client_user).post(
        f"/api/cases/{world.case_chen.pk}/reveal",
        {"field": "mobile"},
        content_type="application/json",
    )
    assert response.status_code == 403
    assert "13812345678" not in response.content.decode()
    assert not AuditEvent.objects.filter(action="pii.reveal").exists()
    me = logged_in(world.client_user).get("/api/me").json()
    assert me["client"] == "ACME" and me["may_reveal_pii"] is False


def test_the_timeline_shows_the_cases_audit_events(world):
    case_assign(actor=world.lin, case=world.case_chen, assignee=world.zhou, reason="leave")
    case_assign(actor=world.lin, case=world.case_chen, assignee=world.chen, reason="back")
    timeline = logged_in(world.lin).get(f"/api/cases/{world.case_chen.pk}/timeline").json()
    assert [(e["action"], e["actor"], e["summary"]) for e in timeline["items"]] == [
        ("case.assign", "lin", "leave"),
        ("case.assign", "lin", "back"),
    ]
    assert timeline["items"][0]["after"] == {"assignee_id": world.zhou.pk}


def test_the_timeline_holds_the_files_loan_events_but_not_another_cases(world):
    # Given an import's change to the case's loan, and a reveal in the same debtor's
    # case with another client
    loan = Loan.objects.get(contract_no="HT-ACME-1")
    audit_record(
        actor="import",
        action="loan.update",
        target=loan,
        summary="ACME HT-ACME-1 (import 1)",
        after={"balance": "5000.00"},
    )
    other_client_case = CaseFactory(
        client=ClientFactory(code="GAMMA"), debtor=world.case_chen.debtor, assignee=world.zhou
    )
    case_reveal_pii(actor=world.zhou, case=other_client_case, field="mobile")

    # When the case's timeline is read
    items = logged_in(world.chen).get(f"/api/cases/{world.case_chen.pk}/timeline").json()["items"]

    # Then the loan's change is there and the other client's reveal is not
    assert [(e["action"], e["actor"]) for e in items] == [("loan.update", "import")]


def test_the_case_list_needs_a_fixed_number_of_queries(world, django_assert_max_num_queries):
    risk = logged_in(world.risk)
    risk.get("/api/cases")  # warm the session and permission caches
    for _ in range(20):
        CaseFactory(assignee=world.zhou)
    with django_assert_max_num_queries(7):
        response = risk.get("/api/cases?limit=100")
    assert response.json()["count"] == 24


def test_loan_state_is_scoped_like_its_case(world):
    url = "/api/loans/ACME/HT-ACME-1"
    response = logged_in(world.chen).get(url)
    assert response.status_code == 200, response.content
    state = response.json()
    assert state["contract_no"] == "HT-ACME-1"
    assert state["client"] == "ACME"
    assert state["balance"].count(".") == 1 and len(state["balance"].split(".")[1]) == 2
    assert "110105198604011114" not in json.dumps(state, ensure_ascii=False)
    assert logged_in(world.zhou).get(url).status_code == 404
    assert logged_in(world.risk).get(url).status_code == 200
    assert logged_in(world.client_user).get(url).status_code == 200
    assert logged_in(world.chen).get("/api/loans/ACME/NOPE").status_code == 404


def test_case_detail_needs_a_fixed_number_of_queries(world, django_assert_max_num_queries):
    chen = logged_in(world.chen)
    url = f"/api/cases/{world.case_chen.pk}"
    chen.get(url)
    debtor, acme = world.case_chen.debtor, world.case_chen.client
    for n in range(5):
        ContactPointFactory(debtor=debtor)
        AddressFactory(debtor=debtor)
        loan = LoanFactory(client=acme, debtor=debtor, contract_no=f"HT-EXTRA-{n}")
        InstallmentFactory(loan=loan, seq=1)
        InstallmentFactory(loan=loan, seq=2)
    with django_assert_max_num_queries(11):
        data = chen.get(url).json()
    assert len(data["loans"]) == 6 and len(data["contacts"]) == 6
