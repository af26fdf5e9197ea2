"""The Scenarios page's logic (dashboard.scenario_view, dashboard.background), without a browser."""

from __future__ import annotations

import io
import xml.etree.ElementTree as ET

import numpy as np
import pytest

from dashboard import scenario_export as sx
from dashboard import scenario_view as sv
from dashboard.i18n import LABELS
from dashboard.results import ResultStore
from layers.testing import raw
from sim import Scenario, ScenarioError, run

CAP_NS = "urn:oasis:names:tc:emergency:cap:1.2"
NANGANG = {"lat": 38.775, "lng": 117.565}
TANGGU = {"lat": 39.025, "lng": 117.655}


def _defaults(kind: str) -> dict:
    return {f.key: f.default for f in sv.fields(kind)}


@pytest.fixture(scope="module")
def chlorine(demo_twin):
    return run(sv.examples()["chlorine-nangang"], demo_twin)


@pytest.fixture(scope="module")
def store(tmp_path_factory):
    return ResultStore(tmp_path_factory.mktemp("runs"), keep=3)


def _explosion(twin, tnt_kg: float):
    scenario = sv.form_to_scenario("explosion", {**_defaults("explosion"),
                                                 "parameters.tnt_kg": tnt_kg}, TANGGU)
    return run(scenario, twin)


# -- form <-> scenario ----------------------------------------------------------------------------
def test_every_form_field_and_hazard_has_a_label_in_both_languages():
    for kind in sv.FORMS:
        assert set(LABELS[f"form_{kind}"]) == {"zh", "en"}
        for f in sv.fields(kind):
            assert set(LABELS[f"field_{f.name}"]) == {"zh", "en"}


def test_the_forms_cover_every_hazard_of_sim():
    from sim import HAZARDS

    assert {hazard for hazard, _ in sv.FORMS.values()} == set(HAZARDS)


@pytest.mark.parametrize("kind", list(sv.FORMS))
def test_form_defaults_make_a_valid_scenario(kind):
    scenario = sv.form_to_scenario(kind, _defaults(kind), NANGANG, "test")
    assert scenario.hazard == sv.FORMS[kind][0]
    assert sv.form_kind(scenario) == kind


def test_a_bad_value_names_the_field_by_label_and_path():
    values = {**_defaults("toxic_release"), "parameters.release_g_s": -5}
    with pytest.raises(ScenarioError) as err:
        sv.form_to_scenario("toxic_release", values, NANGANG, lang="en")
    assert "Release rate (g/s)" in str(err.value) and "parameters.release_g_s" in str(err.value)


def test_an_empty_duration_names_the_field_and_asks_for_a_number():
    values = {**_defaults("explosion"), "duration": None}
    with pytest.raises(ScenarioError, match=r"Duration \(duration\) is empty: enter a number"):
        sv.form_to_scenario("explosion", values, NANGANG, lang="en")


def test_a_release_without_a_place_asks_for_a_map_click_or_a_facility():
    with pytest.raises(ScenarioError, match="click the map or choose a facility"):
        sv.form_to_scenario("toxic_release", _defaults("toxic_release"), None, lang="en")


def test_every_example_scenario_round_trips_through_the_form():
    for stem, scenario in sv.examples().items():
        kind, values, location, extras = sv.scenario_to_form(scenario)
        again = sv.form_to_scenario(kind, values, location, scenario.name, extras)
        assert again.model_dump(exclude={"description"}) == \
            scenario.model_dump(exclude={"description"}), stem


def test_a_map_click_gives_the_clicked_lat_lng():
    assert sv.click_location({"coordinate": [117.61234567, 38.9]}) == \
        {"lat": 38.9, "lng": 117.612346}
    assert sv.click_location({"object": None}) is None
    assert sv.click_location(None) is None


def test_releases_start_at_hazchem_sites_named_in_the_ui_language(demo_twin):
    options = sv.facility_options(demo_twin, "toxic_release", "en")
    sites = demo_twin.facilities[demo_twin.facilities["kind"] == "hazchem_site"]
    assert {o["value"] for o in options} == set(sites["id"].astype(str))
    assert all(o["label"].endswith("Hazchem site") for o in options)
    assert "危化品企业" in sv.facility_options(demo_twin, "explosion", "zh")[0]["label"]


