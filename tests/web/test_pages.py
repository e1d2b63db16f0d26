"""Page tests with Django's test client: what a user sees and may do."""

from __future__ import annotations

import re

import pytest
from django.test import Client as HttpClient
from django.urls import reverse

from cuishou.audit.models import AuditEvent
from cuishou.portfolio.models import ContactPoint, ImportRun
from tests.factories import CaseFactory, ContactPointFactory, DebtorFactory, UserFactory
from tests.web.conftest import PASSWORD, Portfolio

pytestmark = pytest.mark.django_db

CASES = reverse("web:case-list")


def _as(client: HttpClient, user: object) -> HttpClient:
    client.force_login(user)  # type: ignore[arg-type]
    return client


def _case_names(html: str) -> set[str]:
    """Debtor names in the case table (the cell marked as the row's primary value)."""
    return set(re.findall(r'class="primary"><a href="/cases/\d+/">([^<]+)</a>', html))


# --- log-in ------------------------------------------------------------------------


def test_login_with_the_right_password_opens_the_case_list(client, portfolio: Portfolio):
    response = client.post(reverse("login"), {"username": "alice", "password": PASSWORD})
    assert response.status_code == 302
    assert response["Location"] == CASES
    page = client.get(CASES)
    assert page.status_code == 200
    assert "张三丰" in page.content.decode()


def test_login_with_a_wrong_password_says_so(client, portfolio: Portfolio):
    response = client.post(reverse("login"), {"username": "alice", "password": "nope"})
    assert response.status_code == 200
    assert "not right" in response.content.decode()
    assert "_auth_user_id" not in client.session


def test_five_failed_logins_lock_the_account(client, portfolio: Portfolio):
    for _ in range(5):
        client.post(reverse("login"), {"username": "alice", "password": "wrong"})
    response = client.post(reverse("login"), {"username": "alice", "password": PASSWORD})
    assert response.status_code == 429
    html = response.content.decode()
    assert "Account locked" in html
    assert "_auth_user_id" not in client.session


def test_pages_need_a_login(client, portfolio: Portfolio):
    for url in (CASES, reverse("web:case-detail", args=[portfolio.zhang_case.pk])):
        response = client.get(url)
        assert response.status_code == 302
        assert response["Location"].startswith(reverse("login"))


def test_home_redirects_to_the_case_list(client, portfolio: Portfolio):
    response = _as(client, portfolio.alice).get("/")
    assert response.status_code == 302
    assert response["Location"] == CASES


def test_header_shows_user_role_and_logout(client, portfolio: Portfolio):
    html = _as(client, portfolio.alice).get(CASES).content.decode()
    assert "Alice 王" in html
    assert "Collector (电催员)" in html
    assert 'action="/accounts/logout/"' in html
    assert 'href="/api/docs"' in html
    response = client.post("/accounts/logout/")
    assert response.status_code == 302
    assert client.get(CASES).status_code == 302


# --- case list -------------------------------------------------------------------


def test_a_collector_sees_only_assigned_cases(client, portfolio: Portfolio):
    html = _as(client, portfolio.alice).get(CASES).content.decode()
    assert _case_names(html) == {"张三丰", "李小龙"}
    assert "王五" not in html
    assert "2 cases" in html


def test_a_collector_gets_404_for_another_collectors_case(client, portfolio: Portfolio):
    _as(client, portfolio.alice)
    response = client.get(reverse("web:case-detail", args=[portfolio.wang_case.pk]))
    assert response.status_code == 404


