"""The Grid page's live data against a real Redis and the real ingest worker: sensor sparklines,
cameras, recent events per grid, the clicked cell's card, and refusals of other grids' cells.

The small twin's grid 10 holds sensors S-wl-1 (water level) and S-gas-1 (CO); grid 1 holds
S-rain-1 and camera C-1. The grid manager of these tests is bound to grid 10 only.
"""

from __future__ import annotations

import os
import time
import uuid

import numpy as np
import pytest
from werkzeug.exceptions import Forbidden

from dashboard import grid_view as gv
from dashboard.policy import User
from layers.live.bus import connect
from layers.live.worker import Worker

MANAGER = User("gm10", "Grid 10", "grid_manager", frozenset({10}))
COMMANDER = User("cmd", "Commander", "commander")
NOW = time.time()
WATER = [(NOW - 1800, 1.0), (NOW - 1790, 3.0), (NOW - 600, 2.5)]  # (ts, metres) at S-wl-1


def _at(twin, pos: int) -> dict[str, str]:
    lat, lng = twin.centers
    return {"lat": repr(float(lat[pos])), "lng": repr(float(lng[pos]))}


def _device_pos(twin, table, device: str) -> int:
    cell = table.loc[table["id"] == device, "cell"].to_numpy(np.uint64)
    return int(twin.positions(cell)[0])


def _grid_pos(twin, grid: int) -> np.ndarray:
    return np.flatnonzero(twin.ds["grid"].values == grid)


def _incident(twin, pos: int, event_id: str, category: str, ts: float, text: str = "") -> dict:
    return {"id": event_id, "ts": repr(ts), **_at(twin, pos), "source": "hotline",
            "category": category, "severity": "2", "text": text or category}


@pytest.fixture(scope="module")
def live(small):
    """A bus (own prefix) holding known IoT, video and incident events, ingested once."""
    bus = connect(home=os.environ["CITYOPS_HOME"], prefix=f"gv{uuid.uuid4().hex[:10]}:")
    wl = _device_pos(small, small.sensors, "S-wl-1")
    cam = _device_pos(small, small.cameras, "C-1")
    g10, g1 = _grid_pos(small, 10), _grid_pos(small, 1)
    bus.publish("iot", [{"id": f"iot-{k}", "ts": repr(ts), **_at(small, wl), "sensor": "S-wl-1",
                         "metric": "water_level_m", "value": repr(v)}
                        for k, (ts, v) in enumerate(WATER)])
    bus.publish("video", [{"id": f"video-{k}", "ts": repr(NOW - 60), **_at(small, cam), "camera": "C-1",
                           "label": label, "count": "1", "confidence": "0.9"}
                          for k, label in enumerate(["person", "person", "illegal_parking"])])
    bus.publish("incident", [_incident(small, g10[0], "inc-n1", "noise", NOW - 300, "广场舞噪音"),
                             _incident(small, g10[1], "inc-n2", "noise", NOW - 200),
                             _incident(small, g1[0], "inc-g1", "garbage", NOW - 100, "垃圾满溢")])
    bus.publish("incident", [_incident(small, g10[2], "inc-n3", "noise", NOW - 50),
                             _incident(small, g10[0], "inc-f1", "fire", NOW - 20, "楼道冒烟")],
                batch=10)  # one Arrow batch entry
    worker = Worker(bus, small, consumer="grid-view-test", history=False)
    worker.start()
    worker.drain()
    worker.checkpoint(force_publish=True)
    yield bus
    worker.release()
    worker.close()


