"""Open311 GeoReport v2 in full: XML beside JSON, discovery, a third-party client (the PyPI
`georeport` package) through the real server, address_string through the gazetteer, the spec's
limits (4,000-character description, 90-day windows), CORS, photos onto the request's case, and
the Open311 keys of `cityops demo` and `cityops serve`."""

from __future__ import annotations

import io
import threading
import xml.etree.ElementTree as ET

import pytest
import requests

from dashboard import media
from layers.testing import raw
from tests.dashboard.browser import serve
from tests.loop.conftest import cell_point

KEY = "open311-test-key"


def png(size: int = 8) -> bytes:
    from PIL import Image

    out = io.BytesIO()
    Image.new("RGB", (size, size), (200, 30, 30)).save(out, "PNG")
    return out.getvalue()


@pytest.fixture
def engine(bus, demo_twin, clock):
    from layers.loop.engine import Engine
    from layers.loop.rules import load

    return Engine(bus, demo_twin, load(), clock=clock)


def _client(bus, demo_twin, clock, engine):
    from flask import Flask

    from dashboard.web_api import register_routes

    server = Flask("test")
    register_routes(server, bus, demo_twin, {KEY}, clock=clock, store=engine.store,
                    photo_wait_s=0.0)
    return server.test_client()


@pytest.fixture
def client(bus, demo_twin, clock, engine):
    return _client(bus, demo_twin, clock, engine)


def form(twin, **kw) -> dict:
    lat, lng = cell_point(twin, 12)
    out = {"api_key": KEY, "service_code": "garbage", "lat": str(lat), "long": str(lng),
           "description": "小区垃圾三天没人收"}
    out.update(kw)
    return {k: v for k, v in out.items() if v is not None}


def xml(reply) -> ET.Element:
    assert reply.headers["Content-Type"].startswith("text/xml"), reply.headers
    text = reply.get_data(as_text=True)
    assert text.startswith('<?xml version="1.0" encoding="utf-8"?>')
    return ET.fromstring(text.encode())


# -- XML and discovery --------------------------------------------------------------------------
def test_every_endpoint_answers_in_xml_shaped_as_the_specs_examples(client, demo_twin):
    services = xml(client.get("/open311/v2/services.xml"))
    assert services.tag == "services" and {c.tag for c in services} == {"service"}
    first = services[0]
    assert [c.tag for c in first] == ["service_code", "service_name", "description", "metadata",
                                      "type", "keywords", "group"]
    assert first.findtext("metadata") == "false" and first.findtext("type") == "realtime"
    definition = xml(client.get("/open311/v2/services/garbage.xml"))
    assert definition.tag == "service_definition"
    assert definition.findtext("service_code") == "garbage"
    assert definition.find("attributes") is not None
    posted = client.post("/open311/v2/requests.xml", data=form(demo_twin))
    assert posted.status_code == 201
    made = xml(posted)
    assert made.tag == "service_requests" and made[0].tag == "request"
    rid = made[0].findtext("service_request_id")
    one = xml(client.get(f"/open311/v2/requests/{rid}.xml"))[0]
    assert one.findtext("service_request_id") == rid and one.findtext("status") == "open"
    assert one.find("media_url") is not None and one.findtext("media_url") == ""
    assert one.findtext("requested_datetime").endswith("+08:00")
    listed = xml(client.get("/open311/v2/requests.xml"))
    assert [r.findtext("service_request_id") for r in listed] == [rid]
    assert client.get(f"/open311/v2/requests/{rid}.json").get_json()[0]["service_request_id"] \
        == rid


def test_errors_come_in_the_format_asked_for(client, demo_twin):
    reply = client.post("/open311/v2/requests.xml", data=form(demo_twin, api_key="wrong"))
    assert reply.status_code == 403
    errors = xml(reply)
    assert errors.tag == "errors" and errors[0].tag == "error"
    assert errors[0].findtext("code") == "403" and "api_key" in errors[0].findtext("description")
    missing = client.get("/open311/v2/requests/nope.xml")
    assert missing.status_code == 404 and xml(missing)[0].findtext("code") == "404"
    assert client.get("/open311/v2/requests/nope.json").get_json()[0]["code"] == 404


