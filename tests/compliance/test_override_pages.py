"""Overrides on the pages: asked for from the case page where a contact was refused,
decided with one click on the compliance page, listed with who asked, who approved, why,
when and how often it was used; 403 for everyone else."""

from __future__ import annotations

import datetime as dt
import re

import pytest
from django.contrib.auth.models import Group
from django.db import connection
from django.test.utils import CaptureQueriesContext

from cuishou.audit.models import AuditEvent
from cuishou.cases.models import ContactAttempt
from cuishou.compliance.models import ComplianceOverride, OverrideStatus
from cuishou.compliance.overrides import override_request
from cuishou.core.timeutil import SHANGHAI, today_shanghai
from tests.compliance.test_overrides import CALLS, Desk, _desk, log
from tests.factories import CaseFactory, UserFactory

pytestmark = pytest.mark.django_db
EN = {"HTTP_ACCEPT_LANGUAGE": "en"}


@pytest.fixture
def desk() -> Desk:
    d = _desk()
    # Three answered calls this morning (the tests run at 10:00 in Shanghai).
    morning = dt.datetime.combine(today_shanghai(), dt.time(8), tzinfo=SHANGHAI)
    log(d.case, d.phone, "rpc", *(morning + dt.timedelta(minutes=10 * n) for n in range(3)))
    return d


def _call(client, d: Desk):  # type: ignore[no-untyped-def]
    return client.post(
        f"/cases/{d.case.pk}/contact/",
        {"channel": "call", "contact_point": d.phone.pk, "party": "debtor", "outcome": "rpc"},
        **EN,
    )


def _row(page: str, override: ComplianceOverride) -> str:
    match = re.search(rf'<tr data-override="{override.pk}".*?</tr>', page, re.S)
    assert match, f"override {override.pk} is not on the page"
    return match.group(0)


def test_asked_for_where_the_call_was_refused_approved_on_the_compliance_page_then_used(
    client, desk: Desk
) -> None:  # type: ignore[no-untyped-def]
    # Given a refused fourth call, the case page offers to ask for an override of that rule.
    client.force_login(desk.collector)
    refused = _call(client, desk)
    assert refused.status_code == 409
    page = refused.content.decode()
    assert f"{CALLS} may be overridden when: 债务人要求当天回电" in page
    link = f"/compliance/overrides/new/?case={desk.case.pk}&amp;rule={CALLS}"
    assert link in page

    # The form names the rule and when it may be lifted; the collector says why.
    form = client.get(link.replace("&amp;", "&"), **EN).content.decode()
    assert f'<option value="{CALLS}" selected>' in form
    asked = client.post(
        "/compliance/overrides/new/",
        {"case": desk.case.pk, "rule_id": CALLS, "reason": "债务人来电要求下午三点回电"},
        **EN,
    )
    assert asked.status_code == 302 and asked["Location"].endswith(
        f"/cases/{desk.case.pk}/#overrides"
    )
    override = ComplianceOverride.objects.get(case=desk.case)
    case_page = client.get(f"/cases/{desk.case.pk}/", **EN).content.decode()
    assert "Waiting for approval" in _row(case_page, override)
    assert _call(client, desk).status_code == 409  # not before the approval

    # A compliance officer sees it waiting, with the reason, and approves it.
    client.force_login(desk.officer)
    page = client.get("/compliance/", **EN).content.decode()
    assert 'data-count="overrides-waiting">1<' in page
    waiting = _row(page, override)
    assert "债务人来电要求下午三点回电" in waiting and str(desk.collector) in waiting
    assert f'action="/compliance/overrides/{override.pk}/decide/"' in waiting
    decided = client.post(
        f"/compliance/overrides/{override.pk}/decide/",
        {"action": "approve", "note": "有录音"},
        **EN,
    )
    assert decided.status_code == 302
    page = client.get("/compliance/", **EN).content.decode()
    assert f"Override of {CALLS} on case #{desk.case.pk} approved" in page
    assert 'data-count="overrides-waiting">0<' in page
    approved = _row(page, override)
    assert "In force" in approved and "He 合规" in approved and "有录音" in approved

    # The collector's call now goes through, and the page counts the use.
    client.force_login(desk.collector)
    assert _call(client, desk).status_code == 302
    assert ContactAttempt.objects.get(
        case=desk.case, compliance_rules=[f"override:{CALLS}"]
    ).actor_id == (desk.collector.pk)
    client.force_login(desk.officer)
    listing = client.get("/compliance/overrides/", **EN).content.decode()
    assert re.search(r'class="num">1</td>', _row(listing, override))


