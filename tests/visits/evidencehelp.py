"""Shared by the evidence tests: a route whose first stop was arrived at 20 minutes
ago (``make_evidence_day``; the ``evday`` fixture in conftest), an upload helper, the
flags of an item, the stored files."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

from django.utils import timezone

from cuishou.cases.models import Case
from cuishou.visits.choices import EvidenceKind
from cuishou.visits.evidence import evidence_add
from cuishou.visits.models import Evidence
from tests.visits import mediafiles as mf
from tests.visits.conftest import approved_route

# The first stop is world.work[0]: 上海市浦东新区世纪大道100号 at (31.2335, 121.5055).
AT_DOOR = (31.2336, 121.5056)  # about 14 m away
ACROSS_TOWN = (31.2390, 121.4840)  # Nanjing Road, about 2 km away


def make_evidence_day(world):
    """The first team's route, its first stop arrived at 20 minutes ago, and the cases
    in the first visitor's scope."""
    route = approved_route(world)
    # Until the visit scope lands in case_visible_queryset, the visitor holds the cases.
    Case.objects.filter(pk__in=[c.pk for c in world.cases[:3]]).update(assignee=world.visitors[0])
    stop = route.stops.order_by("seq").first()
    stop.arrived_at = timezone.now() - dt.timedelta(minutes=20)
    stop.save(update_fields=["arrived_at"])
    world.route, world.stop, world.visitor = route, stop, world.visitors[0]
    return world


def add(evday, *, kind=EvidenceKind.DOOR_PHOTO, content=None, file_name="door.jpg", **kwargs):
    kwargs.setdefault("stop", evday.stop)
    kwargs.setdefault("case", evday.cases[0])
    return evidence_add(
        actor=kwargs.pop("actor", evday.visitor),
        kind=kind,
        content=content if content is not None else mf.jpeg(taken=timezone.now(), gps=AT_DOOR),
        file_name=file_name,
        **kwargs,
    )


def codes(item: Evidence) -> set[str]:
    return {f["code"] for f in item.flags}


def stored_files(settings) -> list[Path]:
    root = Path(settings.MEDIA_ROOT) / "evidence"
    return sorted(p for p in root.rglob("*") if p.is_file()) if root.exists() else []
