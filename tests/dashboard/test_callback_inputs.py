"""Callback requests out of range answer 4xx JSON, never 500: crafted bodies posted to
/_dash-update-component the way an attacker with a session (or a buggy client) would."""

from __future__ import annotations

import json

import pytest

from dashboard import auth
from tests.dashboard.conftest import DEMO_PASSWORDS

JUNK = ["abc", "en\r\nSet-Cookie: x=1", -1, 10 ** 20, 1.5e308, True, "", "../../etc/passwd",
        {"a": 1}, [1], None]


@pytest.fixture
def app(demo_twin, bus):
    from dashboard.app import create_app

    return create_app(demo_twin, bus=bus)


def client_as(app, name: str = "admin"):
    client = app.server.test_client()
    reply = client.post("/login", data={"username": name, "password": DEMO_PASSWORDS[name]})
    assert reply.status_code == 303
    client.get("/_dash-dependencies")  # Dash fills its callback map on the first requests
    return client


def _outputs(output: str):
    parts = output.strip(".").split("...") if output.startswith("..") else [output]
    outs = [dict(zip(("id", "property"), p.split("@")[0].rsplit(".", 1), strict=True))
            for p in parts]
    return outs if output.startswith("..") else outs[0]


def _item(spec: dict, value):
    if spec["id"].startswith("{"):
        pattern = json.loads(spec["id"])
        ident = {k: "x" if isinstance(v, list) else v for k, v in pattern.items()}
        one = {"id": ident, "property": spec["property"], "value": value}
        return one if ["MATCH"] in pattern.values() else [one]  # MATCH: one entry, not a list
    return {"id": spec["id"], "property": spec["property"], "value": value}


def body(app, output: str, values: dict | None = None, changed: str | None = None) -> dict:
    """A well-formed request for a callback, every value None unless given by 'id.property'."""
    spec = app.callback_map[output]
    values = values or {}

    def items(part):
        return [_item(s, values.get(f"{s['id']}.{s['property']}")) for s in spec[part]]

    first = spec["inputs"][0]
    return {"output": output, "outputs": _outputs(output), "inputs": items("inputs"),
            "state": items("state"),
            "changedPropIds": [changed or f"{first['id']}.{first['property']}"]}


def QUEUE(app) -> str:  # noqa: N802 - the name of the Cases queue's callback output
    return next(k for k in app.callback_map if k.startswith("..cases-queue.children..."))


def post(client, payload):
    return client.post("/_dash-update-component", json=payload)


# -- the three cases of the issue ------------------------------------------------------------------
def test_a_grid_filter_that_is_not_a_grid_answers_400_naming_the_input(app):
    client = client_as(app)
    reply = post(client, body(app, "cases-query.data", {"cases-filter-grid.value": "abc"}))
    assert reply.status_code == 400 and reply.mimetype == "application/json"
    assert "cases-filter-grid.value='abc'" in reply.get_json()["error"]


def test_a_language_with_a_line_break_answers_400(app):
    client = client_as(app)
    reply = post(client, body(app, QUEUE(app), {"cases-lang.data": "en\r\nX: 1"}))
    assert reply.status_code == 400 and "cases-lang.data" in reply.get_json()["error"]


def test_an_unknown_scenario_run_answers_404(app):
    client = client_as(app, "planner")
    output = next(k for k in app.callback_map if k.startswith("..scn-map.data...scn-legend.children...scn-impact"))
    reply = post(client, body(app, output, {"scn-current.data": "0123456789ab",
                                            "scn-lang.data": "en"}))
    assert reply.status_code == 404 and "run the scenario again" in reply.get_json()["error"]
    reply = post(client, body(app, output, {"scn-current.data": "../../x", "scn-lang.data": "en"}))
    assert reply.status_code == 400


def test_the_values_the_pages_send_still_pass(app):
    client = client_as(app)
    reply = post(client, body(app, "cases-query.data", {
        "cases-filter-grid.value": "5", "cases-filter-status.value": "new",
        "cases-order.value": "urgent"}))
    assert reply.status_code == 200
    query = reply.get_json()["response"]["cases-query"]["data"]
    reply = post(client, body(app, QUEUE(app), {"cases-query.data": query,
                                                "cases-lang.data": "en", "cases-version.data": 0}))
    assert reply.status_code == 200


# -- malformed requests ----------------------------------------------------------------------------
@pytest.mark.parametrize("change", [
    lambda b: "not an object",
    lambda b: {**b, "output": "nope.children"},
    lambda b: {**b, "output": "_pages_dummy.children"},           # a clientside callback
    lambda b: {**b, "outputs": []},                               # "Wrong length output_spec"
    lambda b: {**b, "inputs": b["inputs"][:-1]},
    lambda b: {**b, "inputs": [{"id": "other", "property": "value", "value": 1}]
               + b["inputs"][1:]},
    lambda b: {**b, "state": "x"},
    lambda b: {**b, "changedPropIds": ["{not json.value"]},
    lambda b: {**b, "changedPropIds": ["cases-lang.data"]},     # not an input of the request
    lambda b: {**b, "changedPropIds": "cases-filter-grid.value"},
])
def test_a_request_that_does_not_match_its_callback_answers_400(app, change):
    client = client_as(app)
    reply = post(client, change(body(app, QUEUE(app), {"cases-lang.data": "en"})))
    assert reply.status_code == 400 and "error" in reply.get_json()


