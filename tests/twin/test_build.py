"""Building a twin from a city's own files: what lands in which cell, what is reported, what is
refused (and how the refusal names the file and the fix)."""

from __future__ import annotations

import json

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
import shapely
import xarray as xr

from twin import Twin, TwinInputError
from twin import cells as h3cells
from twin import crs as crs_mod
from twin.build import build_from_files, build_twin
from twin.grids import grids_registry, partition_grids
from twin.readers import read_elevation, read_polygons, read_population

LAT0, LNG0 = 39.0, 117.7
RES = 8  # ~0.74 km2 cells: a few hundred cells, fast


# -- fixture files, written into tmp_path ---------------------------------------------------------
def boundary_box(half_lat: float = 0.04, half_lng: float = 0.05) -> shapely.Polygon:
    return shapely.box(LNG0 - half_lng, LAT0 - half_lat, LNG0 + half_lng, LAT0 + half_lat)


def write_boundary(folder, name: str = "boundary.geojson", crs=4326) -> str:
    frame = gpd.GeoDataFrame({"name": ["city"]}, geometry=[boundary_box()], crs=4326)
    if crs != 4326:
        frame = frame.to_crs(crs)
    path = folder / name
    if name.endswith(".parquet"):
        frame.to_parquet(path)
    else:
        frame.to_file(path)
    return str(path)


def write_units(folder) -> str:
    west = shapely.box(LNG0 - 0.06, LAT0 - 0.05, LNG0, LAT0 + 0.05)
    east = shapely.box(LNG0, LAT0 - 0.05, LNG0 + 0.06, LAT0 + 0.05)
    path = folder / "units.gpkg"
    gpd.GeoDataFrame({"id": ["W", "E"], "name": ["西街", "东街"]}, geometry=[west, east],
                     crs=4326).to_file(path)
    return str(path)


def write_csv(folder, name: str, text: str) -> str:
    path = folder / name
    path.write_text(text, encoding="utf-8")
    return str(path)


def population_points(n: int = 400, seed: int = 0, spread: float = 0.035) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    return pd.DataFrame({"lat": LAT0 + rng.uniform(-spread, spread, n),
                         "lng": LNG0 + rng.uniform(-spread, spread, n),
                         "count": rng.integers(1, 50, n).astype(float)})


def write_population(folder, outside: int = 0) -> str:
    points = population_points()
    far = pd.DataFrame({"lat": [LAT0 + 0.5] * outside, "lng": [LNG0] * outside,
                        "count": [7.0] * outside})
    path = folder / "population.csv"
    pd.concat([points, far]).to_csv(path, index=False)
    return str(path)


def write_facilities(folder) -> str:
    return write_csv(folder, "facilities.csv",
                     "id,name,kind,capacity,lat,lng\n"
                     f"F1,Shelter,shelter,5000,{LAT0},{LNG0}\n"
                     f"F2,Hospital,hospital,300,{LAT0 + 0.01},{LNG0 - 0.02}\n"
                     f"F3,Far away,school,800,{LAT0 + 1.0},{LNG0}\n")


def write_grid(folder, lat_name: str = "lat", lon_name: str = "lon") -> str:
    lat = np.linspace(LAT0 + 0.1, LAT0 - 0.1, 41)  # descending on purpose
    lng = np.linspace(LNG0 - 0.1, LNG0 + 0.1, 41)
    z = 100.0 * (lat[:, None] - LAT0) + 50.0 * (lng[None, :] - LNG0)
    path = folder / "dem.nc"
    xr.Dataset({"elevation": ((lat_name, lon_name), z)},
               coords={lat_name: lat, lon_name: lng}).to_netcdf(path)
    return str(path)


def boundary_frame() -> gpd.GeoDataFrame:
    return gpd.GeoDataFrame(geometry=[boundary_box()], crs=4326)


@pytest.fixture(scope="module")
def built(tmp_path_factory):
    """A twin built from every kind of input file, with its report."""
    folder = tmp_path_factory.mktemp("city")
    twin, report = build_from_files(
        write_boundary(folder), resolution=RES, units=write_units(folder),
        population=write_population(folder, outside=3), elevation=write_grid(folder),
        facilities=write_facilities(folder), name="testcity")
    return twin, report, folder


# -- cells and attributes -----------------------------------------------------------------------
def test_cells_are_those_whose_centre_lies_in_the_boundary(built):
    twin, _, _ = built
    lat, lng = twin.centers
    assert len(twin) > 50
    assert shapely.contains_xy(boundary_box(), lng, lat).all()
    expected = h3cells.fill_polygons(boundary_box(), RES)
    np.testing.assert_array_equal(twin.cell_ids, expected)


