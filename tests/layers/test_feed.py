"""Synthetic feeds: realistic, valid events from the registries, with the anomalies rules need."""

from __future__ import annotations

import io
import time

import numpy as np
import pyarrow.compute as pc
import pytest

from dashboard.system import run_demo
from layers.live.feed import Feed
from layers.live.worker import Worker, stats


def test_feed_makes_every_kind_at_about_the_rate(twin):
    out = Feed(twin, seed=1, anomaly_every_s=0).generate(0.0, 60.0, 100.0)
    total = sum(t.num_rows for t in out.values())
    assert set(out) == {"iot", "video", "incident"}
    assert 4500 < total < 7500
    video = out["video"]
    labels = pc.value_counts(video.column("label")).to_pylist()
    top = max(labels, key=lambda x: x["counts"])["values"]
    assert top == "person"
    assert set(pc.unique(out["incident"].column("source")).to_pylist()) <= {
        "hotline", "grid_inspector", "app", "110", "119", "120"}
    assert all("\u4e00" <= t[0] <= "\u9fff" for t in out["incident"].column("text").to_pylist())


def test_sensors_report_on_their_intervals_with_a_diurnal_cycle(twin):
    feed = Feed(twin, seed=2, anomaly_every_s=0)
    table = feed.iot(0.0, 3600.0, 0.0)  # natural rate: one report per interval
    per_sensor = pc.value_counts(table.column("sensor")).to_pylist()
    counts = {x["values"]: x["counts"] for x in per_sensor}
    assert counts == {"S-wl-1": 60, "S-rain-1": 12, "S-gas-1": 60}


    def co_mean(t0: float) -> float:
        table = feed.iot(t0, t0 + 7200.0, 0.0)
        values = np.array(table.column("value"))[np.array(table.column("metric")) == "co_ppm"]
        return float(values.mean())

    rush_hour = co_mean(86400.0 - 3600.0)  # 07:00-09:00 China time: the CO peak
    evening = co_mean(86400.0 + 11 * 3600.0)  # 19:00-21:00
    assert rush_hour - evening > 0.4


@pytest.mark.parametrize("kind", ["flood", "gas", "parking", "crowd", "fever"])
def test_each_anomaly_shows_the_pattern_a_rule_should_catch(twin, kind):
    feed = Feed(twin, seed=3, anomaly_every_s=0)
    spec = feed.start_anomaly(kind, 0.0)
    rows = []
    for t in range(0, 900, 60):
        tables = feed.anomaly_events(float(t), float(t + 60))
        rows += [r for tab in tables.values() for r in tab.to_pylist()]
    assert rows and all(r["anomaly"] == spec["tag"] for r in rows)
    if kind == "flood":
        level = [r["value"] for r in rows if r["metric"] == "water_level_m"]
        rain = [r["value"] for r in rows if r["metric"] == "rain_mm_h"]
        assert level == sorted(level) and level[-1] - level[0] > 1.5 and min(rain) >= 45
    elif kind == "gas":
        assert rows[-1]["value"] > 40 and rows[-1]["sensor"] == "S-gas-1"  # next to F-chem-1
    elif kind == "parking":
        assert {r["plate"] for r in rows} == {spec["plate"]} and rows[0]["camera"] == "C-2"
        assert rows[-1]["ts"] - rows[0]["ts"] > 600
    elif kind == "crowd":
        counts = [r["count"] for r in rows]
        assert counts == sorted(counts) and counts[-1] > 250 and rows[-1]["label"] == "crowd"
    else:
        assert len(rows) == 1 and rows[0]["label"] == "fever" and rows[0]["camera"] == "C-1"


def test_fed_events_including_anomalies_are_all_valid(bus, twin):
    feed = Feed(twin, seed=4, anomaly_every_s=10)
    now = time.time()
    for a in ("flood", "gas", "parking", "crowd", "fever"):
        feed.start_anomaly(a, now - 200)
    sent = 0
    for kind, table in feed.generate(now - 200, now, 20.0).items():
        sent += bus.publish(kind, table, batch=50)
    Worker(bus, twin, consumer="w").drain()
    health = stats(bus)
    assert health["dead"] == 0 and health["counted"] == sent


def test_demo_runner_prints_live_counts(twin, tmp_path):
    out = io.StringIO()
    health = run_demo(twin, rate=200, home=tmp_path, prefix="demo-test:", every_s=0.5,
                      duration=2.0, out=out)
    lines = out.getvalue().splitlines()
    assert lines[0].startswith("demo: small") and len(lines) >= 3
    assert "counted" in lines[-1]
    assert health["counted"] > 0 and health["dead"] == 0
    np.testing.assert_equal(health["streams"]["iot"]["pending"], 0)


def test_with_daily_rates_the_night_is_quieter_than_the_afternoon(twin):
    from layers.live.feed import daily_factor

    night = 20 * 3600.0  # 04:00 China Standard Time
    afternoon = 8 * 3600.0  # 16:00
    assert daily_factor(night) < 0.35 and daily_factor(afternoon) > 0.95
    feed = Feed(twin, seed=4, anomaly_every_s=0, daily=True)
    quiet = feed.generate(night, night + 60, 200.0)["video"].num_rows
    busy = feed.generate(afternoon, afternoon + 60, 200.0)["video"].num_rows
    assert quiet < 0.5 * busy


def test_a_share_of_the_reports_lands_in_the_focus_cells(twin):
    focus = np.flatnonzero(twin.ds["is_land"].values)[:3]
    table = Feed(twin, seed=5, anomaly_every_s=0, focus=focus, focus_share=0.5).incident(
        0.0, 60.0, 400)
    cells = twin.locate(table.column("lat").to_numpy(), table.column("lng").to_numpy())
    assert 0.35 < np.isin(cells, focus).mean() < 0.7


def test_weather_stations_report_wind_cloud_and_sunshine_with_each_temperature(demo_twin):
    from layers.live.feed import WEATHER_METRICS
    from layers.live.schema import METRIC_BOUNDS

    table = Feed(demo_twin, seed=3, anomaly_every_s=0).iot(0.0, 3600.0, 0.0)
    metric = np.array(table.column("metric")).astype(str)
    sensor = np.array(table.column("sensor")).astype(str)
    value = np.array(table.column("value"))
    temps = sensor[metric == "temp_c"]
    assert len(temps) and all(s.startswith("S-weather-") for s in temps)
    for name in WEATHER_METRICS:
        assert sorted(sensor[metric == name]) == sorted(temps), name
        low, high = METRIC_BOUNDS[name]
        assert ((value[metric == name] >= low) & (value[metric == name] <= high)).all(), name


def test_the_sun_shines_on_the_weather_stations_by_day_only(demo_twin):
    feed = Feed(demo_twin, seed=4, anomaly_every_s=0)

    def solar(hour_utc: float) -> np.ndarray:
        table = feed.iot(hour_utc * 3600.0, hour_utc * 3600.0 + 1800.0, 0.0)
        return np.array(table.column("value"))[np.array(table.column("metric")) == "solar_w_m2"]

    assert solar(4.0).min() > 0.0  # 12:00 China time
    assert solar(16.0).max() == 0.0  # midnight
