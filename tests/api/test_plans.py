"""Repayment plans, settlements and receipts through the API: what a client of the API
sees — the status codes, the fields a 422 names, the refusals of roles and limits, and
the kept or broken state after the nightly run."""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from decimal import Decimal
from typing import Any

import pytest
from django.test import Client

from cuishou.accounts.models import Team, User
from cuishou.cases.models import Case
from cuishou.core.timeutil import today_shanghai
from cuishou.engine.batch import batch_run
from cuishou.payments.services import payment_post, payment_reverse
from cuishou.portfolio.models import Loan
from tests.api.client import logged_in, post_json
from tests.factories import (
    ClientFactory,
    DebtorFactory,
    InstallmentFactory,
    LoanFactory,
    UserFactory,
)

pytestmark = pytest.mark.django_db

TODAY = today_shanghai()
DAY = dt.timedelta(days=1)


def people() -> tuple[User, User]:
    """Collector Chen in team lead Lin's team."""
    lin = UserFactory(username="lin", role="team_lead")
    team = Team.objects.create(name="North", lead=lin)
    chen = UserFactory(username="chen", role="collector")
    chen.team = team
    chen.save(update_fields=["team"])
    return chen, lin


def open_case(collector: User, *, code: str = "ACME") -> tuple[Loan, Case]:
    """A loan of one installment (10,000.00 + 500.00 interest) 40 days overdue; last
    night's run opened its case, assigned to ``collector``."""
    loan = LoanFactory(
        client=ClientFactory(code=code), debtor=DebtorFactory(), disbursed_on=TODAY - 200 * DAY
    )
    InstallmentFactory(
        loan=loan,
        seq=1,
        due_on=TODAY - 40 * DAY,
        principal_due=Decimal("10000.00"),
        interest_due=Decimal("500.00"),
    )
    batch_run(as_of=TODAY - DAY)
    case = Case.objects.get(debtor=loan.debtor)
    Case.objects.filter(pk=case.pk).update(assignee=collector)
    case.refresh_from_db()
    return loan, case


def owed(case: Case) -> Decimal:
    return case.overdue_amount + case.penalty


def halves(case: Case, first: dt.date, second: dt.date) -> list[dict[str, str]]:
    total = owed(case)
    half = (total / 2).quantize(Decimal("0.01"))
    return [
        {"due_on": first.isoformat(), "amount": str(half)},
        {"due_on": second.isoformat(), "amount": str(total - half)},
    ]


# --- plans ----------------------------------------------------------------------------


def test_a_collector_agrees_a_plan_lists_it_and_cancels_it_with_a_reason() -> None:
    chen, _lin = people()
    _loan, case = open_case(chen)
    c = logged_in(chen)
    url = f"/api/cases/{case.pk}/plans"
    body = {
        "covers": "overdue",
        "installments": halves(case, TODAY + 10 * DAY, TODAY + 40 * DAY),
        "consent_note": "电话同意 phone, 10:00",
    }

    created = post_json(c, url, body)

    assert created.status_code == 201, created.content
    plan = created.json()
    assert plan["status"] == "active" and plan["amount"] == f"{owed(case):.2f}"
    assert plan["created_by"] == "chen" and plan["grace_days"] == 3
    assert [(i["seq"], i["status"], i["paid_amount"]) for i in plan["installments"]] == [
        (1, "pending", "0.00"),
        (2, "pending", "0.00"),
    ]
    listed = c.get(url).json()
    assert [p["id"] for p in listed] == [plan["id"]]
    # One active plan per case.
    again = post_json(c, url, body)
    assert again.status_code == 422 and "case" in again.json()["detail"]

    cancel = f"{url}/{plan['id']}/cancel"
    no_reason = post_json(c, cancel, {"reason": " "})
    assert no_reason.status_code == 422 and "reason" in no_reason.json()["detail"]
    cancelled = post_json(c, cancel, {"reason": "debtor withdrew"})
    assert cancelled.status_code == 200 and cancelled.json()["status"] == "cancelled"
    twice = post_json(c, cancel, {"reason": "debtor withdrew"})
    assert twice.status_code == 422 and "plan" in twice.json()["detail"]


