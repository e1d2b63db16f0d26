"""Consent and opt-outs per channel, workplace numbers, time-barred debt and the
first-party switch, rule by rule at and around each boundary.

Each scenario builds a case (the US pack unless it says CN), records what the debtor said
or what the client's file carries, and states the decision a collector would see:
allowed, or blocked by exactly these rules."""

from __future__ import annotations

import datetime as dt
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from cuishou.cases.models import ContactAttempt
from cuishou.compliance.check import contact_check
from cuishou.compliance.models import ClientRule
from cuishou.portfolio.models import ContactConsent
from tests.factories import (
    AddressFactory,
    CaseFactory,
    ClientFactory,
    ContactPointFactory,
    LoanFactory,
)

pytestmark = pytest.mark.django_db

NY = ZoneInfo("America/New_York")
SH = ZoneInfo("Asia/Shanghai")
NOON = dt.datetime(2026, 7, 1, 12, 0, tzinfo=NY)
STOP = " Reply STOP to opt out."


def case_of(pack: str = "US", *, first_party: bool = False) -> Any:
    case = CaseFactory(client=ClientFactory(policy_pack=pack, first_party_creditor=first_party))
    if pack == "US":
        AddressFactory(debtor=case.debtor, text="5 Broadway, New York, NY 10004")
    return case


def check(case: Any, point: Any, channel: str = "call", at: dt.datetime = NOON, **kw: Any) -> list:
    decision = contact_check(
        case=case, channel=channel, party="debtor", at=at, contact_point=point, **kw
    )
    assert decision.allowed == (not decision.rules)
    return decision.rule_ids


def said(point: Any, channel: str, state: str, at: dt.datetime, source: str = "call") -> None:
    ContactConsent.objects.create(
        contact_point=point, channel=channel, state=state, at=at, source=source
    )


# --- opt-outs per channel (house.opt_out, every pack) ---------------------------------


@pytest.mark.parametrize("pack", ["US", "CN"])
def test_an_sms_opt_out_stops_sms_to_that_number_only(pack: str) -> None:
    case = case_of(pack)
    at = NOON if pack == "US" else NOON.astimezone(SH).replace(hour=12)
    mobile = ContactPointFactory(debtor=case.debtor)
    other = ContactPointFactory(debtor=case.debtor)
    email = ContactPointFactory(debtor=case.debtor, kind="email", value="d@example.com")
    text = "Please call us back." + STOP
    said(mobile, "sms", "withdrawn", at - dt.timedelta(days=1), source="reply")
    assert check(case, mobile, "sms", at, text=text) == ["house.opt_out"]
    # Calls to the same number, SMS to another number and e-mail are not affected.
    assert check(case, mobile, "call", at) == []
    assert check(case, other, "sms", at, text=text) == []
    assert check(case, email, "email", at, text=text) == []


def test_an_opt_out_holds_from_the_moment_it_was_said_until_consent_is_given_again() -> None:
    case = case_of()
    mobile = ContactPointFactory(debtor=case.debtor)
    said(mobile, "call", "withdrawn", NOON)
    assert check(case, mobile, at=NOON - dt.timedelta(seconds=1)) == []
    assert check(case, mobile, at=NOON) == ["house.opt_out"]
    assert check(case, mobile, at=NOON + dt.timedelta(days=30)) == ["house.opt_out"]
    said(mobile, "call", "given", NOON + dt.timedelta(days=2))
    assert check(case, mobile, at=NOON + dt.timedelta(days=1)) == ["house.opt_out"]
    assert check(case, mobile, at=NOON + dt.timedelta(days=2)) == []
    # The history is kept: both entries are there, the latest decides.
    assert list(
        ContactConsent.objects.filter(contact_point=mobile).values_list("state", flat=True)
    ) == ["given", "withdrawn"]


def test_the_opt_out_reason_names_the_channel_the_day_and_the_source() -> None:
    case = case_of()
    mobile = ContactPointFactory(debtor=case.debtor)
    said(mobile, "sms", "withdrawn", NOON - dt.timedelta(days=3), source="reply")
    decision = contact_check(
        case=case,
        channel="sms",
        party="debtor",
        at=NOON,
        contact_point=mobile,
        text="Hello." + STOP,
    )
    assert "was opted out of text messages on 2026-06-28" in decision.message
    assert "2026-06-28" in decision.message and "STOP" in decision.message
    assert "Other channels are not affected" in decision.message


# --- prior consent (pack data: none required; a client may require it) ------------------