@pytest.mark.parametrize("fmt", ["json", "xml"])
def test_discovery_lists_the_endpoint_its_specification_and_formats(client, fmt):
    reply = client.get(f"/open311/discovery.{fmt}")
    assert reply.status_code == 200
    if fmt == "json":
        found = reply.get_json()
        endpoint = found["endpoints"][0]
        formats = endpoint["formats"]
    else:
        root = xml(reply)
        assert root.tag == "discovery"
        node = root.find("endpoints/endpoint")
        endpoint = {c.tag: c.text for c in node}
        formats = [f.text for f in node.find("formats")]
    assert endpoint["specification"] == "http://wiki.open311.org/GeoReport_v2"
    assert endpoint["url"] == "http://localhost/open311/v2"
    assert set(formats) == {"text/xml", "application/json"}


# -- a client written by someone else, through the real server ----------------------------------
@pytest.mark.parametrize("fmt", ["json", "xml"])
def test_the_georeport_client_reads_every_endpoint_through_the_served_app(bus, demo_twin,
                                                                          fmt):
    from georeport import GeoReport

    from dashboard.app import create_app

    url, server = serve(create_app(demo_twin, bus=bus, api_keys={KEY}))
    try:
        posted = requests.post(f"{url}/open311/v2/requests.{fmt}", timeout=30,
                               data=form(demo_twin, address_string="新港街道", lat=None,
                                         long=None))
        assert posted.status_code == 201, posted.text
        client = GeoReport(f"{url}/open311/v2", output_format=fmt)
        services = client.get_service_list()
        assert "garbage" in {s["service_code"] for s in services}
        assert client.get_service_definition("garbage")["service_code"] == "garbage"
        found = client.get_service_requests(service_code="garbage")
        found = found if isinstance(found, list) else [found]  # xmltodict: one item, a dict
        assert len(found) == 1 and found[0]["service_code"] == "garbage"
        rid = found[0]["service_request_id"]
        one = client.get_service_request(rid)
        assert one["service_request_id"] == rid and one["status"] == "open"
        assert float(one["lat"]) == pytest.approx(38.985, abs=0.01)
    finally:
        server.shutdown()


# -- address_string, limits ---------------------------------------------------------------------
@pytest.mark.parametrize("address", ["新港街道", "天津市滨海新区新港街道港航路12号",
                                     "xingang jiedao", "Xingang Subdistrict, Binhai"])
def test_an_address_without_lat_long_is_located_through_the_gazetteer(client, demo_twin,
                                                                      address):
    posted = client.post("/open311/v2/requests.json",
                         data=form(demo_twin, lat=None, long=None, address_string=address))
    assert posted.status_code == 201, posted.get_json()
    rid = posted.get_json()[0]["service_request_id"]
    view = client.get(f"/open311/v2/requests/{rid}.json").get_json()[0]
    seat = demo_twin.units.set_index("name").loc["新港街道"]
    assert (view["lat"], view["long"]) == pytest.approx((seat["seat_lat"], seat["seat_lng"]))


@pytest.mark.parametrize("address", ["新港第二社区", "天津市滨海新区新港第二社区5号楼",
                                     "xingang di er shequ", "Xingang Community 2"])
def test_a_community_is_found_inside_its_grids(demo_twin, address):
    import numpy as np

    from twin.gazetteer import Gazetteer

    place = Gazetteer.of(demo_twin).find(address)
    assert place.kind == "community" and place.name == "新港第二社区"
    pos = demo_twin.locate(np.array([place.lat]), np.array([place.lng]))[0]
    grid = int(demo_twin.ds["grid"].values[pos])
    grids = demo_twin.grids
    assert grids.loc[grids["grid"] == grid, "community"].item() == "新港第二社区"


