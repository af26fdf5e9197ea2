"""Specification of sim.flood: local inertial model against analytical solutions."""

import numpy as np
import pytest

from sim import flood, mesh
from twin.testing import small_twin


def test_volume_is_conserved_to_round_off_with_closed_boundaries():
    twin = small_twin()
    m = mesh.from_twin(twin)
    rng = np.random.default_rng(1)
    ds = flood.simulate(m, duration_s=1800, output_every_s=600,
                        depth0_m=rng.uniform(0, 2, len(m)), rain_mm_h=30.0)
    assert abs(ds.attrs["volume_error_relative"]) < 1e-12
    assert ds.attrs["volume_final_m3"] == pytest.approx(
        ds.attrs["volume_initial_m3"] + ds.attrs["volume_rain_m3"], rel=1e-12)
    assert (ds["depth_m"].values >= 0).all()


def test_a_lake_at_rest_stays_at_rest():
    twin = small_twin()
    m = mesh.from_twin(twin)
    depth0 = np.maximum(0.5 - m.z_m, 0.0)  # level 0.5 m over sea bed and low land
    ds = flood.simulate(m, duration_s=3600, output_every_s=1800, depth0_m=depth0)
    np.testing.assert_allclose(ds["depth_m"].values[-1], depth0, atol=1e-6)


def test_planar_front_matches_hunter_2005_upstream_of_the_front():
    n, u, dx, t_end = 0.01, 1.0, 10.0, 1800.0
    m = mesh.raster(np.zeros((1, 250)), dx)
    times = np.linspace(0, t_end, 301)
    level = (7 / 3 * n**2 * u**3 * times) ** (3 / 7)  # h(0, t) of Hunter et al. (2005)
    ds = flood.simulate(m, duration_s=t_end, output_every_s=t_end, manning_n=n,
                        level_boundary={"cells": [0], "times_s": times, "level_m": level})
    x = np.arange(250) * dx
    upstream = x <= 0.5 * u * t_end
    exact = (7 / 3 * n**2 * u**2 * (u * t_end - x[upstream])) ** (3 / 7)
    np.testing.assert_allclose(ds["depth_m"].values[-1][upstream], exact, rtol=0.03)


def test_water_poured_into_a_closed_depression_ends_flat_at_its_volume_level():
    yy, xx = np.mgrid[-10:11, -10:11] * 10.0
    m = mesh.raster((xx**2 + yy**2) / 100.0**2, 10.0)  # bowl, 1 m up at 100 m
    volume = 0.5 * 600
    ds = flood.simulate(m, duration_s=4 * 3600, output_every_s=3600,
                        inflow={"cells": [220], "times_s": [0, 600, 601], "q_m3_s": [0.5, 0.5, 0]})
    level = flood.level_for_volume(m, ds.attrs["volume_final_m3"])
    assert ds.attrs["volume_inflow_m3"] == pytest.approx(volume, rel=0.01)
    assert ds.attrs["volume_final_m3"] == pytest.approx(ds.attrs["volume_inflow_m3"], rel=1e-12)
    eta = ds["depth_m"].values[-1] + m.z_m
    deep = level - m.z_m > 0.05
    np.testing.assert_allclose(eta[deep], level, atol=0.01)


def test_rain_and_drainage_on_a_flat_closed_plain_give_the_net_depth():
    m = mesh.raster(np.zeros((5, 5)), 20.0)
    ds = flood.simulate(m, duration_s=3600, output_every_s=3600, rain_mm_h=50.0,
                        drainage_mm_h=20.0)
    np.testing.assert_allclose(ds["depth_m"].values[-1], 0.030, rtol=1e-6)
    assert ds.attrs["volume_drained_m3"] == pytest.approx(0.020 * 25 * 400, rel=1e-6)


def test_rain_as_a_time_series_is_held_between_times():
    m = mesh.raster(np.zeros((2, 2)), 10.0)
    ds = flood.simulate(m, duration_s=7200, output_every_s=3600,
                        rain_mm_h={"times_s": [0, 3600], "mm_h": [10.0, 40.0]})
    np.testing.assert_allclose(ds["depth_m"].values[:, 0], [0.0, 0.010, 0.050], rtol=1e-6)


@pytest.mark.parametrize("surge, floods", [(2.5, False), (3.5, True)])
def test_a_sea_wall_holds_a_surge_below_its_crest_only(surge, floods):
    z = np.r_[np.full(10, -5.0), 3.0, np.full(39, 1.0)][None, :]
    m = mesh.raster(z, 20.0)
    ds = flood.simulate(m, duration_s=1800, output_every_s=1800, level_boundary={
        "cells": np.arange(10), "times_s": [0, 1800], "level_m": [surge, surge]})
    land = ds["max_depth_m"].values[11:]
    assert (land.max() > 0.1) == floods
    assert abs(ds.attrs["volume_error_relative"]) < 1e-12


def test_arrival_time_is_recorded_where_water_arrives():
    m = mesh.raster(np.zeros((1, 30)), 10.0)
    ds = flood.simulate(m, duration_s=600, output_every_s=300, manning_n=0.02, level_boundary={
        "cells": [0], "times_s": [0, 600], "level_m": [0.5, 0.5]})
    arrival = ds["arrival_s"].values
    wet = np.isfinite(arrival)
    assert wet[1] and (np.diff(arrival[wet][1:]) >= 0).all()


def test_bad_forcing_names_the_input_and_the_fix():
    m = mesh.raster(np.zeros((2, 2)), 10.0)
    with pytest.raises(ValueError, match="rain_mm_h"):
        flood.simulate(m, duration_s=10, output_every_s=10, rain_mm_h=np.ones(3))
    with pytest.raises(ValueError, match="level_boundary needs keys"):
        flood.simulate(m, duration_s=10, output_every_s=10, level_boundary={"cells": [0]})
    with pytest.raises(ValueError, match="depth0_m"):
        flood.simulate(m, duration_s=10, output_every_s=10, depth0_m=-1.0)


def test_2d_friction_takes_the_tangential_flow_as_the_mean_of_the_four_crossing_faces():
    # LISFLOOD-FP 8.1 (fp_acc.cpp, CalcFPQxAcc): q_y averaged over the four y-faces around an
    # x-face; ours rebuilds cell vectors from their faces, which gives the same average.
    from sim import flood_kernels

    m = mesh.raster(np.zeros((3, 3)), 10.0)
    a, b, _, _ = m.faces
    q = np.random.default_rng(3).normal(size=len(a))
    slot_face, slot_sign = m.face_slots
    cvx, cvy = np.zeros(len(m)), np.zeros(len(m))
    one_chunk, bounds = np.array([[0, 1]]), np.array([0, len(m)])
    flood_kernels.cell_vectors(q, slot_face, slot_sign, m.directions[None], one_chunk, bounds,
                               cvx, cvy)
    f = int(np.flatnonzero((a == 3) & (b == 4))[0])  # the x-face between middle-row cells 3, 4
    crossing = [np.flatnonzero((a == i) & (b == j))[0] for i, j in ((0, 3), (3, 6), (1, 4),
                                                                     (4, 7))]
    tangential = 0.5 * (cvy[a[f]] + cvy[b[f]])
    assert tangential == pytest.approx(q[crossing].mean())


def test_theta_outside_zero_to_one_names_the_parameter():
    m = mesh.raster(np.zeros((2, 2)), 10.0)
    with pytest.raises(ValueError, match="theta must be in"):
        flood.simulate(m, duration_s=10, output_every_s=10, theta=1.5)
