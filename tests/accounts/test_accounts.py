"""Users, roles, passwords and log-in throttling."""

from __future__ import annotations

import io

import pytest
from django.contrib.auth.models import Group
from django.core.exceptions import ValidationError
from django.core.management import call_command
from django.core.management.base import CommandError
from django.test import Client

from cuishou.accounts.choices import Role
from cuishou.accounts.models import Team, User
from cuishou.accounts.roles import ROLE_PERMISSIONS
from cuishou.accounts.services import user_create
from cuishou.audit.models import AuditEvent
from tests.factories import ClientFactory, UserFactory

pytestmark = pytest.mark.django_db

PASSWORD = "Harbour-Lantern-42"


def test_created_users_have_argon2_password_hashes_and_an_audited_creation():
    admin = UserFactory(username="admin", is_superuser=True)
    user = user_create(actor=admin, username="wang", password=PASSWORD, role=Role.COLLECTOR)

    user.refresh_from_db()
    assert user.password.startswith("argon2")
    assert user.check_password(PASSWORD)
    assert user.has_role("collector")
    event = AuditEvent.objects.get(action="user.create")
    assert event.actor_id == admin.pk
    assert event.after["role"] == "collector"
    assert PASSWORD not in str(event.after) and user.password not in str(event.after)


def test_a_client_user_needs_a_client_and_only_client_users_have_one():
    acme = ClientFactory(code="ACME")
    with pytest.raises(ValidationError):
        user_create(actor=None, username="c1", password=PASSWORD, role=Role.CLIENT)
    with pytest.raises(ValidationError):
        user_create(actor=None, username="c2", password=PASSWORD, role=Role.COLLECTOR, client=acme)
    user = user_create(actor=None, username="c3", password=PASSWORD, role="client", client=acme)
    assert user.client == acme


def test_weak_passwords_and_unknown_roles_are_refused():
    with pytest.raises(ValidationError):
        user_create(actor=None, username="weak", password="123", role=Role.COLLECTOR)
    with pytest.raises(ValidationError):
        user_create(actor=None, username="boss", password=PASSWORD, role="emperor")
    assert not User.objects.filter(username__in=["weak", "boss"]).exists()


def test_user_add_command_creates_a_team_member():
    out = io.StringIO()
    call_command(
        "user",
        "add",
        "liu",
        "--role",
        "field_visitor",
        "--team",
        "East",
        "--password",
        PASSWORD,
        stdout=out,
    )
    user = User.objects.get(username="liu")
    assert user.team is not None and user.team.name == "East"
    assert user.has_role("field_visitor")
    assert "created user liu" in out.getvalue()
    assert user.check_password(PASSWORD)


def test_user_add_command_for_a_client_user_and_its_errors():
    ClientFactory(code="ACME")
    out = io.StringIO()
    call_command("user", "add", "acme1", "--role", "client", "--client", "ACME", stdout=out)
    assert User.objects.get(username="acme1").client.code == "ACME"
    assert "password: " in out.getvalue()  # a generated password is shown once
    with pytest.raises(CommandError, match="unknown client"):
        call_command("user", "add", "x", "--role", "client", "--client", "NOPE")
    with pytest.raises(CommandError, match="already exists"):
        call_command("user", "add", "acme1", "--role", "client", "--client", "ACME")


def test_user_add_command_that_fails_creates_no_team():
    with pytest.raises(CommandError):
        call_command(
            "user", "add", "weak", "--role", "collector", "--team", "West", "--password", "1"
        )
    assert not Team.objects.filter(name="West").exists()
    assert not AuditEvent.objects.exists()


def test_every_role_group_holds_exactly_its_permissions():
    for role in Role:
        group = Group.objects.get(name=role.value)
        held = {
            f"{app}.{code}"
            for app, code in group.permissions.values_list("content_type__app_label", "codename")
        }
        assert held == set(ROLE_PERMISSIONS[role]), role


def test_who_may_reveal_personal_data():
    may = {r for r in Role if "cases.reveal_pii" in ROLE_PERMISSIONS[r]}
    assert Role.CLIENT not in may
    assert {Role.COLLECTOR, Role.FIELD_VISITOR, Role.TEAM_LEAD} <= may


def _login(client: Client, password: str):  # type: ignore[no-untyped-def]
    return client.post("/accounts/login/", {"username": "gao", "password": password})


def test_login_is_locked_after_five_failures_until_reset(settings):
    settings.AXES_FAILURE_LIMIT = 5
    UserFactory(username="gao", password=PASSWORD, role="collector")
    browser = Client()
    for _ in range(5):
        response = _login(browser, "wrong-password")
        assert response.status_code in (200, 429)
        assert "_auth_user_id" not in browser.session

    locked = _login(browser, PASSWORD)
    assert locked.status_code == 429
    assert "_auth_user_id" not in browser.session

    call_command("axes_reset", stdout=io.StringIO())
    response = _login(browser, PASSWORD)
    assert response.status_code == 302
    assert "_auth_user_id" in browser.session


def test_a_right_password_before_the_limit_still_logs_in(settings):
    settings.AXES_FAILURE_LIMIT = 5
    UserFactory(username="gao", password=PASSWORD, role="collector")
    browser = Client()
    for _ in range(4):
        _login(browser, "wrong-password")
    assert _login(browser, PASSWORD).status_code == 302