def test_every_built_cell_is_land(built):
    assert built[0].ds["is_land"].values.all()


def test_population_points_are_summed_into_their_cells():
    points = population_points()
    twin, report = build_twin(boundary_frame(), resolution=RES, population=points)
    pos = twin.locate(points["lat"], points["lng"])
    expected = np.bincount(pos, weights=points["count"], minlength=len(twin))
    np.testing.assert_allclose(twin.ds["population"].values, expected)
    assert report["population"]["outside"] == 0


def test_population_points_may_come_as_point_geometries():
    points = population_points()
    frame = gpd.GeoDataFrame({"count": points["count"]},
                             geometry=gpd.points_from_xy(points["lng"], points["lat"]), crs=4326)
    twin, _ = build_twin(boundary_frame(), resolution=RES, population=frame)
    assert twin.population_total == pytest.approx(points["count"].sum())


def test_points_outside_the_boundary_are_counted_and_reported(built):
    twin, report, folder = built
    part = report["population"]
    assert (part["outside"], part["outside_count"]) == (3, 21.0)
    inside_total = population_points()["count"].sum()
    assert twin.population_total == pytest.approx(inside_total)
    assert any("population.csv: 3 of 403 points lie outside" in w for w in report["warnings"])


def test_the_outside_report_is_kept_in_the_saved_manifest(built, tmp_path):
    twin, report, _ = built
    twin.save(tmp_path / "t")
    manifest = json.loads((tmp_path / "t" / "twin.json").read_text(encoding="utf-8"))
    assert manifest["build"]["report"]["population"]["outside"] == 3
    assert manifest["build"]["report"]["facilities"]["outside_ids"] == ["F3"]


def test_a_point_inside_the_boundary_in_an_edge_cell_goes_to_the_nearest_cell():
    box = boundary_box()
    corner = pd.DataFrame({"lat": [LAT0 + 0.0399], "lng": [LNG0 + 0.0499], "count": [5.0]})
    twin, report = build_twin(boundary_frame(), resolution=RES, population=corner)
    assert shapely.contains_xy(box, corner["lng"], corner["lat"]).all()
    assert twin.population_total == 5.0
    assert report["population"]["outside"] == 0


def test_population_polygons_are_spread_over_their_cells_by_area():
    block = shapely.box(LNG0 - 0.02, LAT0 - 0.02, LNG0 + 0.02, LAT0 + 0.02)
    polygons = gpd.GeoDataFrame({"count": [1000.0]}, geometry=[block], crs=4326)
    twin, _ = build_twin(boundary_frame(), resolution=RES, population=polygons)
    pop = twin.ds["population"].values
    inside = twin.cells_in(block)
    assert pop.sum() == pytest.approx(1000.0)
    assert set(np.flatnonzero(pop)) == set(inside)
    np.testing.assert_allclose(pop[inside] / twin.area_m2[inside],
                               1000.0 / twin.area_m2[inside].sum())


def test_the_share_of_a_population_polygon_past_the_boundary_is_reported():
    half_out = shapely.box(LNG0, LAT0 - 0.02, LNG0 + 0.09, LAT0 + 0.02)  # 4/9 of it outside
    polygons = gpd.GeoDataFrame({"count": [900.0]}, geometry=[half_out], crs=4326)
    twin, report = build_twin(boundary_frame(), resolution=RES, population=polygons)
    assert twin.population_total == pytest.approx(500.0)
    assert report["population"]["outside_count"] == pytest.approx(400.0)
    assert report["warnings"]


def test_each_cell_gets_the_unit_holding_its_centre(built):
    twin, _, _ = built
    _, lng = twin.centers
    unit = twin.ds["unit"].values
    np.testing.assert_array_equal(unit, np.where(lng < LNG0, 0, 1))
    assert list(twin.units["name"]) == ["西街", "东街"]
    assert list(twin.units["unit"]) == [0, 1]


def test_elevation_points_give_each_cell_the_mean_of_its_points_and_fill_the_rest():
    lat, lng = h3cells.cell_centers(h3cells.fill_polygons(boundary_box(), RES))
    points = pd.DataFrame({"lat": [lat[0], lat[0], lat[-1]], "lng": [lng[0], lng[0], lng[-1]],
                           "elevation_m": [2.0, 4.0, 10.0]})
    twin, report = build_twin(boundary_frame(), resolution=RES, elevation=points)
    z = twin.ds["elevation_m"].values
    assert (z[0], z[-1]) == (3.0, 10.0)
    assert set(np.unique(z)) == {3.0, 10.0}
    assert report["elevation"]["filled_cells"] == len(twin) - 2