def test_a_sensor_sparkline_holds_the_per_minute_means_ingested(live, small):
    lines = {s["id"]: s for s in gv.sparklines(live, small, MANAGER, 10, NOW)}
    assert set(lines) == {"S-wl-1", "S-gas-1"}
    water = lines["S-wl-1"]
    assert water["metric"] == "water_level_m" and len(water["times"]) == gv.SPARK_MINUTES
    by_minute = dict(zip(water["times"], water["values"], strict=True))
    expected: dict[int, list[float]] = {}
    for ts, v in WATER:
        expected.setdefault(int(ts // 60) * 60, []).append(v)
    assert {m: v for m, v in by_minute.items() if v is not None} == {
        m: pytest.approx(np.mean(vs)) for m, vs in expected.items()}
    assert water["last"] == pytest.approx(2.5)
    assert lines["S-gas-1"]["last"] is None  # no CO reading: an empty line, not a failure


def test_recent_events_count_only_the_grids_own_cells(live, small):
    assert gv.recent_counts(live, small, MANAGER, 10) == {
        "incident": {"noise": 3, "fire": 1}, "video": {}}
    assert gv.recent_counts(live, small, COMMANDER, 1) == {
        "incident": {"garbage": 1}, "video": {"person": 2, "illegal_parking": 1}}


def test_cameras_show_their_kind_and_recent_counts(live, small):
    (cam,) = gv.cameras(live, small, COMMANDER, 1)
    assert cam["id"] == "C-1" and cam["kind"] == "community_entrance"
    assert cam["counts"] == {"person": 2, "illegal_parking": 1} and cam["total"] == 3
    assert gv.cameras(live, small, MANAGER, 10) == []


def test_latest_reports_read_flat_and_batch_entries_of_the_grid_newest_first(live, small):
    rows = gv.latest_incidents(live, small, MANAGER, 10, NOW)
    assert [r["id"] for r in rows] == ["inc-f1", "inc-n3", "inc-n2", "inc-n1"]
    assert rows[0]["text"] == "楼道冒烟" and rows[0]["category"] == "fire"
    assert gv.latest_incidents(live, small, MANAGER, 10, NOW + 7200) == []  # out of the window


def test_the_cell_card_lists_what_is_in_the_cell_and_its_live_values(live, small):
    pos = _device_pos(small, small.sensors, "S-wl-1")
    card = gv.cell_card(small, live, MANAGER, pos, "en")
    assert card["sensors"] == ["S-wl-1"] and card["grid"] == 10 and card["grid_id"] == "G010"
    assert card["residents"] == float(small.ds["population"].values[pos])
    assert card["unit_name"] == "East" and card["land_use"] in gv.LAND_USE
    assert card["hex"] == format(int(small.cell_ids[pos]), "x")
    live_values = {(v["layer"], v["window"]): v["value"] for v in card["live"]}
    assert live_values[("iot.water_level_m.last", "1h")] == pytest.approx(2.5)
    assert live_values[("iot.count", "1h")] == 3
    assert all(v["value"] != 0 for v in card["live"])


def test_the_cell_card_without_a_bus_has_no_live_values(small):
    pos = int(_grid_pos(small, 10)[0])
    assert gv.cell_card(small, None, MANAGER, pos)["live"] is None


def test_a_grid_manager_is_refused_another_grids_cell_and_grid(live, small):
    other_cell = int(_grid_pos(small, 1)[0])
    with pytest.raises(Forbidden):
        gv.cell_card(small, live, MANAGER, other_cell)
    for view in (gv.recent_counts, gv.cameras):
        with pytest.raises(Forbidden):
            view(live, small, MANAGER, 1)
    with pytest.raises(Forbidden):
        gv.sparklines(live, small, MANAGER, 1, NOW)
    with pytest.raises(Forbidden):
        gv.latest_incidents(live, small, MANAGER, 1, NOW)
    outside = int(np.flatnonzero(small.ds["grid"].values == -1)[0])
    with pytest.raises(Forbidden):  # a cell in no grid belongs to no grid manager
        gv.cell_card(small, live, MANAGER, outside)
    assert gv.cell_card(small, live, COMMANDER, other_cell)["grid"] == 1


def test_a_map_click_names_the_picked_cell_or_the_clicked_point(small):
    pos = 7
    hex_id = format(int(small.cell_ids[pos]), "x")
    assert gv.clicked_position(small, {"object": {"hex": hex_id}}) == pos
    lat, lng = small.centers
    assert gv.clicked_position(small, {"coordinate": [float(lng[pos]), float(lat[pos])]}) == pos
    assert gv.clicked_position(small, {"coordinate": [float(lng[pos]), float(lat[pos])]},
                               picked_only=True) is None  # the basemap, not a drawn cell
    assert gv.clicked_position(small, {"coordinate": [0.0, 0.0]}) is None
    assert gv.clicked_position(small, None) is None
    assert gv.clicked_position(small, {"object": {"hex": "zz"}}) is None


def test_layer_names_read_as_words_in_both_languages():
    assert gv.layer_label("iot.water_level_m.max", "en") == "Water level (m) max"
    assert gv.layer_label("video.crowd.count", "zh") == "人群聚集数"
    assert gv.layer_label("incident.count", "en") == "Incidents count"