def test_bad_plan_input_is_422_naming_the_field() -> None:
    chen, _lin = people()
    _loan, case = open_case(chen)
    c = logged_in(chen)
    url = f"/api/cases/{case.pk}/plans"
    good = halves(case, TODAY + 10 * DAY, TODAY + 40 * DAY)

    short = [good[0], {**good[1], "amount": "1.00"}]
    response = post_json(c, url, {"installments": short, "consent_note": "ok"})
    assert response.status_code == 422
    assert "add up to" in " ".join(response.json()["detail"]["installments"])

    response = post_json(c, url, {"installments": good, "consent_note": ""})
    assert response.status_code == 422 and "consent_note" in response.json()["detail"]

    response = post_json(c, url, {"installments": good, "consent_note": "ok", "covers": "all"})
    assert response.status_code == 422 and "covers" in response.json()["detail"]

    backwards = [good[1], good[0]]
    response = post_json(c, url, {"installments": backwards, "consent_note": "ok"})
    assert response.status_code == 422 and "installments" in response.json()["detail"]

    # A malformed date or amount is refused before any service, naming where it is.
    bad_date = [{"due_on": "15/12/2026", "amount": "1.00"}]
    response = post_json(c, url, {"installments": bad_date, "consent_note": "ok"})
    assert response.status_code == 422
    assert "due_on" in json.dumps(response.json()["detail"])
    bad_amount = [{"due_on": TODAY.isoformat(), "amount": "lots"}]
    response = post_json(c, url, {"installments": bad_amount, "consent_note": "ok"})
    assert response.status_code == 422
    assert "amount" in json.dumps(response.json()["detail"])
    missing = post_json(c, url, {"consent_note": "ok"})
    assert missing.status_code == 422 and "installments" in json.dumps(missing.json()["detail"])

    assert c.get(url).json() == []


def test_plans_keep_the_pages_permissions() -> None:
    chen, _lin = people()
    _loan, case = open_case(chen)
    body = {
        "installments": halves(case, TODAY + 10 * DAY, TODAY + 40 * DAY),
        "consent_note": "ok",
    }
    url = f"/api/cases/{case.pk}/plans"

    # Finance sees every case but agrees no plans: 403 saying so; it still reads them.
    finance = logged_in(UserFactory(role="finance"))
    refused = post_json(finance, url, body)
    assert refused.status_code == 403
    assert refused.json()["detail"] == "This role may not agree repayment plans."
    assert finance.get(url).status_code == 200
    # Another collector does not see the case at all: 404, as if it did not exist.
    zhou = logged_in(UserFactory(username="zhou", role="collector"))
    assert post_json(zhou, url, body).status_code == 404
    assert zhou.get(url).status_code == 404
    # Nobody signed in: 401.
    assert Client().get(url).status_code == 401

    plan = post_json(logged_in(chen), url, body).json()
    cancel = f"{url}/{plan['id']}/cancel"
    assert post_json(finance, cancel, {"reason": "x"}).status_code == 403
    assert post_json(zhou, cancel, {"reason": "x"}).status_code == 404
    # A plan of another case is not reachable through this one.
    _other_loan, other = open_case(chen, code="BETA")
    elsewhere = f"/api/cases/{other.pk}/plans/{plan['id']}/cancel"
    assert post_json(logged_in(chen), elsewhere, {"reason": "x"}).status_code == 404


def test_the_nightly_run_shows_a_plan_kept_and_another_broken() -> None:
    chen, _lin = people()
    loan_kept, kept_case = open_case(chen)
    _loan_broken, broken_case = open_case(chen, code="BETA")
    c = logged_in(chen)
    for case in (kept_case, broken_case):
        one = [{"due_on": TODAY.isoformat(), "amount": f"{owed(case):.2f}"}]
        response = post_json(
            c, f"/api/cases/{case.pk}/plans", {"installments": one, "consent_note": "ok"}
        )
        assert response.status_code == 201, response.content
    payment_post(actor=chen, loan=loan_kept, amount=owed(kept_case), value_date=TODAY)

    batch_run(as_of=TODAY + 4 * DAY)  # past the installment's date + 3 grace days

    kept = c.get(f"/api/cases/{kept_case.pk}/plans").json()[0]
    assert kept["status"] == "kept" and kept["decided_as_of"] == (TODAY + 4 * DAY).isoformat()
    assert [(i["status"], i["paid_amount"]) for i in kept["installments"]] == [
        ("paid", f"{owed(kept_case):.2f}")
    ]
    broken = c.get(f"/api/cases/{broken_case.pk}/plans").json()[0]
    assert broken["status"] == "broken"
    assert [i["status"] for i in broken["installments"]] == ["missed"]


