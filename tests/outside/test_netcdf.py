"""netCDF that outside tools accept: the twin's cells.nc, a scenario result and the live layers'
history each decode with xdggs (cell centres equal h3's) and pass compliance-checker cf:1.10."""

from __future__ import annotations

import numpy as np
import pytest
import xarray as xr

from tests.outside.tools import cf_errors, people_seen, xdggs_centres


@pytest.fixture(scope="module")
def cells_nc(tmp_path_factory, small):
    folder = tmp_path_factory.mktemp("twin")
    small.save(folder)
    return folder / "cells.nc"


@pytest.fixture(scope="module")
def result_nc(tmp_path_factory, small):
    from sim import run
    from sim.scenario import Scenario

    lat, lng = small.centers
    scenario = Scenario.model_validate({
        "name": "test plume", "hazard": "toxic_release", "duration": "30min",
        "output_every": "10min", "location": {"lat": float(lat[40]), "lng": float(lng[40])},
        "parameters": {"chemical": "chlorine", "release_g_s": 5000, "wind_from_deg": 270,
                       "wind_speed_m_s": 3, "stability": "D"}})
    path = tmp_path_factory.mktemp("sim") / "result.nc"
    run(scenario, small).to_netcdf(path)
    return path


@pytest.fixture(scope="module")
def history_nc(tmp_path_factory, small):
    """A history folder with one minute: 2 and 5 people seen in two cells."""
    from layers.live import history

    folder = tmp_path_factory.mktemp("history")
    bucket = people_seen(len(small), {3: 2.0, 7: 5.0})
    history.write_minute(folder, 29_000_000, bucket, small.cell_ids)
    return folder


def _files(cells_nc, result_nc, history_nc):
    return {"cells.nc": cells_nc, "scenario result": result_nc,
            "history minute": history_nc / "29000000.nc"}


@pytest.mark.parametrize("which", ["cells.nc", "scenario result", "history minute"])
def test_xdggs_decodes_the_file_and_its_centres_are_h3s(which, cells_nc, result_nc, history_nc):
    import h3

    path = _files(cells_nc, result_nc, history_nc)[which]
    ids, lat, lon = xdggs_centres(path)
    assert len(ids) > 0
    expected = np.array([h3.cell_to_latlng(h3.int_to_str(int(c))) for c in ids])
    np.testing.assert_allclose(lat, expected[:, 0], atol=1e-9)
    np.testing.assert_allclose(lon, expected[:, 1], atol=1e-9)


@pytest.mark.parametrize("which", ["cells.nc", "scenario result", "history minute"])
def test_compliance_checker_finds_no_cf_error(which, cells_nc, result_nc, history_nc):
    assert cf_errors(_files(cells_nc, result_nc, history_nc)[which]) == []


@pytest.mark.parametrize("which", ["cells.nc", "scenario result", "history minute"])
def test_cells_carry_centre_coordinates_with_hexagon_bounds(which, cells_nc, result_nc,
                                                            history_nc):
    import shapely

    from twin import cells as h3cells

    with xr.open_dataset(_files(cells_nc, result_nc, history_nc)[which]) as ds:
        assert ds.attrs["Conventions"] == "CF-1.10"
        assert ds["lat"].attrs["bounds"] == "lat_bounds" and ds["lon"].attrs["units"] == \
            "degrees_east"
        first = shapely.Polygon(np.c_[ds["lon_bounds"].values[0], ds["lat_bounds"].values[0]])
        hexagon = h3cells.cell_polygons(ds["cell_ids"].values[:1])[0]
        assert first.equals_exact(shapely.orient_polygons(hexagon), 1e-9) or \
            first.symmetric_difference(hexagon).area < 1e-12


def test_time_is_seconds_since_a_start_without_a_fill_value(result_nc, history_nc):
    import netCDF4

    for path in (result_nc, history_nc / "29000000.nc"):
        with netCDF4.Dataset(path) as nc:
            time = nc.variables["time"]
            assert time.units.startswith("seconds since ")
            assert "_FillValue" not in time.ncattrs()


def test_people_are_counted_in_unit_one_with_a_long_name(cells_nc):
    with xr.open_dataset(cells_nc) as ds:
        assert ds["population"].attrs["units"] == "1"
        assert "persons" in ds["population"].attrs["long_name"]
        assert ds["road_capacity"].attrs["units"] == "h-1"


def test_severity_flag_meanings_are_cf_tokens_and_read_back_as_written(result_nc):
    import re

    from sim.runner import Result

    with xr.open_dataset(result_nc) as ds:
        meanings = ds["severity"].attrs["flag_meanings"].split()
    assert all(re.fullmatch(r"[A-Za-z0-9_.+@-]+", word) for word in meanings)
    labels = Result.from_netcdf(result_nc).ds["severity"].attrs["flag_meanings"].split()
    assert labels[0] == "none" and len(labels) == len(meanings)


def test_a_result_read_back_keeps_its_time_in_seconds_from_the_start(result_nc):
    from sim.runner import Result

    ds = Result.from_netcdf(result_nc).ds
    assert ds["time"].values.tolist() == [0.0, 600.0, 1200.0, 1800.0]


def test_history_exported_as_one_time_by_cell_file_decodes_with_xdggs(history_nc, tmp_path,
                                                                       small):
    from layers.live import history

    start = 29_000_000 * 60
    path = history.export(history_nc, start - 60, start, tmp_path / "h.nc",
                          ["video.person.count"])
    with xr.open_dataset(path) as ds:
        assert ds["video__person__count"].dims == ("time", "cell")
        assert ds.sizes == {"time": 2, "cell": len(small), "nv": 6}
        assert float(ds["video__person__count"].sum()) == 7.0
    assert cf_errors(path) == []
    assert len(xdggs_centres(path)[0]) == len(small)
