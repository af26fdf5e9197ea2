"""The data routes of the running app (CAP; Open311's edges): a key or a session, the pages' role
rules, and JSON answers for anything else under /cap/ and /open311/."""

from __future__ import annotations

import json

import pytest

from tests.dashboard.conftest import DEMO_PASSWORDS
from tests.loop.test_open311_cap import KEY, _alert

GRID_A, GRID_B = 5, 8  # grid_a manages 5-7, grid_b 8-10 (data/users.yaml)


@pytest.fixture
def keys_file(tmp_path):
    return tmp_path / "api_keys.yaml"


@pytest.fixture
def client(demo_twin, bus, keys_file):
    from dashboard.app import create_app

    app = create_app(demo_twin, bus=bus, api_keys={KEY}, keys_file=keys_file)
    return app.server.test_client()


def _key(keys_file, role: str, grids=None, name: str = "k") -> dict:
    from dashboard.apikeys import add

    return {"X-API-Key": add(keys_file, name, role, grids)}


def _login(client, name: str) -> None:
    reply = client.post("/login", data={"username": name, "password": DEMO_PASSWORDS[name]})
    assert reply.status_code == 303


def _cap(client, alert, **headers):
    return client.get(f"/cap/alerts/{alert.public_id}.xml", headers=headers)


def test_cap_without_a_login_or_a_key_is_refused_with_401(client, demo_twin, bus):
    reply = _cap(client, _alert(demo_twin, bus))
    assert reply.status_code == 401 and reply.mimetype == "application/json"
    assert "API key" in reply.get_json()[0]["description"]


def test_the_leaked_cap_of_the_issue_is_gone(client, demo_twin, bus):
    """GET /cap/alerts/A000001.xml: no key, a sequential id, evidence with a phone and a name."""
    alert = _alert(demo_twin, bus)
    assert client.get(f"/cap/alerts/{alert.id}.xml").status_code == 401
    _login(client, "commander")
    assert client.get(f"/cap/alerts/{alert.id}.xml").status_code == 404
    xml = _cap(client, alert).get_data(as_text=True)
    assert "13800138000" not in xml and "王先生" not in xml and alert.id not in xml


@pytest.mark.parametrize("user, grid, status", [
    ("commander", GRID_A, 200), ("admin", GRID_B, 200), ("grid_a", GRID_A, 200),
    ("grid_a", GRID_B, 403), ("grid_b", GRID_B, 200), ("planner", GRID_A, 403),
])
def test_a_session_reads_the_alerts_its_role_may_see(client, demo_twin, bus, user, grid,
                                                     status):
    _login(client, user)
    assert _cap(client, _alert(demo_twin, bus, grid=grid)).status_code == status


@pytest.mark.parametrize("role, grids, grid, status", [
    ("commander", None, GRID_B, 200), ("grid_manager", [GRID_A], GRID_A, 200),
    ("grid_manager", [GRID_A], GRID_B, 403), ("planner", None, GRID_A, 403),
])
def test_a_key_reads_the_alerts_its_role_and_grids_may_see(client, demo_twin, bus,
                                                          keys_file, role, grids, grid, status):
    reply = _cap(client, _alert(demo_twin, bus, grid=grid), **_key(keys_file, role, grids))
    assert reply.status_code == status


def test_an_open311_key_opens_open311_only(client, demo_twin, bus):
    alert = _alert(demo_twin, bus)
    for headers in ({"X-API-Key": KEY}, {"Authorization": f"Bearer {KEY}"}):
        reply = _cap(client, alert, **headers)
        assert reply.status_code == 401 and "Open311" in reply.get_json()[0]["description"]
    assert client.get(f"/cap/alerts/{alert.public_id}.xml?api_key={KEY}").status_code == 401


def test_a_wrong_key_is_refused_even_with_a_valid_session(client, demo_twin, bus):
    _login(client, "commander")
    assert _cap(client, _alert(demo_twin, bus), **{"X-API-Key": "cok_wrong"}).status_code == 401


def test_a_revoked_key_is_refused_from_the_next_request_on(client, demo_twin, bus,
                                                           keys_file):
    from dashboard.apikeys import revoke

    alert, key = _alert(demo_twin, bus), _key(keys_file, "commander", name="feed")
    assert _cap(client, alert, **key).status_code == 200
    revoke(keys_file, "feed")
    assert _cap(client, alert, **key).status_code == 401


def test_a_key_in_the_url_is_not_accepted(client, demo_twin, bus, keys_file):
    key = _key(keys_file, "admin")["X-API-Key"]
    alert = _alert(demo_twin, bus)
    assert client.get(f"/cap/alerts/{alert.public_id}.xml?api_key={key}").status_code == 401


def test_open311_reading_stays_public_and_posting_needs_its_key(client):
    assert client.get("/open311/v2/services.json").status_code == 200
    reply = client.post("/open311/v2/requests.json", data={"service_code": "noise"})
    assert reply.status_code == 403


@pytest.mark.parametrize("path", [
    "/open311/", "/open311/nope", "/open311/v2/", "/open311/v2/requests/x/y.json",
    "/open311/v2/requests.csv", "/cap/", "/cap/alerts", "/cap/alerts/", "/cap/feed.atom",
    "/cap/alerts/x.json", "/cap/../cases",
])
def test_unknown_paths_under_the_protocols_answer_404_json_not_the_app_shell(client, path):
    reply = client.get(path)
    assert reply.status_code == 404 and reply.mimetype == "application/json", path
    assert json.loads(reply.data)[0]["code"] == 404 and b"<html" not in reply.data.lower()


def test_a_wrong_method_under_the_protocols_answers_json(client):
    reply = client.delete("/open311/v2/services.json")
    assert reply.status_code in (404, 405) and reply.mimetype == "application/json"


def test_unknown_protocol_paths_answer_404_json_without_a_bus_too(demo_twin):
    from dashboard.app import create_app

    client = create_app(demo_twin).server.test_client()
    for path in ("/open311/v2/services.json", "/cap/alerts/x.xml", "/open311/x"):
        reply = client.get(path)
        assert reply.status_code == 404 and reply.mimetype == "application/json", path


def test_the_basemap_needs_a_login_like_a_page(client):
    from dashboard import maps

    reply = client.get(maps.BASEMAP_PATH)
    assert reply.status_code == 302 and reply.location.startswith("/login")


def test_the_basemap_is_kept_by_the_browser_when_its_url_names_the_version(client, demo_twin):
    from dashboard import maps

    _login(client, "grid_a")
    text, version = maps.basemap_geojson(demo_twin)
    reply = client.get(f"{maps.BASEMAP_PATH}?v={version}")
    assert reply.status_code == 200 and reply.mimetype == "application/geo+json"
    assert reply.get_data(as_text=True) == text and "immutable" in reply.cache_control.to_header()
    again = client.get(maps.BASEMAP_PATH, headers={"If-None-Match": f'"{version}"'})
    assert again.status_code == 304
    stale = client.get(f"{maps.BASEMAP_PATH}?v=old")
    assert stale.status_code == 200 and stale.cache_control.no_cache
