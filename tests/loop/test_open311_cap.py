"""Open311 GeoReport v2 round trip and error paths; CAP 1.2 export of an alert."""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET

import numpy as np
import pytest

from layers.testing import raw
from tests.loop.conftest import cell_point

KEY = "test-key"
CAP = "{urn:oasis:names:tc:emergency:cap:1.2}"


@pytest.fixture
def keyring(tmp_path):
    from dashboard.apikeys import KeyRing

    return KeyRing(tmp_path / "api_keys.yaml")


@pytest.fixture
def web(bus, demo_twin, clock, keyring):
    from flask import Flask

    from dashboard.web_api import register_routes
    from layers.loop.engine import Engine
    from layers.loop.rules import load

    engine = Engine(bus, demo_twin, load(), clock=clock)
    server = Flask("test")
    register_routes(server, bus, demo_twin, {KEY}, clock=clock, store=engine.store,
                    keyring=keyring)
    return server.test_client(), engine


def data_key(keyring, role: str = "commander", grids=None, name: str = "k") -> dict:
    """A new key of the data routes, as request headers."""
    from dashboard.apikeys import add

    return {"Authorization": f"Bearer {add(keyring.path, name, role, grids)}"}


def _form(twin, **kw):
    lat, lng = cell_point(twin, 12)
    form = {"api_key": KEY, "service_code": "garbage", "lat": str(lat), "long": str(lng),
            "description": "小区垃圾三天没人收", "email": "resident@example.com"}
    form.update(kw)
    return {k: v for k, v in form.items() if v is not None}


def test_services_lists_each_category_with_its_department(web):
    client, _ = web
    services = client.get("/open311/v2/services.json").get_json()
    garbage = next(s for s in services if s["service_code"] == "garbage")
    assert garbage["type"] == "realtime" and garbage["metadata"] is False
    assert garbage["group"] == "区城市管理委员会"


def test_a_request_becomes_a_case_and_its_status_follows_the_case(web, demo_twin, clock):
    client, engine = web
    posted = client.post("/open311/v2/requests.json", data=_form(demo_twin))
    assert posted.status_code == 201
    rid = posted.get_json()[0]["service_request_id"]
    clock.advance(5)
    engine.tick()
    view = client.get(f"/open311/v2/requests/{rid}.json").get_json()[0]
    assert view["status"] == "open" and view["agency_responsible"] == "区城市管理委员会"
    case_id = engine.store.by_event(f"open311-{rid}")
    for action in ("accept", "resolve"):
        engine.store.act(case_id, action, actor="urban-3", note="已清运")
    view = client.get(f"/open311/v2/requests/{rid}.json").get_json()[0]
    assert view["status"] == "closed" and view["status_notes"] == "已处置完毕 / resolved"
    assert view["requested_datetime"].endswith("+08:00")


def _posted_case(client, engine, demo_twin, clock, **form):
    rid = client.post("/open311/v2/requests.json", data=_form(demo_twin, **form)).get_json()[0][
        "service_request_id"]
    clock.advance(5)
    engine.tick()
    return rid, engine.store.by_event(f"open311-{rid}")


def test_an_anonymous_reader_never_sees_a_cases_internal_notes(web, demo_twin, clock):
    client, engine = web
    rid, case_id = _posted_case(client, engine, demo_twin, clock)
    engine.store.act(case_id, "accept", actor="grid_a",
                     note="internal: suspect lives in room 302, tel 13800138000")
    shown = client.get(f"/open311/v2/requests/{rid}.json").get_data(as_text=True)
    listed = client.get("/open311/v2/requests.json").get_data(as_text=True)
    for text in (shown, listed):
        assert "internal" not in text and "302" not in text and "13800138000" not in text
        assert case_id not in text
    view = json.loads(shown)[0]
    assert view["status_notes"] == "责任部门已接单 / accepted by the responsible department"


@pytest.mark.parametrize("status, words", [
    (None, "awaiting dispatch"), ("dispatched", "sent to the responsible department"),
    ("on_scene", "staff are on site"), ("escalated", "escalated"), ("closed", "已办结"),
    ("no-such-status", "awaiting dispatch"),
])
def test_the_public_status_sentence_follows_the_case_status_only(status, words):
    from layers.protocols.open311 import public_status

    assert words in public_status(status) and " / " in public_status(status)


