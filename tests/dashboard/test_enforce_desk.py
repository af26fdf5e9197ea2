"""The officer's case desk (dashboard.enforce_desk) against a real Redis: which cases and actions
an officer gets, a move through the store in their name, refusals in the page language, the
deadline in city time, the payment code, and the page's act callback through the Flask client."""

from __future__ import annotations

import datetime as dt
import json
import re

import pytest
from werkzeug.exceptions import Forbidden

from dashboard import enforce_desk as desk
from dashboard.policy import User
from layers.clock import ManualClock
from layers.loop import inspections
from layers.loop import procedure as proc
from layers.loop.enforcement import EnforcementStore
from layers.loop.procedure import EnforcementError

MARKET = User("officer_market", "OM", "officer", department="market")
HEALTH = User("officer_health", "OH", "officer", department="health")
SUPERVISOR = User("supervisor", "S", "supervisor")
TZ = "Asia/Shanghai"
NOW = dt.datetime(2026, 3, 2, 9, 0, tzinfo=proc.settings.timezone(TZ)).timestamp()


@pytest.fixture
def store(bus):
    return EnforcementStore(bus, clock=ManualClock(NOW), tz=TZ)


def _open(store, demo_twin, department: str, party: str = "person") -> str:
    drawn = inspections.draw(store.bus, demo_twin, department, 1, 1, actor="chief", ts=NOW)
    return store.open(department, drawn["targets"][0], "draw", drawn["draw"], "chief",
                      party=party).id


@pytest.fixture
def two(store, demo_twin):
    """One open case of the market department and one of the health department."""
    return {"market": _open(store, demo_twin, "market"),
            "health": _open(store, demo_twin, "health")}


def _walk(component):
    """Every component of a Dash tree."""
    yield component
    children = getattr(component, "children", None)
    for child in children if isinstance(children, list | tuple) else [children]:
        if hasattr(child, "to_plotly_json"):
            yield from _walk(child)


def test_an_officer_picks_only_their_departments_open_cases(store, two):
    shown = desk.options(store.all(), MARKET, proc.default(), "en")
    assert [o["value"] for o in shown] == [two["market"]]
    assert "Inspection" in shown[0]["label"]
    assert desk.options(store.all(), SUPERVISOR, proc.default(), "en") == []


def test_the_buttons_are_the_moves_the_procedure_allows_now_and_a_note(store, two):
    case = store.get(two["market"])
    assert desk.actions_for(MARKET, case) == ["clear", "find", "decide", "note"]
    assert desk.actions_for(HEALTH, case) == [] and desk.actions_for(SUPERVISOR, case) == []


def test_an_officers_move_goes_through_the_store_in_their_name(store, two):
    moved = desk.act(store, MARKET, two["market"], "find", note="expired food on the shelf")
    assert moved.stage == "filing"
    last = store.history(two["market"])[-1]
    assert (last["actor"], last["data"]["action"], last["data"]["via"]) == (
        "officer_market", "find", "dashboard")
    assert last["data"]["note"] == "expired food on the shelf"
    assert store.rebuild(two["market"]) == store.get(two["market"])


def test_an_officer_may_not_act_on_another_departments_case(store, two):
    before = store.get(two["health"]).history
    with pytest.raises(Forbidden):
        desk.act(store, MARKET, two["health"], "find")
    with pytest.raises(Forbidden):
        desk.panel(store, MARKET, two["health"], proc.default(), NOW, TZ, "en")
    assert store.get(two["health"]).history == before


def test_a_supervisor_may_not_move_a_case_on_the_desk(store, two):
    with pytest.raises(Forbidden):
        desk.act(store, SUPERVISOR, two["market"], "find")


def test_a_fine_over_the_on_the_spot_limit_is_refused_with_the_reason_in_chinese(store, two):
    with pytest.raises(EnforcementError) as refused:
        desk.act(store, MARKET, two["market"], "decide", amount=500)
    text = desk.refusal_text(refused.value, proc.default(), "zh")
    assert "200" in text and "立案" in text and "个人" in text
    assert not re.search(r"[A-Za-z]", text)  # no English on the Chinese page
    assert store.get(two["market"]).stage == "inspection"


