"""Ingest partitions: blocks of whole parents, routing by cell, workers sharing the leases."""

from __future__ import annotations

import time

import numpy as np
import pytest

from layers.live import snapshot
from layers.live.fleet import Fleet
from layers.live.partitions import Partitions
from layers.live.producer import LayoutError, Producer, layout
from layers.live.worker import stats
from layers.testing import raw
from tests.layers.conftest import iot_events, random_points, truth_positions
from twin import cells as h3cells


def test_partitions_are_contiguous_blocks_of_whole_parents(demo_twin):
    parts = Partitions.of(demo_twin, 4)
    assert parts.bounds[0] == 0 and parts.bounds[-1] == len(demo_twin)
    assert (np.diff(parts.bounds) > 0).all()
    parent = h3cells.parents(demo_twin.cell_ids, parts.level)
    for cut in parts.bounds[1:-1]:
        assert parent[cut - 1] != parent[cut]  # a cut never splits a parent's children


def test_partitions_are_balanced(demo_twin):
    sizes = Partitions.of(demo_twin, 4).sizes()
    assert sizes.max() < 1.5 * len(demo_twin) / 4


def test_the_partition_of_a_cell_is_its_block(demo_twin):
    parts = Partitions.of(demo_twin, 3)
    pos = np.array([0, int(parts.bounds[1]) - 1, int(parts.bounds[1]), len(demo_twin) - 1, -1])
    assert parts.of_positions(pos).tolist() == [0, 0, 1, 2, -1]


def test_too_many_partitions_for_the_parents_is_an_error_naming_the_fix(small):
    with pytest.raises(ValueError, match="fewer than"):
        Partitions.of(small, 200, level=0)


def test_producers_and_workers_agree_on_one_layout(bus, twin):
    first = layout(bus, twin, 3, level=6)
    assert layout(bus, twin).bounds.tolist() == first.bounds.tolist()
    with pytest.raises(LayoutError, match="3 partitions, not 4"):
        layout(bus, twin, 4)


def test_a_producer_routes_each_event_to_its_partitions_stream(bus, twin):
    parts = layout(bus, twin, 3, level=6)
    events = iot_events(twin, 300, np.random.default_rng(1))
    Producer(bus, twin).publish("iot", events)
    lat = np.array([float(e["lat"]) for e in events])
    lng = np.array([float(e["lng"]) for e in events])
    expected = np.bincount(parts.of_positions(twin.locate(lat, lng)), minlength=3)
    got = [raw(bus).xlen(bus.stream("iot", p)) for p in range(3)]
    assert got == expected.tolist() and sum(got) == 300


def test_two_processes_share_the_partitions_and_count_exactly(bus, twin):
    parts = layout(bus, twin, 4, level=6)
    rng = np.random.default_rng(2)
    lat, lng = random_points(twin, 2000, rng)
    now = time.time()
    events = [{"id": f"s{i}", "ts": repr(now - 30), "lat": repr(float(lat[i])),
               "lng": repr(float(lng[i])), "sensor": "S", "metric": "pm25", "value": "1"}
              for i in range(2000)]
    Producer(bus, twin, parts).publish("iot", events)
    a = Fleet(bus, twin, "a", parts, history=False)
    b = Fleet(bus, twin, "b", parts, history=False)
    a._heartbeat(), b._heartbeat()  # both alive: each takes half
    a.balance()
    b.balance()
    assert len(a.workers) == 2 and len(b.workers) == 2
    assert set(a.workers).isdisjoint(b.workers)
    for _ in range(20):
        a.step(0) + b.step(0)
    for fleet in (a, b):
        for worker in fleet.workers.values():
            worker.checkpoint(force_publish=True)
    truth = truth_positions(twin, lat, lng)
    np.testing.assert_array_equal(snapshot.read(bus, "iot.count", "24h"),
                                  np.bincount(truth, minlength=len(twin)))
    assert stats(bus)["counted"] == 2000
    a.stop()
    b.stop()


def test_a_process_takes_over_the_partitions_of_one_that_left(bus, twin):
    parts = layout(bus, twin, 2, level=6)
    a = Fleet(bus, twin, "a", parts, history=False, lease_ms=500)
    b = Fleet(bus, twin, "b", parts, history=False, lease_ms=500)
    a._heartbeat(), b._heartbeat()
    a.balance()
    b.balance()
    a.stop()  # a leaves: its leases are given back, its membership withdrawn
    Producer(bus, twin, parts).publish("iot", iot_events(twin, 100, np.random.default_rng(3)))
    b.drain_all(timeout_s=30)
    assert len(b.workers) == 2 and stats(bus)["counted"] == 100
    b.stop()