def test_bilingual_names_show_the_ui_language_part():
    assert sv.in_lang("南港氯气泄漏 / Nangang chlorine release", "en") == "Nangang chlorine release"
    assert sv.in_lang("南港氯气泄漏 / Nangang chlorine release", "zh") == "南港氯气泄漏"
    assert sv.in_lang("plain", "en") == "plain"


# -- live readings --------------------------------------------------------------------------------
def test_live_readings_become_gauges_only_where_a_cell_has_a_reading(demo_twin):
    cells = demo_twin.cell_ids[:4]
    rain = np.array([np.nan, 12.0, np.nan, 30.0], dtype=np.float32)
    level = np.full(4, np.nan, dtype=np.float32)
    live = sv.live_from_readings(demo_twin, cells, rain, level)
    assert set(live) == {"rain_gauges"}
    assert live["rain_gauges"]["mm_h"] == [12.0, 30.0]
    lat, _ = demo_twin.centers
    assert live["rain_gauges"]["lat"] == [lat[1], lat[3]]


def test_live_readings_are_read_from_the_published_snapshot(demo_twin):
    import os
    import uuid

    from layers.live.bus import connect

    bus = connect(home=os.environ["CITYOPS_HOME"], prefix=f"s{uuid.uuid4().hex[:10]}:")
    try:
        n = len(demo_twin)
        rain = np.full(n, np.nan, np.float32)
        rain[[10, 20]] = [8.0, 40.0]
        level = np.full(n, np.nan, np.float32)
        level[30] = 2.5
        raw(bus).set(bus.keys.snap_cells, demo_twin.cell_ids.astype(np.uint64).tobytes())
        raw(bus).hset(bus.keys.snap_meta, mapping={"version": 1, "n_cells": n})
        raw(bus).set(bus.keys.snap("1h", "iot.rain_mm_h.mean"), rain.tobytes())
        raw(bus).set(bus.keys.snap("1h", "iot.water_level_m.last"), level.tobytes())
        raw(bus).hset(bus.keys.snap_meta, "time", "1800000000.0")
        for metric, value in (("wind_speed_m_s", 4.0), ("wind_from_deg", 90.0),
                              ("cloud_tenths", 3.0)):
            wind = np.full(n, np.nan, np.float32)
            wind[40] = value
            raw(bus).set(bus.keys.snap("1h", f"iot.{metric}.last"), wind.tobytes())
        live = sv.read_live(bus, demo_twin)
    finally:
        bus.close()
    assert live["rain_gauges"]["mm_h"] == [8.0, 40.0]
    assert live["water_levels"]["level_m"] == [2.5]
    assert live["weather_stations"]["wind_from_deg"] == [90.0]
    assert live["weather_stations"]["as_of"] == 1.8e9
    scenario = sv.form_to_scenario("storm_tide", {**_defaults("storm_tide"), "duration": 1},
                                   None)
    assert run(scenario, demo_twin, live=live).scenario == scenario  # sim accepts them


# -- the result store -----------------------------------------------------------------------------
def test_the_store_gives_back_a_result_by_run_id(store, chlorine):
    run_id = store.put(chlorine)
    back = store.get(run_id)
    assert back.scenario == chlorine.scenario
    np.testing.assert_allclose(back.ds["max_ppm"].values, chlorine.ds["max_ppm"].values)


def test_a_what_if_on_the_wall_says_what_it_is_when_it_ran_and_who_put_it_there(store, chlorine,
                                                                             demo_twin):
    import time

    from dashboard import overlay, wall_view

    before = time.time()
    run_id = store.put(chlorine)
    assert before - 1 <= store.ran_at(run_id) <= time.time() + 1
    assert store.ran_at("0" * 12) is None
    active = overlay.summary(chlorine, demo_twin, run_id, ran_at=1_700_000_000.0,
                             shown_by="规划员 张伟")
    label = wall_view.whatif_label(active, "zh", "Asia/Shanghai")
    assert label["ran_by"] == "规划员 张伟" and label["ran_at"] == "11-15 06:13"  # city time
    assert label["name"] == sv.in_lang(chlorine.scenario.name, "zh")
    assert wall_view.whatif_label(active, "en", "Asia/Shanghai")["name"] == \
        sv.in_lang(chlorine.scenario.name, "en")
    assert wall_view.whatif_label(None, "en", "UTC") is None


