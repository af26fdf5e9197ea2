"""Rule evaluation per tick on the demo twin's live layers, against baselines from the same run.

Run: python -m tests.bench.rules [--quick]
Layer tick: one engine tick with no new events (the default rule set's layer rules read their
snapshots, update durations/episodes, persist state; plus the escalation check), vs the bare
minimum on the same data: reading the same snapshot arrays and one numpy threshold pass each.
Event tick: one tick over N fresh video+incident events in Arrow batches (the feed's mix: every
incident is a citizen report, so most of the time goes into opening/merging cases), vs reading,
decoding and locating the same entries; and the cost per alert turned into a case, vs one
hash-chained audit append.
Keeping up: events/s of the rules engine against the ingest worker's on the same events in the
demo's mix (issue 13 asks for >= 0.5).
Cluster rule: time and peak memory per incident of the hotline cluster rule's pool at 10k and
100k incidents (linear: the per-incident figures stay flat).
"""

from __future__ import annotations

import json
import tempfile
import time

import numpy as np

from layers.clock import ManualClock
from layers.live import snapshot
from layers.live.bus import connect
from layers.live.feed import Feed
from layers.live.worker import Worker
from layers.loop.engine import Engine
from layers.loop.rules import load
from layers.testing import raw
from tests.bench._common import best_time, emit, parse_args


def _twin():
    from twin.demo import binhai

    return binhai(resolution=9)


def audit_append(bus, log, now: float, n: int) -> None:
    """Audit append: the mean cost over `n` appends of the keyed log (HMAC-SHA256 under the
    audit key, WATCH/MULTI, and an anchor written and fsynced every `anchor_every` records), vs
    the same Redis writes in a bare MULTI/EXEC without signing or anchors."""
    data = {"action": "merge", "alert": "A000001", "events": [f"e{i}" for i in range(5)]}
    record = log.append("case", "C1", "rule:bench", now, data)
    line, client = json.dumps(record), raw(bus)

    def appends() -> None:
        for _ in range(n):
            log.append("case", "C1", "rule:bench", now, data)

    def bare() -> None:
        for i in range(n):
            pipe = client.pipeline(transaction=True)
            pipe.rpush("bench:bare:log", line).rpush("bench:bare:subject", i)
            pipe.hset("bench:bare:head", mapping={"seq": i, "hash": record["hash"]})
            pipe.execute()

    t_log, t_bare = best_time(appends), best_time(bare)
    emit("rules", f"audit_append_us[{n} appends, HMAC + an anchor every {log.anchor_every}]",
         t_log / n * 1e6, "us", "the same Redis writes in a bare MULTI/EXEC", t_bare / n * 1e6)


def main() -> None:
    args = parse_args(__doc__)
    n_events = 20_000 if args.quick else 100_000
    twin = _twin()
    bus = connect(home=tempfile.mkdtemp(prefix="cityops-bench-rules-"), prefix="bench:",
                  fsync="no")
    now = time.time()
    clock = ManualClock(now)
    feed = Feed(twin, seed=2, anomaly_every_s=0)
    for kind, table in feed.generate(now - 120, now - 60, n_events / 60).items():
        bus.publish(kind, table, batch=5000)
    worker = Worker(bus, twin, consumer="bench", clock=clock, history=False)
    worker.drain()
    rules = load()
    engine = Engine(bus, twin, rules, clock=clock)
    engine.tick()  # the first tick consumes the feed's events

    layers = [(w.rule.layer.name, w.rule.layer.window, w.rule.layer.above)
              for w in engine.layer_watches]

    def bare() -> None:
        for name, window, above in layers:
            values = snapshot.read(bus, name, window)
            np.count_nonzero(values > above)

    def tick() -> None:
        clock.advance(1.0)
        engine.tick()

    t_tick = best_time(tick, repeat=7)
    t_bare = best_time(bare, repeat=7)
    emit("rules", f"layer_tick_ms[{len(twin)} cells, {len(layers)} layer rules]", t_tick * 1e3,
         "ms", "snapshot reads + one numpy threshold pass per layer", t_bare * 1e3)

    # -- a tick over fresh events vs only reading and decoding the same entries ---------------
    from layers.live.decode import Decoder
    from layers.live.schema import KIND_FIELDS
    from layers.loop.audit import AuditLog

    best_engine, best_read, per_alert = float("inf"), float("inf"), float("inf")
    for r in range(3):
        t0 = now + 60 * r
        clock.set(t0)
        tables = feed.generate(t0 - 60, t0, n_events / 60)
        entries = {}
        for kind in ("video", "incident"):
            if kind in tables:
                bus.publish(kind, tables[kind], batch=5000)
                entries[kind] = raw(bus).xrange(bus.stream(kind))
        start = time.perf_counter()
        decoder = Decoder(twin)
        for kind, items in entries.items():
            decoder.decode(kind, items, t0, KIND_FIELDS[kind],
                           {"label": engine.labels} if kind == "video" else None)
        best_read = min(best_read, time.perf_counter() - start)
        start = time.perf_counter()
        summary = engine.tick()
        elapsed = time.perf_counter() - start
        best_engine = min(best_engine, elapsed)
        if summary["alerts"]:
            per_alert = min(per_alert, (elapsed - best_read) / len(summary["alerts"]))
        for kind in entries:
            raw(bus).xtrim(bus.stream(kind), maxlen=0)
    n = sum(t.num_rows for k, t in tables.items() if k in ("video", "incident"))
    emit("rules", f"event_tick_ms[{n} video+incident events]", best_engine * 1e3, "ms",
         "reading + decoding + locating the same entries", best_read * 1e3)
    log = AuditLog(bus)
    t_append = best_time(lambda: log.append("bench", "bench", "bench", now, {"x": 1}), repeat=50)
    emit("rules", "alert_to_case_ms_per_alert", per_alert * 1e3, "ms",
         "one hash-chained audit append (one transaction)", t_append * 1e3)
    audit_append(bus, log, now, 500 if args.quick else 2000)
    bus.close()
    keeping_up(twin, 60_000 if args.quick else 300_000)
    cluster_scaling(twin, (2_000, 20_000) if args.quick else (10_000, 100_000))


