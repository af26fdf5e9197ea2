"""A raster runs through contiguous passes (sim.flood_raster) with the general mesh's results."""

import dataclasses

import numpy as np
import pytest

from sim import flood, mesh
from tests.bench.flood import terrain


def both(z: np.ndarray, **kw):
    """(raster run, the same raster run as a general mesh)."""
    m = mesh.raster(z, 10.0)
    return flood.simulate(m, **kw), flood.simulate(dataclasses.replace(m, grid_shape=None), **kw)


FORCING = {"duration_s": 1800, "output_every_s": 600, "drainage_mm_h": 5.0,
           "rain_mm_h": {"times_s": [0, 600], "mm_h": [40, 0]},
           "inflow": {"cells": [100, 101], "times_s": [0, 900], "q_m3_s": [1.0, 0.0]}}


@pytest.mark.parametrize("theta", [0.8, 1.0])
def test_a_raster_gives_the_general_meshs_depths_in_float64(theta):
    fast, general = both(terrain(60, 45), theta=theta, **FORCING)
    assert fast.attrs["steps"] == general.attrs["steps"]
    np.testing.assert_allclose(fast["depth_m"].values, general["depth_m"].values, atol=1e-9)
    np.testing.assert_allclose(fast["arrival_s"].values, general["arrival_s"].values, atol=1e-6)
    assert fast.attrs["volume_drained_m3"] == pytest.approx(general.attrs["volume_drained_m3"],
                                                            rel=1e-12)
    assert abs(fast.attrs["volume_error_relative"]) < 1e-12


def test_a_raster_in_float32_agrees_with_the_general_mesh_to_its_round_off():
    fast, general = both(terrain(60, 45), dtype="float32", **FORCING)
    np.testing.assert_allclose(fast["depth_m"].values, general["depth_m"].values, atol=1e-3)
    assert abs(fast.attrs["volume_error_relative"]) < 1e-5


@pytest.mark.parametrize("shape", [(1, 80), (80, 1), (7, 33)])
def test_single_rows_columns_and_odd_shapes_run_the_same(shape):
    z = np.linspace(0.0, 1.0, shape[0] * shape[1]).reshape(shape)
    level = {"cells": [0], "times_s": [0, 3600], "level_m": [1.5, 1.5]}
    fast, general = both(z, duration_s=3600, output_every_s=1200, level_boundary=level)
    np.testing.assert_allclose(fast["depth_m"].values, general["depth_m"].values, atol=1e-9)
    assert fast["depth_m"].values[-1].max() > 0.2


def test_blocks_that_wake_up_and_dry_out_again_match():
    # water runs down a drained slope: blocks ahead wake up, the ones it left dry fall idle
    z = np.tile(np.linspace(2.0, 0.0, 200), (3, 1))
    h0 = np.zeros((3, 200))
    h0[:, :20] = 0.2
    fast, general = both(z, duration_s=3 * 3600, output_every_s=900, depth0_m=h0.ravel(),
                         drainage_mm_h=10.0)
    np.testing.assert_allclose(fast["depth_m"].values, general["depth_m"].values, atol=1e-9)
    end = fast["depth_m"].values[-1].reshape(3, 200)
    assert (end[:, :40] == 0).all() and (fast["max_depth_m"].values.reshape(3, 200)[:, 190] > 0).all()


def test_the_2d_friction_term_runs_on_the_general_passes():
    z = terrain(20, 20)
    kw = {"duration_s": 600, "output_every_s": 600, "depth0_m": 0.3, "friction_2d": True}
    fast, general = both(z, **kw)
    np.testing.assert_array_equal(fast["depth_m"].values, general["depth_m"].values)


def test_the_zigzag_check_counts_the_same_pairs_on_a_raster_and_a_general_mesh():
    from sim import flood_checks

    m = mesh.raster(np.zeros((9, 12)), 10.0)
    h = 1.0 + 0.05 * (np.indices((9, 12)).sum(0) % 2).ravel()  # a checkerboard surface
    fast = flood_checks.zigzags(m, h)
    assert fast == flood_checks.zigzags(dataclasses.replace(m, grid_shape=None), h)
    assert fast[0] == fast[1] == 9 * 10 + 7 * 12 and fast[2] == pytest.approx(0.05)


@pytest.mark.parametrize("dtype, tol", [("float64", 1e-9), ("float32", 1e-5)])
def test_a_lake_at_rest_on_a_raster_stays_at_rest(dtype, tol):
    z = terrain(40, 40)
    depth0 = np.maximum(0.4 - z, 0.0).ravel()
    ds = flood.simulate(mesh.raster(z, 10.0), duration_s=3600, output_every_s=3600,
                        depth0_m=depth0, dtype=dtype)
    np.testing.assert_allclose(ds["depth_m"].values[-1], depth0, atol=tol)