def test_the_store_keeps_only_the_last_runs(tmp_path, chlorine):
    small = ResultStore(tmp_path, keep=2)
    first, *_ = [small.put(chlorine) for _ in range(3)]
    assert len(small.ids()) == 2
    with pytest.raises(KeyError, match="no longer stored"):
        small.get(first)


def test_a_run_id_the_store_did_not_write_is_refused(store):
    with pytest.raises(KeyError, match="12 hex digits"):
        store.get("../../etc/passwd")


# -- frames and maps ------------------------------------------------------------------------------
def test_frames_carry_only_cells_at_or_above_the_threshold(chlorine, demo_twin):
    scale = sv.frame_scale(chlorine)
    counts = []
    for step in range(chlorine.ds.sizes["time"]):
        records = sv.frame_records(chlorine, demo_twin, step)
        assert all(r["v"] >= scale.threshold * 0.999 for r in records)
        counts.append(len(records))
    assert counts == sorted(counts) and counts[-1] > counts[0]  # the plume front moves out
    last = chlorine.ds["concentration_ppm"].values[-1]
    assert counts[-1] == int((last >= scale.threshold).sum())
    assert counts[-1] < len(demo_twin) / 50  # the payload is the plume, not the district


def test_a_frame_beyond_the_run_is_an_index_error(chlorine, demo_twin):
    with pytest.raises(IndexError, match="frames 0..12"):
        sv.frame_records(chlorine, demo_twin, 13)


def test_big_frames_are_drawn_on_coarser_cells_keeping_the_maximum(demo_twin):
    ids, values = demo_twin.cell_ids, np.arange(len(demo_twin), dtype=float)
    coarse_ids, coarse_values = sv.coarsen(ids, values, limit=2000)
    assert len(coarse_ids) <= 2000
    assert coarse_values.max() == values.max()


def test_the_result_map_draws_the_hazard_over_the_basemap(chlorine, demo_twin):
    records = sv.frame_records(chlorine, demo_twin, 5)
    spec = sv.result_map(chlorine, demo_twin, records)
    assert spec["layers"][0]["id"] == "basemap"
    assert spec["layers"][sv.FRAME_LAYER_INDEX]["data"] == records


def test_frame_times_are_labelled_in_readable_units():
    assert sv.time_label(1800, "en") == "T+30 min"
    assert sv.time_label(7200, "zh") == "T+2 小时"
    assert sv.time_label(5 * 86400, "en") == "T+5 days"
    assert sv.time_label(0, "en") == "T+0 s"


# -- impact ---------------------------------------------------------------------------------------
def test_the_unit_table_names_streets_in_the_ui_language_and_totals_the_rows(chlorine,
                                                                            demo_twin):
    header, rows = sv.unit_table(chlorine.impact, "en")
    assert header[0] == "Street / town" and header[-1] == "Total"
    assert {r[0] for r in rows} <= set(demo_twin.units["name_en"])
    assert all(r[-1] == sum(r[1:-1]) or abs(r[-1] - sum(r[1:-1])) <= len(r) for r in rows)
    zh_rows = sv.unit_table(chlorine.impact, "zh")[1]
    assert {r[0] for r in zh_rows} <= set(demo_twin.units["name"])


def test_the_facility_table_lists_every_affected_facility_with_its_class(chlorine, demo_twin):
    header, rows = sv.facility_table(chlorine.impact, demo_twin, "en")
    assert len(rows) == len(chlorine.impact["facilities"])
    assert all(r[2].startswith("AEGL-") for r in rows)


def test_the_headline_reports_people_facilities_and_roads(chlorine):
    figures = dict(sv.headline(chlorine.impact, "en"))
    assert figures["People affected"] == f"{chlorine.impact['people_affected']:,.0f}"
    assert figures["Facilities affected"] == str(len(chlorine.impact["facilities"]))