def keeping_up(twin, n_events: int) -> None:
    """Events/s of the rules engine and of the ingest worker on the same demo-mix events."""
    from dashboard.system import DEMO_SHARES

    bus = connect(home=tempfile.mkdtemp(prefix="cityops-bench-keepup-"), prefix="keep:",
                  fsync="no")
    now = time.time()
    feed = Feed(twin, seed=5, anomaly_every_s=0, shares=DEMO_SHARES)
    tables = feed.generate(now - 90, now - 30, n_events / 60)
    for kind, table in tables.items():
        bus.publish(kind, table, batch=5000)
    n = sum(t.num_rows for t in tables.values())
    clock = ManualClock(now)
    worker = Worker(bus, twin, consumer="keep", clock=clock, history=False)
    start = time.perf_counter()
    worker.drain()
    t_ingest = time.perf_counter() - start
    engine = Engine(bus, twin, load(), clock=clock, consumer="keep", batch=20_000)
    n_rules = sum(t.num_rows for k, t in tables.items() if k in ("video", "incident"))
    start = time.perf_counter()
    while any(engine.tick()["entries"].values()):
        pass
    t_rules = time.perf_counter() - start
    emit("rules", f"rules_events_per_s[{n_rules} video+incident of {n} events]",
         n_rules / t_rules, "events/s", "the ingest worker on the same entries (all kinds)",
         n / t_ingest)
    bus.close()


def cluster_scaling(twin, sizes: tuple[int, int]) -> None:
    """Per-incident time and memory of the cluster rule's pool, small vs large."""
    import tracemalloc

    import pandas as pd

    from layers.loop.whistle import near_pairs

    rng = np.random.default_rng(3)
    lat, lng = twin.centers
    figures = {}
    for n in sizes:
        idx = rng.integers(0, len(twin), n)
        pool = pd.DataFrame({"id": [f"h{i}" for i in range(n)],
                             "ts": time.time() - rng.uniform(0, 3600, n),
                             "lat": lat[idx], "lng": lng[idx],
                             "cat": rng.choice(["noise", "garbage", "road_damage"], n)})
        tracemalloc.start()
        start = time.perf_counter()
        near_pairs(pool, np.arange(n), 500.0, 3600.0)
        elapsed = time.perf_counter() - start
        peak = tracemalloc.get_traced_memory()[1]
        tracemalloc.stop()
        figures[n] = (elapsed / n, peak / n)
    small, large = sizes
    emit("rules", f"cluster_us_per_incident[{large}]", figures[large][0] * 1e6, "us",
         f"the same at {small} incidents (1.0 = linear)", figures[small][0] * 1e6)
    emit("rules", f"cluster_bytes_per_incident[{large}]", figures[large][1], "B",
         f"the same at {small} incidents (1.0 = linear)", figures[small][1])


if __name__ == "__main__":
    main()