def test_a_facility_is_found_before_the_street_it_stands_in(demo_twin):
    from twin.gazetteer import Gazetteer

    gazetteer = Gazetteer.of(demo_twin)
    facility = demo_twin.facilities.iloc[0]
    place = gazetteer.find(f"新港街道{facility['name']}门口")
    assert place.kind == "facility" and place.name == facility["name"]
    assert gazetteer.find("Atlantis") is None and gazetteer.find("") is None


def test_an_address_it_cannot_place_is_a_400_naming_the_address_and_the_fix(client, demo_twin):
    reply = client.post("/open311/v2/requests.json", data=form(
        demo_twin, lat=None, long=None, address_string="亚特兰蒂斯大街1号"))
    assert reply.status_code == 400
    words = reply.get_json()[0]["description"]
    assert "亚特兰蒂斯大街1号" in words and "give lat and long" in words and "新村街道" in words


def test_the_description_may_have_4000_characters_and_no_more(client, demo_twin, bus):
    ok = client.post("/open311/v2/requests.json", data=form(demo_twin, description="长" * 4000))
    assert ok.status_code == 201
    refused = client.post("/open311/v2/requests.json",
                          data=form(demo_twin, description="长" * 4001))
    assert refused.status_code == 400 and "4000" in refused.get_json()[0]["description"]
    assert raw(bus).xlen(bus.stream("incident")) == 1


def test_requests_are_listed_over_the_last_90_days_by_default(client, demo_twin, clock):
    old = client.post("/open311/v2/requests.json", data=form(demo_twin)).get_json()[0]
    clock.advance(91 * 86400)
    new = client.post("/open311/v2/requests.json", data=form(demo_twin)).get_json()[0]
    listed = [r["service_request_id"] for r in client.get("/open311/v2/requests.json").get_json()]
    assert listed == [new["service_request_id"]]
    asked = client.get(f"/open311/v2/requests.json?service_request_id="
                       f"{old['service_request_id']}").get_json()
    assert [r["service_request_id"] for r in asked] == [old["service_request_id"]]


def test_a_date_range_over_90_days_is_a_clear_400(client):
    reply = client.get("/open311/v2/requests.json?start_date=2026-01-01T00:00:00Z"
                       "&end_date=2026-06-01T00:00:00Z")
    assert reply.status_code == 400
    words = reply.get_json()[0]["description"]
    assert "151 days" in words and "at most 90" in words
    fine = client.get("/open311/v2/requests.json?start_date=2026-01-01T00:00:00Z"
                      "&end_date=2026-03-31T00:00:00Z")
    assert fine.status_code == 200
    only_start = client.get("/open311/v2/requests.json?start_date=2020-01-01T00:00:00Z")
    assert only_start.status_code == 400


# -- CORS ---------------------------------------------------------------------------------------
def test_cors_lets_the_configured_origins_call_the_georeport_routes(monkeypatch, bus, demo_twin,
                                                                    clock, engine):
    monkeypatch.setenv("CITYOPS_OPEN311_CORS", "https://app.example.org")
    client = _client(bus, demo_twin, clock, engine)
    allowed = {"Origin": "https://app.example.org"}
    got = client.get("/open311/v2/services.json", headers=allowed)
    assert got.headers["Access-Control-Allow-Origin"] == "https://app.example.org"
    assert "Origin" in got.headers["Vary"]
    preflight = client.options("/open311/v2/requests.json", headers={
        **allowed, "Access-Control-Request-Method": "POST",
        "Access-Control-Request-Headers": "Content-Type"})
    assert preflight.status_code == 200
    assert "POST" in preflight.headers["Access-Control-Allow-Methods"]
    assert preflight.headers["Access-Control-Allow-Headers"] == "Content-Type"
    posted = client.post("/open311/v2/requests.json", data=form(demo_twin), headers=allowed)
    assert posted.status_code == 201 and "Access-Control-Allow-Origin" in posted.headers
    other = client.get("/open311/v2/services.json", headers={"Origin": "https://evil.example"})
    assert "Access-Control-Allow-Origin" not in other.headers


