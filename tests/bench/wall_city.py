"""The wall's cost as the city grows: Binhai at res 9 beside the whole of Tianjin at res 10.

For each twin, through the real pipeline (LiveState -> Publisher -> the snapshot in Redis ->
`dashboard.live.update` with the frame the wall's city view asks for, `wall_view.frame_for` on
the default 1920x1080 wall): the bytes of a full refresh at city zoom (the level the zoom needs,
only the cells in view) against the naive full refresh (every land cell at the base resolution,
what the wall sent before), and the server time of an update (p50/p95) after a burst of events,
against the naive update that re-reads and re-sends the whole layer.

Issue 12's targets: Tianjin res 10 full refresh <= 1 MB at city zoom, update p95 <= 100 ms.

Run: python -m tests.bench.wall_city [--quick]
"""

from __future__ import annotations

import json
import statistics
import tempfile
import time

import numpy as np

from tests.bench._common import emit, parse_args

LAYER, WINDOW = "iot.count", "1h"


def _events(twin, rng, n: int, now: float):
    from layers.live.validate import Events

    land = np.flatnonzero(twin.ds["is_land"].values)
    pos = rng.choice(land, n).astype(np.int64)
    return Events("iot", rng.integers(1, 2**63, n, dtype=np.uint64), np.full(n, now), pos,
                  np.zeros(n, np.int64), rng.uniform(1, 100, n))


def _p(values: list[float], q: float) -> float:
    return float(np.quantile(np.asarray(values), q))


def measure(name: str, twin, updates: int) -> dict:
    """Bytes of a full refresh and server ms of updates, framed vs. naive, on one twin."""
    from dashboard import live, wall_view, walls, zoomlevels
    from layers.live.bus import connect
    from layers.live.snapshot import Publisher
    from layers.live.state import LiveState
    from layers.testing import stop_server

    rng = np.random.default_rng(7)
    config = walls.load("default")
    city = zoomlevels.Bounds.of(*wall_view._land_centres(twin))  # noqa: SLF001
    _, frame = wall_view.frame_for(twin, city, config.map_px(), config)
    naive = live.Frame(twin.resolution)
    out = {"cells": len(twin), "level": frame.level}
    with tempfile.TemporaryDirectory(prefix="cityops-bench-wallcity-") as home:
        bus = connect(home=home)
        try:
            now = time.time()
            state = LiveState(len(twin))
            state.tick(now)
            publisher = Publisher(bus, twin.cell_ids)
            state.apply(_events(twin, rng, max(1000, len(twin) // 50), now))
            t0 = time.perf_counter()
            publisher.publish(state, now, force=True)
            out["first_publish_s"] = time.perf_counter() - t0
            full = live.update(bus, twin, LAYER, WINDOW, 0, None, frame)
            out["framed_bytes"] = len(json.dumps(full["full"]))
            out["framed_cells"] = len(full["full"]["data"])
            out["naive_bytes"] = len(json.dumps(live.update(bus, twin, LAYER, WINDOW, 0, None,
                                                            naive)["full"]))
            version, scale = full["version"], full["scale"]
            framed_ms, naive_ms = [], []
            for i in range(updates):
                state.apply(_events(twin, rng, 200, now))
                publisher.publish(state, now, force=True)
                t0 = time.perf_counter()
                upd = live.update(bus, twin, LAYER, WINDOW, version, scale, frame)
                json.dumps([upd["full"], upd["changed"]])
                framed_ms.append((time.perf_counter() - t0) * 1000)
                if i < 3:  # the naive update is slow at city scale: a few are enough
                    t0 = time.perf_counter()
                    json.dumps(live.update(bus, twin, LAYER, WINDOW, 0, None, naive)["full"])
                    naive_ms.append((time.perf_counter() - t0) * 1000)
                version, scale = upd["version"], upd["scale"]
            out.update(framed_p50=statistics.median(framed_ms), framed_p95=_p(framed_ms, 0.95),
                       naive_p50=statistics.median(naive_ms), naive_p95=_p(naive_ms, 0.95))
        finally:
            bus.close()
            stop_server(bus)
    return out


def main() -> None:
    args = parse_args(__doc__)
    from twin.demo import demo

    updates = 5 if args.quick else 20
    for name, res in (("binhai", 9), ("tianjin", 10)):
        if args.quick and name == "tianjin":
            res = 9
        twin = demo(name, resolution=res, seed=0)
        m = measure(name, twin, updates)
        tag = f"{name}_res{res}"
        emit("wall_city", f"{tag}_full_refresh_city_zoom_mb", m["framed_bytes"] / 1e6, "MB",
             "every land cell at the base resolution (the old full refresh)",
             m["naive_bytes"] / 1e6)
        emit("wall_city", f"{tag}_cells_sent_at_city_zoom_level{m['level']}", m["framed_cells"],
             "cells", "land cells of the twin", float(m["cells"]))
        emit("wall_city", f"{tag}_update_server_ms_p95", m["framed_p95"], "ms",
             "re-read and re-send the whole layer", m["naive_p95"])
        emit("wall_city", f"{tag}_update_server_ms_p50", m["framed_p50"], "ms",
             "re-read and re-send the whole layer", m["naive_p50"])
        emit("wall_city", f"{tag}_first_publish_s", m["first_publish_s"], "s")
        del twin


if __name__ == "__main__":
    main()
