"""The Twin data model: cells, locate, neighbours, selection, roll-ups, export, save/load."""

import h3
import numpy as np
import pandas as pd
import pytest
import shapely
import xarray as xr

from twin import Twin
from twin import cells as h3cells


def test_cell_ids_are_sorted_uint64_with_the_xdggs_attributes(small):
    ids = small.ds["cell_ids"]
    assert ids.dtype == np.uint64
    assert (np.diff(ids.values.astype(np.int64)) > 0).all()
    assert ids.attrs["grid_name"] == "h3" and ids.attrs["level"] == small.resolution == 8
    assert len(small) == small.ds.sizes["cell"]


def test_locate_agrees_with_h3_py_on_100k_points_inside_and_outside(demo_twin):
    rng = np.random.default_rng(7)
    lat = rng.uniform(38.4, 39.5, 100_000)
    lng = rng.uniform(117.0, 118.3, 100_000)
    got = demo_twin.locate(lat, lng)
    ids = demo_twin.cell_ids
    lookup = {int(c): i for i, c in enumerate(ids)}
    expected = np.array([lookup.get(h3.str_to_int(h3.latlng_to_cell(a, b, 9)), -1)
                         for a, b in zip(lat, lng, strict=True)])
    np.testing.assert_array_equal(got, expected)
    assert (got >= 0).sum() > 10_000 and (got == -1).sum() > 10_000


def test_locate_returns_minus_one_for_invalid_coordinates(small):
    got = small.locate(np.array([np.nan, 95.0, 39.0, np.inf]), np.array([117.7, 117.7, 200.0, 1]))
    assert (got == -1).all()


def test_locate_converts_gcj02_input(small):
    lat, lng = small.centers
    glat, glng = small.crs.wgs84_to_gcj02(lat, lng)
    np.testing.assert_array_equal(small.locate(glat, glng, crs="gcj02"), np.arange(len(small)))


def test_neighbours_are_symmetric(demo_twin):
    nb = demo_twin.neighbors
    assert nb.shape == (len(demo_twin), 6) and nb.dtype == np.int32
    rows, slots = np.nonzero(nb >= 0)
    back = nb[nb[rows, slots]]
    assert (back == rows[:, None]).any(axis=1).all()


def test_neighbours_agree_with_h3_grid_disk(small):
    ids = small.cell_ids
    for pos in (0, len(small) // 2, len(small) - 1):
        ring = {h3.str_to_int(c) for c in h3.grid_ring(h3.int_to_str(int(ids[pos])), 1)}
        got = {int(ids[p]) for p in small.neighbors[pos] if p >= 0}
        assert got == ring & set(map(int, ids))


def test_cells_in_a_polygon_are_those_whose_centres_it_contains(small):
    poly = shapely.box(117.65, 38.96, 117.70, 39.0)
    pos = small.cells_in(poly)
    lat, lng = small.centers
    assert set(pos) == set(np.flatnonzero((lng > 117.65) & (lng < 117.70) & (lat > 38.96)
                                          & (lat < 39.0)))


def test_cells_in_a_unit_by_name_or_id(small):
    by_name = small.cells_in("西街")
    by_id = small.cells_in("U0")
    np.testing.assert_array_equal(by_name, by_id)
    assert (small.ds["unit"].values[by_name] == 0).all() and len(by_name) > 0


def test_cells_in_a_grid(small):
    pos = small.cells_in(int(small.grids["grid"].iloc[0]))
    assert len(pos) > 0 and (small.ds["grid"].values[pos] == small.grids["grid"].iloc[0]).all()


def test_cells_in_unknown_unit_says_where_to_look(small):
    with pytest.raises(KeyError, match="twin.units"):
        small.cells_in("no such street")


def test_rollup_sum_preserves_the_total_and_matches_parents(small):
    values = small.ds["population"].values
    rolled = small.rollup(values, 6)
    assert rolled.sum() == pytest.approx(values.sum())
    parents = [h3.str_to_int(h3.cell_to_parent(h3.int_to_str(int(c)), 6)) for c in small.cell_ids]
    expected = pd.Series(values).groupby(parents).sum()
    np.testing.assert_allclose(rolled.loc[expected.index].values, expected.values)


def test_rollup_mean_averages_cells(small):
    rolled = small.rollup(np.ones(len(small)), 6, how="mean")
    np.testing.assert_allclose(rolled.values, 1.0)


def test_to_geodataframe_gives_hexagons_with_hex_ids(small):
    gdf = small.to_geodataframe(["population"])
    assert list(gdf.columns) == ["cell", "population", "geometry"]
    assert gdf["cell"].iloc[0] == h3.int_to_str(int(small.cell_ids[0]))
    assert (shapely.get_num_coordinates(gdf.geometry.values) == 7).all()
    assert gdf.crs.to_epsg() == 4326


def test_save_and_load_round_trip_is_identical(demo_twin, tmp_path):
    demo_twin.save(tmp_path / "t")
    back = Twin.load(tmp_path / "t")
    xr.testing.assert_identical(back.ds, demo_twin.ds)
    for name in ("units", "zones", "grids", "facilities", "sensors", "cameras", "departments"):
        a, b = getattr(demo_twin, name), getattr(back, name)
        pd.testing.assert_frame_equal(pd.DataFrame(a).reset_index(drop=True),
                                      pd.DataFrame(b).reset_index(drop=True), obj=name)
    assert back.summary() == demo_twin.summary()


def test_load_of_a_folder_that_is_not_a_twin_says_how_to_make_one(tmp_path):
    with pytest.raises(FileNotFoundError, match="cityops twin build"):
        Twin.load(tmp_path)


def test_cell_helpers_convert_hex_at_the_edges():
    ids = h3cells.points_to_cells(np.array([39.0]), np.array([117.7]), 9)
    assert h3cells.from_hex(h3cells.to_hex(ids))[0] == ids[0]