def test_an_elevation_grid_is_interpolated_at_cell_centres(built):
    twin, _, _ = built
    lat, lng = twin.centers
    expected = 100.0 * (lat - LAT0) + 50.0 * (lng - LNG0)
    np.testing.assert_allclose(twin.ds["elevation_m"].values, expected, atol=1e-4)


@pytest.mark.parametrize("names", [("latitude", "longitude"), ("y", "x"), ("lat", "lng")])
def test_elevation_grid_coordinate_names_are_recognised(tmp_path, names):
    grid = read_elevation(write_grid(tmp_path, *names))
    assert grid.dims == ("lat", "lng")
    assert (np.diff(grid["lat"].values) > 0).all()


def test_facilities_get_their_cell_and_those_outside_are_reported(built):
    twin, report, _ = built
    assert list(twin.facilities["id"]) == ["F1", "F2"]
    assert twin.facilities["cell"].dtype == np.uint64
    pos = twin.positions(twin.facilities["cell"].to_numpy())
    assert (pos >= 0).all()
    assert list(twin.facilities["capacity"]) == [5000.0, 300.0]
    assert report["facilities"]["outside_ids"] == ["F3"]


def test_a_built_twin_saves_and_loads_back_identically(built, tmp_path):
    twin, _, _ = built
    twin.save(tmp_path / "t")
    again = Twin.load(tmp_path / "t")
    xr.testing.assert_identical(again.ds, twin.ds)
    for name in ("units", "zones", "grids", "facilities", "sensors", "cameras", "departments"):
        pd.testing.assert_frame_equal(pd.DataFrame(getattr(again, name)),
                                      pd.DataFrame(getattr(twin, name)), obj=name)
    assert again.meta == twin.meta


def test_the_summary_has_every_figure_twin_info_prints(built):
    summary = built[0].summary()
    for key in ("name", "resolution", "cells", "land_cells", "population", "units", "zones",
                "grids", "facilities", "sensors", "cameras", "departments"):
        assert key in summary
    assert (summary["name"], summary["units"], summary["facilities"]) == ("testcity", 2, 2)


@pytest.mark.parametrize("name", ["boundary.gpkg", "boundary.shp", "boundary.parquet"])
def test_any_vector_format_gives_the_same_cells(tmp_path, name):
    twin, _ = build_from_files(write_boundary(tmp_path, name), resolution=RES)
    np.testing.assert_array_equal(twin.cell_ids, h3cells.fill_polygons(boundary_box(), RES))


def test_a_boundary_in_a_projected_crs_is_reprojected(tmp_path):
    frame = read_polygons(write_boundary(tmp_path, "utm.gpkg", crs=32650))
    assert frame.crs.to_epsg() == 4326
    assert frame.geometry.iloc[0].equals_exact(boundary_box(), tolerance=1e-6) or \
        frame.geometry.iloc[0].symmetric_difference(boundary_box()).area < 1e-8


def test_a_repairable_bow_tie_polygon_is_repaired(tmp_path):
    d = 0.04
    bow = shapely.Polygon([(LNG0 - d, LAT0 - d), (LNG0 + d, LAT0 + d), (LNG0 + d, LAT0 - d),
                           (LNG0 - d, LAT0 + d)])
    path = tmp_path / "bow.geojson"
    gpd.GeoDataFrame(geometry=[bow], crs=4326).to_file(path)
    frame = read_polygons(path)
    assert frame.geometry.is_valid.all()
    assert shapely.area(frame.geometry.values).sum() == pytest.approx(2 * d * d)


def test_population_polygons_may_name_their_count_population(tmp_path):
    path = tmp_path / "blocks.geojson"
    gpd.GeoDataFrame({"population": [12]}, geometry=[boundary_box(0.01, 0.01)],
                     crs=4326).to_file(path)
    frame = read_population(path)
    assert list(frame["count"]) == [12.0]


def _xy_to_gcj02(xy: np.ndarray) -> np.ndarray:
    lat, lng = crs_mod.wgs84_to_gcj02(xy[:, 1], xy[:, 0])
    return np.c_[lng, lat]


