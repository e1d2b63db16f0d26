"""The case timeline describes the nightly run's events in the reader's language."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest
from django.urls import reverse

from cuishou.cases.models import Case
from cuishou.engine.services import portfolio_recompute
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
