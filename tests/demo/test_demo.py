"""`cuishou demo`: a realistic synthetic portfolio through the real import path, cases from the
portfolio run, one user per role who can log in, and the open cases shared among the
collectors."""

from __future__ import annotations

import datetime as dt
import io
from collections import Counter

import pytest
from django.apps import apps
from django.core.management import call_command
from django.core.management.base import CommandError
from django.test import Client as Browser

from cuishou.accounts.models import Team, User
from cuishou.audit.services import audit_verify
from cuishou.cases.models import Case
from cuishou.core.validators import normalize_id_number, normalize_phone
from cuishou.portfolio.demo.services import DEMO_LOGINS, DEMO_PASSWORD
from cuishou.portfolio.models import Address, ContactPoint, Debtor, ImportRun, Loan

pytestmark = pytest.mark.django_db


def demo(*args: str) -> str:
    out = io.StringIO()
    call_command("demo", "--no-serve", *args, stdout=out)
    return out.getvalue()


def test_the_demo_portfolio_is_realistic_and_valid():
    demo("--accounts", "60", "--seed", "1")

    assert Loan.objects.count() == 60
    assert set(Loan.objects.values_list("client__code", flat=True)) == {"HX", "JY"}
    # It came in through the importer, one committed import per client.
    assert sorted(ImportRun.objects.values_list("client__code", "status")) == [
        ("HX", "committed"),
        ("JY", "committed"),
    ]
    for debtor in Debtor.objects.all():
        assert normalize_id_number(debtor.id_number) == debtor.id_number
        assert normalize_phone(debtor.mobile) == debtor.mobile
        assert 1960 <= int(debtor.id_number[6:10]) <= 2003
    phones = ContactPoint.objects.filter(kind="phone").values_list("value", flat=True)
    assert phones and all(normalize_phone(p) == p for p in phones)

    kinds_by_debtor: dict[int, set[str]] = {}
    for debtor_id, kind, lat, lon in Address.objects.values_list("debtor_id", "kind", "lat", "lon"):
        if kind in {"residence", "work"}:
            assert lat is not None and lon is not None
        kinds_by_debtor.setdefault(debtor_id, set()).add(kind)
    assert len(kinds_by_debtor) == Debtor.objects.count()
    assert all({"residence", "work"} <= kinds for kinds in kinds_by_debtor.values())

    buckets = Counter(Case.objects.filter(status="open").values_list("bucket", flat=True))
    assert len(buckets) >= 3, buckets
    assert Loan.objects.filter(bucket="M0").count() > Loan.objects.count() / 3
    assert audit_verify().ok


def test_every_role_has_a_user_who_can_log_in_and_collectors_have_cases():
    output = demo("--accounts", "60", "--seed", "1")

    for login in DEMO_LOGINS:
        user = User.objects.get(username=login.username)
        assert user.password.startswith("argon2")
        if login.role == "superuser":
            assert user.is_superuser
        else:
            assert user.has_role(login.role)
        browser = Browser()
        response = browser.post(
            "/accounts/login/", {"username": login.username, "password": DEMO_PASSWORD}
        )
        assert response.status_code == 302, login.username
        assert browser.session.get("_auth_user_id") == str(user.pk)
        assert login.username in output
    assert DEMO_PASSWORD in output and "http://127.0.0.1:8000" in output

    team = Team.objects.get(name="电催一组")
    assert team.lead.username == "lead"
    assert set(team.members.values_list("username", flat=True)) == {"collector1", "collector2"}
    assert User.objects.get(username="client").client.code == "HX"

    open_cases = Case.objects.filter(status="open")
    mine = Counter(open_cases.values_list("assignee__username", flat=True))
    assert set(mine) == {"collector1", "collector2"}
    assert abs(mine["collector1"] - mine["collector2"]) <= 1
    # Highest balance first, in turn.
    top = list(open_cases.order_by("-balance", "id").values_list("assignee__username", flat=True))
    assert top[:2] == ["collector1", "collector2"]


def _row_counts() -> dict[str, int]:
    return {
        m._meta.label: m._default_manager.count()
        for m in apps.get_models()
        if m._meta.app_label in {"portfolio", "cases", "accounts", "audit"}
    }


def test_if_empty_leaves_an_existing_portfolio_alone():
    demo("--accounts", "20", "--seed", "1")
    before = _row_counts()

    output = demo("--if-empty", "--accounts", "20")

    assert _row_counts() == before
    assert "collector1" in output and DEMO_PASSWORD in output
    with pytest.raises(CommandError, match="--if-empty"):
        demo("--accounts", "20")
    assert _row_counts() == before


def test_the_same_seed_gives_the_same_debtors():
    from cuishou.portfolio.demo.generate import generate_portfolio

    today = dt.date(2026, 11, 15)

    def names(seed: int) -> list[str]:
        portfolios = generate_portfolio(accounts=80, seed=seed, today=today)
        return [n for p in portfolios for n in p.loans["debtor_name"].to_list()]

    assert names(7) == names(7)
    assert names(7) != names(8)
    later = generate_portfolio(accounts=80, seed=7, today=today + dt.timedelta(days=30))
    assert [n for p in later for n in p.loans["debtor_name"].to_list()] == names(7)


def test_demo_command_names_the_same_debtors_for_the_same_seed():
    demo("--accounts", "20", "--seed", "3")
    first = list(Debtor.objects.order_by("id_number").values_list("name", "id_number"))
    assert first and len({name for name, _id in first}) > 1
    from cuishou.portfolio.demo.generate import generate_portfolio

    again = generate_portfolio(accounts=20, seed=3, today=dt.date(2030, 1, 1))
    rows = sorted(
        {(n, i) for p in again for n, i in p.loans.select("debtor_name", "id_number").iter_rows()},
        key=lambda r: r[1],
    )
    assert rows == first


def test_the_demo_office_has_its_standard_notices_approved_for_letters_and_visits():
    from cuishou.notices.defaults import DEFAULTS
    from cuishou.notices.documents import document_render
    from cuishou.notices.selectors import templates_sendable

    demo("--accounts", "30", "--seed", "2")

    sendable = {t.key: t for t in templates_sendable()}
    assert set(sendable) == {spec["key"] for spec in DEFAULTS}
    for t in sendable.values():  # written by legal, approved by compliance
        assert (t.created_by.username, t.decided_by.username) == ("legal", "compliance")
    # So the risk department can make a letter of introduction for the demo's visitors.
    case = Case.objects.filter(status="open").order_by("pk").first()
    letter = document_render(
        actor=User.objects.get(username="risk"),
        case=case,
        template=sendable["introduction-zh"],
        visitors=["外访员 孙", "外访员 周"],
    )
    assert letter.pdf and letter.number.startswith("N")
