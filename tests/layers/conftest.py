"""Fixtures for the live-layer tests: one embedded Redis per session, a fresh key prefix per test."""

from __future__ import annotations

import os
import time
import uuid

import h3
import numpy as np
import pytest

from layers.live.bus import connect
from layers.testing import stop_server


@pytest.fixture(scope="session")
def server():
    """The session's embedded Redis (under $CITYOPS_HOME, shared with CLI subprocesses)."""
    bus = connect(home=os.environ["CITYOPS_HOME"])
    yield bus
    stop_server(bus)


@pytest.fixture()
def bus(server):
    """A bus on the session server with a prefix of its own (so tests never see each other)."""
    return connect(home=os.environ["CITYOPS_HOME"], prefix=f"t{uuid.uuid4().hex[:10]}:")


@pytest.fixture(scope="session")
def twin():
    from twin.testing import small_twin

    return small_twin()


def truth_positions(twin, lat, lng) -> np.ndarray:
    """Ground truth cell positions computed independently, one h3-py call per point."""
    cells = np.array([h3.str_to_int(h3.latlng_to_cell(a, b, twin.resolution))
                      for a, b in zip(lat, lng, strict=True)], dtype=np.uint64)
    pos = np.searchsorted(twin.cell_ids, cells)
    pos = np.minimum(pos, len(twin) - 1)
    return np.where(twin.cell_ids[pos] == cells, pos, -1)


def random_points(twin, n: int, rng) -> tuple[np.ndarray, np.ndarray]:
    """Points spread over the twin (cell centres jittered well inside their cells)."""
    lat, lng = twin.centers
    idx = rng.integers(0, len(twin), n)
    return lat[idx] + rng.uniform(-1e-4, 1e-4, n), lng[idx] + rng.uniform(-1e-4, 1e-4, n)


def iot_events(twin, n: int, rng, now: float | None = None, prefix: str = "e") -> list[dict]:
    """Valid IoT events with string fields, as any producer (even redis-cli) would write them."""
    now = time.time() if now is None else now
    lat, lng = random_points(twin, n, rng)
    metrics = rng.choice(["pm25", "co_ppm", "water_level_m"], n)
    return [{"id": f"{prefix}{i}", "ts": repr(now - 30 - float(rng.uniform(0, 60))),
             "lat": repr(float(lat[i])), "lng": repr(float(lng[i])), "sensor": f"S{i % 7}",
             "metric": str(metrics[i]), "value": repr(float(rng.uniform(0, 100)))}
            for i in range(n)]