def test_without_configured_origins_no_cors_header_is_sent(client):
    got = client.get("/open311/v2/services.json", headers={"Origin": "https://app.example.org"})
    assert "Access-Control-Allow-Origin" not in got.headers


# -- photos -------------------------------------------------------------------------------------
def post_photo(client, twin, data: bytes, name: str = "photo.png", **kw):
    body = {**form(twin, **kw), "media": (io.BytesIO(data), name)}
    return client.post("/open311/v2/requests.json", data=body, content_type="multipart/form-data")


def test_an_uploaded_photo_goes_onto_the_requests_case(client, demo_twin, engine, clock):
    photo = png()
    posted = post_photo(client, demo_twin, photo)
    assert posted.status_code == 201, posted.get_json()
    rid = posted.get_json()[0]["service_request_id"]
    clock.advance(5)
    engine.tick()
    case_id = engine.store.by_event(f"open311-{rid}")
    shown = client.get(f"/open311/v2/requests/{rid}.json").get_data(as_text=True)  # settles
    notes = [r["data"] for r in engine.store.history(case_id) if r["data"]["action"] == "note"]
    assert len(notes) == 1 and notes[0]["service_request_id"] == rid
    (name,) = notes[0]["photos"]
    stored = media.path_of(case_id, name)
    assert stored is not None and stored.read_bytes() == photo
    assert stored.stat().st_mode & 0o077 == 0
    assert notes[0]["media_url"] == f"http://localhost{media.url(case_id, name)}"
    assert notes[0]["media_url"] in notes[0]["note"]
    from dashboard.case_view import trail_rows

    trail = trail_rows(engine.store.history(case_id), "en")  # what the case page shows
    assert any(notes[0]["media_url"] in row["note"] for row in trail)
    assert case_id not in shown and name not in shown  # the public view names no case
    client.get(f"/open311/v2/requests/{rid}.json")
    assert sum(r["data"]["action"] == "note" for r in engine.store.history(case_id)) == 1


def test_after_a_tick_the_rules_service_puts_waiting_photos_on_their_cases(client, demo_twin,
                                                                           engine, clock):
    from dashboard.open311_api import settle_photos

    rids = [post_photo(client, demo_twin, png(4 + i)).get_json()[0]["service_request_id"]
            for i in range(3)]
    assert settle_photos(engine.bus, demo_twin, engine.store) == 0  # no case yet
    clock.advance(5)
    engine.tick()
    assert settle_photos(engine.bus, demo_twin, engine.store) == 3  # no reader needed
    assert settle_photos(engine.bus, demo_twin, engine.store) == 0
    for rid in rids:
        case_id = engine.store.by_event(f"open311-{rid}")
        (note,) = [r["data"] for r in engine.store.history(case_id)  # one case may join
                   if r["data"].get("service_request_id") == rid]  # several reports
        assert note["media_url"] == f"http://localhost{media.url(case_id, note['photos'][0])}"
        assert media.path_of(case_id, note["photos"][0]) is not None


def test_a_media_url_link_is_put_on_the_case_and_shown_publicly(client, demo_twin, engine,
                                                                clock):
    link = "https://photos.example.org/p/123.jpg"
    rid = client.post("/open311/v2/requests.json", data=form(demo_twin, media_url=link)) \
        .get_json()[0]["service_request_id"]
    clock.advance(5)
    engine.tick()
    view = client.get(f"/open311/v2/requests/{rid}.json").get_json()[0]
    assert view["media_url"] == link
    case_id = engine.store.by_event(f"open311-{rid}")
    notes = [r["data"] for r in engine.store.history(case_id) if r["data"]["action"] == "note"]
    assert [n["media_url"] for n in notes] == [link] and "photos" not in notes[0]