def test_gcj02_input_files_are_converted_to_wgs84(tmp_path):
    points = population_points()
    glat, glng = crs_mod.wgs84_to_gcj02(points["lat"].to_numpy(), points["lng"].to_numpy())
    gcj = tmp_path / "gcj.csv"
    pd.DataFrame({"lat": glat, "lng": glng, "count": points["count"]}).to_csv(gcj, index=False)
    boundary = tmp_path / "gcj.geojson"
    shifted = shapely.transform(shapely.segmentize(boundary_box(), 0.001), _xy_to_gcj02)
    gpd.GeoDataFrame(geometry=[shifted], crs=4326).to_file(boundary)
    wgs, _ = build_twin(boundary_frame(), resolution=RES, population=points)
    twin, _ = build_from_files(boundary, resolution=RES, population=gcj, crs="gcj02")
    np.testing.assert_allclose(twin.ds["population"].values, wgs.ds["population"].values)
    assert twin.meta["build"]["input_crs"] == "gcj02"


def test_a_gcj02_elevation_grid_is_sampled_at_the_converted_cell_centres(tmp_path):
    twin, _ = build_from_files(write_boundary(tmp_path), resolution=RES,
                               elevation=write_grid(tmp_path), crs="gcj02")
    glat, glng = crs_mod.wgs84_to_gcj02(*twin.centers)
    assert np.abs(glng - twin.centers[1]).min() > 0.001  # the offset is hundreds of metres
    expected = 100.0 * (glat - LAT0) + 50.0 * (glng - LNG0)
    np.testing.assert_allclose(twin.ds["elevation_m"].values, expected, atol=1e-4)


# -- refused input: TwinInputError naming the file and the fix ----------------------------------
def _raises(call, source: str, *words: str) -> TwinInputError:
    with pytest.raises(TwinInputError) as info:
        call()
    assert info.value.source == source
    text = str(info.value)
    assert "\n" not in text
    for word in words:
        assert word in text
    return info.value


def test_a_boundary_without_polygons_is_refused(tmp_path):
    path = tmp_path / "points.geojson"
    gpd.GeoDataFrame(geometry=shapely.points([[LNG0, LAT0]]), crs=4326).to_file(path)
    _raises(lambda: read_polygons(path), str(path), "no polygons", "Polygon")


def test_geometry_that_cannot_be_repaired_is_refused(tmp_path):
    path = tmp_path / "flat.geojson"
    path.write_text(json.dumps({"type": "FeatureCollection", "features": [{
        "type": "Feature", "properties": {}, "geometry": {"type": "Polygon", "coordinates": [
            [[117.6, 39.0], [117.7, 39.0], [117.8, 39.0], [117.6, 39.0]]]}}]}))
    _raises(lambda: read_polygons(path), str(path), "cannot be repaired", "feature 1")


def test_projected_coordinates_without_a_crs_are_refused(tmp_path):
    path = tmp_path / "metres.geojson"
    path.write_text(json.dumps({"type": "FeatureCollection", "features": [{
        "type": "Feature", "properties": {}, "geometry": {"type": "Polygon", "coordinates": [
            [[500000, 4300000], [510000, 4300000], [510000, 4310000], [500000, 4300000]]]}}]}))
    _raises(lambda: read_polygons(path), str(path), "projected", "EPSG:4326")


def test_swapped_lat_lng_in_a_csv_are_refused(tmp_path):
    path = write_csv(tmp_path, "swapped.csv", f"lat,lng,count\n{LNG0},{LAT0},5\n")
    _raises(lambda: read_population(path), path, "swapped", "line 2")


def test_a_csv_missing_a_column_is_refused(tmp_path):
    path = write_csv(tmp_path, "nocount.csv", f"lat,lng\n{LAT0},{LNG0}\n")
    _raises(lambda: read_population(path), path, "missing column count", "lat,lng,count")


def test_a_non_numeric_value_is_refused_with_its_line(tmp_path):
    path = write_csv(tmp_path, "text.csv", f"lat,lng,count\n{LAT0},{LNG0},5\n{LAT0},{LNG0},many\n")
    _raises(lambda: read_population(path), path, "line 3", "'many'", "count")


def test_an_unreadable_file_is_refused(tmp_path):
    path = tmp_path / "garbage.geojson"
    path.write_text("this is not geojson")
    _raises(lambda: read_polygons(path), str(path), "cannot read")


def test_a_missing_file_is_refused(tmp_path):
    path = tmp_path / "nowhere.geojson"
    _raises(lambda: read_polygons(path), str(path), "not found")


@pytest.mark.parametrize("resolution", [-1, 16])
def test_a_resolution_outside_0_to_15_is_refused(resolution):
    _raises(lambda: build_twin(boundary_frame(), resolution=resolution), "--resolution", "0-15")


def test_an_unknown_input_crs_is_refused(tmp_path):
    _raises(lambda: build_from_files(write_boundary(tmp_path), resolution=RES, crs="utm"),
            "--crs", "gcj02")


def test_a_boundary_too_small_for_any_cell_is_refused():
    _raises(lambda: build_twin(boundary_frame(), resolution=2, sources={"boundary": "b.geojson"}),
            "b.geojson", "no H3 cell", "finer resolution")


