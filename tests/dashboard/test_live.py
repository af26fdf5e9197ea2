"""The wall's live data against a real Redis and the real ingest worker: only changes travel."""

from __future__ import annotations

import json
import os
import time
import uuid

import h3
import numpy as np
import pytest

from dashboard import live
from layers.live.bus import connect
from layers.live.worker import Worker


@pytest.fixture()
def bus():
    b = connect(home=os.environ["CITYOPS_HOME"], prefix=f"w{uuid.uuid4().hex[:10]}:")
    yield b
    worker = _WORKERS.pop(b.prefix, None)
    if worker is not None:
        worker.release()
        worker.close()


def _incidents(twin, positions, prefix="i"):
    lat, lng = twin.centers
    now = time.time()
    return [{"id": f"{prefix}{k}", "ts": repr(now - 5), "lat": repr(float(lat[p])),
             "lng": repr(float(lng[p])), "source": "hotline", "category": "noise",
             "severity": "2", "text": "噪音扰民"} for k, p in enumerate(positions)]


_WORKERS: dict = {}


def _ingest(bus, twin, events):
    """Publish events and let the bus's one ingest worker count them and publish a snapshot."""
    if events:
        bus.publish("incident", events)
    worker = _WORKERS.get(bus.prefix)
    if worker is None:
        worker = _WORKERS[bus.prefix] = Worker(bus, twin, consumer="wall-test", history=False)
        worker.start()
    worker.drain()
    worker.checkpoint(force_publish=True)


def _land_index(twin, pos):
    return int(live.land(twin)[1][pos])


def test_first_update_sends_the_full_layer_over_all_land_cells(bus, small):
    land_pos = np.flatnonzero(small.ds["is_land"].values)
    _ingest(bus, small, _incidents(small, land_pos[:3]))
    upd = live.update(bus, small, "incident.count", "1h", since=0, scale=None)
    assert upd["full"] is not None and upd["changed"] == {}
    data = upd["full"]["data"]
    assert len(data) == len(land_pos)
    lit = {r["hex"] for r in data if r["v"] > 0}
    assert lit == set(h3cells_hex(small, land_pos[:3]))


def h3cells_hex(twin, positions):
    return [h3.int_to_str(int(twin.cell_ids[p])) for p in positions]


def test_later_updates_carry_only_the_changed_cells(bus, small):
    land_pos = np.flatnonzero(small.ds["is_land"].values)
    varied = np.repeat(land_pos[:20], np.arange(1, 21))  # counts 1..20: a stable colour scale
    _ingest(bus, small, _incidents(small, varied, prefix="a"))
    first = live.update(bus, small, "incident.count", "1h", since=0, scale=None)
    _ingest(bus, small, _incidents(small, [land_pos[5]], prefix="b"))
    upd = live.update(bus, small, "incident.count", "1h", since=first["version"],
                      scale=first["scale"])
    assert upd["full"] is None
    assert list(upd["changed"]) == [_land_index(small, land_pos[5])]
    assert upd["changed"][_land_index(small, land_pos[5])]["v"] == 7


def test_an_update_is_small_next_to_the_full_layer(bus, demo_twin):
    land_pos = np.flatnonzero(demo_twin.ds["is_land"].values)
    _ingest(bus, demo_twin, _incidents(demo_twin, np.repeat(land_pos[::500], 3), prefix="a"))
    first = live.update(bus, demo_twin, "incident.count", "1h", since=0, scale=None)
    _ingest(bus, demo_twin, _incidents(demo_twin, land_pos[1::2000], prefix="b"))
    upd = live.update(bus, demo_twin, "incident.count", "1h", since=first["version"],
                      scale=first["scale"])
    assert upd["full"] is None
    assert len(json.dumps(upd["changed"])) * 20 < len(json.dumps(first["full"]))


def test_a_much_wider_range_of_values_resends_the_layer_with_a_new_scale():
    assert live.needs_rescale([0, 10], [0, 20])
    assert not live.needs_rescale([0, 10], [0, 10])
    assert not live.needs_rescale([0, 10], [0, 5])
    assert live.needs_rescale([0, 10], [0, 2])
    assert live.needs_rescale(None, [0, 1])


def test_colour_scales_end_on_round_numbers_above_the_readings():
    assert live.scale_of(np.array([0, 1, 2, 3.2])) == [0.0, 5.0]
    assert [live.nice_ceiling(x) for x in (0.7, 1, 1.5, 12, 51)] == [1.0, 1.0, 2.0, 20.0, 100.0]


def test_cells_without_readings_are_drawn_clear():
    recs = live.records(np.array([0.0, np.nan, 5.0]), ["a", "b", "c"], [0.0, 5.0])
    assert recs[0]["c"] == live.CLEAR and recs[1]["c"] == live.CLEAR
    assert recs[2]["c"][3] > 0 and recs[2]["v"] == 5.0


