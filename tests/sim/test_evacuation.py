"""Specification of sim.evacuation: corridor hand calculation and shelter capacities."""

import numpy as np
import pytest

from sim import evacuation, mesh


def corridor(cells=21, dx=12.0):
    return mesh.raster(np.zeros((1, cells)), dx)


def test_a_corridor_clears_in_n_over_flow_times_width_plus_length_over_speed():
    m = corridor()
    people = np.zeros(21)
    people[0] = 1000.0
    width, speed = 2.0, 1.2
    flow = evacuation.WALK_SPECIFIC_FLOW_P_M_S * width
    ds = evacuation.simulate(m, people, [20], [5000], flow_p_s=flow, speed_m_s=speed,
                             duration_s=1200)
    hand = 1000.0 / flow + 20 * 12.0 / speed
    assert ds.attrs["clearance_s"] == pytest.approx(hand, abs=ds.attrs["dt_s"])
    assert ds["evacuated_share"].values[-1] == pytest.approx(1.0)
    assert (np.diff(ds["evacuated"].values) >= -1e-9).all()


def test_no_shelter_is_filled_over_capacity_and_the_overflow_goes_to_the_next():
    m = corridor(cells=30)
    people = np.zeros(30)
    people[10:15] = 160.0  # 800 people next to the small shelter at cell 12
    ds = evacuation.simulate(m, people, [12, 29], [300, 1000], flow_p_s=50.0, speed_m_s=1.2,
                             duration_s=3600)
    load = ds["shelter_load"].values
    assert (load <= ds["shelter_capacity"].values + 1e-9).all()
    np.testing.assert_allclose(load, [300, 500])
    assert ds["evacuated"].values[-1] == pytest.approx(800)


def test_people_beyond_total_shelter_capacity_are_reported_unsheltered():
    m = corridor(cells=5)
    ds = evacuation.simulate(m, [100, 100, 0, 0, 0], [4], [150], flow_p_s=10.0, speed_m_s=1.2,
                             duration_s=600)
    assert ds.attrs["people_without_shelter"] == pytest.approx(50)
    assert ds["evacuated_share"].values[-1] == pytest.approx(0.75)


def test_the_narrowest_cell_is_reported_as_the_bottleneck():
    m = corridor(cells=10)
    flow = np.full(10, 20.0)
    flow[5] = 2.0
    people = np.zeros(10)
    people[:3] = 200.0
    ds = evacuation.simulate(m, people, [9], [1000], flow_p_s=flow, speed_m_s=1.2,
                             duration_s=3600)
    assert ds.attrs["bottleneck_cells"][0] == 5


def test_capacities_must_match_shelters():
    with pytest.raises(ValueError, match="shelter_capacity"):
        evacuation.simulate(corridor(), np.ones(21), [3, 4], [10], flow_p_s=1.0, speed_m_s=1.0,
                            duration_s=10)