def test_the_list_shows_masked_ids_and_money_with_two_decimals(client, portfolio: Portfolio):
    html = _as(client, portfolio.alice).get(CASES).content.decode()
    assert "110***********1114" in html
    assert "110105198604011114" not in html
    assert "20,000.00" in html
    assert "1,580.59" in html


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ({"bucket": ["M3"]}, {"张三丰"}),
        ({"bucket": ["M3", "M5"]}, {"张三丰", "王五"}),
        ({"stage": "visit"}, {"王五"}),
        ({"assignee": "bob"}, {"王五"}),
        ({"client": "SHOP"}, {"李小龙"}),
        ({"amount_min": "10000"}, {"张三丰", "王五"}),
        ({"amount_min": "10000", "amount_max": "50000"}, {"张三丰"}),
        ({"dpd_min": "60", "dpd_max": "100"}, {"张三丰"}),
        ({"q": "李小"}, {"李小龙"}),
        ({"q": "HT-ZS-001"}, {"张三丰"}),
    ],
)
def test_filters_narrow_the_list(client, portfolio: Portfolio, query, expected):
    manager = UserFactory(username="rm", role="risk_manager")
    html = _as(client, manager).get(CASES, query).content.decode()
    assert _case_names(html) == expected


def test_filters_cannot_widen_a_collectors_scope(client, portfolio: Portfolio):
    html = _as(client, portfolio.alice).get(CASES, {"assignee": "bob"}).content.decode()
    assert _case_names(html) == set()
    assert "王五" not in html
    assert "errorlist" in html  # the assignee field says why


def test_htmx_filter_request_gets_only_the_results(client, portfolio: Portfolio):
    response = _as(client, portfolio.alice).get(
        CASES, {"bucket": "M1"}, headers={"HX-Request": "true", "HX-Target": "case-results"}
    )
    html = response.content.decode()
    assert "<html" not in html
    assert _case_names(html) == {"李小龙"}


def test_the_list_pages_by_fifty(client, portfolio: Portfolio):
    manager = UserFactory(username="rm", role="risk_manager")
    CaseFactory.create_batch(55, client=portfolio.bank)
    first = _as(client, manager).get(CASES).content.decode()
    assert "58 cases" in first
    assert len(_case_names(first)) == 50
    assert "Page 1 of 2" in first
    # The next-page link swaps only the results, as the filters do.
    assert 'href="?page=2" hx-get="?page=2" hx-target="#case-results"' in first
    second = client.get(CASES, {"page": 2}).content.decode()
    assert len(_case_names(second)) == 8
    assert 'href="?page=1"' in second


def test_case_list_query_count_does_not_grow_with_rows(
    client, portfolio: Portfolio, django_assert_num_queries
):
    manager = UserFactory(username="rm", role="risk_manager")
    _as(client, manager)
    client.get(CASES)  # warm up (content types, session)
    # session, user, user perms, group perms, user groups, totals, page rows,
    # client choices, assignee choices
    with django_assert_num_queries(9):
        small = client.get(CASES)
    CaseFactory.create_batch(30, client=portfolio.shop, assignee=portfolio.bob)
    with django_assert_num_queries(9):
        large = client.get(CASES)
    assert len(_case_names(small.content.decode())) == 3
    assert len(_case_names(large.content.decode())) == 33


# --- case page ---------------------------------------------------------------------


def test_case_page_shows_the_whole_file(client, portfolio: Portfolio):
    response = _as(client, portfolio.alice).get(
        reverse("web:case-detail", args=[portfolio.zhang_case.pk])
    )
    assert response.status_code == 200
    html = response.content.decode()
    # debtor
    assert "张三丰" in html
    # loan and its schedule
    assert "HT-ZS-001" in html
    assert "2026-09-10" in html
    assert "1,512.34" in html
    assert "68.25" in html
    # contacts: whose, masked value
    assert "139****5678" in html
    assert "Spouse (配偶)" in html
    # related persons and addresses
    assert "李四娘" in html
    assert "上海市浦东新区张杨路500号华润时代广场" in html
    assert "Work (单位)" in html
    assert "31.229000" in html
    # case state
    assert "Phone (电催)" in html
    assert "M3" in html
    # timeline
    assert "stage reminder → phone" in html


