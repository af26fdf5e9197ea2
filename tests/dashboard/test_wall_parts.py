"""The wall's pure parts: its configuration, playlist, panels and the grid manager's cards."""

from __future__ import annotations

import numpy as np
import pytest

from dashboard import grid_cases, wall_panels, walls
from layers.loop.records import Alert


def _points(twin, positions, deadlines):
    lat, lng = twin.centers
    return {"id": np.array([f"C{i}" for i in range(len(positions))], dtype=object),
            "category": np.array(["noise"] * len(positions), dtype=object),
            "lat": lat[positions], "lng": lng[positions], "deadline": np.array(deadlines, float)}


def test_the_shipped_walls_load_and_fit_their_screens():
    assert walls.load("default").screen.width == 1920
    four_k = walls.load("4k")
    assert four_k.screen.width == 3840 and four_k.extruded


def test_a_wall_value_names_a_file_or_the_default():
    assert walls.wall_name("1") == "default" and walls.wall_name(None) is None
    assert walls.wall_name("4K") == "4k"
    with pytest.raises(walls.WallError, match="letters, digits"):
        walls.wall_name("../etc/passwd")


def test_an_unknown_wall_is_refused_naming_the_walls_there_are():
    with pytest.raises(walls.WallError, match="default"):
        walls.load("lobby")


def test_a_bad_wall_file_names_the_field(tmp_path, monkeypatch):
    (tmp_path / "walls").mkdir()
    (tmp_path / "walls" / "bad.yaml").write_text("playlist: [{view: moon, seconds: 10}]\n")
    monkeypatch.setenv("CITYOPS_DATA", str(tmp_path))
    with pytest.raises(walls.WallError, match="playlist.0.view"):
        walls.load("bad")


def test_the_playlist_skips_views_with_nothing_to_show():
    config = walls.WallConfig(playlist=[walls.Step(view="district"),
                                        walls.Step(view="scenario"),
                                        walls.Step(view="top_overdue_unit")])
    assert walls.next_step(config, 0, lambda kind: kind != "scenario") == 2
    assert walls.next_step(config, 2, lambda kind: False) == 0


def test_the_top_unit_is_the_one_with_most_overdue_cases(small):
    units = small.ds["unit"].values
    a, b = (np.flatnonzero(units == u) for u in np.unique(units[units >= 0])[:2])
    points = _points(small, [a[0], a[1], b[0]], [np.inf, np.inf, 0.0])  # b's case overdue
    assert walls.top_unit(small, points, now=10.0) == int(units[b[0]])
    assert walls.view_bounds("scenario", small, points, None, 10.0) is None


def test_the_ticker_puts_the_most_severe_first_and_says_where(small):
    lat, lng = small.centers
    land = np.flatnonzero(small.ds["is_land"].values)
    alerts = [Alert(rule="r", category="noise", severity=s, ts=100.0 + k, lat=float(lat[p]),
                    lng=float(lng[p]), id=f"A{k}") for k, (s, p) in enumerate(
                        [(2, land[0]), (4, land[1]), (3, land[2])])]
    rows = wall_panels.ticker(alerts, small, now=400.0, lang="en", tz="Asia/Shanghai")
    assert [r["severity"] for r in rows] == [4, 3, 2]
    assert rows[0]["place"] and rows[0]["category"] == "Noise"
    assert rows[0]["age"] == "4 min ago" and rows[0]["time"] == "08:01"  # city time


def test_the_day_starts_at_the_citys_midnight():
    start = wall_panels.day_start(1_700_000_000.0, "Asia/Shanghai")
    assert (start + 8 * 3600) % 86400 == 0


def test_the_closure_rate_is_the_share_of_todays_cases_no_longer_open():
    tiles = wall_panels.day_tiles({"opened": 8, "still_open": 2, "resolved": 7, "overdue": 1})
    assert tiles["wall_day_rate"] == 75.0 and tiles["wall_day_resolved"] == 7
    assert wall_panels.day_tiles({"opened": 0, "still_open": 0, "resolved": 0,
                                  "overdue": 0})["wall_day_rate"] is None


def test_events_per_minute_fill_the_minutes_without_events_with_zero():
    series = wall_panels.events_series({10: {"iot": 5, "video": 7, "incident": 1}}, 9, 11)
    assert series["iot"].tolist() == [0, 5, 0] and series["minutes"].tolist() == [9, 10, 11]


def test_cases_cluster_with_their_count_and_go_red_when_one_is_overdue(small):
    land = np.flatnonzero(small.ds["is_land"].values)
    points = _points(small, [land[0], land[0], land[-1]], [0.0, np.inf, np.inf])
    clusters = wall_panels.case_clusters(points, now=10.0, level=small.resolution - 3)
    assert sum(c["n"] for c in clusters) == 3
    late = [c for c in clusters if c["late"]]
    assert len(late) == 1 and late[0]["color"] == wall_panels.LATE_RGBA


def test_the_legend_gives_the_units_and_the_hexagon_size():
    legend = wall_panels.legend("Water level (max)", "iot.water_level_m.max", "last hour",
                                [0.0, 5.0], 8, "en")
    assert legend["unit"] == "m" and legend["high"] == 5.0 and "H3 level 8" in legend["note"]
    assert wall_panels.layer_unit("incident.count", "zh") == "件"


def test_open_cases_are_counted_per_street_town(small):
    units = small.ds["unit"].values
    land = np.flatnonzero(units >= 0)
    points = _points(small, [land[0], land[1]], [0.0, np.inf])
    open_n, late_n = wall_panels.unit_case_counts(small, points, now=10.0)
    assert open_n.sum() == 2 and late_n.sum() == 1


def test_a_grid_manager_opens_on_their_grid_with_an_overdue_case(small):
    from dashboard.policy import User

    grids = small.ds["grid"].values
    g1, g2 = np.unique(grids[grids >= 0])[:2]
    pos1, pos2 = np.flatnonzero(grids == g1)[0], np.flatnonzero(grids == g2)[0]
    points = _points(small, [pos1, pos1, pos2], [np.inf, np.inf, 0.0])
    user = User("m", "M", "grid_manager", frozenset({int(g1), int(g2)}))
    assert grid_cases.busiest_grid(small, points, user, now=10.0) == g2
    other = User("o", "O", "grid_manager", frozenset({999}))
    assert grid_cases.busiest_grid(small, points, other, now=10.0) is None


def test_case_markers_are_red_when_overdue_and_larger_when_selected():
    cards = [{"id": "C1", "what": "Noise", "overdue": True, "lat": 39.0, "lng": 117.7},
             {"id": "C2", "what": "Fire", "overdue": False, "lat": 39.1, "lng": 117.8}]
    data = grid_cases.markers(cards, selected="C2")["data"]
    assert data[0]["color"][0] > data[0]["color"][1] and data[1]["r"] > data[0]["r"]