def test_a_rule_that_may_not_be_overridden_is_refused_on_the_form_naming_it(
    client, desk: Desk
) -> None:  # type: ignore[no-untyped-def]
    client.force_login(desk.collector)
    response = client.post(
        "/compliance/overrides/new/",
        {"case": desk.case.pk, "rule_id": "cn.quiet_hours", "reason": "债务人同意晚上打"},
        **EN,
    )
    assert response.status_code == 400
    assert "cn.quiet_hours cannot be overridden" in response.content.decode()
    assert not ComplianceOverride.objects.exists()


def test_who_may_not_act_gets_403(client, desk: Desk) -> None:  # type: ignore[no-untyped-def]
    override = override_request(actor=desk.collector, case=desk.case, rule_id=CALLS, reason="回电")
    decide = f"/compliance/overrides/{override.pk}/decide/"
    # The requester, their team lead and a risk manager may not decide it.
    for user in (desk.collector, desk.lead, UserFactory(username="rm", role="risk_manager")):
        client.force_login(user)
        assert client.post(decide, {"action": "approve"}).status_code == 403
    # A compliance officer does not ask for overrides; a collector does not see the list.
    client.force_login(desk.officer)
    assert client.get(f"/compliance/overrides/new/?case={desk.case.pk}").status_code == 403
    client.force_login(desk.collector)
    assert client.get("/compliance/overrides/").status_code == 403
    # A case outside the collector's scope is not found.
    elsewhere = CaseFactory(client=desk.case.client)
    assert client.get(f"/compliance/overrides/new/?case={elsewhere.pk}").status_code == 404
    override.refresh_from_db()
    assert override.status == OverrideStatus.REQUESTED
    assert not AuditEvent.objects.filter(action="compliance.override_approve").exists()


def test_a_compliance_officer_sees_no_button_on_their_own_request_and_may_not_decide_it(
    client, desk: Desk
) -> None:  # type: ignore[no-untyped-def]
    both = UserFactory(username="both", role="collector")
    both.groups.add(Group.objects.get(name="compliance_officer"))
    desk.case.assignee = both
    desk.case.save(update_fields=["assignee"])
    own = override_request(actor=both, case=desk.case, rule_id=CALLS, reason="回电")
    client.force_login(both)
    row = _row(client.get("/compliance/", **EN).content.decode(), own)
    assert "/decide/" not in row and "Your own request" in row
    assert (
        client.post(f"/compliance/overrides/{own.pk}/decide/", {"action": "approve"}).status_code
        == 403
    )
    # Another compliance officer may; a rejection is one click too.
    client.force_login(desk.officer)
    client.post(f"/compliance/overrides/{own.pk}/decide/", {"action": "reject"})
    own.refresh_from_db()
    assert own.status == OverrideStatus.REJECTED and own.decided_by == desk.officer


def test_the_pack_tables_say_which_rules_may_be_overridden_and_when(client, desk: Desk) -> None:  # type: ignore[no-untyped-def]
    client.force_login(desk.officer)
    page = client.get("/compliance/", **EN).content.decode()
    cn = page[page.index('data-pack="CN"') : page.index('data-pack="US"')]
    assert "when 债务人要求当天回电" in cn
    quiet = re.search(r"<tr><td><code>cn.quiet_hours</code>.*?</tr>", cn, re.S)
    assert quiet and quiet.group(0).endswith("<td>—</td></tr>")


def test_the_override_list_takes_as_many_queries_for_many_rows_as_for_few(
    client, desk: Desk
) -> None:  # type: ignore[no-untyped-def]
    client.force_login(desk.officer)

    def queries() -> int:
        with CaptureQueriesContext(connection) as captured:
            assert client.get("/compliance/overrides/").status_code == 200
        return len(captured)

    override_request(actor=desk.collector, case=desk.case, rule_id=CALLS, reason="回电")
    few = queries()
    for _ in range(6):
        case = CaseFactory(client=desk.case.client, assignee=desk.collector)
        override_request(actor=desk.collector, case=case, rule_id=CALLS, reason="回电")
    assert queries() == few
