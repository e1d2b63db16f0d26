"""Stored evidence is reachable only through the evidence page, never as a plain file."""

from __future__ import annotations

import importlib

from django.test import Client as Browser
from django.urls import clear_url_caches, reverse

import cuishou.urls
from cuishou.visits.choices import EvidenceKind
from cuishou.visits.evidence import evidence_add
from tests.visits.mediafiles import jpeg


def test_a_stored_photo_is_not_served_from_media_even_in_debug(evday, settings):
    settings.DEBUG = True  # the URLs as ``make run`` builds them
    importlib.reload(cuishou.urls)
    clear_url_caches()
    try:
        _only_through_the_evidence_page(evday, settings)
    finally:
        settings.DEBUG = False
        importlib.reload(cuishou.urls)
        clear_url_caches()


def _only_through_the_evidence_page(evday, settings) -> None:  # type: ignore[no-untyped-def]
    item = evidence_add(
        actor=evday.visitor,
        case=evday.stop.visit_case.case,
        stop=evday.stop,
        kind=EvidenceKind.DOOR_PHOTO,
        content=jpeg(seed=7),
        file_name="door.jpg",
    )
    anonymous = Browser()
    plain = "/" + f"{settings.MEDIA_URL}{item.file.name}".lstrip("/")
    assert anonymous.get(plain).status_code == 404
    assert anonymous.get(reverse("visits:evidence_file", args=[item.pk])).status_code == 302
    signed_in = Browser()
    signed_in.force_login(evday.visitor)
    response = signed_in.get(reverse("visits:evidence_file", args=[item.pk]))
    assert response.status_code == 200
    assert b"".join(response.streaming_content if response.streaming else [response.content])
