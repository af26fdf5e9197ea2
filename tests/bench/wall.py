"""The Command wall's cost per update on the demo twin with the feed running.

Server time and bytes per wall update (only changed cells travel) against the naive update that
sends the whole layer, measured in the same run on the same live data. The browser's
event-to-screen latency is measured by `tests.bench.wall_browser` (it needs Chromium).

Run: python -m tests.bench.wall [--quick]
"""

from __future__ import annotations

import json
import statistics
import tempfile
import time

from tests.bench._common import emit, parse_args


def main() -> None:
    args = parse_args(__doc__)
    from dash import Patch  # noqa: F401 - the wall's update type

    from dashboard import live
    from dashboard.context import set_context
    from dashboard.pages import command
    from layers.demo import LiveSystem
    from twin.demo import binhai

    twin = binhai(resolution=9)
    ticks = 8 if args.quick else 30
    with tempfile.TemporaryDirectory(prefix="cityops-bench-wall-") as home:
        system = LiveSystem(twin, rate=300.0, batch=200, home=home, history=False)
        bus = system.bus
        try:
            set_context(twin, bus)
            time.sleep(4.0 if args.quick else 20.0)  # let the feed fill the layers
            layer, window = "video.count", "5m"
            state = {"version": 0, "scale": None}
            patch, state, *_ = command.tick(state, layer, window, 0)  # the page-load full layer
            times, sizes, full_times, full_sizes = [], [], [], []
            for _ in range(ticks):
                time.sleep(command.TICK_MS / 1000.0)
                start = time.perf_counter()
                patch, state, kpis, alerts, board, _ = command.tick(state, layer, window, 0)
                body = json.dumps([patch.to_plotly_json(), kpis, alerts, board], default=str)
                times.append(time.perf_counter() - start)
                sizes.append(len(body))
                start = time.perf_counter()  # the naive update: the whole layer every tick
                values = live.read_layer(bus, twin, layer, window)
                full = json.dumps(live.layer_spec(twin, values, live.scale_of(values)))
                full_times.append(time.perf_counter() - start)
                full_sizes.append(len(full))
        finally:
            system.stop()
    ms, full_ms = statistics.median(times) * 1000, statistics.median(full_times) * 1000
    kb, full_kb = statistics.median(sizes) / 1024, statistics.median(full_sizes) / 1024
    emit("wall", "server_ms_per_update_median", ms, "ms", "full layer every tick", full_ms)
    emit("wall", "server_ms_per_update_p95", _p95(times) * 1000, "ms", "full layer every tick",
         _p95(full_times) * 1000)
    emit("wall", "kb_per_update_median", kb, "KB", "full layer every tick", full_kb)
    emit("wall", "kb_per_update_p95", _p95(sizes) / 1024, "KB", "full layer every tick",
         _p95(full_sizes) / 1024)
    rescales = sum(s > 0.5 * f for s, f in zip(sizes, full_sizes, strict=True))
    emit("wall", "full_resends_per_100_updates", 100.0 * rescales / len(sizes), "%",
         "every update a full resend", 100.0)


def _p95(values: list[float]) -> float:
    return float(sorted(values)[min(len(values) - 1, int(round(0.95 * (len(values) - 1))))])


if __name__ == "__main__":
    main()