def test_case_page_masks_id_and_phones(client, portfolio: Portfolio):
    html = (
        _as(client, portfolio.alice)
        .get(reverse("web:case-detail", args=[portfolio.zhang_case.pk]))
        .content.decode()
    )
    assert "110105198604011114" not in html
    assert "110***********1114" in html
    assert "13800138000" not in html
    assert "13912345678" not in html
    assert "138****8000" in html


def test_contacts_list_the_debtors_own_before_the_related_persons(client, portfolio: Portfolio):
    ContactPointFactory(debtor=portfolio.zhang, kind="phone", value="13700007777")
    html = (
        _as(client, portfolio.alice)
        .get(reverse("web:case-detail", args=[portfolio.zhang_case.pk]))
        .content.decode()
    )
    contacts = html[html.index('id="contacts"') : html.index('id="related"')]
    # The debtor's primary, the debtor's other number, then the spouse's.
    assert contacts.index("138****8000") < contacts.index("137****7777")
    assert contacts.index("137****7777") < contacts.index("139****5678")


def test_htmx_timeline_request_gets_only_the_timeline(client, portfolio: Portfolio):
    response = _as(client, portfolio.alice).get(
        reverse("web:case-detail", args=[portfolio.zhang_case.pk]),
        headers={"HX-Request": "true", "HX-Target": "timeline"},
    )
    html = response.content.decode()
    assert "<html" not in html
    assert "stage reminder → phone" in html
    assert "张三丰" not in html


def test_timeline_is_newest_first_in_shanghai_time(client, portfolio: Portfolio):
    from cuishou.audit.services import audit_record

    audit_record(
        actor="system",
        action="case.note",
        object_type="cases.case",
        case_id=portfolio.zhang_case.pk,
        summary="second event",
    )
    html = (
        _as(client, portfolio.alice)
        .get(reverse("web:case-detail", args=[portfolio.zhang_case.pk]))
        .content.decode()
    )
    assert html.index("second event") < html.index("stage reminder → phone")
    assert "+08:00" in html  # the machine-readable time carries Shanghai's offset


def test_reveal_returns_the_value_and_is_audited(client, portfolio: Portfolio):
    url = reverse("web:case-reveal", args=[portfolio.zhang_case.pk])
    _as(client, portfolio.alice)
    before = AuditEvent.objects.filter(action="pii.reveal").count()
    response = client.post(url, {"field": "id_number"}, headers={"HX-Request": "true"})
    assert response.status_code == 200
    assert "110105198604011114" in response.content.decode()
    event = AuditEvent.objects.filter(action="pii.reveal").latest("seq")
    assert AuditEvent.objects.filter(action="pii.reveal").count() == before + 1
    assert event.case_id == portfolio.zhang_case.pk
    assert event.actor_id == portfolio.alice.pk
    page = client.get(reverse("web:case-detail", args=[portfolio.zhang_case.pk]))
    assert "Personal data revealed" in page.content.decode()


def test_reveal_without_htmx_shows_the_case_page_with_the_value(client, portfolio: Portfolio):
    spouse_phone = ContactPoint.objects.get(value="13912345678")
    response = _as(client, portfolio.alice).post(
        reverse("web:case-reveal", args=[portfolio.zhang_case.pk]),
        {"field": "contact", "contact_point": spouse_phone.pk},
    )
    html = response.content.decode()
    assert response.status_code == 200
    assert "13912345678" in html
    assert "110105198604011114" not in html  # only what was asked for


def test_reveal_of_a_contact_outside_the_case_is_404(client, portfolio: Portfolio):
    other = ContactPointFactory(debtor=DebtorFactory(), value="13700001111")
    response = _as(client, portfolio.alice).post(
        reverse("web:case-reveal", args=[portfolio.zhang_case.pk]),
        {"field": "contact", "contact_point": other.pk},
    )
    assert response.status_code == 404
    assert not AuditEvent.objects.filter(action="pii.reveal").exists()


