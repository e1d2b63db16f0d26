from __future__ import annotations

from collections.abc import Iterator

import pytest
from django.utils import translation


@pytest.fixture(autouse=True)
def _media_root(settings, tmp_path):  # type: ignore[no-untyped-def]
    """Uploaded and generated files go to a per-test folder."""
    settings.MEDIA_ROOT = tmp_path / "media"


@pytest.fixture(autouse=True)
def _english_outside_requests() -> Iterator[None]:
    """Services and commands speak the active language (zh-hans unless a request says
    otherwise); tests read their messages in English unless they switch on purpose.
    Pages still choose their language per request (cookie, Accept-Language, default)."""
    with translation.override("en"):
        yield
