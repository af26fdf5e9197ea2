"""The Binhai demo twin: real boundary, sea band, units, population, grids, registries."""

import numpy as np
import pytest
import shapely
import xarray as xr
from pyproj import Geod

from twin.dataset import LAND_USE_CODE
from twin.demo import binhai, build_binhai
from twin.demo import geography as geo


def test_land_cells_cover_the_boundary_geodesic_area_within_two_percent(demo_twin):
    land_geom, _ = geo.boundary_and_sea()
    geodesic_m2 = abs(Geod(ellps="WGS84").geometry_area_perimeter(land_geom)[0])
    covered = demo_twin.area_m2[demo_twin.ds["is_land"].values].sum()
    assert covered == pytest.approx(geodesic_m2, rel=0.02)


def test_sea_band_reaches_at_least_ten_km_offshore(demo_twin):
    land_geom, _ = geo.boundary_and_sea()
    lat, lng = demo_twin.centers
    sea = ~demo_twin.ds["is_land"].values
    x, y = geo.to_xy(lat[sea], lng[sea])
    farthest = shapely.distance(geo.geometry_to_xy(land_geom), shapely.points(x, y)).max()
    assert farthest >= 10_000
    assert (demo_twin.ds["elevation_m"].values[sea] < 0).all()
    assert (demo_twin.ds["land_use"].values[sea] == LAND_USE_CODE["sea"]).all()


def test_demo_is_deterministic_for_a_seed():
    a, b = build_binhai(7, seed=3), build_binhai(7, seed=3)
    xr.testing.assert_identical(a.ds, b.ds)
    assert a.facilities.equals(b.facilities) and a.sensors.equals(b.sensors)


def test_a_different_seed_gives_a_different_city():
    a, b = build_binhai(7, seed=0), build_binhai(7, seed=1)
    assert not np.array_equal(a.ds["population"].values, b.ds["population"].values)


def test_population_is_about_two_million_and_only_on_land(demo_twin):
    pop = demo_twin.ds["population"].values
    assert pop.sum() == pytest.approx(2_000_000, rel=0.001)
    assert pop[~demo_twin.ds["is_land"].values].sum() == 0


def test_population_concentrates_in_the_urban_cores(demo_twin):
    lat, lng = demo_twin.centers
    x, y = geo.to_xy(lat, lng)
    pop = demo_twin.ds["population"].values
    near_tanggu = geo.distance_to_point(x, y, 39.025, 117.655) < 5_000
    assert pop[near_tanggu].sum() / near_tanggu.sum() > 5 * pop.sum() / (pop > 0).sum()


def test_there_are_21_streets_and_towns_and_5_zones(demo_twin):
    assert len(demo_twin.units) == 21
    assert set(demo_twin.units["kind"]) == {"street", "town"}
    assert len(demo_twin.zones) == 5
    assert demo_twin.units["source"].str.contains("demo partition").all()
    land = demo_twin.ds["is_land"].values
    assert (demo_twin.ds["unit"].values[land] >= 0).all()
    assert (demo_twin.ds["unit"].values[~land] == -1).all()


def test_grids_are_contiguous_and_inside_one_unit(demo_twin):
    grid = demo_twin.ds["grid"].values
    unit = demo_twin.ds["unit"].values
    nb = demo_twin.neighbors
    for g in demo_twin.grids["grid"].values[::37]:
        cells = np.flatnonzero(grid == g)
        assert len(np.unique(unit[cells])) == 1
        seen, frontier = {cells[0]}, [cells[0]]
        while frontier:
            c = frontier.pop()
            for n in nb[c]:
                if n >= 0 and grid[n] == g and n not in seen:
                    seen.add(n)
                    frontier.append(n)
        assert len(seen) == len(cells)


def test_populated_grids_hold_roughly_one_to_three_thousand_residents(demo_twin):
    pop = demo_twin.grids["population"].values
    populated = pop[pop > 0]
    share = ((populated >= 1_000) & (populated <= 3_500)).mean()
    assert share > 0.9


def test_elevation_is_a_low_coastal_plain_with_a_sea_wall(demo_twin):
    z = demo_twin.ds["elevation_m"].values[demo_twin.ds["is_land"].values]
    assert z.min() >= 0 and z.max() <= 6.0
    assert np.median(z) < 4.0
    assert (z >= 5.0).sum() > 100  # the sea wall along the coast


def test_every_land_use_class_is_present(demo_twin):
    present = set(np.unique(demo_twin.ds["land_use"].values))
    assert present == set(LAND_USE_CODE.values())


def test_registries_hold_the_kinds_the_district_needs(demo_twin):
    kinds = set(demo_twin.facilities["kind"])
    assert {"shelter", "hospital", "school", "fire_station", "hazchem_site"} <= kinds
    assert (demo_twin.facilities.loc[demo_twin.facilities.kind == "shelter", "capacity"] > 0).all()
    assert {"water_level_m", "rain_mm_h", "pm25", "co_ppm"} <= set(demo_twin.sensors["metric"])
    assert {"community_entrance", "road", "port"} <= set(demo_twin.cameras["kind"])
    assert demo_twin.cameras["no_parking"].any()
    assert len(demo_twin.departments) == 29
    assert all(len(c) > 0 for c in demo_twin.departments["categories"])


def test_registry_points_sit_in_the_cell_they_name(demo_twin):
    for name in ("facilities", "sensors", "cameras"):
        table = getattr(demo_twin, name)
        pos = demo_twin.locate(table.geometry.y.values, table.geometry.x.values)
        np.testing.assert_array_equal(demo_twin.cell_ids[pos], table["cell"].values)


def test_everything_synthetic_says_so(demo_twin):
    assert "synthetic" in demo_twin.ds.attrs["source"]
    for name in ("facilities", "sensors", "cameras", "grids"):
        assert getattr(demo_twin, name)["source"].str.contains("synthetic").all()


def test_second_call_loads_the_cached_twin(demo_twin, monkeypatch):
    import twin.demo as demo

    monkeypatch.setattr(demo, "build_binhai", lambda *a, **k: pytest.fail("rebuilt"))
    again = binhai(resolution=9)
    xr.testing.assert_identical(again.ds, demo_twin.ds)


def test_resolution_out_of_demo_range_is_refused():
    with pytest.raises(ValueError, match="5-11"):
        binhai(resolution=14)


def test_the_sea_meets_the_coast_so_a_surge_can_reach_the_sea_wall(demo_twin):
    land = demo_twin.ds["is_land"].values
    nb = demo_twin.neighbors
    rows, slots = np.nonzero(nb >= 0)
    coast_faces = land[rows] & ~land[nb[rows, slots]]
    assert coast_faces.sum() > 300
    walls = demo_twin.ds["elevation_m"].values[rows[coast_faces]]
    assert (walls >= 5.0).mean() > 0.9  # the sea wall stands where land meets the sea
    assert walls.min() < 5.5 < walls.max()  # older, lower segments: a 5.5 m tide finds them