# -- governance grids ---------------------------------------------------------------------------
@pytest.fixture(scope="module")
def partitioned():
    ids = h3cells.fill_polygons(boundary_box(0.05, 0.06), 9)
    lat, lng = h3cells.cell_centers(ids)
    unit = np.where(lng < LNG0, 0, 1).astype(np.int16)
    unit[lat > LAT0 + 0.04] = -1
    population = np.random.default_rng(1).gamma(2.0, 40.0, len(ids))
    neighbors = h3cells.neighbor_table(ids)
    grid = partition_grids(neighbors, unit, population)
    return ids, neighbors, unit, population, grid


def _components(members: np.ndarray, neighbors: np.ndarray) -> int:
    """Number of connected pieces of a set of cell positions."""
    inside = set(members.tolist())
    seen, pieces = set(), 0
    for start in members:
        if start in seen:
            continue
        pieces += 1
        stack = [start]
        seen.add(start)
        while stack:
            for nb in neighbors[stack.pop()]:
                if nb in inside and nb not in seen:
                    seen.add(nb)
                    stack.append(nb)
    return pieces


def test_grids_are_contiguous(partitioned):
    _, neighbors, _, _, grid = partitioned
    for g in np.unique(grid[grid >= 0]):
        assert _components(np.flatnonzero(grid == g), neighbors) == 1


def test_grids_never_cross_units_and_skip_cells_outside_units(partitioned):
    _, _, unit, _, grid = partitioned
    assert (grid[unit < 0] == -1).all()
    assert (grid[unit >= 0] >= 0).all()
    for g in np.unique(grid[grid >= 0]):
        assert len(np.unique(unit[grid == g])) == 1


def test_grids_hold_about_one_to_three_thousand_residents(partitioned):
    _, _, _, population, grid = partitioned
    sizes = np.bincount(grid[grid >= 0], weights=population[grid >= 0])
    assert len(sizes) > 10
    assert sizes.min() >= 1000  # target / 2
    assert sizes.max() <= 3000 + population.max()  # 1.5 * target, plus the last cell taken
    np.testing.assert_array_equal(np.unique(grid[grid >= 0]), np.arange(len(sizes)))


def test_grid_partition_is_deterministic(partitioned):
    _, neighbors, unit, population, grid = partitioned
    np.testing.assert_array_equal(partition_grids(neighbors, unit, population), grid)


def test_a_small_leftover_merges_into_a_neighbouring_grid_of_its_unit():
    # a line of 5 cells in one unit: 2500 residents fill the first grid, 100 are left over
    neighbors = np.full((5, 6), -1)
    for i in range(5):
        neighbors[i, :2] = [i - 1, i + 1 if i < 4 else -1]
    population = np.array([1000.0, 1000.0, 500.0, 50.0, 50.0])
    grid = partition_grids(neighbors, np.zeros(5, dtype=int), population)
    np.testing.assert_array_equal(grid, np.zeros(5))


def test_empty_country_stops_at_max_cells():
    n = 30
    neighbors = np.full((n, 6), -1)
    neighbors[:, 0] = np.arange(n) - 1
    neighbors[:-1, 1] = np.arange(1, n)
    grid = partition_grids(neighbors, np.zeros(n, dtype=int), np.zeros(n), max_cells=10)
    np.testing.assert_array_equal(np.bincount(grid), [10, 10, 10])


def test_the_grids_registry_describes_each_grid(partitioned):
    ids, _, unit, population, grid = partitioned
    table = grids_registry(ids, grid, unit, population)
    assert list(table["grid"]) == list(range(grid.max() + 1))
    assert table["population"].sum() == pytest.approx(population[grid >= 0].sum())
    assert (table["geometry"].geom_type == "Polygon").all()
    first = table.iloc[0]
    assert first["unit"] == unit[grid == 0][0] and first["id"] == "G0001"


def test_built_grids_registry_matches_the_cells(built):
    twin, _, _ = built
    grid = twin.ds["grid"].values
    assert len(twin.grids) == grid.max() + 1
    np.testing.assert_allclose(twin.grids["population"],
                               np.bincount(grid, weights=twin.ds["population"].values))


@pytest.mark.parametrize("resolution", [7, 8, 9])
def test_the_cell_estimate_is_close_to_the_cells_made(resolution):
    from twin import cells
    from twin.build import estimate_cells

    made = len(cells.fill_polygons(boundary_box(), resolution))
    assert abs(estimate_cells(boundary_box(), resolution) - made) <= 0.1 * made + 3