def test_a_requests_description_and_address_are_shown_without_personal_data(web, demo_twin):
    client, _ = web
    rid = client.post("/open311/v2/requests.json", data=_form(
        demo_twin, description="王先生反映垃圾堆积，电话13800138000，车牌津A12345",
        address_string="3号楼2单元302室", media_url="https://img.example/x?tel=13800138000",
        phone="13800138000", first_name="Wang", email="w@example.com")).get_json()[0][
        "service_request_id"]
    text = client.get(f"/open311/v2/requests/{rid}.json").get_data(as_text=True)
    for personal in ("13800138000", "津A12345", "王先生", "302", "Wang", "w@example.com"):
        assert personal not in text
    view = json.loads(text)[0]
    assert "垃圾堆积" in view["description"] and view["media_url"] is None


def test_request_ids_are_random_so_nobody_can_count_through_them(web, demo_twin):
    client, _ = web
    ids = [client.post("/open311/v2/requests.json", data=_form(demo_twin)).get_json()[0][
        "service_request_id"] for _ in range(3)]
    assert len(set(ids)) == 3 and all(len(i) == 20 and int(i, 16) > 2 ** 40 for i in ids)
    assert client.get("/open311/v2/requests/1.json").status_code == 404


@pytest.mark.parametrize("key", ["test-ke", "test-key2", "TEST-KEY", " test-key", 12345, ""])
def test_only_an_exact_open311_key_is_accepted(web, demo_twin, key):
    client, _ = web
    form = _form(demo_twin)
    form["api_key"] = key
    assert client.post("/open311/v2/requests.json", json=form).status_code == 403


def test_a_json_body_is_accepted_too(web, demo_twin):
    client, _ = web
    assert client.post("/open311/v2/requests.json", json=_form(demo_twin)).status_code == 201


def test_requests_can_be_listed_by_service_and_status(web, demo_twin):
    client, _ = web
    client.post("/open311/v2/requests.json", data=_form(demo_twin))
    client.post("/open311/v2/requests.json", data=_form(demo_twin, service_code="noise"))
    listed = client.get("/open311/v2/requests.json?service_code=noise&status=open").get_json()
    assert [r["service_code"] for r in listed] == ["noise"]


def test_requests_can_be_fetched_by_a_list_of_ids(web, demo_twin):
    client, _ = web
    ids = [client.post("/open311/v2/requests.json", data=_form(demo_twin)).get_json()[0][
        "service_request_id"] for _ in range(2)]
    listed = client.get(f"/open311/v2/requests.json?service_request_id={','.join(ids)}")
    assert sorted(r["service_request_id"] for r in listed.get_json()) == sorted(ids)


@pytest.mark.parametrize("change, code, words", [
    ({"api_key": None}, 403, "api_key"),
    ({"api_key": "wrong"}, 403, "api_key"),
    ({"service_code": None}, 400, "service_code is required"),
    ({"service_code": "dragons"}, 400, "not a service"),
    ({"lat": None}, 400, "a location is required"),
    ({"lat": None, "address_string": "Atlantis 1"}, 400, "'Atlantis 1' names no place"),
    ({"long": "east"}, 400, "decimal degrees"),
    ({"lat": "10.0", "long": "10.0"}, 400, "outside"),
    ({"email": "not-an-address"}, 400, "email"),
    ({"media_url": "ftp://x"}, 400, "media_url"),
    ({"colour": "red"}, 400, "unknown field"),
    ({"description": "长" * 4001}, 400, "description must be text of at most 4000"),
])
def test_a_bad_request_gets_the_spec_error_list(web, demo_twin, change, code, words):
    client, _ = web
    res = client.post("/open311/v2/requests.json", data=_form(demo_twin, **change))
    body = res.get_json()
    assert res.status_code == code and len(body) == 1 and body[0]["code"] == code
    assert words in body[0]["description"]


