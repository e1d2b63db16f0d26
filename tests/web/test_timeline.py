"""The case timeline describes the nightly run's events in the reader's language."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest
from django.urls import reverse
from django.utils import translation

from cuishou.audit.models import AuditEvent
from cuishou.cases.models import Case
from cuishou.engine.services import portfolio_recompute
from cuishou.web.timeline import describe_event
from tests.factories import ClientFactory, InstallmentFactory, LoanFactory, UserFactory

pytestmark = pytest.mark.django_db


def _case_page(client, settings, language: str) -> str:  # type: ignore[no-untyped-def]
    client.cookies[settings.LANGUAGE_COOKIE_NAME] = language
    case = Case.objects.get()
    return client.get(reverse("web:case-detail", args=[case.pk])).content.decode()


def test_an_opened_case_reads_in_chinese_and_in_english(client, settings):
    loan = LoanFactory(client=ClientFactory(code="TL"))
    InstallmentFactory(
        loan=loan, seq=1, due_on=dt.date(2026, 10, 1), principal_due=Decimal("1000.00")
    )
    portfolio_recompute(as_of=dt.date(2026, 11, 15))
    risk = UserFactory(username="risk", role="risk_manager")
    client.force_login(risk)

    chinese = _case_page(client, settings, "zh-hans")
    assert "立案" in chinese
    assert "截至 2026-11-15：M2，逾期 45 天，阶段 书面" in chinese

    english = _case_page(client, settings, "en")
    assert "Case opened" in english
    assert "as of 2026-11-15: M2, 45 days past due, stage Written (书面)" in english


@pytest.mark.parametrize(
    ("action", "after", "line"),
    [
        ("case.cure", {"as_of": "2026-11-16"}, "nothing overdue as of 2026-11-16"),
        (
            "case.reopen",
            {"as_of": "2026-12-01", "bucket": "M1", "dpd": 3},
            "overdue again as of 2026-12-01: M1, 3 days past due",
        ),
        (
            "case.reopen",
            {"as_of": "2026-12-03", "settlement": 4, "reversed_payments": [17]},
            "reopened as of 2026-12-03: the settled amount is no longer paid (payment 17 reversed)",
        ),
        ("pii.reveal", {"field": "id_number"}, "ID number"),
        (
            "portfolio.import",
            {"counts": {"loans_created": 2, "loans_updated": 5}},
            "2 loans created, 5 updated",
        ),
        ("loan.update", {"status": "x", "principal": "1"}, "changed: principal, status"),
        # Unknown actions, and an opening without its as-of date, keep the stored summary.
        ("case.note", {}, "stored summary"),
        ("case.open", {}, "stored summary"),
    ],
)
def test_each_known_action_has_its_own_line(action, after, line):
    event = AuditEvent(action=action, after=after, summary="stored summary")
    with translation.override("en"):
        assert describe_event(event) == line
