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


@pytest.fixture(autouse=True)
def _office_hours(request: pytest.FixtureRequest) -> Iterator[None]:
    """Every test runs at 10:00 in Shanghai on today's date (the clock keeps ticking), so
    the compliance engine's contact hours never depend on when the suite runs. A test of
    the clock itself travels on from here (``time_machine``), or opts out with
    ``@pytest.mark.real_clock``."""
    if request.node.get_closest_marker("real_clock"):
        yield
        return
    import datetime as dt

    import time_machine

    from cuishou.core.timeutil import SHANGHAI, today_shanghai

    ten = dt.datetime.combine(today_shanghai(), dt.time(10), tzinfo=SHANGHAI)
    with time_machine.travel(ten, tick=True):
        yield