def test_alive_is_false_when_redis_does_not_answer(bus):
    assert live.alive(live.responsive(bus))
    import redis

    dead = redis.Redis(host="127.0.0.1", port=1, socket_connect_timeout=0.2)
    assert not live.alive(type(bus)(dead, bus.prefix, bus.home))


def test_kpis_count_events_cases_and_reporting_devices(bus, small):
    from layers.loop.cases import CaseStore

    sensor_pos = small.positions(small.sensors["cell"].to_numpy(np.uint64))
    lat, lng = small.centers
    now = time.time()
    events = [{"id": f"s{k}", "ts": repr(now - 5), "lat": repr(float(lat[p])),
               "lng": repr(float(lng[p])), "sensor": "S", "metric": "pm25", "value": "30"}
              for k, p in enumerate(sensor_pos[:2])]
    bus.publish("iot", events)
    _ingest(bus, small, [])
    k = live.kpis(bus, small, CaseStore(bus, None), now)
    assert k["kpi_sensors_reporting"] == len(set(sensor_pos[:2]))
    assert k["kpi_open_cases"] == 0 and k["kpi_overdue"] == 0


def test_department_board_puts_the_most_overdue_first(small):
    board = live.department_board({"water": (2, 1), "police": (3, 2)}, small.departments, "en")
    assert [r["department"] for r in board] == ["police", "water"]
    assert board[0] == {"department": "police", "name": "Public Security", "open": 3,
                        "overdue": 2}


def test_replay_sums_the_minutes_of_the_window(bus, small):
    land_pos = np.flatnonzero(small.ds["is_land"].values)
    _ingest(bus, small, _incidents(small, land_pos[:4]))
    values = live.replay_values(bus, small, "incident.count", "1h", time.time())
    assert values.sum() == 4


def _explosion(twin):
    import sim

    lat, lng = twin.centers
    land = np.flatnonzero(twin.ds["is_land"].values)
    spec = sim.Scenario.model_validate({
        "name": "test blast", "hazard": "explosion", "duration": "60s", "output_every": "60s",
        "location": {"lat": float(lat[land[40]]), "lng": float(lng[land[40]])},
        "parameters": {"tnt_kg": 20000}})
    return sim.run(spec, twin)


def test_a_scenario_put_on_the_wall_is_read_back_with_its_cells_and_people(bus, small):
    from dashboard import overlay

    result = _explosion(small)
    active = overlay.summary(result, small, "run1")
    overlay.publish(bus, active)
    back = overlay.read(bus)
    assert back == active
    assert back["people_affected"] == result.impact["people_affected"] > 0
    affected = small.cell_ids[result.ds["severity"].values > 0]
    assert set(back["cells"]) == {h3.int_to_str(int(c)) for c in affected}
    layer = overlay.layer(back)
    assert len(layer["data"]) == len(affected) and layer["id"] == "scenario"
    overlay.publish(bus, None)
    assert overlay.read(bus) is None and overlay.layer(None)["data"] == []


def test_the_walls_state_keeps_to_its_contract_through_the_browser(bus, small):
    """What the wall keeps in the browser passes its input contract after a JSON round trip
    (the version below 2**53, exact), so no tick is refused and nothing is re-sent needlessly."""
    from dashboard import context as app_context
    from dashboard import wall_view
    from dashboard.pages import command

    before = app_context._CONTEXT
    try:
        app_context.set_context(small, bus)
        land_pos = np.flatnonzero(small.ds["is_land"].values)
        _ingest(bus, small, _incidents(small, np.repeat(land_pos[:20], np.arange(1, 21)), "s"))
        svc = command.services()
        state = wall_view.initial(svc, small, None, "incident.count", "1h", "en").state
        wall_view.STATE(json.loads(json.dumps(state)), "wall-state.data")
        assert 0 < state["version"] < 2 ** 53 and 0 <= state["markers"] < 2 ** 53
        _ingest(bus, small, _incidents(small, [land_pos[5]], prefix="t"))
        shown = wall_view.tick(svc, small, None, json.loads(json.dumps(state)),
                               "incident.count", "1h", "en", size=[1100, 620])
        wall_view.STATE(json.loads(json.dumps(shown.state)), "wall-state.data")
        assert shown.state["version"] > state["version"]
        patch = json.dumps(shown.patch.to_plotly_json())
        assert '"cases"' not in patch  # the markers did not change: not sent again
        with pytest.raises(Exception, match="wall-state"):
            wall_view.STATE({**shown.state, "version": 2 ** 53 + 1}, "wall-state.data")
        with pytest.raises(Exception, match="wall-state"):
            wall_view.STATE({**shown.state, "junk": 1}, "wall-state.data")
    finally:
        app_context._CONTEXT = before