def test_no_prior_consent_is_required_by_either_pack_but_a_client_may_require_it() -> None:
    case = case_of()
    mobile = ContactPointFactory(debtor=case.debtor)
    assert check(case, mobile, "sms", text="Hello." + STOP) == []
    ClientRule.objects.create(
        client=case.client, rule_id="us.prior_consent", params={"required_for": ["sms"]}
    )
    assert check(case, mobile, "sms", text="Hello." + STOP) == ["us.prior_consent"]
    assert check(case, mobile, "call") == []  # calls were not listed
    said(mobile, "sms", "given", NOON - dt.timedelta(hours=1), source="import")
    assert check(case, mobile, "sms", text="Hello." + STOP) == []


def test_a_client_cannot_require_consent_for_an_unknown_channel() -> None:
    from django.core.exceptions import ValidationError

    client = ClientFactory(policy_pack="CN")
    rule = ClientRule(client=client, rule_id="cn.prior_consent", params={"required_for": ["fax"]})
    with pytest.raises(ValidationError) as err:
        rule.full_clean()
    assert "required_for" in str(err.value.message_dict["params"])
    ClientRule(
        client=client, rule_id="cn.prior_consent", params={"required_for": ["email"]}
    ).full_clean()


# --- the opt-out instruction in every e-mail and SMS (US) --------------------------------


@pytest.mark.parametrize(
    ("channel", "text", "blocked"),
    [
        ("sms", "Your payment is past due. Call us.", True),
        ("sms", "Your payment is past due. Reply STOP to opt out.", False),
        ("sms", "Your payment is past due. Text STOP to 12345 to stop texts.", False),
        ("email", "Your statement is attached.", True),
        ("email", "Your statement is attached. Unsubscribe: https://x.example/u", False),
        ("email", "To opt-out of e-mail, write to us.", False),
        ("sms", "Don't stop paying.", True),  # "stop" alone is not an instruction
        ("sms", "", False),  # no text to check (the workbench logging a sent SMS)
    ],
)
def test_us_every_email_and_sms_carries_an_opt_out(channel: str, text: str, blocked: bool) -> None:
    case = case_of()
    point = (
        ContactPointFactory(debtor=case.debtor, kind="email", value="d@example.com")
        if channel == "email"
        else ContactPointFactory(debtor=case.debtor)
    )
    assert check(case, point, channel, text=text) == (["us.opt_out_instruction"] if blocked else [])


def test_cn_texts_need_no_opt_out_phrase() -> None:
    case = case_of("CN")
    at = dt.datetime(2026, 7, 1, 12, tzinfo=SH)
    mobile = ContactPointFactory(debtor=case.debtor)
    assert check(case, mobile, "sms", at, text="您好，您的借款已逾期，请及时还款。") == []


# --- workplace -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("workplace", "since", "channel", "rules"),
    [
        (True, dt.date(2026, 7, 1), "call", ["us.workplace_calls"]),
        (True, dt.date(2026, 6, 1), "sms", ["us.workplace_calls"]),
        (True, dt.date(2026, 7, 2), "call", []),  # said tomorrow: not yet
        (True, None, "call", []),  # the employer does not forbid it
        (False, dt.date(2026, 6, 1), "call", []),  # the home number
    ],
)
def test_us_no_call_to_the_workplace_when_the_employer_forbids_it(
    workplace: bool, since: dt.date | None, channel: str, rules: list[str]
) -> None:
    case = case_of()
    case.debtor.employer_forbids_calls_since = since
    case.debtor.save()
    number = ContactPointFactory(debtor=case.debtor, is_workplace=workplace)
    text = "Please call us back." + STOP if channel == "sms" else ""
    assert check(case, number, channel, text=text) == rules


def test_the_workplace_reason_says_what_to_do() -> None:
    case = case_of()
    case.debtor.employer_forbids_calls_since = dt.date(2026, 6, 15)
    case.debtor.save()
    office = ContactPointFactory(debtor=case.debtor, is_workplace=True)
    decision = contact_check(
        case=case, channel="call", party="debtor", at=NOON, contact_point=office
    )
    assert "employer forbids calls at work (since 2026-06-15)" in decision.message
    assert "use another number" in decision.message


def test_us_no_email_to_an_employer_provided_address_without_direct_consent() -> None:
    case = case_of()
    work = ContactPointFactory(
        debtor=case.debtor, kind="email", value="d@corp.example", is_workplace=True
    )
    home = ContactPointFactory(debtor=case.debtor, kind="email", value="d@home.example")
    text = "Your statement." + STOP
    assert check(case, work, "email", text=text) == ["us.employer_email"]
    assert check(case, home, "email", text=text) == []
    said(work, "email", "given", NOON - dt.timedelta(days=1), source="import")
    assert check(case, work, "email", text=text) == ["us.employer_email"]  # the file's word
    said(work, "email", "given", NOON - dt.timedelta(hours=1), source="reply")
    assert check(case, work, "email", text=text) == []  # the debtor wrote from it


