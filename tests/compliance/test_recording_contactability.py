"""Recording what the compliance rules read: an opt-out or consent said on a contact (the
workbench and its API), the debtor's "my employer forbids calls at work", workplace
numbers, consent entries and the first-party switch in the admin — each audited, and each
then deciding the next contact."""

from __future__ import annotations

import datetime as dt
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from django.core.exceptions import ValidationError
from django.utils import timezone

from cuishou.audit.models import AuditEvent
from cuishou.cases.contacts import contact_attempt_log
from cuishou.compliance.check import ContactBlocked
from cuishou.portfolio.models import ContactConsent
from tests.factories import (
    AddressFactory,
    CaseFactory,
    ClientFactory,
    ContactPointFactory,
    RelatedPersonFactory,
    UserFactory,
)

pytestmark = pytest.mark.django_db


def us_case(collector: Any) -> Any:
    case = CaseFactory(client=ClientFactory(policy_pack="US"), assignee=collector)
    AddressFactory(debtor=case.debtor, text="5 Broadway, New York, NY 10004")
    return case


def ny_morning() -> dt.datetime:
    """The suite runs at 10:00 in Shanghai: twelve hours earlier is 09:00–10:00 in New York."""
    return timezone.now() - dt.timedelta(hours=12)


def test_an_sms_opt_out_said_on_a_call_stops_sms_not_calls() -> None:
    li = UserFactory(role="collector")
    case = CaseFactory(assignee=li)  # CN
    mobile = ContactPointFactory(debtor=case.debtor)
    earlier = timezone.now() - dt.timedelta(minutes=30)
    attempt = contact_attempt_log(
        actor=li,
        case=case,
        channel="call",
        party="debtor",
        outcome="rpc",
        contact_point=mobile,
        opt_outs=["sms"],
        attempted_at=earlier,
    )
    entry = ContactConsent.objects.get()
    assert (entry.contact_point, entry.channel, entry.state, entry.source) == (
        mobile,
        "sms",
        "withdrawn",
        "call",
    )
    assert (entry.at, entry.recorded_by) == (earlier, li)
    event = AuditEvent.objects.get(action="contact.opt_out")
    assert event.case_id == case.pk and event.after["channel"] == "sms"
    with pytest.raises(ContactBlocked) as blocked:
        contact_attempt_log(
            actor=li,
            case=case,
            channel="sms",
            party="nobody",
            outcome="no_answer",
            contact_point=mobile,
        )
    assert blocked.value.decision.rule_ids == ["house.opt_out"]
    assert AuditEvent.objects.filter(action="contact.blocked").count() == 1
    # A call to the same number still goes through.
    contact_attempt_log(
        actor=li,
        case=case,
        channel="call",
        party="nobody",
        outcome="no_answer",
        contact_point=mobile,
    )
    # Consent given again on a later call: SMS may go again.
    contact_attempt_log(
        actor=li,
        case=case,
        channel="call",
        party="debtor",
        outcome="rpc",
        contact_point=mobile,
        consents=["sms"],
    )
    contact_attempt_log(
        actor=li,
        case=case,
        channel="sms",
        party="nobody",
        outcome="no_answer",
        contact_point=mobile,
    )
    assert attempt.pk and ContactConsent.objects.count() == 2


def test_an_email_opt_out_said_on_a_call_goes_on_each_of_the_debtors_addresses() -> None:
    li = UserFactory(role="collector")
    case = CaseFactory(assignee=li)
    mobile = ContactPointFactory(debtor=case.debtor)
    own = [
        ContactPointFactory(debtor=case.debtor, kind="email", value=f"d{n}@example.com")
        for n in range(2)
    ]
    spouse = RelatedPersonFactory(debtor=case.debtor, relation="spouse")
    ContactPointFactory(
        debtor=case.debtor, related_person=spouse, kind="email", value="s@example.com"
    )
    contact_attempt_log(
        actor=li,
        case=case,
        channel="call",
        party="debtor",
        outcome="rpc",
        contact_point=mobile,
        opt_outs=["email"],
        attempted_at=timezone.now() - dt.timedelta(minutes=5),
    )
    assert sorted(ContactConsent.objects.values_list("contact_point", flat=True)) == [
        p.pk for p in own
    ]