def test_a_pattern_matching_input_must_match_its_pattern(app):
    client = client_as(app)
    payload = body(app, "cases-selected.data")
    for junk in ([{"id": {"type": "grid-act", "case": "C1"}, "property": "n_clicks"}],
                 [{"id": {"type": "cases-row"}, "property": "n_clicks"}],
                 [{"id": {"type": "cases-row", "case": {"$ne": 1}}, "property": "n_clicks"}],
                 {"id": "cases-row", "property": "n_clicks"}):
        payload["inputs"] = [junk]
        assert post(client, payload).status_code == 400, junk


def test_a_match_input_is_one_entry_and_checked_by_its_contract(app):
    client = client_as(app)
    output = next(k for k in app.callback_map if k.startswith('{"case":["MATCH"],"type":"cases-photo"'))
    spec = app.callback_map[output]
    good = body(app, output, {f"{spec['inputs'][0]['id']}.filename": "shot.jpg",
                              "cases-lang.data": "en"})
    good["outputs"] = {"id": {"case": "C1", "type": "cases-photo"}, "property": "children"}
    good["changedPropIds"] = ['{"case":"C1","type":"cases-photo"}.filename']
    good["inputs"][0]["id"] = {"case": "C1", "type": "cases-photo"}
    assert post(client, good).status_code == 200
    for junk in ([good["inputs"][0]], {**good["inputs"][0], "value": "x" * 300},
                 {**good["inputs"][0], "id": {"case": "C1", "type": "grid-photo"}}):
        assert post(client, {**good, "inputs": [junk]}).status_code == 400, junk


def test_the_pages_router_refuses_a_path_that_is_not_one(app):
    client = client_as(app)
    payload = {"output": auth.ROUTER_OUTPUT,
               "outputs": [{"id": "_pages_content", "property": "children"},
                           {"id": "_pages_store", "property": "data"}],
               "inputs": [{"id": "_pages_location", "property": "pathname", "value": ""},
                          {"id": "_pages_location", "property": "search", "value": ""}],
               "changedPropIds": ["_pages_location.pathname"]}
    assert post(client, payload).status_code == 400


def test_a_background_poll_is_checked_for_shape_only(app):
    """While a scenario runs, Dash's renderer polls with every value null and a cacheKey."""
    client = client_as(app, "planner")
    output = next(k for k, spec in app.callback_map.items() if spec.get("background"))
    payload = body(app, output)
    assert client.post("/_dash-update-component?cacheKey=x&job=y", json=payload).status_code < 400
    payload["inputs"] = []
    assert client.post("/_dash-update-component?cacheKey=x&job=y",
                       json=payload).status_code == 400


# -- everything at once ----------------------------------------------------------------------------
def test_no_junk_in_any_input_of_any_callback_makes_a_server_error(app):
    client = client_as(app)
    failures = []
    for output, spec in app.callback_map.items():
        if "callback" not in spec or spec.get("background"):
            continue
        names = [f"{s['id']}.{s['property']}" for s in spec["inputs"] + spec["state"]]
        for name in names:
            for junk in JUNK:
                reply = post(client, body(app, output, {name: junk}))
                if reply.status_code >= 500:
                    failures.append((output[:50], name, junk, reply.status_code))
    assert failures == []


@pytest.mark.parametrize("user", ["admin", "grid_a", "planner"])
def test_no_page_address_makes_a_server_error(app, user):
    client = client_as(app, user)
    for path in ("/", "/grid", "/cases", "/scenarios", "/patrol", "/login", "/nope"):
        for search in ("?lang=fr", "?lang=en%0D%0AX:1", "?grid=abc", "?grid=99999999999",
                       "?grid=-1", "?wall=1", "?error=locked&wait=abc", "?next=//evil.example",
                       "?lang=en&lang=zh", "?%ff=1", "?lang"):
            payload = {"output": auth.ROUTER_OUTPUT,
                       "outputs": [{"id": "_pages_content", "property": "children"},
                                   {"id": "_pages_store", "property": "data"}],
                       "inputs": [{"id": "_pages_location", "property": "pathname",
                                   "value": path},
                                  {"id": "_pages_location", "property": "search",
                                   "value": search}],
                       "changedPropIds": ["_pages_location.pathname"]}
            assert post(client, payload).status_code == 200, (path, search)


def test_every_input_of_every_page_callback_declares_what_it_may_carry(app):
    """A new callback input without an entry in its page's INPUTS would reach the callback
    unchecked: declare it (dashboard.inputs)."""
    import inspect

    from dashboard.inputs import DASH_INPUTS

    client_as(app)
    missing = set()
    for spec in app.callback_map.values():
        if "callback" not in spec:
            continue
        module = inspect.getmodule(inspect.unwrap(spec["callback"]))
        if not module.__name__.startswith("dashboard."):
            continue  # Dash's own pages router: DASH_INPUTS
        for s in spec["inputs"] + spec["state"]:
            ident = json.loads(s["id"])["type"] if s["id"].startswith("{") else s["id"]
            name = f"{ident}.{s['property']}"
            if name not in app.cityops_inputs and name not in DASH_INPUTS:
                missing.add(name)
    assert missing == set()