def test_cn_has_no_workplace_rule_its_third_party_rules_cover_colleagues() -> None:
    case = case_of("CN")
    case.debtor.employer_forbids_calls_since = dt.date(2026, 6, 1)
    case.debtor.save()
    office = ContactPointFactory(debtor=case.debtor, is_workplace=True)
    assert check(case, office, at=dt.datetime(2026, 7, 1, 12, tzinfo=SH)) == []


# --- time-barred debt ------------------------------------------------------------------


@pytest.mark.parametrize(
    ("limitation", "barred"),
    [
        (dt.date(2026, 7, 2), False),  # the day before the limitation date
        (dt.date(2026, 7, 1), False),  # on it: a suit may still be filed today
        (dt.date(2026, 6, 30), True),  # the day after it
    ],
)
def test_us_no_suit_on_a_time_barred_debt(limitation: dt.date, barred: bool) -> None:
    case = case_of()
    LoanFactory(client=case.client, debtor=case.debtor, limitation_on=limitation)
    assert check(case, None, "letter", purpose="suit") == (
        ["us.time_barred_suit"] if barred else []
    )
    assert check(case, None, "letter", purpose="notice", text="Statement enclosed.") == []


@pytest.mark.parametrize(
    ("text", "notes", "blocked"),
    [
        ("We will take you to court if you do not pay.", "", True),
        ("If you do not pay we may file a lawsuit.", "", True),
        ("我们将向法院起诉", "", True),
        ("", "Told the debtor we would sue you next week.", True),
        ("You may pay in instalments.", "Debtor asked about a plan.", False),
        ("Sue from our office will call you.", "", False),  # a name, not a threat
    ],
)
def test_us_no_threat_of_suit_on_a_time_barred_debt(text: str, notes: str, blocked: bool) -> None:
    case = case_of()
    LoanFactory(client=case.client, debtor=case.debtor, limitation_on=dt.date(2026, 1, 1))
    rules = check(case, None, "letter", text=text, notes=notes)
    assert rules == (["us.time_barred_threat"] if blocked else [])
    # The same words on a debt within its limitation period are not this rule's business.
    fresh = case_of()
    LoanFactory(client=fresh.client, debtor=fresh.debtor, limitation_on=dt.date(2027, 1, 1))
    assert check(fresh, None, "letter", text=text, notes=notes) == []


def test_the_time_barred_reason_quotes_the_threat_and_the_date() -> None:
    case = case_of()
    LoanFactory(client=case.client, debtor=case.debtor, limitation_on=dt.date(2026, 3, 31))
    decision = contact_check(
        case=case,
        channel="letter",
        party="debtor",
        at=NOON,
        text="Pay now or face legal action.",
    )
    assert decision.rule_ids == ["us.time_barred_threat"]
    assert "limitation period ended on 2026-03-31" in decision.message
    assert "“legal action”" in decision.message


@pytest.mark.parametrize(
    ("limitations", "statuses", "barred"),
    [
        ([dt.date(2026, 1, 1), dt.date(2026, 5, 1)], ["active", "active"], True),
        ([dt.date(2026, 1, 1), dt.date(2027, 1, 1)], ["active", "active"], False),
        ([dt.date(2026, 1, 1), None], ["active", "active"], False),  # one date unknown
        ([dt.date(2026, 1, 1), None], ["active", "paid_off"], True),  # paid off: not owed
        ([dt.date(2026, 1, 1), dt.date(2026, 2, 1)], ["active", "written_off"], True),
        ([], [], False),  # no loans on file
    ],
)
def test_a_case_is_time_barred_only_when_every_loan_still_owed_is(
    limitations: list[dt.date | None], statuses: list[str], barred: bool
) -> None:
    case = case_of()
    for limitation, status in zip(limitations, statuses, strict=True):
        LoanFactory(client=case.client, debtor=case.debtor, limitation_on=limitation, status=status)
    # A loan of the same debtor with another client is another case.
    LoanFactory(debtor=case.debtor, limitation_on=dt.date(2030, 1, 1))
    assert check(case, None, "letter", purpose="suit") == (
        ["us.time_barred_suit"] if barred else []
    )