# --- settlements ----------------------------------------------------------------------


def _ask(c: Client, case: Case, **body: Any) -> Any:
    body.setdefault("deadline", (TODAY + 7 * DAY).isoformat())
    body.setdefault("reason", "hardship, lump sum offered")
    return post_json(c, f"/api/cases/{case.pk}/settlements", body)


def test_a_settlement_within_the_team_leads_limit_is_approved_by_the_lead() -> None:
    chen, lin = people()
    _loan, case = open_case(chen)

    asked = _ask(logged_in(chen), case, principal="500.00")

    assert asked.status_code == 201, asked.content
    s = asked.json()
    assert (s["status"], s["approver_role"], s["discount"]) == ("pending", "team_lead", "500.00")
    assert Decimal(s["settled_amount"]) == Decimal(s["balance"]) - Decimal("500.00")
    assert s["may_decide"] is False  # the one who asked never decides
    lead = logged_in(lin)
    waiting = lead.get("/api/settlements").json()
    assert [(w["id"], w["may_decide"]) for w in waiting] == [(s["id"], True)]
    # The collector may not approve at all.
    refused = post_json(logged_in(chen), f"/api/settlements/{s['id']}/approve", {})
    assert refused.status_code == 403
    assert "cases.approve_settlement" in refused.json()["detail"]

    approved = post_json(lead, f"/api/settlements/{s['id']}/approve", {"note": "ok"})

    assert approved.status_code == 200
    assert approved.json()["status"] == "approved"
    assert approved.json()["decided_by"] == "lin"
    assert approved.json()["approved_on"] == TODAY.isoformat()
    assert lead.get("/api/settlements").json() == []
    assert [x["status"] for x in lead.get("/api/settlements?status=approved").json()] == [
        "approved"
    ]
    again = post_json(lead, f"/api/settlements/{s['id']}/reject", {})
    assert again.status_code == 422 and "settlement" in again.json()["detail"]


def test_above_the_leads_limit_the_refusal_names_who_decides() -> None:
    chen, lin = people()
    _loan, case = open_case(chen)
    s = _ask(logged_in(chen), case, principal="2000.00").json()  # ~19 %: above 10 %
    assert s["approver_role"] == "risk_manager"
    lead = logged_in(lin)
    assert lead.get(f"/api/settlements/{s['id']}").json()["may_decide"] is False

    refused = post_json(lead, f"/api/settlements/{s['id']}/approve", {})

    assert refused.status_code == 403
    assert refused.json()["detail"] == (
        "This settlement is above your limit: it is decided by Risk manager (风控经理)."
    )
    assert lead.get(f"/api/settlements/{s['id']}").json()["status"] == "pending"
    risk = logged_in(UserFactory(username="risk", role="risk_manager"))
    rejected = post_json(risk, f"/api/settlements/{s['id']}/reject", {"note": "too much"})
    assert rejected.status_code == 200 and rejected.json()["status"] == "rejected"
    assert rejected.json()["decision_note"] == "too much"


def test_a_risk_manager_never_approves_their_own_request() -> None:
    chen, _lin = people()
    _loan, case = open_case(chen)
    risk = logged_in(UserFactory(username="risk", role="risk_manager"))
    s = _ask(risk, case, principal="500.00").json()

    refused = post_json(risk, f"/api/settlements/{s['id']}/approve", {})

    assert refused.status_code == 403
    assert refused.json()["detail"] == "Somebody else approves your own request."


