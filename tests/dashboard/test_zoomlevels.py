"""Zoom levels and roll-ups: the maths every map shares (pure, on the small twin)."""

from __future__ import annotations

import math

import numpy as np
import pytest

from dashboard import zoomlevels as zl
from twin import cells as h3cells


def test_a_fitted_view_shows_the_whole_box_with_its_margin():
    box = zl.Bounds(38.6, 117.3, 39.3, 118.1)
    view = zl.fit_view(box, 1600, 900, margin=0.1)
    shown = zl.view_bounds(view, 1600, 900)
    assert shown.south < box.south and shown.north > box.north
    assert shown.west < box.west and shown.east > box.east
    tight = zl.view_bounds(view, 1600 * 0.8, 900 * 0.8)  # the map less its margins
    limiting = min(tight.north - box.north, box.south - tight.south,
                   tight.east - box.east, box.west - tight.west)
    assert abs(limiting) < 0.01  # one side touches the margin: as large as it can be


def test_a_tall_phone_map_zooms_out_further_than_a_wide_desk_map_for_a_wide_box():
    box = zl.Bounds(39.0, 117.5, 39.1, 117.8)
    assert zl.fit_view(box, 390, 400)["zoom"] < zl.fit_view(box, 1600, 900)["zoom"]


def test_metres_per_pixel_halves_with_each_zoom_step():
    assert zl.metres_per_pixel(10, 39) == pytest.approx(2 * zl.metres_per_pixel(11, 39))
    assert zl.metres_per_pixel(0, 0) == pytest.approx(zl.EARTH_M / 512)


def test_the_level_is_the_finest_whose_hexagons_are_wide_enough_on_screen():
    zoom, lat = 9.5, 39.0
    level = zl.level_for_zoom(zoom, lat, base=9, min_px=10)
    mpp = zl.metres_per_pixel(zoom, lat)
    assert zl.hex_width_m(level) / mpp >= 10
    assert level == 9 or zl.hex_width_m(level + 1) / mpp < 10


def test_zooming_in_never_asks_for_a_coarser_level():
    levels = [zl.level_for_zoom(z, 39.0, base=9) for z in np.arange(6, 16, 0.5)]
    assert levels == sorted(levels) and levels[-1] == 9


def test_the_base_level_of_a_pyramid_is_the_kept_cells_themselves(small):
    land = small.ds["is_land"].values
    base = zl.Pyramid(small.cell_ids, land).at(small.resolution)
    assert np.array_equal(base.ids, small.cell_ids[land])
    assert (base.parent_of[~land] == -1).all()


def test_each_cell_points_to_its_h3_parent(small):
    level = zl.Pyramid(small.cell_ids).at(small.resolution - 2)
    expected = h3cells.parents(small.cell_ids, small.resolution - 2)
    assert np.array_equal(level.ids[level.parent_of], expected)


def test_counts_roll_up_as_sums_and_keep_the_total(small):
    values = np.random.default_rng(0).poisson(3, len(small)).astype(float)
    level = zl.Pyramid(small.cell_ids).at(small.resolution - 1)
    rolled = zl.rollup(values, level, "sum")
    assert rolled.sum() == pytest.approx(values.sum())
    reference = small.rollup(values, small.resolution - 1)
    assert np.allclose(rolled, reference.reindex(level.ids).to_numpy())


def test_maxima_roll_up_as_the_largest_child_reading_and_ignore_missing_ones(small):
    level = zl.Pyramid(small.cell_ids).at(small.resolution - 1)
    values = np.full(len(small), np.nan)
    child = np.flatnonzero(level.parent_of == 0)
    values[child[:2]] = [1.5, 4.0]
    rolled = zl.rollup(values, level, "max")
    assert rolled[0] == 4.0 and np.isnan(rolled[1:]).all()


def test_means_average_only_the_children_with_a_reading(small):
    level = zl.Pyramid(small.cell_ids).at(small.resolution - 1)
    values = np.full(len(small), np.nan)
    child = np.flatnonzero(level.parent_of == 0)
    values[child[:2]] = [2.0, 4.0]
    assert zl.rollup(values, level, "mean")[0] == pytest.approx(3.0)


@pytest.mark.parametrize("how", ["sum", "max", "mean"])
def test_a_roll_up_of_part_of_the_cells_with_gaps_matches_a_group_by(small, how):
    import pandas as pd

    rng = np.random.default_rng(3)
    keep = rng.random(len(small)) < 0.7  # e.g. the land
    level = zl.Pyramid(small.cell_ids, keep).at(small.resolution - 2)
    values = np.where(rng.random(len(small)) < 0.3, np.nan, rng.uniform(0, 9, len(small)))
    frame = pd.DataFrame({"parent": level.parent_of, "v": values})[keep]
    grouped = frame.groupby("parent")["v"]
    expected = {"sum": grouped.sum(), "max": grouped.max(), "mean": grouped.mean()}[how]
    np.testing.assert_allclose(zl.rollup(values, level, how),
                               expected.reindex(range(len(level))).to_numpy())


@pytest.mark.parametrize(("layer", "how"), [("incident.count", "sum"), ("iot.co_ppm.max", "max"),
                                            ("iot.pm25.mean", "mean"), ("iot.temp_c.last", "mean")])
def test_each_kind_of_layer_has_its_roll_up(layer, how):
    assert zl.how_for(layer) == how


def test_changed_cells_map_to_the_parents_holding_them(small):
    level = zl.Pyramid(small.cell_ids).at(small.resolution - 1)
    positions = np.flatnonzero(level.parent_of == 3)[:2]
    assert zl.changed_parents(level, positions).tolist() == [3]


def test_only_the_parents_in_view_are_asked_for(small):
    level = zl.Pyramid(small.cell_ids).at(small.resolution - 1)
    lat, lng = small.centers
    half = zl.Bounds(float(lat.min()), float(lng.min()), float(np.median(lat)), float(lng.max()))
    shown = zl.in_view(level, half)
    assert 0 < len(shown) < len(level)
    assert (level.lat[shown] <= half.north + 0.05).all()


def test_nearby_points_share_one_cluster_and_each_cluster_is_their_cell(small):
    lat, lng = small.centers
    cells, unique = zl.cluster(lat[:50], lng[:50], small.resolution - 2)
    assert len(cells) == 50 and len(unique) < 50
    assert np.array_equal(cells, h3cells.points_to_cells(lat[:50], lng[:50], small.resolution - 2))
    assert set(cells.tolist()) == set(unique.tolist())


def test_a_padded_box_grows_by_the_distance_on_each_side():
    box = zl.Bounds(39.0, 117.0, 39.0, 117.0).padded(1000)
    assert (box.north - box.south) * 111.195 == pytest.approx(2.0, rel=1e-3)
    assert (box.east - box.west) * 111.195 * math.cos(math.radians(39)) == pytest.approx(2.0,
                                                                                         rel=1e-3)
