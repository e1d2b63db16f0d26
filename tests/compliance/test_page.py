"""The compliance page: refused contacts by rule, team and collector; the rule sets."""

from __future__ import annotations

import datetime as dt

import pytest
from django.utils import timezone

from cuishou.cases.contacts import contact_attempt_log
from cuishou.compliance.check import ContactBlocked
from cuishou.compliance.models import ClientRule
from tests.factories import CaseFactory, ContactPointFactory, TeamFactory, UserFactory

pytestmark = pytest.mark.django_db


def test_refusals_are_counted_by_rule_team_and_collector(client) -> None:  # type: ignore[no-untyped-def]
    team = TeamFactory(name="电催一组")
    li = UserFactory(username="li", role="collector", team=team)
    case = CaseFactory(assignee=li)
    phone = ContactPointFactory(debtor=case.debtor)
    for notes in ("让你全家不得安宁", "你这个老赖"):
        with pytest.raises(ContactBlocked):
            contact_attempt_log(
                actor=li,
                case=case,
                channel="call",
                party="debtor",
                outcome="rpc",
                contact_point=phone,
                notes=notes,
                attempted_at=timezone.now() - dt.timedelta(minutes=5),
            )
    ClientRule.objects.create(
        client=case.client, rule_id="cn.quiet_hours", params={"from": "21:00"}, note="客户要求"
    )
    compliance = UserFactory(username="he", role="compliance_officer")
    client.force_login(compliance)
    page = client.get("/compliance/", HTTP_ACCEPT_LANGUAGE="en").content.decode()
    assert 'data-count="refusals">2<' in page
    assert '<code>cn.prohibited_language</code></td><td class="num">2<' in page
    assert '电催一组</td><td class="num">2<' in page
    assert f"#{case.pk}" in page
    # The rule sets with their sources, CN and US.
    assert 'data-pack="CN"' in page and 'data-pack="US"' in page
    assert 'data-table="client-rules"' in page and "from = 22:00" in page
    assert "from = 21:00" in page and "客户要求" in page
    assert "12 CFR 1006.14(b)(2)(i)(A)" in page and "940 CMR 7.04(1)(f)" in page
    zh = client.get("/compliance/", HTTP_ACCEPT_LANGUAGE="zh-hans").content.decode()
    assert "被拒绝的联系" in zh


def test_a_collector_may_not_open_the_compliance_page(client) -> None:  # type: ignore[no-untyped-def]
    client.force_login(UserFactory(role="collector"))
    assert client.get("/compliance/").status_code == 403
