"""Campaigns: a template to a selection of cases in the background, every message
decided by compliance, the blocked ones listed with reasons, a result report."""

from __future__ import annotations

import datetime as dt

import pytest
from django.core.exceptions import PermissionDenied, ValidationError

from cuishou.audit.models import AuditEvent
from cuishou.cases.models import Case
from cuishou.core.timeutil import SHANGHAI, today_shanghai
from cuishou.notices.campaigns import campaign_create, campaign_report, campaign_run
from cuishou.notices.models import Campaign, CampaignMessage, Dispatch, Document, SmsOutbox
from cuishou.portfolio.services import contact_consent_record
from tests.factories import CaseFactory, ContactPointFactory, DebtorFactory, LoanFactory
from tests.notices.conftest import approved, default_spec


def _case(world, *, name, bucket="M2", status="open", client=None, phone=True):
    debtor = DebtorFactory(name=name)
    client = client or world.case.client
    case = CaseFactory(
        client=client, debtor=debtor, bucket=bucket, status=status, assignee=world.chen
    )
    LoanFactory(client=client, debtor=debtor)
    point = ContactPointFactory(debtor=debtor, is_primary=True) if phone else None
    return case, point


@pytest.fixture
def mixed(world):
    """M2 cases of ACME: 张三 (the world's case) and 王五 go; 赵六 disputes (paused);
    钱七 opted out of SMS; 孙八 has no mobile. An M3 case and another client's M2 case
    are not selected."""
    ok, _ = _case(world, name="王五")
    paused, _ = _case(world, name="赵六", status="paused")
    opted, point = _case(world, name="钱七")
    contact_consent_record(
        actor=world.chen, contact_point=point, channel="sms", state="withdrawn", source="call"
    )
    none, _ = _case(world, name="孙八", phone=False)
    _case(world, name="M3的人", bucket="M3")
    from tests.factories import ClientFactory

    _case(world, name="别家的人", client=ClientFactory(code="BETA"))
    return {"ok": ok, "paused": paused, "opted": opted, "none": none}


def test_a_campaign_sends_to_the_allowed_and_lists_the_blocked_with_reasons(world, mixed):
    template = approved(world.ren, world.gu, **default_spec("sms-reminder-zh"))
    campaign = campaign_create(
        actor=world.ren,
        name="M2 提醒",
        template=template,
        channel="sms",
        client=world.case.client,
        buckets=["M2"],
    )  # runs at once under the tests' immediate task backend
    campaign.refresh_from_db()
    assert (campaign.status, campaign.total, campaign.processed) == ("done", 5, 5)
    assert (campaign.sent, campaign.blocked, campaign.failed) == (2, 3, 0)

    sent_to = set(SmsOutbox.objects.values_list("to", flat=True))
    assert world.mobile.value in sent_to and len(sent_to) == 2
    texts = list(SmsOutbox.objects.values_list("text", flat=True))
    assert any("张三" in t for t in texts) and any("王五" in t for t in texts)
    assert Document.objects.filter(campaign=campaign).count() == 2

    blocked = {
        m.case_id: m for m in CampaignMessage.objects.filter(campaign=campaign, allowed=False)
    }
    assert blocked[mixed["paused"].pk].rules == ["house.dispute_pause"]
    assert "disputes the debt" in blocked[mixed["paused"].pk].reason
    assert blocked[mixed["opted"].pk].rules == ["house.opt_out"]
    assert "opted out" in blocked[mixed["opted"].pk].reason
    assert blocked[mixed["none"].pk].rules == ["notices.no_contact_point"]

    report = campaign_report(campaign)
    assert dict(report["by_rule"]) == {
        "house.dispute_pause": 1,
        "house.opt_out": 1,
        "notices.no_contact_point": 1,
    }
    assert report["by_status"] == [("sent", 2)]
    # each message is on its case's timeline
    assert AuditEvent.objects.filter(action="dispatch.status", case_id=world.case.pk).exists()
    assert AuditEvent.objects.filter(action="dispatch.blocked", case_id=mixed["paused"].pk).exists()


def test_a_campaign_at_night_sends_nothing(world, mixed):
    import time_machine

    template = approved(world.ren, world.gu, **default_spec("sms-reminder-zh"))
    night = dt.datetime.combine(today_shanghai(), dt.time(23, 0), tzinfo=SHANGHAI)
    with time_machine.travel(night, tick=False):
        campaign = campaign_create(
            actor=world.ren, name="night", template=template, channel="sms", buckets=["M2"]
        )
    campaign.refresh_from_db()
    assert campaign.sent == 0 and not SmsOutbox.objects.exists()
    rules = CampaignMessage.objects.filter(campaign=campaign).values_list("rules", flat=True)
    assert sum("cn.quiet_hours" in r for r in rules) >= 2


def test_a_campaign_of_letters_queues_them_for_the_post(world, mixed):
    template = approved(world.ren, world.gu, **default_spec("collection-notice-zh"))
    campaign = campaign_create(
        actor=world.ren,
        name="letters",
        template=template,
        channel="post",
        buckets=["M2"],
        client=world.case.client,
    )
    campaign.refresh_from_db()
    queued = Dispatch.objects.filter(campaign=campaign, status="queued")
    assert queued.count() == 1  # only 张三 has a mailing address
    assert queued.get().document.pdf is not None


def test_campaign_rules(world, mixed):
    template = approved(world.ren, world.gu, **default_spec("sms-reminder-zh"))
    with pytest.raises(PermissionDenied):
        campaign_create(actor=world.chen, name="x", template=template, channel="sms")
    with pytest.raises(ValidationError, match="goes by SMS"):
        campaign_create(actor=world.ren, name="x", template=template, channel="email")
    c = campaign_create(
        actor=world.ren, name="later", template=template, channel="sms", start=False
    )
    assert campaign_run(campaign_id=c.pk) is not None
    assert campaign_run(campaign_id=c.pk) == {"skipped": 1}  # a finished campaign is not rerun
    assert Case.objects.count() == 7


def test_a_team_lead_runs_campaigns_only_over_the_teams_cases(world, mixed):
    # Given a team lead whose team works none of the client's M2 cases
    from tests.factories import UserFactory

    lead = UserFactory(username="lead", role="team_lead")
    template = approved(world.ren, world.gu, **default_spec("sms-reminder-zh"))

    # When the lead starts a campaign over all of them
    with pytest.raises(PermissionDenied, match="outside your scope"):
        campaign_create(actor=lead, name="all M2", template=template, channel="sms")

    # Then nothing was created or sent; a risk manager (who sees every case) may
    assert not Campaign.objects.filter(created_by=lead).exists()
    assert not CampaignMessage.objects.exists()
    assert (
        campaign_create(
            actor=world.ren, name="all M2", template=template, channel="sms", start=False
        ).total
        > 0
    )
