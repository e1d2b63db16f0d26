"""The API accepts a bearer token or a signed-in session, and nothing else."""

from __future__ import annotations

import io

import pytest
from django.core.management import call_command
from django.test import Client

from cuishou.accounts.models import ApiToken
from cuishou.accounts.services import api_token_create, api_token_revoke
from cuishou.audit.models import AuditEvent

pytestmark = pytest.mark.django_db


def test_without_credentials_every_endpoint_is_401(client, world):
    response = client.get("/api/me")
    assert response.status_code == 401
    assert "Bearer" in response.json()["detail"]  # says how to sign in
    assert client.get("/api/cases").status_code == 401
    assert client.get(f"/api/cases/{world.case_chen.pk}").status_code == 401
    response = client.post(
        f"/api/cases/{world.case_chen.pk}/reveal",
        {"field": "id_number"},
        content_type="application/json",
    )
    assert response.status_code == 401


def test_a_bearer_token_authenticates_and_notes_its_last_use(client, world):
    token, key = api_token_create(actor=world.risk, user=world.chen, name="dialer")
    assert token.last_used_at is None

    response = client.get("/api/me", headers={"authorization": f"Bearer {key}"})

    assert response.status_code == 200
    assert response.json()["username"] == "chen"
    assert response.json()["roles"] == ["collector"]
    token.refresh_from_db()
    assert token.last_used_at is not None
    # Only the hash is stored, and the audit event does not carry the key.
    assert key not in token.key_hash and token.key_hash == ApiToken.hash_key(key)
    event = AuditEvent.objects.get(action="apitoken.create")
    assert key not in str(event.after) and key not in event.summary


def test_a_wrong_or_revoked_token_is_401(client, world):
    token, key = api_token_create(actor=world.risk, user=world.chen, name="dialer")
    assert client.get("/api/me", headers={"authorization": "Bearer nope"}).status_code == 401
    api_token_revoke(actor=world.risk, token=token)
    assert client.get("/api/me", headers={"authorization": f"Bearer {key}"}).status_code == 401


def test_a_token_of_a_deactivated_user_is_401(client, world):
    _token, key = api_token_create(actor=world.risk, user=world.chen, name="dialer")
    world.chen.is_active = False
    world.chen.save(update_fields=["is_active"])
    assert client.get("/api/me", headers={"authorization": f"Bearer {key}"}).status_code == 401


def test_token_create_command_prints_a_working_key_once(client, world):
    out = io.StringIO()
    call_command("token", "create", "zhou", "--name", "script", stdout=out)
    key = out.getvalue().strip()
    response = client.get("/api/me", headers={"authorization": f"Bearer {key}"})
    assert response.status_code == 200
    assert response.json()["username"] == "zhou"


def test_session_auth_works_and_unsafe_methods_need_the_csrf_token(world):
    browser = Client(enforce_csrf_checks=True)
    browser.force_login(world.chen)
    assert browser.get("/api/me").json()["username"] == "chen"

    url = f"/api/cases/{world.case_chen.pk}/reveal"
    without = browser.post(url, {"field": "mobile"}, content_type="application/json")
    assert without.status_code == 403

    browser.get("/api/docs")  # any page that sets the CSRF cookie
    csrf = browser.cookies["csrftoken"].value
    with_token = browser.post(
        url, {"field": "mobile"}, content_type="application/json", headers={"x-csrftoken": csrf}
    )
    assert with_token.status_code == 200
    assert with_token.json()["value"] == "13812345678"


def test_a_bearer_token_needs_no_csrf_token(world):
    _token, key = api_token_create(actor=world.risk, user=world.chen, name="dialer")
    api_client = Client(enforce_csrf_checks=True)
    response = api_client.post(
        f"/api/cases/{world.case_chen.pk}/reveal",
        {"field": "mobile"},
        content_type="application/json",
        headers={"authorization": f"Bearer {key}"},
    )
    assert response.status_code == 200