def test_an_oscillating_run_carries_a_warning_in_both_languages(chlorine):
    from sim import Result

    ds = chlorine.ds.copy()
    ds.attrs.update(oscillation_warning=1, check_zigzag_share_max=0.13, check_zigzag_m_max=1.17,
                    check_crest_spill_m3=476.0)
    shaky = Result(chlorine.scenario, ds, chlorine.impact)
    en, zh = sv.run_warnings(shaky, "en"), sv.run_warnings(shaky, "zh")
    assert "13%" in en[0] and "1.17 m" in en[0] and "476" in en[0]
    assert "数值振荡" in zh[0] and "1.17 m" in zh[0]
    assert sv.run_warnings(chlorine, "en") == []


def test_the_severity_chart_has_one_bar_per_class(chlorine):
    fig = sv.severity_figure(chlorine.impact, "en")
    assert list(fig.data[0].x) == ["AEGL-1 discomfort", "AEGL-2 disabling", "AEGL-3 lethal"]


def test_comparing_a_bigger_explosion_shows_more_people_in_b(demo_twin):
    a, b = _explosion(demo_twin, 1000), _explosion(demo_twin, 20000)
    header, rows = sv.compare_table(a, b, "en")
    assert header == ["Measure", "A", "B", "B − A"]
    total = next(r for r in rows if r[0] == "People affected")
    assert total[2] > total[1] and total[3] == total[2] - total[1]


def test_results_of_different_hazards_are_not_compared(chlorine, demo_twin):
    with pytest.raises(ScenarioError, match="different hazards"):
        sv.compare_table(chlorine, _explosion(demo_twin, 1000), "en")


# -- exports --------------------------------------------------------------------------------------
def test_the_netcdf_export_opens_with_xarray_and_keeps_the_scenario(chlorine, demo_twin,
                                                                    tmp_path):
    import xarray as xr

    name, content = sx.export_file(chlorine, demo_twin, "netcdf", "0123456789ab", "en")
    assert name.endswith(".nc")
    (tmp_path / name).write_bytes(content)
    with xr.open_dataset(tmp_path / name) as ds:
        assert ds.sizes["cell"] == len(demo_twin)
        assert Scenario.model_validate_json(ds.attrs["scenario_json"]) == chlorine.scenario
        np.testing.assert_allclose(ds["max_ppm"].values, chlorine.ds["max_ppm"].values)


def test_the_geoparquet_export_has_hex_ids_peaks_and_hexagons(chlorine, demo_twin):
    import geopandas as gpd
    import h3

    _, content = sx.export_file(chlorine, demo_twin, "geoparquet", "0123456789ab", "en")
    gdf = gpd.read_parquet(io.BytesIO(content))
    assert gdf.crs.to_epsg() == 4326
    assert set(gdf.columns) >= {"cell", "max_ppm", "severity", "severity_label", "geometry"}
    assert all(h3.is_valid_cell(c) for c in gdf["cell"].head(50))
    assert (gdf["severity"] > 0).sum() == (chlorine.ds["severity"].values > 0).sum()
    assert gdf.geometry.geom_type.eq("Polygon").all()
    first = demo_twin.positions(np.array([h3.str_to_int(gdf["cell"].iloc[0])], np.uint64))[0]
    assert gdf["max_ppm"].iloc[0] == pytest.approx(chlorine.ds["max_ppm"].values[first])


def test_the_cap_export_is_a_cap_1_2_alert_with_a_closed_polygon(chlorine, demo_twin):
    _, content = sx.export_file(chlorine, demo_twin, "cap", "0123456789ab", "en")
    root = ET.fromstring(content)
    assert root.tag == f"{{{CAP_NS}}}alert"
    info = root.find(f"{{{CAP_NS}}}info")
    assert info.find(f"{{{CAP_NS}}}certainty").text == "Likely"
    assert info.find(f"{{{CAP_NS}}}category").text == "CBRNE"
    assert "Taiping Town" in info.find(f"{{{CAP_NS}}}area/{{{CAP_NS}}}areaDesc").text
    polygon = info.find(f"{{{CAP_NS}}}area/{{{CAP_NS}}}polygon").text.split()
    assert len(polygon) >= 4 and polygon[0] == polygon[-1]
    lat, lng = map(float, polygon[0].split(","))
    assert 38 < lat < 40 and 117 < lng < 119


