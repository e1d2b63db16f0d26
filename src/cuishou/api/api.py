"""The HTTP API (django-ninja). OpenAPI at /api/openapi.json, docs at /api/docs."""

from __future__ import annotations

from ninja import NinjaAPI

api = NinjaAPI(
    title="cuishou API",
    version="1",
    description="Debt-collection operations: portfolio, cases and their records.",
    urls_namespace="api",
)
