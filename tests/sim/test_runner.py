"""Specification of sim.run: scenarios on a twin give cell fields and an impact summary."""

import numpy as np
import pytest

from sim import Result, Scenario, ScenarioError, run
from sim.impact import compare

CHLORINE = {"name": "cl2", "hazard": "toxic_release", "location": {"facility": "F-chem-1"},
            "duration": "1h", "output_every": "10min",
            "parameters": {"chemical": "chlorine", "release_g_s": 5000, "wind_from_deg": 90,
                           "wind_speed_m_s": 3, "stability": "D"}}


def scenario(**change):
    return Scenario.parse(CHLORINE | change)


def test_the_result_is_time_by_cell_on_the_twin_cell_ids(small):
    result = run(scenario(), small)
    np.testing.assert_array_equal(result.ds["cell_ids"].values, small.cell_ids)
    assert result.ds["concentration_ppm"].dims == ("time", "cell")
    assert result.ds.sizes["time"] == 7


def test_people_by_severity_add_up_to_the_population_of_the_classed_cells(small):
    result = run(scenario(), small)
    sev = result.ds["severity"].values
    pop = small.ds["population"].values
    assert result.impact["people_affected"] == pytest.approx(pop[sev > 0].sum())
    assert result.impact["people_by_severity"]["AEGL-3"] == pytest.approx(pop[sev == 3].sum())


def test_facilities_in_the_zone_and_the_unit_table_are_reported(small):
    impact = run(scenario(), small).impact
    assert any(f["id"] == "F-chem-1" and f["kind"] == "hazchem_site"
               for f in impact["facilities"])
    assert {u["name_en"] for u in impact["units"]} <= {"West", "East"}
    assert sum(u["AEGL-1"] + u["AEGL-2"] + u["AEGL-3"] for u in impact["units"]) == \
        pytest.approx(impact["people_affected"])


def test_live_wind_readings_override_the_scenario_wind(small):
    east = run(scenario(), small, live={"wind_from_deg": 90.0})
    west = run(scenario(), small, live={"wind_from_deg": 270.0})
    lng = small.centers[1]
    src = east.ds.attrs["source_lng"]
    assert east.ds["max_ppm"].values[lng > src + 0.005].max() == 0.0  # blows west
    assert west.ds["max_ppm"].values[lng < src - 0.005].max() == 0.0


def _station(small, wind_from: float, when: float) -> dict:
    lat, lng = small.centers
    return {"lat": [float(lat[0])], "lng": [float(lng[0])], "wind_speed_m_s": [2.0],
            "wind_from_deg": [wind_from], "cloud_tenths": [10.0], "as_of": when}


def test_a_release_started_from_live_stations_blows_with_the_nearest_stations_wind(small):
    result = run(scenario(), small, live={"weather_stations": _station(small, 270.0, 1.79e9)})
    lng = small.centers[1]
    assert result.ds["max_ppm"].values[lng < result.ds.attrs["source_lng"] - 0.005].max() == 0.0
    assert result.impact["wind_from_deg"] == 270.0 and result.impact["wind_speed_m_s"] == 2.0


def test_a_release_started_from_live_stations_records_the_readings_it_used(small):
    result = run(scenario(), small, live={"weather_stations": _station(small, 270.0, 1.79e9)})
    used = result.impact["live_weather"]
    assert used["as_of"] == 1.79e9 and used["method"] == "turner"
    assert used["stability"] == result.impact["stability"] == result.ds.attrs["stability"]
    assert result.ds.attrs["live_weather"] == used


def test_a_release_started_from_live_stations_keeps_its_record_in_the_netcdf(small, tmp_path):
    result = run(scenario(), small, live={"weather_stations": _station(small, 270.0, 1.79e9)})
    result.to_netcdf(tmp_path / "r.nc")
    assert Result.from_netcdf(tmp_path / "r.nc").impact["live_weather"]["as_of"] == 1.79e9


def test_live_rain_gauges_drive_the_flood(small):
    spec = {"name": "rain", "hazard": "flood", "duration": "1h", "output_every": "30min",
            "parameters": {}}
    dry = run(Scenario.parse(spec), small)
    wet = run(Scenario.parse(spec), small, live={"rain_gauges": {
        "lat": [39.0], "lng": [117.66], "mm_h": [100.0]}})
    assert dry.ds.attrs["volume_rain_m3"] == 0.0
    assert wet.ds.attrs["volume_rain_m3"] > 0.0
    assert abs(wet.impact["mass_balance"]["volume_error_relative"]) < 1e-9