@pytest.mark.parametrize(
    ("party", "outcome", "kwargs", "field", "reason"),
    [
        ("nobody", "no_answer", {"opt_outs": ["sms"]}, "opt_outs", "Nobody was reached"),
        ("debtor", "rpc", {"opt_outs": ["fax"]}, "opt_outs", "Say calls, SMS or e-mail."),
        ("debtor", "rpc", {"opt_outs": ["email"]}, "opt_outs", "no number or address on file"),
        (
            "debtor",
            "rpc",
            {"opt_outs": ["sms"], "consents": ["sms"]},
            "consents",
            "not both",
        ),
        (
            "nobody",
            "no_answer",
            {"employer_forbids_calls": True},
            "employer_forbids_calls",
            "Only the debtor",
        ),
    ],
)
def test_what_was_said_must_fit_the_contact(
    party: str, outcome: str, kwargs: dict[str, Any], field: str, reason: str
) -> None:
    li = UserFactory(role="collector")
    case = CaseFactory(assignee=li)
    mobile = ContactPointFactory(debtor=case.debtor)
    with pytest.raises(ValidationError) as err:
        contact_attempt_log(
            actor=li,
            case=case,
            channel="call",
            party=party,
            outcome=outcome,
            contact_point=mobile,
            **kwargs,
        )
    assert reason in " ".join(err.value.message_dict[field])
    assert not ContactConsent.objects.exists()


def test_the_employer_forbids_calls_answer_blocks_the_workplace_number_from_that_day() -> None:
    li = UserFactory(role="collector")
    case = us_case(li)
    home = ContactPointFactory(debtor=case.debtor)
    office = ContactPointFactory(debtor=case.debtor, is_workplace=True)
    at = ny_morning()
    contact_attempt_log(
        actor=li,
        case=case,
        channel="sms",
        party="debtor",
        outcome="rpc",
        contact_point=home,
        employer_forbids_calls=True,
        attempted_at=at,
    )
    case.debtor.refresh_from_db()
    # The debtor's day in New York, not Shanghai's.
    local_day = at.astimezone(ZoneInfo("America/New_York")).date()
    assert case.debtor.employer_forbids_calls_since == local_day
    event = AuditEvent.objects.get(action="debtor.employer_forbids")
    assert event.case_id == case.pk and event.before == {"employer_forbids_calls_since": None}
    with pytest.raises(ContactBlocked) as blocked:
        contact_attempt_log(
            actor=li,
            case=case,
            channel="call",
            party="nobody",
            outcome="no_answer",
            contact_point=office,
            attempted_at=at + dt.timedelta(minutes=1),
        )
    assert blocked.value.decision.rule_ids == ["us.workplace_calls"]
    assert "employer forbids calls at work" in blocked.value.decision.message
    # The home number is fine; saying it again changes nothing.
    contact_attempt_log(
        actor=li,
        case=case,
        channel="call",
        party="debtor",
        outcome="rpc",
        contact_point=home,
        employer_forbids_calls=True,
        attempted_at=at + dt.timedelta(minutes=2),
    )
    assert AuditEvent.objects.filter(action="debtor.employer_forbids").count() == 1


def test_the_case_page_records_an_opt_out_and_then_refuses_that_channel(client) -> None:  # type: ignore[no-untyped-def]
    li = UserFactory(username="li", role="collector")
    client.force_login(li)
    case = CaseFactory(assignee=li)
    mobile = ContactPointFactory(debtor=case.debtor)
    response = client.post(
        f"/cases/{case.pk}/contact/",
        {
            "channel": "call",
            "contact_point": mobile.pk,
            "party": "debtor",
            "outcome": "refuses",
            "opt_outs": ["sms", "call"],
        },
    )
    assert response.status_code == 302
    assert set(ContactConsent.objects.values_list("channel", flat=True)) == {"sms", "call"}
    response = client.post(
        f"/cases/{case.pk}/contact/",
        {"channel": "sms", "contact_point": mobile.pk, "party": "nobody", "outcome": "no_answer"},
        HTTP_ACCEPT_LANGUAGE="en",
    )
    assert response.status_code == 409
    assert "This number or address was opted out of text messages" in response.content.decode()


def test_the_workbench_api_takes_opt_outs(client) -> None:  # type: ignore[no-untyped-def]
    li = UserFactory(username="li", role="collector")
    client.force_login(li)
    case = CaseFactory(assignee=li)
    mobile = ContactPointFactory(debtor=case.debtor)
    response = client.post(
        f"/api/workbench/cases/{case.pk}/contacts",
        {
            "channel": "call",
            "party": "debtor",
            "outcome": "rpc",
            "contact_point_id": mobile.pk,
            "opt_outs": ["sms"],
        },
        content_type="application/json",
    )
    assert response.status_code == 201, response.content
    assert ContactConsent.objects.get().channel == "sms"


