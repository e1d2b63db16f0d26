"""Travel times behind one interface: ``TravelTimes.matrix(points) -> Matrix``.

``GreatCircle`` is the default (no service needed): the haversine distance × a detour
factor ÷ the mode's speed, plus a fixed wait per public-transport leg. ``OsrmTable`` asks
an OSRM-compatible ``/table/v1`` HTTP service, for users who run one. A place without
coordinates (None) is unreachable from and to everything but itself.
"""

from __future__ import annotations

import json
import math
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Protocol

import numpy as np

from cuishou.routing.model import UNREACHABLE, Matrix, Point

EARTH_RADIUS_M = 6_371_008.8


class TravelTimes(Protocol):
    def matrix(self, points: Sequence[Point | None]) -> Matrix: ...


@dataclass(frozen=True)
class Mode:
    """How a team travels in a city: door-to-door ``speed_kmh`` over the detoured
    distance, and ``wait_per_leg`` seconds per leg (walking to the stop, waiting)."""

    name: str
    speed_kmh: float
    wait_per_leg: int = 0


WALK = Mode("walk", 4.5)
TRANSIT = Mode("transit", 18.0, wait_per_leg=360)


def _known(points: Sequence[Point | None]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    known = np.array([p is not None for p in points], dtype=bool)
    lat = np.array([p.lat if p is not None else 0.0 for p in points], dtype=np.float64)
    lon = np.array([p.lon if p is not None else 0.0 for p in points], dtype=np.float64)
    return known, lat, lon


def haversine_m(points: Sequence[Point | None]) -> np.ndarray:
    """Great-circle distances in metres (float) between every pair of points."""
    _, lat, lon = _known(points)
    phi, lam = np.radians(lat), np.radians(lon)
    dphi = phi[:, None] - phi[None, :]
    dlam = lam[:, None] - lam[None, :]
    a = np.sin(dphi / 2) ** 2 + np.cos(phi)[:, None] * np.cos(phi)[None, :] * np.sin(dlam / 2) ** 2
    return 2 * EARTH_RADIUS_M * np.arcsin(np.sqrt(np.clip(a, 0.0, 1.0)))


def _mark_unknown(matrix: np.ndarray, known: np.ndarray) -> np.ndarray:
    missing = ~known
    matrix[missing, :] = UNREACHABLE
    matrix[:, missing] = UNREACHABLE
    np.fill_diagonal(matrix, 0)
    return matrix


@dataclass(frozen=True)
class GreatCircle:
    """Seconds and metres from coordinates. A walk shorter than ``walk_below_m`` is
    walked (no wait); longer legs use ``mode``."""

    mode: Mode = TRANSIT
    detour: float = 1.3
    walk_below_m: float = 800.0
    walk: Mode = WALK

    def matrix(self, points: Sequence[Point | None]) -> Matrix:
        known, _, _ = _known(points)
        metres = haversine_m(points) * self.detour
        by_mode = metres / (self.mode.speed_kmh / 3.6) + self.mode.wait_per_leg
        on_foot = metres / (self.walk.speed_kmh / 3.6) + self.walk.wait_per_leg
        seconds = np.where(metres < self.walk_below_m, on_foot, np.minimum(by_mode, on_foot))
        duration = np.ceil(seconds).astype(np.int64)
        distance = np.rint(metres).astype(np.int64)
        return Matrix(_mark_unknown(duration, known), _mark_unknown(distance, known))


class OsrmError(RuntimeError):
    """The OSRM service could not be reached or refused the request."""


@dataclass(frozen=True)
class OsrmTable:
    """An OSRM-compatible table service: ``GET {base_url}/table/v1/{profile}/{lon,lat;...}
    ?annotations=duration,distance``, asked in blocks of at most ``max_table`` sources ×
    destinations (OSRM's default ``--max-table-size`` is 100). Durations are seconds
    (rounded up), distances metres; a ``null`` (no route) is ``UNREACHABLE``."""

    base_url: str
    profile: str = "foot"
    max_table: int = 100
    timeout: float = 30.0

    def matrix(self, points: Sequence[Point | None]) -> Matrix:
        n = len(points)
        duration = np.full((n, n), UNREACHABLE, dtype=np.int64)
        distance = np.full((n, n), UNREACHABLE, dtype=np.int64)
        np.fill_diagonal(duration, 0)
        np.fill_diagonal(distance, 0)
        known = [i for i, p in enumerate(points) if p is not None]
        block = max(1, self.max_table // 2)
        for i0 in range(0, len(known), block):
            rows = known[i0 : i0 + block]
            for j0 in range(0, len(known), block):
                cols = known[j0 : j0 + block]
                self._block(points, rows, cols, duration, distance)
        return Matrix(duration, distance)

    def _block(
        self,
        points: Sequence[Point | None],
        rows: list[int],
        cols: list[int],
        duration: np.ndarray,
        distance: np.ndarray,
    ) -> None:
        places = list(dict.fromkeys(rows + cols))
        where = {p: k for k, p in enumerate(places)}
        coords = ";".join(f"{_lonlat(points[p])}" for p in places)
        query = {
            "annotations": "duration,distance",
            "sources": ";".join(str(where[r]) for r in rows),
            "destinations": ";".join(str(where[c]) for c in cols),
        }
        url = (
            f"{self.base_url.rstrip('/')}/table/v1/{urllib.parse.quote(self.profile)}/"
            f"{coords}?{urllib.parse.urlencode(query, safe=';,')}"
        )
        body = self._get(url)
        durations = body.get("durations")
        if not isinstance(durations, list) or len(durations) != len(rows):
            raise OsrmError(f"OSRM table: no durations for {len(rows)} sources in the answer")
        distances = body.get("distances")
        for a, r in enumerate(rows):
            for b, c in enumerate(cols):
                if r == c:
                    continue
                sec = durations[a][b]
                if sec is None:
                    continue
                duration[r, c] = math.ceil(float(sec))
                metres = distances[a][b] if isinstance(distances, list) else None
                distance[r, c] = round(float(metres)) if metres is not None else 0

    def _get(self, url: str) -> dict[str, Any]:
        request = urllib.request.Request(url, headers={"Accept": "application/json"})
        try:
            with urllib.request.urlopen(request, timeout=self.timeout) as response:
                body = json.loads(response.read().decode("utf-8"))
        except urllib.error.HTTPError as exc:
            try:
                body = json.loads(exc.read().decode("utf-8"))
            except (ValueError, OSError):
                raise OsrmError(f"OSRM table: HTTP {exc.code}") from exc
        except (urllib.error.URLError, TimeoutError, OSError, ValueError) as exc:
            raise OsrmError(f"OSRM table: {exc}") from exc
        if not isinstance(body, dict) or body.get("code") != "Ok":
            code = body.get("code") if isinstance(body, dict) else None
            message = body.get("message", "") if isinstance(body, dict) else ""
            raise OsrmError(f"OSRM table: {code or 'no code'} {message}".strip())
        return body


def _lonlat(point: Point | None) -> str:
    assert point is not None
    return f"{point.lon:.6f},{point.lat:.6f}"


@dataclass(frozen=True)
class Euclidean:
    """Plane distances (benchmarks, tests): ``scale`` × the Euclidean distance, rounded
    down, up or to nearest (``rounding``), as both duration and distance."""

    scale: float = 1.0
    rounding: str = "nearest"

    def matrix(self, points: Sequence[Point | None]) -> Matrix:
        known, y, x = _known(points)
        d = np.hypot(x[:, None] - x[None, :], y[:, None] - y[None, :]) * self.scale
        if self.rounding == "down":
            m = np.floor(d + 1e-9)
        elif self.rounding == "up":
            m = np.ceil(d - 1e-9)
        else:
            m = np.floor(d + 0.5)
        out = m.astype(np.int64)
        return Matrix(_mark_unknown(out.copy(), known), _mark_unknown(out.copy(), known))
