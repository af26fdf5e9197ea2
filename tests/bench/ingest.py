"""The ingest path vs the bus's own limit (a bare XREADGROUP+XACK loop over the same entries).

Run: python -m tests.bench.ingest [--quick]
Single-event entries: worker events/s vs the bare loop on the same entries (ratio >= 0.6).
Arrow batch entries: worker events/s (>= 1,000,000), with its ratio to the bare single-entry loop.
Dashboard read: one layer for all cells of the demo twin, vs one PING round trip.
"""

from __future__ import annotations

import tempfile
import time

import numpy as np

from layers.live.bus import connect, ensure_groups
from layers.live.feed import Feed
from layers.live.worker import Worker
from layers.testing import raw
from tests.bench._common import best_time, emit, parse_args


def _twin():
    try:
        from twin.demo import binhai

        return binhai(resolution=9)
    except ImportError:
        from twin.testing import small_twin

        return small_twin()


def _events(twin, n: int, now: float, seed: int = 1) -> dict:
    feed = Feed(twin, seed=seed, anomaly_every_s=0)
    return feed.generate(now - 50.0, now - 49.0, float(n))


def _flat(table) -> list[dict]:
    cols = {name: table.column(name).to_pylist() for name in table.column_names}
    out = []
    for i in range(table.num_rows):
        out.append({k: (repr(v) if isinstance(v, float) else str(v)) for k, v in
                    ((k, c[i]) for k, c in cols.items()) if v is not None})
    return out


def _bare_loop(bus, streams: list[str], count: int = 1000) -> int:
    n = 0
    while True:
        res = raw(bus).xreadgroup("bare", "b1", {s: ">" for s in streams}, count=count)
        if not res:
            return n
        for stream, items in res:
            raw(bus).xack(stream, "bare", *[eid for eid, _ in items])
            n += len(items)


def _publish_flat(bus, tables: dict) -> int:
    total = 0
    for kind, table in tables.items():
        rows = _flat(table)
        for start in range(0, len(rows), 10_000):
            bus.publish(kind, rows[start:start + 10_000])
        total += len(rows)
    return total


def main() -> None:
    args = parse_args(__doc__)
    rounds = 3
    n_single = 100_000 if args.quick else 200_000
    n_batch = 600_000 if args.quick else 1_500_000
    twin = _twin()
    home = tempfile.mkdtemp(prefix="cityops-bench-")
    bus = connect(home=home, prefix="bench:")
    ensure_groups(bus)
    streams = [bus.stream(k) for k in ("iot", "video", "incident")]
    for s in streams:
        raw(bus).xgroup_create(s, "bare", id="$", mkstream=True)
    worker = Worker(bus, twin, consumer="bench", history=False)
    worker.start()
    worker.drain()

    # -- single-event entries: both loops read the same entries; best of a few rounds -------
    bare_rate = single_rate = 0.0
    for r in range(rounds):
        total = _publish_flat(bus, _events(twin, n_single, time.time(), seed=10 + r))
        t0 = time.perf_counter()
        assert _bare_loop(bus, streams) == total
        bare_rate = max(bare_rate, total / (time.perf_counter() - t0))
        t0 = time.perf_counter()
        worker.drain()
        single_rate = max(single_rate, total / (time.perf_counter() - t0))
    emit("ingest", "single_entry_events_per_s", single_rate, "events/s",
         "bare XREADGROUP+XACK loop, same entries", bare_rate)

    # -- Arrow batch entries of 10,000 events ------------------------------------------------
    batch_rate = 0.0
    for r in range(rounds):
        sent = sum(bus.publish(kind, table, batch=10_000) for kind, table in
                   _events(twin, n_batch, time.time(), seed=20 + r).items())
        _bare_loop(bus, streams)  # keep the bare group drained; not timed
        t0 = time.perf_counter()
        worker.drain()
        batch_rate = max(batch_rate, sent / (time.perf_counter() - t0))
    assert worker.totals["dead"] == 0
    emit("ingest", "arrow_batch_events_per_s", batch_rate, "events/s",
         "bare XREADGROUP+XACK loop, single-event entries", bare_rate)

    # -- the dashboard's read of one layer for all cells --------------------------------------
    from layers.live import snapshot

    t_read = best_time(lambda: snapshot.read(bus, "video.count", "1h"), repeat=20)
    t_ping = best_time(raw(bus).ping, repeat=20)
    values = snapshot.read(bus, "video.count", "1h")
    assert len(values) == len(twin) and np.nansum(values) > 0
    emit("ingest", f"read_layer_all_cells_ms[{len(twin)} cells]", t_read * 1e3, "ms",
         "one PING round trip", t_ping * 1e3)
    raw(bus).shutdown(nosave=True)


if __name__ == "__main__":
    main()