@pytest.mark.parametrize("data, name, code, words", [
    (b"\x89PNG\r\n\x1a\n" + b"0" * (media.MAX_BYTES + 1), "big.png", 413, "MB"),
    (b"<svg xmlns='http://www.w3.org/2000/svg'/>", "photo.png", 415, "JPEG, PNG or WebP"),
    (b"GIF89a" + b"0" * 64, "photo.gif", 415, "JPEG, PNG or WebP"),
    (b"", "empty.png", 415, "JPEG, PNG or WebP"),
])
def test_a_bad_photo_is_refused_before_anything_is_created(client, demo_twin, bus, data, name,
                                                            code, words):
    reply = post_photo(client, demo_twin, data, name)
    assert reply.status_code == code and words in reply.get_json()[0]["description"]
    assert raw(bus).xlen(bus.stream("incident")) == 0
    assert raw(bus).hlen(bus.keys.open311("req")) == 0


def test_a_photo_with_a_wrong_key_is_refused_before_it_is_looked_at(client, demo_twin, bus):
    reply = post_photo(client, demo_twin, b"not an image at all", api_key="wrong")
    assert reply.status_code == 403
    assert raw(bus).xlen(bus.stream("incident")) == 0


def test_a_photo_and_a_media_url_together_are_a_400(client, demo_twin, bus):
    reply = post_photo(client, demo_twin, png(), media_url="https://x.example/a.jpg")
    assert reply.status_code == 400 and "not both" in reply.get_json()[0]["description"]
    assert raw(bus).xlen(bus.stream("incident")) == 0


def test_a_body_over_the_photo_limit_is_a_413_before_it_is_read(client):
    reply = client.post("/open311/v2/requests.json", data=b"x", content_type=(
        "multipart/form-data; boundary=b"), environ_overrides={"CONTENT_LENGTH": str(64 * 2**20)})
    assert reply.status_code == 413 and "request body over" in reply.get_json()[0]["description"]


def test_through_the_served_app_a_photo_is_on_its_case_when_the_post_answers(bus, demo_twin):
    from dashboard.app import create_app
    from layers.loop.engine import Engine
    from layers.loop.rules import load

    engine = Engine(bus, demo_twin, load())
    stop = threading.Event()

    def ticks():
        while not stop.wait(0.2):
            engine.tick()

    url, server = serve(create_app(demo_twin, bus=bus, api_keys={KEY}))
    thread = threading.Thread(target=ticks, daemon=True)
    thread.start()
    try:
        photo = png(16)
        reply = requests.post(f"{url}/open311/v2/requests.xml", data=form(demo_twin),
                              files={"media": ("p.png", photo, "image/png")}, timeout=30)
        assert reply.status_code == 201, reply.text
        rid = ET.fromstring(reply.content).findtext("request/service_request_id")
        case_id = engine.store.by_event(f"open311-{rid}")
        assert case_id is not None
        (note,) = [r["data"] for r in engine.store.history(case_id)
                   if r["data"]["action"] == "note"]
        assert note["media_url"] == f"{url}{media.url(case_id, note['photos'][0])}"
        assert media.path_of(case_id, note["photos"][0]).read_bytes() == photo
    finally:
        stop.set()
        thread.join(5)
        server.shutdown()


# -- the keys of demo and serve -----------------------------------------------------------------
def test_the_demo_key_is_made_once_privately_and_the_variable_wins(monkeypatch, tmp_path):
    from twin import settings

    monkeypatch.setenv("CITYOPS_HOME", str(tmp_path))
    monkeypatch.delenv("CITYOPS_OPEN311_KEYS", raising=False)
    (key,) = settings.open311_demo_keys()
    assert len(key) >= 20 and settings.open311_demo_keys() == {key}
    assert (tmp_path / "open311_key").stat().st_mode & 0o077 == 0
    monkeypatch.setenv("CITYOPS_OPEN311_KEYS", "a, b")
    assert settings.open311_demo_keys() == {"a", "b"}


def test_demo_and_serve_take_the_open311_keys_the_same_way(monkeypatch):
    from dashboard.cli import build_parser

    monkeypatch.setenv("CITYOPS_OPEN311_KEYS", "from-env")
    parser = build_parser()
    for command in ("demo", "serve"):
        assert parser.parse_args([command]).open311_keys == "from-env"
        assert parser.parse_args([command, "--open311-keys", "k1,k2"]).open311_keys == "k1,k2"
