"""The API describes itself: OpenAPI JSON and an interactive docs page."""

from __future__ import annotations

import json

import pytest
from django.conf import settings

pytestmark = pytest.mark.django_db


def test_openapi_json_lists_the_endpoints_and_both_ways_to_sign_in(client):
    response = client.get("/api/openapi.json")
    assert response.status_code == 200
    spec = json.loads(response.content)
    assert spec["info"]["title"] == "cuishou API"
    assert {
        "/api/me",
        "/api/cases",
        "/api/cases/{case_id}",
        "/api/cases/{case_id}/timeline",
        "/api/cases/{case_id}/reveal",
        "/api/loans/{client_code}/{contract_no}",
        "/api/cases/{case_id}/plans",
        "/api/cases/{case_id}/plans/{plan_id}/cancel",
        "/api/cases/{case_id}/settlements",
        "/api/settlements",
        "/api/settlements/{settlement_id}",
        "/api/settlements/{settlement_id}/approve",
        "/api/settlements/{settlement_id}/reject",
        "/api/receipts",
        "/api/receipts/{receipt_id}",
        "/api/receipts/{receipt_id}/pdf",
    } <= set(spec["paths"])
    # The plan body names its fields; the receipt download says it is a PDF.
    plan_body = spec["paths"]["/api/cases/{case_id}/plans"]["post"]["requestBody"]
    ref = plan_body["content"]["application/json"]["schema"]["$ref"].rsplit("/", 1)[1]
    assert {"covers", "installments", "consent_note"} <= set(
        spec["components"]["schemas"][ref]["properties"]
    )
    pdf = spec["paths"]["/api/receipts/{receipt_id}/pdf"]["get"]["responses"]["200"]
    assert "application/pdf" in pdf["content"]
    schemes = spec["components"]["securitySchemes"]
    assert {s["type"] for s in schemes.values()} == {"http", "apiKey"}
    list_params = {p["name"] for p in spec["paths"]["/api/cases"]["get"]["parameters"]}
    assert {"bucket", "stage", "status", "client", "q", "limit", "offset"} <= list_params


def test_the_docs_page_loads(client):
    response = client.get("/api/docs")
    assert response.status_code == 200
    assert b"/api/openapi.json" in response.content


@pytest.mark.skipif(
    "ninja" not in settings.INSTALLED_APPS,
    reason="django-ninja serves Swagger UI from its own static files only when 'ninja' is "
    "in INSTALLED_APPS; otherwise it links a CDN",
)
def test_the_docs_page_loads_no_assets_from_a_cdn(client):
    body = client.get("/api/docs").content.decode()
    assert "cdn." not in body and "unpkg" not in body