def test_cn_does_not_apply_the_time_barred_rules() -> None:
    case = case_of("CN")
    LoanFactory(client=case.client, debtor=case.debtor, limitation_on=dt.date(2020, 1, 1))
    at = dt.datetime(2026, 7, 1, 12, tzinfo=SH)
    assert check(case, None, "letter", at, purpose="suit", text="我们将起诉") == []


# --- the first-party creditor switch -----------------------------------------------------


def _seven_calls(case: Any, point: Any) -> None:
    for day in range(7):  # one a day, the last this morning
        ContactAttempt.objects.create(
            case=case,
            channel="call",
            party="nobody",
            outcome="no_answer",
            contact_point=point,
            attempted_at=NOON - dt.timedelta(days=day, hours=2),
        )


@pytest.mark.parametrize(
    ("scenario", "collector_rules", "first_party_rules"),
    [
        ("seven calls", ["us.call_frequency"], []),
        ("evening", ["us.inconvenient_time"], ["us.inconvenient_time"]),
        ("threat", ["us.prohibited_language"], ["us.prohibited_language"]),
        ("no opt-out text", ["us.opt_out_instruction"], []),
        ("workplace", ["us.workplace_calls"], []),
        ("suit time-barred", ["us.time_barred_suit"], []),
        ("opted out", ["house.opt_out"], ["house.opt_out"]),
        ("massachusetts", ["us.ma.call_frequency"], ["us.ma.call_frequency"]),
    ],
)
def test_a_first_party_creditor_skips_the_debt_collector_rules_only(
    scenario: str, collector_rules: list[str], first_party_rules: list[str]
) -> None:
    for first_party, expected in ((False, collector_rules), (True, first_party_rules)):
        case = CaseFactory(client=ClientFactory(policy_pack="US", first_party_creditor=first_party))
        address = (
            "1 Beacon St, Boston, MA 02108"
            if scenario == "massachusetts"
            else ("5 Broadway, New York, NY 10004")
        )
        AddressFactory(debtor=case.debtor, text=address)
        point = ContactPointFactory(debtor=case.debtor)
        kw: dict[str, Any] = {"channel": "call", "at": NOON}
        if scenario == "seven calls":
            _seven_calls(case, point)
        elif scenario == "evening":
            kw["at"] = NOON.replace(hour=21, minute=30)
        elif scenario == "threat":
            kw["notes"] = "told him we will break your legs"
        elif scenario == "no opt-out text":
            kw.update(channel="sms", text="Your payment is late.")
        elif scenario == "workplace":
            case.debtor.employer_forbids_calls_since = dt.date(2026, 6, 1)
            case.debtor.save()
            point.is_workplace = True
            point.save()
        elif scenario == "suit time-barred":
            LoanFactory(client=case.client, debtor=case.debtor, limitation_on=dt.date(2026, 1, 1))
            kw.update(channel="letter", purpose="suit")
        elif scenario == "opted out":
            said(point, "call", "withdrawn", NOON - dt.timedelta(days=1))
        elif scenario == "massachusetts":
            for day in (28, 29):
                ContactAttempt.objects.create(
                    case=case,
                    channel="call",
                    party="nobody",
                    outcome="no_answer",
                    contact_point=point,
                    attempted_at=dt.datetime(2026, 6, day, 10, tzinfo=NY),
                )
        channel = kw.pop("channel")
        at = kw.pop("at")
        assert check(case, point if channel != "letter" else None, channel, at, **kw) == expected, (
            scenario,
            first_party,
        )


def test_the_first_party_switch_does_not_touch_the_cn_pack() -> None:
    case = CaseFactory(client=ClientFactory(policy_pack="CN", first_party_creditor=True))
    point = ContactPointFactory(debtor=case.debtor)
    assert check(case, point, at=dt.datetime(2026, 7, 1, 23, tzinfo=SH)) == ["cn.quiet_hours"]


def test_the_compliance_page_says_whom_each_rule_binds(client) -> None:  # type: ignore[no-untyped-def]
    from tests.factories import UserFactory

    client.force_login(UserFactory(role="compliance_officer"))
    page = client.get("/compliance/", HTTP_ACCEPT_LANGUAGE="en").content.decode()
    row = page.split("<code>us.call_frequency</code>")[1].split("</tr>")[0]
    assert 'data-applies="debt_collector"' in row and "debt collectors only" in row
    row = page.split("<code>us.inconvenient_time</code>")[1].split("</tr>")[0]
    assert 'data-applies="all"' in row and "every client" in row
    for rule in ("us.workplace_calls", "us.employer_email", "us.time_barred_suit"):
        assert f"<code>{rule}</code>" in page
    assert "12 CFR 1006.26(b)" in page and "12 CFR 1006.22(f)(3)" in page