def test_bad_settlement_input_is_422_naming_the_field() -> None:
    chen, _lin = people()
    _loan, case = open_case(chen)
    c = logged_in(chen)

    response = _ask(c, case, principal="99999999.00")
    assert response.status_code == 422 and "principal" in response.json()["detail"]
    response = _ask(c, case, penalty="-1.00")
    assert response.status_code == 422 and "penalty" in response.json()["detail"]
    response = _ask(c, case, interest="1.005")
    assert response.status_code == 422 and "interest" in response.json()["detail"]
    response = _ask(c, case, principal="500.00", deadline=(TODAY - DAY).isoformat())
    assert response.status_code == 422 and "deadline" in response.json()["detail"]
    response = _ask(c, case, principal="500.00", reason="")
    assert response.status_code == 422 and "reason" in response.json()["detail"]
    response = _ask(c, case)
    assert response.status_code == 422
    assert response.json()["detail"]["penalty"] == ["A settlement needs a discount."]
    response = _ask(c, case, principal="lots")
    assert response.status_code == 422 and "principal" in json.dumps(response.json()["detail"])
    response = _ask(c, case, principal="500.00", deadline="next week")
    assert response.status_code == 422 and "deadline" in json.dumps(response.json()["detail"])
    assert c.get(f"/api/cases/{case.pk}/settlements").json() == []
    response = logged_in(UserFactory(role="team_lead")).get("/api/settlements?status=done")
    assert response.status_code == 422 and "status" in response.json()["detail"]


def test_settlements_keep_the_pages_permissions() -> None:
    chen, _lin = people()
    _loan, case = open_case(chen)
    s = _ask(logged_in(chen), case, principal="500.00").json()

    # Finance reads settlements but asks for none.
    finance = logged_in(UserFactory(role="finance"))
    refused = _ask(finance, case, principal="500.00")
    assert refused.status_code == 403
    assert refused.json()["detail"] == "This role may not ask for settlements."
    assert [x["id"] for x in finance.get("/api/settlements").json()] == [s["id"]]
    # A collector of another team sees neither the case nor its settlement.
    zhou = logged_in(UserFactory(username="zhou", role="collector"))
    assert _ask(zhou, case, principal="500.00").status_code == 404
    assert zhou.get(f"/api/settlements/{s['id']}").status_code == 404
    assert post_json(zhou, f"/api/settlements/{s['id']}/approve", {}).status_code == 404
    assert zhou.get("/api/settlements").json() == []
    # The client's own user has no settlement permission: the list is refused.
    viewer = UserFactory(username="acme-viewer", role="client", client=case.client)
    assert logged_in(viewer).get("/api/settlements").status_code == 403


# --- receipts -------------------------------------------------------------------------


def test_a_receipt_is_made_for_a_posted_payment_and_downloaded_as_pdf() -> None:
    chen, _lin = people()
    loan, case = open_case(chen)
    finance_user = UserFactory(role="finance")
    payment = payment_post(
        actor=finance_user, loan=loan, amount=Decimal("300.00"), value_date=TODAY
    )
    c = logged_in(chen)

    made = post_json(c, "/api/receipts", {"payment": payment.pk})

    assert made.status_code == 201, made.content
    receipt = made.json()
    assert receipt["payment"] == payment.pk and receipt["case_id"] == case.pk
    assert receipt["number"].startswith("R") and receipt["created_by"] == "chen"
    pdf = c.get(receipt["pdf"])
    assert pdf.status_code == 200 and pdf["Content-Type"] == "application/pdf"
    body = b"".join(pdf) if pdf.streaming else pdf.content
    assert body.startswith(b"%PDF")
    assert hashlib.sha256(body).hexdigest() == receipt["sha256"] == pdf["X-Content-SHA256"]
    assert f"{receipt['number']}.pdf" in pdf["Content-Disposition"]
    assert c.get(f"/api/receipts/{receipt['id']}").json()["sha256"] == receipt["sha256"]

    # Not in scope: 404 for the payment and the receipt; a role without receipts: 403.
    zhou = logged_in(UserFactory(username="zhou", role="collector"))
    assert post_json(zhou, "/api/receipts", {"payment": payment.pk}).status_code == 404
    assert zhou.get(receipt["pdf"]).status_code == 404
    compliance = logged_in(UserFactory(role="compliance_officer"))
    refused = post_json(compliance, "/api/receipts", {"payment": payment.pk})
    assert refused.status_code == 403
    assert refused.json()["detail"] == "This role may not make receipts."
    # A reversed payment gets none.
    payment_reverse(actor=finance_user, payment=payment, reason="bounced")
    reversed_ = post_json(c, "/api/receipts", {"payment": payment.pk})
    assert reversed_.status_code == 422 and "payment" in reversed_.json()["detail"]
    assert post_json(c, "/api/receipts", {"payment": "one"}).status_code == 422