def test_a_move_the_stage_does_not_allow_is_refused_naming_the_stage_and_what_is_allowed(
        store, two):
    with pytest.raises(EnforcementError) as refused:
        desk.act(store, MARKET, two["market"], "serve")
    zh = desk.refusal_text(refused.value, proc.default(), "zh")
    en = desk.refusal_text(refused.value, proc.default(), "en")
    assert "检查" in zh and "送达决定书" in zh and "发现违法" in zh
    assert "Inspection" in en and "allowed now" in en


def test_a_decision_without_a_fine_is_refused_in_english_too(store, two):
    desk.act(store, MARKET, two["market"], "find")
    for action in ("file", "notify", "conclude"):
        desk.act(store, MARKET, two["market"], action)
    with pytest.raises(EnforcementError) as refused:
        desk.act(store, MARKET, two["market"], "decide", amount="")
    assert desk.refusal_text(refused.value, proc.default(), "en").startswith(
        "A penalty decision needs the fine")


def test_the_deadline_is_the_stages_last_minute_in_city_time_with_the_time_left(store, two):
    case = store.get(two["market"])  # inspection: 30 days from 2 March
    due = desk.deadline_info(case, NOW, TZ, "en")
    assert due["when"] == "2026-04-01 23:59" and not due["overdue"]
    assert due["text"] == "30 d 15 h left"
    late = desk.deadline_info(case, case.deadline + 3600, TZ, "zh")
    assert late["overdue"] and late["text"] == "已超期 1 小时 00 分钟"


def test_a_decision_on_the_spot_shows_the_payment_code_and_link(store, two):
    moved = desk.act(store, MARKET, two["market"], "decide", amount="100")
    assert (moved.stage, moved.amount_fen) == ("payment", 10000)
    shown = list(_walk(desk.panel(store, MARKET, moved.id, proc.default(), NOW, TZ, "zh")))
    qr = [c for c in shown if getattr(c, "id", None) == "enf-desk-qr"]
    link = [c for c in shown if getattr(c, "id", None) == "enf-desk-pay-link"]
    assert qr[0].src == f"/api/v1/payments/{moved.payment}/qr.svg"
    assert link[0].href == store.payments.get(moved.payment).url
    assert desk.actions_for(MARKET, moved) == ["appeal", "note"]  # paid by the gateway only


def test_the_trail_says_who_did_what_when_and_the_stage_it_led_to(store, two):
    desk.act(store, MARKET, two["market"], "decide", amount=50, note="on the spot")
    rows = desk.trail_rows(store.history(two["market"]), proc.default(), TZ, "en")
    assert [r["action"] for r in rows] == ["Inspection recorded", "Decide the penalty"]
    last = rows[-1]
    assert (last["actor"], last["person"], last["time"]) == ("officer_market", True,
                                                            "2026-03-02 09:00")
    assert (last["stage"], last["note"]) == ("Payment", "on the spot")
    assert last["details"] == "fine 50.00 yuan; on the spot"


# -- the page's act callback, through the Flask test client ---------------------------------------
@pytest.fixture
def app(demo_twin, bus):
    from dashboard.app import create_app

    return create_app(demo_twin, bus=bus)


def _act_request(app, case_id: str, action: str, amount=None, note: str = "") -> dict:
    output = next(k for k in app.callback_map if "enf-desk-feedback.children" in k)
    button = {"type": "enf-desk-act", "case": case_id, "action": action}
    return {"output": output,
            "outputs": [{"id": "enf-version", "property": "data"},
                        {"id": "enf-desk-feedback", "property": "children"}],
            "inputs": [[{"id": button, "property": "n_clicks", "value": 1}]],
            "state": [[{"id": {"type": "enf-desk-amount", "case": case_id},
                        "property": "value", "value": amount}],
                      [{"id": {"type": "enf-desk-note", "case": case_id},
                        "property": "value", "value": note}],
                      {"id": "enf-version", "property": "data", "value": 3},
                      {"id": "enf-lang", "property": "data", "value": "zh"}],
            "changedPropIds": [json.dumps(button, sort_keys=True, separators=(",", ":"))
                               + ".n_clicks"]}