def test_a_user_without_reveal_permission_sees_no_button_and_gets_403(client, portfolio: Portfolio):
    finance = UserFactory(username="fin", role="finance")
    _as(client, finance)
    page = client.get(reverse("web:case-detail", args=[portfolio.zhang_case.pk]))
    html = page.content.decode()
    assert page.status_code == 200
    assert "110***********1114" in html
    assert "/reveal/" not in html
    response = client.post(
        reverse("web:case-reveal", args=[portfolio.zhang_case.pk]), {"field": "id_number"}
    )
    assert response.status_code == 403
    assert "110105198604011114" not in response.content.decode()
    assert not AuditEvent.objects.filter(action="pii.reveal").exists()


# --- language ------------------------------------------------------------------------


def test_chinese_is_the_default_and_english_can_be_chosen(client, portfolio: Portfolio, settings):
    del client.cookies[settings.LANGUAGE_COOKIE_NAME]
    _as(client, portfolio.alice)
    html = client.get(CASES).content.decode()
    assert '<html lang="zh-hans">' in html
    response = client.post("/accounts/language/", {"language": "en", "next": CASES})
    assert response.status_code == 302
    english = client.get(CASES).content.decode()
    assert '<html lang="en">' in english
    assert ">Cases</a>" in english
    assert "Log out" in english
    client.post("/accounts/language/", {"language": "zh-hans", "next": CASES})
    assert '<html lang="zh-hans">' in client.get(CASES).content.decode()


def test_the_chosen_language_follows_the_user_to_the_next_log_in(
    client, portfolio: Portfolio, settings
):
    _as(client, portfolio.alice)
    client.post("/accounts/language/", {"language": "en", "next": CASES})
    portfolio.alice.refresh_from_db()
    assert portfolio.alice.language == "en"
    client.logout()
    client.cookies.clear()
    # A fresh browser: no language cookie, Chinese by default until the user logs in.
    assert '<html lang="zh-hans">' in client.get(reverse("login")).content.decode()
    response = client.post(
        reverse("login"), {"username": "alice", "password": PASSWORD}, follow=True
    )
    assert '<html lang="en">' in response.content.decode()


def test_login_page_has_the_language_switch(client, db):
    html = client.get(reverse("login")).content.decode()
    assert 'action="/accounts/language/"' in html
    assert "English" in html
    assert "简体中文" in html


# --- imports -------------------------------------------------------------------------


def test_import_pages_need_the_import_permission(client, portfolio: Portfolio):
    _as(client, portfolio.alice)
    assert client.get(reverse("web:import-list")).status_code == 403
    assert client.get(reverse("web:import-upload")).status_code == 403
    assert "/imports/" not in client.get(CASES).content.decode()


def test_import_list_and_report_download(client, portfolio: Portfolio):
    manager = UserFactory(username="rm", role="risk_manager")
    run = ImportRun.objects.create(
        client=portfolio.bank,
        actor=manager,
        file_name="bad.xlsx",
        file_sha256="0" * 64,
        status="rejected",
        error_count=1,
        report="loans:3:id_number: check digit is wrong\n",
    )
    _as(client, manager)
    listing = client.get(reverse("web:import-list")).content.decode()
    assert "bad.xlsx" in listing
    assert "Rejected (bad rows)" in listing
    detail = client.get(reverse("web:import-detail", args=[run.pk])).content.decode()
    assert "loans:3:id_number: check digit is wrong" in detail
    report = client.get(reverse("web:import-report", args=[run.pk]))
    assert report["Content-Type"].startswith("text/plain")
    assert "attachment" in report["Content-Disposition"]
    assert report.content.decode() == "loans:3:id_number: check digit is wrong\n"


def test_upload_rejects_other_file_types(client, portfolio: Portfolio):
    from django.core.files.uploadedfile import SimpleUploadedFile

    manager = UserFactory(username="rm", role="risk_manager")
    response = _as(client, manager).post(
        reverse("web:import-upload"),
        {"client": portfolio.bank.pk, "file": SimpleUploadedFile("p.csv", b"a,b\n")},
    )
    assert response.status_code == 200
    assert ".xlsx" in response.content.decode()
    assert not ImportRun.objects.exists()
