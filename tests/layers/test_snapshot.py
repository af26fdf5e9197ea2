"""Snapshots: what the dashboard reads equals the live state, also after partial (block) writes."""

from __future__ import annotations

import time

import numpy as np

from layers.live import schema as S
from layers.live import snapshot
from layers.live.snapshot import Publisher
from layers.live.state import LiveState, layer_values
from layers.live.validate import Events


def _events(kind: str, pos, now: float, code=0, value=1.0) -> Events:
    pos = np.asarray(pos, dtype=np.int64)
    n = len(pos)
    return Events(kind, np.arange(1, n + 1, dtype=np.uint64), np.full(n, now), pos,
                  np.full(n, code, dtype=np.int64), np.full(n, float(value)))


def _publish(bus, publisher, state, now):
    return publisher.publish(state, now, force=True)


def test_partial_writes_keep_every_layer_equal_to_the_state(bus):
    n = 5000
    now = time.time()
    state = LiveState(n)
    state.tick(now)
    publisher = Publisher(bus, np.arange(n, dtype=np.uint64))
    state.apply(_events("iot", np.arange(0, n, 7), now, code=2, value=3.0))
    state.apply(_events("video", np.arange(0, n, 3), now, code=0, value=2.0))
    assert _publish(bus, publisher, state, now)
    first = snapshot.version(bus)
    state.apply(_events("iot", [10, 4900], now, code=2, value=9.0))  # two far-apart blocks
    state.apply(_events("incident", [2500], now, code=1))
    assert _publish(bus, publisher, state, now)
    assert not _publish(bus, publisher, state, now)  # nothing changed: no new version
    for window in S.WINDOWS:
        expected = layer_values(state.window(window), n)
        for layer in S.LAYERS:
            np.testing.assert_array_equal(snapshot.read(bus, layer, window), expected[layer],
                                          err_msg=f"{window}/{layer}")
    version, cells, layers = snapshot.changes_since(bus, first)
    assert version > first and cells.tolist() == [10, 2500, 4900]
    assert "5m/incident.gas_leak.count" in layers and "5m/video.count" not in layers


def test_a_snapshot_version_is_exact_in_a_browsers_numbers(bus):
    """The wall keeps the version in the browser, whose numbers are doubles: below 2**53."""
    n = 100
    now = time.time()
    state = LiveState(n)
    state.tick(now)
    publisher = Publisher(bus, np.arange(n, dtype=np.uint64))
    state.apply(_events("iot", np.arange(0, n, 5), now))
    assert _publish(bus, publisher, state, now)
    version = snapshot.version(bus)
    assert 0 < version < 2 ** 53 and float(version) == version
    assert snapshot.changes_since(bus, version)[0] == version


def test_a_block_written_whole_is_logged_as_a_span_and_read_back_as_every_position(bus):
    """The first publish of a city changes every cell: its change-log entry stays small."""
    now = time.time()
    west, east = LiveState(100), LiveState(5000)  # two partitions' blocks of one twin
    for state in (west, east):
        state.tick(now)
        state.apply(_events("iot", np.arange(0, len(state.touched), 7), now))
    assert _publish(bus, Publisher(bus, np.arange(100, dtype=np.uint64), 0, 5100), west, now)
    first = snapshot.version(bus)
    assert _publish(bus, Publisher(bus, np.arange(100, 5100, dtype=np.uint64), 100, 5100),
                    east, now)
    entries = bus.redis.xrange(bus.keys.snap_changes)
    assert [f[b"span"] for _, f in entries] == [b"0 100", b"100 5100"]
    _, cells, _ = snapshot.changes_since(bus, first)
    assert cells.tolist() == list(range(100, 5100))
