"""The EA 2D benchmark tests 2 and 4 (Neelz & Pender 2013) rebuilt on coarse grids.

The full-size rebuilds run beside LISFLOOD-FP in tests/bench/lisflood.py; here, small versions
check the behaviour the tests are about: low-momentum filling of depressions (test 2) and flood
propagation over a flat floodplain (test 4).
"""

import numpy as np
import pytest

from sim import flood, mesh


@pytest.fixture(scope="module")
def depressions():
    """Test 2 at 40 m: 2 km square, 4 x 4 depressions 0.5 m deep, slopes 1:1500 and 1:3000."""
    n, dx = 50, 40.0
    y, x = (np.mgrid[0:n, 0:n] + 0.5) * dx
    z = 2.0 - y / 1500.0 - x / 3000.0 - 0.5 * (np.sin(np.pi * x / 500.0)
                                                * np.sin(np.pi * y / 500.0)) ** 2
    m = mesh.raster(z, dx)
    ds = flood.simulate(m, duration_s=12 * 3600, output_every_s=6 * 3600, manning_n=0.03,
                        inflow={"cells": [0, n, 2 * n], "times_s": [0, 1200, 5100],
                                "q_m3_s": [0.0, 20.0, 0.0]})
    return z, ds


def test_the_depressions_keep_every_drop_of_the_inflow(depressions):
    _, ds = depressions
    assert ds.attrs["volume_inflow_m3"] == pytest.approx(0.5 * 5100 * 20.0, rel=1e-4)
    assert abs(ds.attrs["volume_error_relative"]) < 1e-12


def test_water_settles_flat_in_the_depressions_it_fills(depressions):
    z, ds = depressions
    h = ds["depth_m"].values[-1].astype(float).reshape(z.shape)
    eta = h + z
    for k in range(4):  # the depressions along the north-west to south-east diagonal
        block = np.s_[k * 12 + 2:k * 12 + 10, k * 12 + 2:k * 12 + 10]
        pond = h[block] > 0.05
        if pond.any():
            assert np.ptp(eta[block][pond]) < 0.02
    assert h[2:10, 2:10].max() > 0.1  # the first depression below the inflow holds water


@pytest.fixture(scope="module")
def floodplain():
    """Test 4 at 20 m: flat 1000 x 2000 m floodplain, n = 0.05, inflow mid-west, 2 h."""
    z = np.zeros((51, 100))
    m = mesh.raster(z, 20.0)
    ds = flood.simulate(m, duration_s=7200, output_every_s=1800, manning_n=0.05,
                        inflow={"cells": [25 * 100], "times_s": [0, 3600, 21600],
                                "q_m3_s": [0.0, 20.0, 0.0]})
    return z, ds


def test_the_flood_spreads_symmetrically_about_the_breach_axis(floodplain):
    z, ds = floodplain
    h = ds["depth_m"].values[-1].astype(float).reshape(z.shape)
    np.testing.assert_allclose(h, h[::-1], atol=1e-6)


def test_the_front_reaches_farther_points_later(floodplain):
    z, ds = floodplain
    arrival = ds["arrival_s"].values.reshape(z.shape)[25, 1:40]
    reached = np.isfinite(arrival)
    assert reached[:10].all() and (np.diff(arrival[reached]) >= 0).all()
