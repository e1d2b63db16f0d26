"""The API tests' client: a user logged in, JSON posted with English replies."""

from __future__ import annotations

import json
from typing import Any

from django.test import Client


def logged_in(user: Any) -> Client:
    """A test client with ``user``'s session (the API accepts the session cookie)."""
    c = Client()
    c.force_login(user)
    return c


def post_json(c: Client, url: str, body: dict[str, Any]) -> Any:
    """POST ``body`` as JSON (dates and Decimals as text), asking for English messages."""
    return c.post(
        url,
        json.dumps(body, default=str),
        content_type="application/json",
        HTTP_ACCEPT_LANGUAGE="en",
    )