def _client(app, name: str):
    from tests.dashboard.test_callback_inputs import client_as

    return client_as(app, name)


def test_the_act_callback_moves_the_officers_case_and_bumps_the_version(app, bus, demo_twin):
    enf = EnforcementStore(bus)
    cid = _open(enf, demo_twin, "market")
    reply = _client(app, "officer_market").post("/_dash-update-component",
                                                json=_act_request(app, cid, "find", note="x"))
    assert reply.status_code == 200, reply.get_data(as_text=True)
    answer = reply.get_json()["response"]
    assert answer["enf-version"]["data"] == 4 and "发现违法" in str(answer["enf-desk-feedback"])
    assert enf.get(cid).stage == "filing"
    assert enf.history(cid)[-1]["actor"] == "officer_market"


def test_the_act_callback_shows_a_refusal_in_the_page_language(app, bus, demo_twin):
    enf = EnforcementStore(bus)
    cid = _open(enf, demo_twin, "market")
    reply = _client(app, "officer_market").post(
        "/_dash-update-component", json=_act_request(app, cid, "decide", amount=5000))
    assert reply.status_code == 200
    feedback = str(reply.get_json()["response"]["enf-desk-feedback"])
    assert "200" in feedback and "立案" in feedback and "enf-version" not in \
        reply.get_json()["response"]
    assert enf.get(cid).stage == "inspection"


def test_the_act_callback_refuses_another_departments_case_with_403(app, bus, demo_twin):
    enf = EnforcementStore(bus)
    cid = _open(enf, demo_twin, "market")
    reply = _client(app, "officer_health").post("/_dash-update-component",
                                                json=_act_request(app, cid, "find"))
    assert reply.status_code == 403
    assert enf.get(cid).stage == "inspection"


def test_an_amount_that_is_no_number_is_refused_by_the_input_contract(app, bus, demo_twin):
    enf = EnforcementStore(bus)
    cid = _open(enf, demo_twin, "market")
    reply = _client(app, "officer_market").post(
        "/_dash-update-component", json=_act_request(app, cid, "decide", amount="1e9; drop"))
    assert reply.status_code == 400 and "enf-desk-amount.value" in reply.get_json()["error"]


def _panel_request(app, case_id: str, by_timer: bool, note: str = "") -> dict:
    output = "enf-desk-panel.children"
    trigger = "enf-tick.n_intervals" if by_timer else "enf-desk-case.value"
    return {"output": output, "outputs": {"id": "enf-desk-panel", "property": "children"},
            "inputs": [{"id": "enf-desk-case", "property": "value", "value": case_id},
                       {"id": "enf-version", "property": "data", "value": 1},
                       {"id": "enf-tick", "property": "n_intervals", "value": 2}],
            "state": [{"id": "enf-lang", "property": "data", "value": "zh"},
                      [{"id": {"type": "enf-desk-amount", "case": case_id},
                        "property": "value", "value": None}],
                      [{"id": {"type": "enf-desk-note", "case": case_id},
                        "property": "value", "value": note}]],
            "changedPropIds": [trigger]}


def test_the_timer_redraws_the_panel_so_a_move_made_elsewhere_shows(app, bus, demo_twin):
    enf = EnforcementStore(bus)
    cid = _open(enf, demo_twin, "market")
    client = _client(app, "officer_market")
    before = client.post("/_dash-update-component", json=_panel_request(app, cid, False))
    enf.act(cid, "find", "someone_else", note="found")  # the demo or a colleague moves it
    after = client.post("/_dash-update-component", json=_panel_request(app, cid, True))
    assert after.status_code == 200, after.get_data(as_text=True)
    assert after.get_data(as_text=True) != before.get_data(as_text=True)
    assert "someone_else" in after.get_data(as_text=True)


def test_the_timer_leaves_a_panel_with_a_typed_note_alone(app, bus, demo_twin):
    cid = _open(EnforcementStore(bus), demo_twin, "market")
    reply = _client(app, "officer_market").post(
        "/_dash-update-component", json=_panel_request(app, cid, True, note="正在核实"))
    assert reply.status_code in (200, 204)  # Dash answers "nothing to update" either way
    assert reply.status_code == 204 or reply.get_json()["response"] == {}  # the words stay