def test_an_unknown_export_format_names_the_known_ones(chlorine, demo_twin):
    with pytest.raises(ValueError, match="netcdf, geoparquet, cap"):
        sx.export_file(chlorine, demo_twin, "shapefile", "0123456789ab", "en")


# -- progress -------------------------------------------------------------------------------------
def test_progress_counts_phases_and_only_the_models_own_fraction():
    assert sv.progress_state(0, None) == (0, True)
    assert sv.progress_state(0, 0.5) == (17, False)
    assert sv.progress_state(1, None) == (33, True)
    assert sv.progress_state(2, None) == (67, True)


def test_a_release_reports_phases_without_inventing_a_fraction(demo_twin, store):
    reports = []
    scenario = sv.examples()["chlorine-nangang"]
    run_id = sv.run_and_store(scenario, demo_twin, store, report=lambda *r: reports.append(r))
    assert reports == [(0, None), (1, None), (2, None)]
    assert store.get(run_id).scenario == scenario


def test_a_flood_reports_the_models_own_fraction(demo_twin, store):
    values = {**_defaults("rainstorm"), "duration": 1, "output_every": 30,
              "parameters.rain_radius_km": 3.0}
    scenario = sv.form_to_scenario("rainstorm", values, TANGGU)
    reports = []
    sv.run_and_store(scenario, demo_twin, store, report=lambda *r: reports.append(r))
    fractions = [f for phase, f in reports if phase == 0]
    assert fractions[0] == 0.0 and fractions[-1] == pytest.approx(1.0)
    assert fractions == sorted(fractions) and len(fractions) > 2
    assert [phase for phase, _ in reports][-2:] == [1, 2]


# -- the page's thin callbacks --------------------------------------------------------------------
def test_moving_the_time_slider_sends_only_the_hazard_layers_cells(chlorine, demo_twin):
    from dashboard.context import set_context
    from dashboard.pages import scenarios

    set_context(demo_twin)
    run_id = ResultStore().put(chlorine)
    patch, label = scenarios._on_time(6, run_id, "en")
    operations = patch.to_plotly_json()["operations"]
    assert [op["location"] for op in operations] == [["layers", sv.FRAME_LAYER_INDEX, "data"]]
    assert operations[0]["params"]["value"] == sv.frame_records(chlorine, demo_twin, 6)
    assert label == "T+30 min"


def test_weather_stations_are_every_cell_with_a_wind_reading(demo_twin):
    cells = demo_twin.cell_ids[:3]
    nan = np.nan
    readings = {"wind_speed_m_s": np.array([nan, 3.0, 5.0], np.float32),
                "wind_from_deg": np.array([nan, 90.0, 180.0], np.float32),
                "cloud_tenths": np.array([nan, 2.0, nan], np.float32)}
    stations = sv.weather_from_readings(demo_twin, cells, readings, as_of=1.8e9)
    lat, _ = demo_twin.centers
    assert stations["lat"] == [lat[1], lat[2]] and stations["wind_speed_m_s"] == [3.0, 5.0]
    assert stations["as_of"] == 1.8e9 and np.isnan(stations["cloud_tenths"][1])


def test_no_wind_reading_means_no_weather_stations(demo_twin):
    empty = {m: np.full(2, np.nan, np.float32) for m in sv.WEATHER_READINGS}
    assert sv.weather_from_readings(demo_twin, demo_twin.cell_ids[:2], empty, 1.8e9) is None


def test_a_run_from_live_weather_says_which_station_and_when_in_city_time(demo_twin):
    impact = {"live_weather": {"wind_from_deg": 135.0, "wind_speed_m_s": 3.2, "stability": "C",
                               "method": "turner", "distance_m": 2400.0,
                               "as_of": 1.8e9, "station_lat": 39.0, "station_lng": 117.7}}
    zh, = sv.live_notes(impact, "zh", "Asia/Shanghai")
    en, = sv.live_notes(impact, "en", "Asia/Shanghai")
    assert "2.4 km" in en and "Turner" in en and "2027-01-15 16:00" in en
    assert "特纳法" in zh and "2027-01-15 16:00" in zh
    assert sv.live_notes({}, "en", "Asia/Shanghai") == []
