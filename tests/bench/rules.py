"""Rule evaluation per tick on the demo twin's live layers, against baselines from the same run.

Run: python -m tests.bench.rules [--quick]
Layer tick: one engine tick with no new events (the default rule set's layer rules read their
snapshots, update durations/episodes, persist state; plus the escalation check), vs the bare
minimum on the same data: reading the same snapshot arrays and one numpy threshold pass each.
Event tick: one tick over N fresh video+incident events in Arrow batches (the feed's mix: every
incident is a citizen report, so most of the time goes into opening/merging cases), vs reading,
decoding and locating the same entries; and the cost per alert turned into a case, vs one
hash-chained audit append.
"""

from __future__ import annotations

import json
import tempfile
import time

import numpy as np

from layers.live import snapshot
from layers.live.bus import connect
from layers.live.feed import Feed
from layers.live.worker import Worker
from layers.loop.clock import ManualClock
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


if __name__ == "__main__":
    main()