def test_a_refused_request_publishes_nothing(web, demo_twin, bus):
    client, _ = web
    client.post("/open311/v2/requests.json", data=_form(demo_twin, service_code="dragons"))
    assert raw(bus).xlen(bus.stream("incident")) == 0


def test_an_oversize_body_is_refused_with_413(web, demo_twin):
    client, _ = web
    res = client.post("/open311/v2/requests.json",
                      data=_form(demo_twin, description="x" * 70_000))
    assert res.status_code == 413 and res.get_json()[0]["code"] == 413


def test_a_json_body_that_is_not_an_object_is_a_400(web):
    client, _ = web
    res = client.post("/open311/v2/requests.json", data="[1, 2]",
                      content_type="application/json")
    assert res.status_code == 400


def test_an_unknown_request_is_a_404_in_the_spec_format(web):
    client, _ = web
    res = client.get("/open311/v2/requests/999999.json")
    assert res.status_code == 404 and res.get_json()[0]["code"] == 404


def test_a_bad_date_filter_is_a_400(web):
    client, _ = web
    res = client.get("/open311/v2/requests.json?start_date=yesterday")
    assert res.status_code == 400 and "ISO 8601" in res.get_json()[0]["description"]


# -- CAP -------------------------------------------------------------------------------------------
PERSONAL = "王先生反映积水，电话13800138000，车牌津A12345"


def _alert(demo_twin, bus, grid: int = 5, **kw):
    from layers.loop.alerts import AlertStore
    from layers.loop.records import Alert
    from tests.loop.conftest import cell_point
    lat, lng = cell_point(demo_twin, grid)
    first = int(demo_twin.locate(np.array([lat]), np.array([lng]))[0])
    a = int(demo_twin.neighbors[first][demo_twin.neighbors[first] >= 0][0])
    cells = [int(demo_twin.cell_ids[i]) for i in (first, a)]
    fields = dict(rule="waterlogging", category="waterlogging", severity=3, title="道路积水",
                  ts=1_767_225_600.0, lat=lat, lng=lng, cells=cells, reports=2,
                  events=["e1", "e2"], evidence=[{"cell": cells[0], "value": 2.8,
                                                  "text": PERSONAL}], source="layer")
    fields.update(kw)
    return AlertStore(bus).save(Alert(**fields))


def _parse(xml: str):
    return ET.fromstring(xml.encode())


def test_cap_output_parses_and_carries_the_alerts_fields(bus, demo_twin):
    from layers.protocols.cap import to_cap

    alert = _alert(demo_twin, bus)
    root = _parse(to_cap(alert))
    assert root.tag == f"{CAP}alert"
    assert root.findtext(f"{CAP}identifier") == f"cityops-{alert.public_id}"
    assert root.findtext(f"{CAP}sent") == "2026-01-01T08:00:00+08:00"
    info = root.find(f"{CAP}info")
    assert info.findtext(f"{CAP}category") == "Met"
    assert info.findtext(f"{CAP}severity") == "Severe"
    assert info.findtext(f"{CAP}event") == "道路积水"
    params = {p.findtext(f"{CAP}valueName"): p.findtext(f"{CAP}value")
              for p in info.findall(f"{CAP}parameter")}
    assert params == {"cityops:rule": "waterlogging", "cityops:cells": "2"}


def test_cap_speaks_chinese_then_english(bus, demo_twin):
    from layers.protocols.cap import to_cap

    infos = _parse(to_cap(_alert(demo_twin, bus), place="新北街道")).findall(f"{CAP}info")
    assert [i.findtext(f"{CAP}language") for i in infos] == ["zh-CN", "en-US"]
    assert "新北街道" in infos[0].findtext(f"{CAP}description")
    assert infos[1].findtext(f"{CAP}description").startswith("Waterlogging in 新北街道")


def test_a_cap_message_names_the_alert_by_its_public_id_only(bus, demo_twin):
    from layers.protocols.cap import to_cap

    alert = _alert(demo_twin, bus, case="C000001")
    xml = to_cap(alert)
    assert alert.id not in xml and "C000001" not in xml
    assert len(alert.public_id) == 32 and alert.public_id in xml