# --- the admin -----------------------------------------------------------------------


def _admin_post(client: Any, url: str, **changes: Any) -> Any:
    """Post the admin change form as it is, with ``changes`` (False unticks a box)."""
    page = client.get(url)
    assert page.status_code == 200, url
    form = page.context["adminform"].form
    data: dict[str, Any] = {}

    def put(name: str, value: Any) -> None:
        if value is None or value is False:
            return
        data[name] = "on" if value is True else value

    for name in form.fields:
        put(name, form[name].value())
    for inline in page.context["inline_admin_formsets"]:
        formset = inline.formset
        management = formset.management_form
        for key in ("TOTAL_FORMS", "INITIAL_FORMS", "MIN_NUM_FORMS", "MAX_NUM_FORMS"):
            data[f"{formset.prefix}-{key}"] = management[key].value()
        for sub in formset.forms:
            for name in sub.fields:
                put(f"{sub.prefix}-{name}", sub[name].value())
    for name, value in changes.items():
        data.pop(name, None)
        put(name, value)
    return client.post(url, data)


def test_the_admin_switches_first_party_and_records_workplace_and_employer_answers(
    client,  # type: ignore[no-untyped-def]
) -> None:
    boss = UserFactory(username="boss", is_staff=True, is_superuser=True)
    client.force_login(boss)
    customer = ClientFactory(policy_pack="US")
    response = _admin_post(
        client, f"/admin/portfolio/client/{customer.pk}/change/", first_party_creditor=True
    )
    assert response.status_code == 302
    customer.refresh_from_db()
    assert customer.first_party_creditor is True
    event = AuditEvent.objects.get(action="client.first_party")
    assert event.after == {"first_party_creditor": True}

    case = CaseFactory(client=customer)
    point = ContactPointFactory(debtor=case.debtor)
    url = f"/admin/portfolio/debtor/{case.debtor.pk}/change/"
    response = _admin_post(
        client,
        url,
        employer_forbids_calls_since="2026-07-01",
        **{"contact_points-0-is_workplace": True},
    )
    assert response.status_code == 302, response.content.decode()[:2000]
    case.debtor.refresh_from_db()
    point.refresh_from_db()
    assert case.debtor.employer_forbids_calls_since == dt.date(2026, 7, 1)
    assert point.is_workplace is True
    assert AuditEvent.objects.get(action="debtor.employer_forbids").after == {
        "employer_forbids_calls_since": "2026-07-01"
    }
    assert AuditEvent.objects.get(action="contact.workplace").object_id == str(point.pk)


def test_the_admin_adds_consent_entries_and_never_changes_or_deletes_them(client) -> None:  # type: ignore[no-untyped-def]
    officer = UserFactory(username="he", role="compliance_officer", is_staff=True)
    client.force_login(officer)
    point = ContactPointFactory()
    response = client.post(
        "/admin/portfolio/contactconsent/add/",
        {
            "contact_point": point.pk,
            "channel": "email",
            "state": "withdrawn",
            "at_0": "2026-07-01",
            "at_1": "10:00:00",
            "source": "written",
            "note": "letter of 30 June",
        },
        HTTP_ACCEPT_LANGUAGE="en",
    )
    assert response.status_code == 200  # a phone number takes no e-mail
    assert "takes call, sms, not email" in response.content.decode()
    response = client.post(
        "/admin/portfolio/contactconsent/add/",
        {
            "contact_point": point.pk,
            "channel": "sms",
            "state": "withdrawn",
            "at_0": "2026-07-01",
            "at_1": "10:00:00",
            "source": "written",
            "note": "letter of 30 June",
        },
    )
    assert response.status_code == 302
    entry = ContactConsent.objects.get()
    assert (entry.recorded_by, entry.source) == (officer, "written")
    assert AuditEvent.objects.get(action="contact.opt_out").after["note"] == "letter of 30 June"
    assert client.post(f"/admin/portfolio/contactconsent/{entry.pk}/delete/").status_code == 403
    # The list shows the number masked, as compliance staff see numbers everywhere.
    listing = client.get("/admin/portfolio/contactconsent/").content.decode()
    assert point.value not in listing and f"{point.value[:3]}****{point.value[-4:]}" in listing