def test_a_storm_tide_over_low_land_floods_people_and_cuts_roads(small):
    spec = {"name": "surge", "hazard": "flood", "duration": "2h", "output_every": "1h",
            "parameters": {"storm_tide_m": 5.0}}
    impact = run(Scenario.parse(spec), small).impact
    assert impact["people_by_severity"]["dangerous>=1.5m"] > 0
    assert impact["roads_cut"]["cells"] > 0


def test_explosion_zones_shrink_outward(small):
    spec = {"name": "b", "hazard": "explosion", "location": {"lat": 39.0, "lng": 117.69},
            "parameters": {"tnt_kg": 450000}, "duration": 60, "output_every": 60}
    result = run(Scenario.parse(spec), small)
    radii = list(result.impact["zone_radius_m"].values())
    assert radii == sorted(radii, reverse=True)
    assert result.ds["severity"].values.max() == 6
    built = result.impact["built_up_km2_by_zone"]
    assert set(built) == set(result.impact["zone_radius_m"]) and sum(built.values()) > 0


def test_epidemic_scenario_conserves_people_and_honours_unit_interventions(small):
    spec = {"name": "e", "hazard": "epidemic", "location": {"lat": 39.0, "lng": 117.66},
            "duration": "60d", "output_every": "5d",
            "parameters": {"r0": 2.5, "latent_days": 3, "infectious_days": 5,
                           "interventions": [{"units": ["West"], "from_day": 10,
                                              "contact_reduction": 0.5}]}}
    result = run(Scenario.parse(spec), small)
    assert result.ds.sizes["time"] == 13
    assert result.impact["people_conservation_error"] < 1e-6


def test_evacuation_of_an_aegl_zone_fills_shelters_within_capacity(small):
    spec = {"name": "ev", "hazard": "evacuation", "location": {"facility": "F-chem-1"},
            "duration": "3h", "output_every": "10min",
            "parameters": {"toxic": CHLORINE["parameters"], "aegl_level": 2}}
    impact = run(Scenario.parse(spec), small).impact
    assert impact["people_to_evacuate"] > 0
    assert impact["shelter_loads"]["F-shelter-1"] <= 5000
    assert impact["evacuated_share_end"] == pytest.approx(1.0)


def test_an_unknown_facility_id_names_the_field(small):
    with pytest.raises(ScenarioError, match="location.facility 'F-nope'"):
        run(scenario(location={"facility": "F-nope"}), small)


def test_a_location_outside_the_twin_is_an_error(small):
    with pytest.raises(ScenarioError, match="outside the twin"):
        run(scenario(location={"lat": 10.0, "lng": 10.0}), small)


def test_unknown_live_inputs_are_rejected(small):
    with pytest.raises(ScenarioError, match="unknown live inputs"):
        run(scenario(), small, live={"humidity": 3})


def test_results_round_trip_through_netcdf_and_compare(small, tmp_path):
    a = run(scenario(), small)
    b = run(scenario(parameters=CHLORINE["parameters"] | {"release_g_s": 20000}), small)
    a.to_netcdf(tmp_path / "a.nc")
    back = Result.from_netcdf(tmp_path / "a.nc")
    assert back.impact["people_by_severity"] == a.impact["people_by_severity"]
    assert back.scenario == a.scenario
    diff = compare(a.impact, b.impact)
    assert diff["people_affected"]["b_minus_a"] > 0


def test_open_sea_cells_follow_the_storm_tide_level(small):
    spec = {"name": "surge", "hazard": "flood", "duration": "2h", "output_every": "1h",
            "parameters": {"storm_tide_m": 3.0}}
    ds = run(Scenario.parse(spec), small).ds
    sea = ~small.ds["is_land"].values
    z = small.ds["elevation_m"].values
    far = sea & (small.centers[1] > 117.75)
    np.testing.assert_allclose(ds["depth_m"].values[1][far], 3.0 - z[far], rtol=1e-5)
    assert ds.attrs["simulated_cells"] < len(small)
