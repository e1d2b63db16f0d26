"""Travel times: the great-circle default, and the OSRM table adapter against a local
server that speaks OSRM's JSON (no outside network)."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit

import pytest

from cuishou.routing import UNREACHABLE, GreatCircle, Mode, OsrmError, OsrmTable, Point
from cuishou.routing.travel import haversine_m

PEOPLES_SQUARE = Point(31.2304, 121.4737)
ONE_DEGREE_NORTH = Point(32.2304, 121.4737)


def test_a_degree_of_latitude_is_about_111_km() -> None:
    metres = haversine_m([PEOPLES_SQUARE, ONE_DEGREE_NORTH])[0, 1]
    assert metres == pytest.approx(111_195, rel=1e-3)


def test_great_circle_time_is_detoured_distance_over_speed_plus_the_wait() -> None:
    travel = GreatCircle(mode=Mode("metro", 30.0, wait_per_leg=300), detour=1.5)
    m = travel.matrix([PEOPLES_SQUARE, ONE_DEGREE_NORTH])
    metres = 111_195 * 1.5
    assert m.distance[0, 1] == pytest.approx(metres, rel=1e-3)
    assert m.duration[0, 1] == pytest.approx(metres / (30 / 3.6) + 300, rel=1e-3)
    assert m.duration[0, 0] == 0 and m.duration[1, 0] == m.duration[0, 1]


def test_a_short_leg_is_walked_without_waiting() -> None:
    near = Point(PEOPLES_SQUARE.lat + 0.003, PEOPLES_SQUARE.lon)  # ≈ 333 m north
    m = GreatCircle(detour=1.0).matrix([PEOPLES_SQUARE, near])
    assert m.duration[0, 1] == pytest.approx(m.distance[0, 1] / (4.5 / 3.6), abs=1)


def test_a_place_without_coordinates_is_unreachable() -> None:
    m = GreatCircle().matrix([PEOPLES_SQUARE, None, ONE_DEGREE_NORTH])
    assert m.duration[0, 1] == UNREACHABLE and m.duration[1, 2] == UNREACHABLE
    assert m.duration[1, 1] == 0 and m.duration[0, 2] < UNREACHABLE


class FakeOsrm(BaseHTTPRequestHandler):
    """``/table/v1/{profile}/{lon,lat;...}``: durations 100 s per 0.01° (Manhattan),
    distances 1,000 m per 0.01°; no route to or from a point with longitude 0."""

    requests: list[str] = []

    def log_message(self, format: str, *args: object) -> None:  # quiet
        pass

    def do_GET(self) -> None:
        url = urlsplit(self.path)
        FakeOsrm.requests.append(self.path)
        parts = url.path.split("/")
        if parts[1:3] != ["table", "v1"] or len(parts) != 5:
            return self._send(400, {"code": "InvalidUrl", "message": "bad path"})
        if parts[3] == "broken":
            return self._send(400, {"code": "InvalidOptions", "message": "no such profile"})
        coords = [tuple(map(float, c.split(","))) for c in parts[4].split(";")]
        q = parse_qs(url.query)
        sources = [int(i) for i in q["sources"][0].split(";")] if "sources" in q else None
        dests = [int(i) for i in q["destinations"][0].split(";")] if "destinations" in q else None
        sources = sources if sources is not None else list(range(len(coords)))
        dests = dests if dests is not None else list(range(len(coords)))

        def cell(a: int, b: int, per: float) -> float | None:
            (x1, y1), (x2, y2) = coords[a], coords[b]
            if a != b and (x1 == 0 or x2 == 0):
                return None
            return round((abs(x1 - x2) + abs(y1 - y2)) * 100 * per, 1)

        body = {
            "code": "Ok",
            "durations": [[cell(a, b, 100) for b in dests] for a in sources],
            "distances": [[cell(a, b, 1000) for b in dests] for a in sources],
        }
        self._send(200, body)

    def _send(self, status: int, body: dict[str, object]) -> None:
        data = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)


@pytest.fixture
def osrm() -> Iterator[str]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), FakeOsrm)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    FakeOsrm.requests = []
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


POINTS = [
    Point(31.20, 121.40),
    Point(31.21, 121.40),
    Point(31.20, 121.43),
    None,
    Point(31.25, 121.45),
    Point(31.30, 0.0),  # the fake server has no route here
]


def test_osrm_durations_and_distances_in_one_request(osrm: str) -> None:
    m = OsrmTable(osrm).matrix(POINTS)
    assert len(FakeOsrm.requests) == 1
    assert "/table/v1/foot/121.400000,31.200000;" in FakeOsrm.requests[0]
    assert "annotations=duration,distance" in FakeOsrm.requests[0]
    assert m.duration[0, 1] == 100 and m.distance[0, 1] == 1000
    assert m.duration[0, 2] == 300 and m.duration[2, 4] == 700
    assert m.duration[0, 3] == UNREACHABLE  # no coordinates: never sent
    assert m.duration[0, 5] == UNREACHABLE and m.duration[5, 0] == UNREACHABLE  # null
    assert m.duration[4, 4] == 0


def test_osrm_large_tables_are_asked_in_blocks_with_the_same_answer(osrm: str) -> None:
    whole = OsrmTable(osrm).matrix(POINTS)
    FakeOsrm.requests = []
    blocks = OsrmTable(osrm, max_table=4).matrix(POINTS)
    assert len(FakeOsrm.requests) == 9  # 5 known points in blocks of 2: 3 × 3
    assert (blocks.duration == whole.duration).all()
    assert (blocks.distance == whole.distance).all()


def test_osrm_refusal_is_an_error_naming_its_code(osrm: str) -> None:
    with pytest.raises(OsrmError, match="InvalidOptions no such profile"):
        OsrmTable(osrm, profile="broken").matrix(POINTS)


def test_osrm_unreachable_service_is_an_error() -> None:
    with pytest.raises(OsrmError, match="OSRM table"):
        OsrmTable("http://127.0.0.1:9", timeout=2).matrix(POINTS[:2])
