"""Specification of sim.traffic: the cell transmission model against its textbook cases.

A corridor of 12 m cells walked at v = 1.2 m/s: a source feeds demand d = 2.0 persons/s into
cells of capacity 2.6 persons/s (a 2 m wide walkway) towards a bottleneck of 1.0 persons/s;
jam at 3.76 persons/m^2 (7.52 persons/m). Daganzo (1994): the queue grows at d - Q_b and its
tail moves upstream at the shock speed (Q_b - d) / (k_b - k_u) of the fundamental diagram.
"""

import numpy as np
import pytest

from sim import evacuation, mesh, traffic

DX, V, Q, D, QB, JAM = 12.0, 1.2, 2.6, 2.0, 1.0, 7.52
CELLS, NECK = 130, 100
W = traffic.wave_speed(Q, V, JAM)


def corridor(storage: bool = True):
    """(occupancy per step, dt) of the bottleneck corridor over an hour."""
    flow = np.full(CELLS, Q)
    flow[0], flow[NECK] = D, QB
    store = np.full(CELLS, JAM * DX)
    store[0] = 1e9
    roads = traffic.Roads(flow, V, store if storage else None, W if storage else None)
    length = np.full(CELLS, DX)
    hop = np.r_[np.arange(1, CELLS), traffic.ARRIVED].astype(np.int64)
    hop[-2] = CELLS - 1
    occ = [np.zeros(CELLS)]
    occ[0][0] = 1e6
    dt = traffic.stable_dt(length, roads)
    history = []
    for _ in range(int(3600 / dt)):
        traffic.step(occ, [hop], length, roads, dt)
        history.append(occ[0].copy())
    return np.array(history), dt


@pytest.fixture(scope="module")
def jammed():
    return corridor()


def test_the_queue_grows_at_demand_minus_bottleneck_capacity(jammed):
    history, dt = jammed
    t = np.arange(1, len(history) + 1) * dt
    queue = history[:, 1:NECK].sum(1)
    late = (t > 1500) & (t < 3500)
    slope = np.polyfit(t[late], queue[late], 1)[0]
    assert slope == pytest.approx(D - QB, rel=0.02)


def test_the_queue_tail_moves_upstream_at_the_shock_speed(jammed):
    history, dt = jammed
    t = np.arange(1, len(history) + 1) * dt
    k_up, k_jam_side = D / V, JAM - QB / W
    density = history[:, 1:NECK] / DX
    tail = np.array([np.argmax(row > 0.5 * (k_up + k_jam_side)) + 1 for row in density]) * DX
    late = (t > 1500) & (t < 3500)
    speed = np.polyfit(t[late], tail[late], 1)[0]
    assert speed == pytest.approx((QB - D) / (k_jam_side - k_up), rel=0.05)


def test_the_queue_spills_back_at_jam_side_density_and_never_overfills_a_cell(jammed):
    history, _ = jammed
    assert (history[:, 1:] <= JAM * DX + 1e-6).all()
    queued = history[-1, NECK - 20:NECK] / DX
    np.testing.assert_allclose(queued, JAM - QB / W, rtol=0.02)


def test_without_storage_the_whole_queue_sits_before_the_bottleneck():
    history, _ = corridor(storage=False)
    last = history[-1]
    assert last[NECK - 1] > 0.95 * last[1:NECK].sum() - D / V * DX * NECK


def test_a_merge_shares_the_receiving_cell_in_proportion_to_what_is_sent():
    # cells 0 and 1 both feed cell 2 (capacity 1 person/s), which leads to cell 3, the exit
    length = np.full(4, DX)
    roads = traffic.Roads(np.array([4.0, 2.0, 1.0, 10.0]), V, np.full(4, 1e9), W)
    hop = np.array([2, 2, 3, traffic.ARRIVED])
    occ = [np.array([1000.0, 1000.0, 0.0, 0.0])]
    moved = traffic.step(occ, [hop], length, roads, traffic.stable_dt(length, roads))
    sent = moved.flows[0]
    assert sent[0] / sent[1] == pytest.approx(2.0)
    assert sent[0] + sent[1] == pytest.approx(1.0 * 10.0)


def test_roads_that_never_fill_behave_as_the_old_queue_model():
    m = mesh.raster(np.zeros((1, 21)), DX)
    people = np.zeros(21)
    people[0] = 300.0
    common = dict(flow_p_s=Q, speed_m_s=V, duration_s=900, output_every_s=30)
    free = evacuation.simulate(m, people, [20], [5000], **common)
    jam = evacuation.simulate(m, people, [20], [5000], storage_p=JAM * DX, wave_speed_m_s=W,
                              **common)
    np.testing.assert_allclose(jam["evacuated"].values, free["evacuated"].values)
    assert jam.attrs["clearance_s"] == free.attrs["clearance_s"]


def test_a_jam_density_below_the_critical_density_names_the_fix():
    with pytest.raises(ValueError, match="jam density"):
        traffic.wave_speed(2.6, 1.2, 2.0)
