"""The HTTP event API vs the Redis XADD pipeline of the same events (the limit of a producer
writing the streams directly).

Run: python -m tests.bench.http_ingest [--quick]
The dashboard runs as `cityops serve` (werkzeug, threaded) in its own process on localhost, on
the bench's Redis; two client threads POST NDJSON batches of 1,000 IoT events with a producer
key and count the 202s. The baseline pipelines XADDs of the same events, 1,000 a round trip, into
another prefix of the same Redis in the same run. Target: ratio >= 0.5.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
import requests

from layers.live.bus import connect
from tests.bench._common import emit, parse_args
from tests.layers.conftest import iot_events
from tests.redis_process import free_port

BATCH = 1000
CLIENTS = 2


def _serve(url: str, keys: Path, home: str) -> tuple[subprocess.Popen, str]:
    port = free_port()
    env = dict(os.environ, CITYOPS_API_KEYS=str(keys), CITYOPS_HOME=home)
    proc = subprocess.Popen([sys.executable, "-m", "dashboard.cli", "serve", "--demo", "binhai",
                             "--redis", url, "--prefix", "bench:http:", "--port", str(port)],
                            env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 300
    while time.monotonic() < deadline:
        try:
            if requests.get(f"{base}/api/v1/openapi.json", timeout=2).status_code == 200:
                return proc, base
        except requests.ConnectionError:
            time.sleep(0.5)
    proc.kill()
    raise SystemExit("the dashboard did not come up within 300 s")


def _post_all(base: str, key: str, bodies: list[bytes]) -> int:
    def send(part: list[bytes]) -> int:
        session, n = requests.Session(), 0
        headers = {"X-API-Key": key, "Content-Type": "application/x-ndjson"}
        for body in part:
            reply = session.post(f"{base}/api/v1/events/iot", data=body, headers=headers,
                                 timeout=120)
            assert reply.status_code == 202, reply.text[:300]
            n += reply.json()["accepted"]
        return n

    with ThreadPoolExecutor(CLIENTS) as pool:
        return sum(pool.map(send, [bodies[i::CLIENTS] for i in range(CLIENTS)]))


def main() -> None:
    args = parse_args(__doc__)
    from dashboard.apikeys import add
    from twin.demo import binhai

    n = 40_000 if args.quick else 200_000
    twin = binhai(resolution=9)  # built (or read from the cache) before the server needs it
    home = tempfile.mkdtemp(prefix="cityops-bench-http-")
    bus = connect(home=home, prefix="bench:xadd:", fsync="no")
    keys = Path(home) / "api_keys.yaml"
    key = add(keys, "bench", "producer", rate=1e9, burst=1e9)
    proc, base = _serve(bus.url, keys, os.environ.get("CITYOPS_HOME") or home)
    try:
        rounds = 3
        http_rate = xadd_rate = 0.0
        for r in range(rounds):
            rows = iot_events(twin, n, np.random.default_rng(r), prefix=f"r{r}-")
            bodies = ["\n".join(json.dumps(e) for e in rows[i:i + BATCH]).encode()
                      for i in range(0, n, BATCH)]
            t0 = time.perf_counter()
            for i in range(0, n, BATCH):
                bus.publish("iot", rows[i:i + BATCH])
            xadd_rate = max(xadd_rate, n / (time.perf_counter() - t0))
            t0 = time.perf_counter()
            accepted = _post_all(base, key, bodies)
            http_rate = max(http_rate, accepted / (time.perf_counter() - t0))
            assert accepted == n
        emit("http_ingest", "ndjson_batches_of_1000_events_per_s", http_rate, "events/s",
             "pipelined XADD of the same events, 1,000 a round trip", xadd_rate)
    finally:
        proc.terminate()
        proc.wait(timeout=60)
        from layers.testing import raw

        raw(bus).shutdown(nosave=True)


if __name__ == "__main__":
    main()
