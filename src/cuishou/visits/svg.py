"""A route drawn as inline SVG over its stops' coordinates: the base (a square), the
stops numbered in order, the legs as a line. Latitude and longitude are projected to the
box (equirectangular, longitude scaled by the cosine of the latitude)."""

from __future__ import annotations

import math
from collections.abc import Sequence

from django.utils.html import format_html, format_html_join
from django.utils.safestring import SafeString, mark_safe
from django.utils.translation import gettext as _

from cuishou.visits.models import Route, RouteStop

WIDTH, HEIGHT, PAD = 360, 260, 24


def _project(
    points: Sequence[tuple[float, float]],
) -> list[tuple[float, float]]:
    lats = [p[0] for p in points]
    lons = [p[1] for p in points]
    k = math.cos(math.radians(sum(lats) / len(lats)))
    xs = [lon * k for lon in lons]
    span_x = max(xs) - min(xs) or 1e-6
    span_y = max(lats) - min(lats) or 1e-6
    scale = min((WIDTH - 2 * PAD) / span_x, (HEIGHT - 2 * PAD) / span_y)
    off_x = (WIDTH - scale * span_x) / 2
    off_y = (HEIGHT - scale * span_y) / 2
    return [
        (off_x + (x - min(xs)) * scale, off_y + (max(lats) - lat) * scale)
        for x, lat in zip(xs, lats, strict=True)
    ]


def _n(value: float) -> str:
    return f"{value:.1f}"


def route_svg(route: Route, stops: Sequence[RouteStop]) -> SafeString:
    """The route's drawing; the stops without coordinates are left out of it."""
    team = route.team
    placed = [s for s in stops if s.address.lat is not None and s.address.lon is not None]
    base = (
        (float(team.base_lat), float(team.base_lon))
        if team.base_lat is not None and team.base_lon is not None
        else None
    )
    points = ([base] if base else []) + [
        (float(s.address.lat), float(s.address.lon))  # type: ignore[arg-type]
        for s in placed
    ]
    title = _("Route of %(team)s on %(day)s") % {"team": team, "day": route.day}
    if not points:
        return format_html(
            '<svg class="route-map" viewBox="0 0 {} {}" role="img" aria-label="{}"></svg>',
            WIDTH,
            HEIGHT,
            title,
        )
    xy = _project(points)
    loop = [*xy, xy[0]] if base else xy
    line = " ".join(f"{x:.1f},{y:.1f}" for x, y in loop)
    stop_xy = xy[1:] if base else xy
    marks = format_html_join(
        "",
        '<g class="stop" data-seq="{}"><circle cx="{}" cy="{}" r="10"></circle>'
        '<text x="{}" y="{}" text-anchor="middle">{}</text><title>{}</title></g>',
        (
            (s.seq, _n(x), _n(y), _n(x), _n(y + 4), s.seq, f"{s.seq}. {s.address.text}")
            for s, (x, y) in zip(placed, stop_xy, strict=True)
        ),
    )
    base_mark = (
        format_html(
            '<g class="base"><rect x="{}" y="{}" width="14" height="14"></rect>'
            "<title>{}</title></g>",
            _n(xy[0][0] - 7),
            _n(xy[0][1] - 7),
            _("Base: %(base)s") % {"base": team.base or team},
        )
        if base
        else mark_safe("")
    )
    return format_html(
        '<svg class="route-map" viewBox="0 0 {w} {h}" width="{w}" height="{h}" role="img" '
        'aria-label="{t}"><title>{t}</title>'
        '<polyline points="{line}" fill="none"></polyline>{base}{marks}</svg>',
        w=WIDTH,
        h=HEIGHT,
        t=title,
        line=line,
        base=base_mark,
        marks=marks,
    )