def test_a_cap_description_is_category_place_and_counts_never_the_evidence(bus, demo_twin):
    from layers.protocols.cap import description, to_cap

    alert = _alert(demo_twin, bus, title="积水，联系王先生13800138000")
    xml = to_cap(alert, place="新北街道")
    for personal in ("13800138000", "津A12345", "王先生", "evidence"):
        assert personal not in xml
    assert description(alert, "zh", "新北街道") == \
        "新北街道：道路积水，等级 3/4，涉及 2 个 H3 单元，群众上报 2 条，相关事件 2 起。"
    assert description(alert, "en", "Xinbei Street") == \
        "Waterlogging in Xinbei Street; severity 3 of 4; 2 H3 cells; 2 citizen reports; 2 events."


def test_cap_elements_come_in_the_order_of_the_standard(bus, demo_twin):
    from layers.protocols.cap import to_cap

    root = _parse(to_cap(_alert(demo_twin, bus)))
    tags = [c.tag.removeprefix(CAP) for c in root]
    assert tags == ["identifier", "sender", "sent", "status", "msgType", "scope", "info", "info"]
    order = ["language", "category", "event", "responseType", "urgency", "severity", "certainty",
             "audience", "eventCode", "effective", "onset", "expires", "senderName", "headline",
             "description", "instruction", "web", "contact", "parameter", "resource", "area"]
    for block in root.findall(f"{CAP}info"):
        info = [c.tag.removeprefix(CAP) for c in block]
        assert [order.index(t) for t in info] == sorted(order.index(t) for t in info)


def test_the_cap_area_is_a_closed_polygon_around_the_alerts_cells(bus, demo_twin):
    import shapely

    from layers.protocols.cap import to_cap

    alert = _alert(demo_twin, bus)
    area = _parse(to_cap(alert)).find(f"{CAP}info/{CAP}area")
    polygons = area.findall(f"{CAP}polygon")
    assert len(polygons) == 1  # two adjacent cells: one outline
    pairs = [tuple(map(float, p.split(","))) for p in polygons[0].text.split()]
    assert pairs[0] == pairs[-1] and len(pairs) >= 4
    shape = shapely.Polygon([(lng, lat) for lat, lng in pairs])
    assert shape.contains(shapely.Point(alert.lng, alert.lat))


def test_public_ids_are_stable_per_alert_and_cannot_be_derived_without_the_secret(bus):
    from layers.loop.alerts import AlertStore, public_id

    store = AlertStore(bus, secret=b"one")
    assert store.public_id("A000001") == store.public_id("A000001")
    assert store.public_id("A000001") != store.public_id("A000002")
    assert public_id(b"two", "A000001") != store.public_id("A000001")
    assert int(store.public_id("A000002"), 16) - int(store.public_id("A000001"), 16) != 1


def test_an_alert_is_found_by_its_public_id_and_never_by_its_internal_id(bus, demo_twin):
    from layers.loop.alerts import AlertStore

    alert, store = _alert(demo_twin, bus), AlertStore(bus)
    assert store.by_public(alert.public_id).id == alert.id
    near = alert.public_id[:-1] + ("1" if alert.public_id[-1] == "0" else "0")
    for wrong in (alert.id, near, alert.public_id.upper(), "", "A000001", "x" * 32, None):
        assert store.by_public(wrong) is None, wrong


def test_the_cap_route_serves_an_alert_by_public_id_to_a_key_and_404s_others(web, bus,
                                                                            demo_twin, keyring):
    client, _ = web
    alert = _alert(demo_twin, bus)
    key = data_key(keyring)
    res = client.get(f"/cap/alerts/{alert.public_id}.xml", headers=key)
    assert res.status_code == 200 and res.mimetype == "application/cap+xml"
    assert _parse(res.get_data(as_text=True)).findtext(f"{CAP}identifier").endswith(
        alert.public_id)
    assert "no-store" in res.headers["Cache-Control"]
    for unknown in (alert.id, "A999999", "0" * 32):
        res = client.get(f"/cap/alerts/{unknown}.xml", headers=key)
        assert res.status_code == 404 and json.loads(res.data)[0]["code"] == 404
