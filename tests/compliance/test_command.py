"""`cuishou compliance check FILE.jsonl [--record]` on a portfolio built by the test."""

from __future__ import annotations

import json
from io import StringIO
from pathlib import Path

import pytest
from django.core.management import call_command

from cuishou.audit.models import AuditEvent
from cuishou.cases.models import ContactAttempt
from tests.factories import (
    CaseFactory,
    ClientFactory,
    ContactPointFactory,
    LoanFactory,
    RelatedPersonFactory,
)

pytestmark = pytest.mark.django_db


@pytest.fixture
def portfolio():  # type: ignore[no-untyped-def]
    client = ClientFactory(code="SP")
    case = CaseFactory(client=client)
    LoanFactory(client=client, debtor=case.debtor, contract_no="SP-1")
    ContactPointFactory(debtor=case.debtor, value="13800138000", is_primary=True)
    colleague = RelatedPersonFactory(debtor=case.debtor, relation="colleague", name="同事")
    ContactPointFactory(debtor=case.debtor, related_person=colleague, value="13900000003")
    return case


def run(tmp_path: Path, lines: list[object], *args: str) -> list[dict[str, object]]:
    path = tmp_path / "plan.jsonl"
    path.write_text(
        "\n".join(x if isinstance(x, str) else json.dumps(x, ensure_ascii=False) for x in lines),
        encoding="utf-8",
    )
    out = StringIO()
    call_command("compliance", "check", str(path), *args, stdout=out)
    return [json.loads(line) for line in out.getvalue().splitlines()]


def line(n: str, **kw: object) -> dict[str, object]:
    return {"id": n, "client": "SP", "contract_no": "SP-1", "channel": "call", "to": "debtor", **kw}


def test_each_line_gets_its_decision_and_bad_lines_name_the_field(portfolio, tmp_path) -> None:
    out = run(
        tmp_path,
        [
            line("early", at="2026-11-16T07:30:00+08:00", answered=False),
            line("ok", at="2026-11-16T09:00:00+08:00", answered=False),
            line(
                "threat",
                channel="sms",
                at="2026-11-16T10:05:00+08:00",
                text="不还钱就让你全家不得安宁",
            ),
            line("colleague", to="13900000003", at="2026-11-16T10:00:00+08:00"),
            line("naive", at="2026-11-16T10:00:00"),
            "{not json",
            line("nobody", to="13700000000", at="2026-11-16T10:00:00+08:00"),
            line("elsewhere", contract_no="XX-9", at="2026-11-16T10:00:00+08:00"),
            line("alone", channel="visit", at="2026-11-16T10:00:00+08:00", visitors=1),
            line("utc", at="2026-11-16T01:00:00Z"),
        ],
    )
    by_id = {o.get("id"): o for o in out}
    assert len(out) == 10
    assert by_id["early"]["allowed"] is False and by_id["early"]["rules"] == ["cn.quiet_hours"]
    assert by_id["ok"] == {"id": "ok", "allowed": True, "rules": [], "reason": "allowed"}
    assert by_id["threat"]["rules"] == ["cn.prohibited_language"]
    assert "全家不得安宁" in str(by_id["threat"]["reason"])
    assert by_id["colleague"]["rules"] == ["cn.third_party_only_when_unreachable"]
    assert str(by_id["naive"]["error"]).startswith("at:")
    assert str(out[5]["error"]).startswith("line 6: not JSON") and out[5]["id"] is None
    assert str(by_id["nobody"]["error"]).startswith("to:")
    assert str(by_id["elsewhere"]["error"]).startswith("contract_no:")
    assert "cn.visit_two_visitors" in by_id["alone"]["rules"]
    assert by_id["utc"]["allowed"] is True  # 09:00 in Shanghai
    assert not ContactAttempt.objects.exists()  # without --record nothing is stored
    assert AuditEvent.objects.filter(action="compliance.decision").count() == 6


def test_recorded_attempts_count_for_the_lines_after_them(portfolio, tmp_path) -> None:
    busy = [line(f"c{n}", at=f"2026-11-16T09:0{n}:00+08:00", answered=False) for n in range(7)]
    out = run(
        tmp_path,
        [*busy, line("colleague", to="13900000003", at="2026-11-16T10:00:00+08:00")],
        "--record",
    )
    assert [o["allowed"] for o in out[:7]] == [True] * 6 + [False]
    assert out[6]["rules"] == ["cn.unanswered_per_number_per_day"]
    # Six failed attempts on the debtor's number: now a third party may be asked.
    assert out[7]["allowed"] is True
    assert ContactAttempt.objects.filter(case=portfolio).count() == 7
    # Running the same file again decides the same and stores nothing twice.
    again = run(
        tmp_path,
        [*busy, line("colleague", to="13900000003", at="2026-11-16T10:00:00+08:00")],
        "--record",
    )
    assert again == out
    assert ContactAttempt.objects.filter(case=portfolio).count() == 7


def test_the_us_rules_decide_file_lines_too(tmp_path) -> None:  # type: ignore[no-untyped-def]
    import datetime as dt

    from cuishou.portfolio.models import ContactConsent
    from tests.factories import AddressFactory

    client = ClientFactory(code="US1", policy_pack="US")
    case = CaseFactory(client=client)
    AddressFactory(debtor=case.debtor, text="5 Broadway, New York, NY 10004")
    LoanFactory(
        client=client, debtor=case.debtor, contract_no="US-1", limitation_on=dt.date(2026, 6, 30)
    )
    mobile = ContactPointFactory(debtor=case.debtor, value="+12125550100", is_primary=True)
    ContactConsent.objects.create(
        contact_point=mobile,
        channel="sms",
        state="withdrawn",
        at=dt.datetime(2026, 6, 1, tzinfo=dt.UTC),
        source="reply",
    )

    def us(n: str, **kw: object) -> dict[str, object]:
        return {"id": n, "client": "US1", "contract_no": "US-1", "to": "debtor", **kw}

    out = run(
        tmp_path,
        [
            us("suit", channel="letter", purpose="suit", at="2026-07-01T10:00:00-04:00"),
            us("suit-on-time", channel="letter", purpose="suit", at="2026-06-30T10:00:00-04:00"),
            us("threat", channel="letter", text="We will sue you.", at="2026-07-01T10:00:00-04:00"),
            us(
                "stop",
                channel="sms",
                text="Hi. Reply STOP to opt out.",
                at="2026-07-01T10:00:00-04:00",
            ),
            us("call", channel="call", answered=False, at="2026-07-01T10:00:00-04:00"),
            us("odd", channel="letter", purpose="arrest", at="2026-07-01T10:00:00-04:00"),
        ],
    )
    by_id = {o["id"]: o for o in out}
    assert by_id["suit"]["rules"] == ["us.time_barred_suit"]
    assert "no suit may be filed" in str(by_id["suit"]["reason"])
    assert by_id["suit-on-time"]["allowed"] is True  # the limitation date itself
    assert by_id["threat"]["rules"] == ["us.time_barred_threat"]
    assert by_id["stop"]["rules"] == ["house.opt_out"]  # opted out of SMS on that number
    assert by_id["call"]["allowed"] is True  # calls are not opted out
    assert str(by_id["odd"]["error"]).startswith("purpose:")
