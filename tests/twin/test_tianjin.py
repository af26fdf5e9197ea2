"""The Tianjin demo twin: the real city and districts, census population, units, grids, cache."""

from __future__ import annotations

import json

import numpy as np
import pytest
import xarray as xr
from pyproj import Geod

from dashboard.cli import main
from twin import Twin
from twin.demo import build_tianjin, tianjin
from twin.demo import tianjin_city as tj
from twin.errors import TwinInputError
from twin.grids import partition_grids_ordered

CENSUS_TOTAL = 13_866_009


@pytest.fixture(scope="module")
def city():
    return tianjin(resolution=8)


def test_the_land_cells_cover_the_real_city_within_two_percent(city):
    land, _ = tj.land_and_sea()
    geodesic = abs(Geod(ellps="WGS84").geometry_area_perimeter(land)[0])
    assert city.area_m2[city.ds["is_land"].values].sum() == pytest.approx(geodesic, rel=0.02)
    assert 11_000e6 < geodesic < 12_500e6  # Tianjin is about 11,900 km2


def test_each_district_holds_its_census_population(city):
    table = tj.district_table()
    assert len(table) == 16 and table["census_2020"].sum() == CENSUS_TOTAL
    pop, district = city.ds["population"].values, city.ds["district"].values
    land = city.ds["is_land"].values
    assert (district[land] >= 0).all() and (district[~land] == -1).all()
    assert pop[~land].sum() == 0
    by_district = np.bincount(district[land], weights=pop[land], minlength=16)
    np.testing.assert_allclose(by_district, table["census_2020"], rtol=0.01)
    assert pop.sum() == pytest.approx(CENSUS_TOTAL, rel=0.002)


def test_districts_are_zones_with_their_real_polygons(city):
    districts = city.zones[city.zones["kind"] == "district"]
    assert list(districts["id"]) == list(tj.district_table()["adcode"])
    assert set(city.zones["kind"]) == {"district", "development_zone"}
    lat, lng = city.centers
    inner = city.ds["district"].values
    hexi = int(np.flatnonzero(districts["id"] == "120103")[0])
    geom = districts.geometry.iloc[hexi]
    inside = np.flatnonzero(inner == hexi)
    import shapely

    assert shapely.contains_xy(geom.buffer(0.01), lng[inside], lat[inside]).all()


def test_binhai_keeps_its_real_streets_and_the_rest_is_a_labelled_partition(city):
    units = city.units
    binhai = units[units["district"] == "120116"]
    assert len(binhai) == 21 and set(binhai["kind"]) == {"street", "town"}
    others = units[units["district"] != "120116"]
    assert set(others["kind"]) == {"synthetic"}
    assert others["source"].str.contains("synthetic partition").all()
    assert list(units["unit"]) == list(range(len(units)))
    unit, district, land = (city.ds[v].values for v in ("unit", "district", "is_land"))
    assert (unit[land] >= 0).all() and (unit[~land] == -1).all()
    adcodes = tj.district_table()["adcode"].to_numpy()
    assert (units["district"].to_numpy()[unit[land]] == adcodes[district[land]]).all()


def test_grids_stay_in_one_unit_and_hold_about_two_thousand_people(city):
    grid, unit = city.ds["grid"].values, city.ds["unit"].values
    land = city.ds["is_land"].values
    assert (grid[land] >= 0).all()
    assert (city.grids.groupby("unit").size() > 0).all()
    per_grid = np.bincount(grid[land], weights=city.ds["population"].values[land])
    assert 700 < np.median(per_grid[per_grid > 0]) < 3000
    units_of_grid = np.zeros(grid.max() + 1, dtype=np.int64) - 1
    units_of_grid[grid[land]] = unit[land]
    assert (units_of_grid[grid[land]] == unit[land]).all()


def test_registries_are_scaled_and_binhai_detail_is_kept(city):
    assert len(city.facilities) > 5 * 305 and len(city.cameras) > 3 * 540  # Binhai: 305, 540
    assert "F-hazchem_site-port-warehouse" in set(city.facilities["id"])
    assert len(city.departments) == 29
    assert city.meta["timezone"] == "Asia/Shanghai" and city.timezone == "Asia/Shanghai"
    assert city.meta["name"] == "tianjin" and city.meta["adcode"] == "120000"


def test_ordered_partition_gives_contiguous_grids_inside_units(small):
    unit = small.ds["unit"].values
    grid = partition_grids_ordered(small.neighbors, unit, small.ds["population"].values,
                                   target=500.0, max_cells=60)
    assert ((grid >= 0) == (unit >= 0)).all()
    nb = small.neighbors
    for g in np.unique(grid[grid >= 0]):
        cells = np.flatnonzero(grid == g)
        assert len(np.unique(unit[cells])) == 1
        seen, frontier = {int(cells[0])}, [int(cells[0])]
        while frontier:
            for n in nb[frontier.pop()]:
                if n >= 0 and grid[n] == g and int(n) not in seen:
                    seen.add(int(n))
                    frontier.append(int(n))
        assert len(seen) == len(cells)


def test_it_is_deterministic_and_cached(tmp_path, monkeypatch):
    a, b = build_tianjin(7, seed=1), build_tianjin(7, seed=1)
    xr.testing.assert_identical(a.ds, b.ds)
    assert a.facilities.equals(b.facilities)
    monkeypatch.setenv("CITYOPS_HOME", str(tmp_path))
    first = tianjin(7, seed=1)
    assert list((tmp_path / "twins").iterdir())[0].name.startswith("tianjin-r7-s1-")
    assert np.array_equal(tianjin(7, seed=1).cell_ids, first.cell_ids)
    with pytest.raises(ValueError, match="use 7-11"):
        tianjin(6)


def test_a_resolution_beyond_the_cell_limit_is_refused_before_any_work(monkeypatch):
    monkeypatch.setenv("CITYOPS_MAX_CELLS", "30000")
    with pytest.raises(TwinInputError, match=r"resolution 9 would make about .* use resolution 8"):
        tianjin(9)


def test_cli_builds_and_describes_the_tianjin_twin(tmp_path, capsys):
    out = tmp_path / "tj"
    assert main(["twin", "build", "--demo", "tianjin", "--resolution", "7", "--out",
                 str(out)]) == 0
    built = json.loads(capsys.readouterr().out)
    assert built["name"] == "tianjin" and built["units"] > 21 + 2 * 15
    assert Twin.load(out).meta["timezone"] == "Asia/Shanghai"
    assert main(["twin", "info", "--demo", "tianjin", "--demo-resolution", "7"]) == 0
    assert json.loads(capsys.readouterr().out)["population"] == pytest.approx(CENSUS_TOTAL,
                                                                              rel=0.002)


def test_cli_refuses_a_tianjin_resolution_that_is_too_fine(monkeypatch, capsys):
    monkeypatch.setenv("CITYOPS_MAX_CELLS", "30000")
    assert main(["twin", "info", "--demo", "tianjin", "--demo-resolution", "9"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "--demo tianjin" in err[0] and "resolution 8" in err[0]
