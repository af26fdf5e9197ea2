"""Suite-wide fixtures: one CITYOPS_HOME per test session, the demo and small twins."""

from __future__ import annotations

import os
import tempfile

import pytest

pytest_plugins = ["tests.loop.fixtures"]  # the Redis, clock and case-store fixtures

# One cache folder per session, shared with subprocesses, so the demo twin is built once.
os.environ.setdefault("CITYOPS_HOME", tempfile.mkdtemp(prefix="cityops-test-home-"))
# Embedded test servers listen on their unix socket only (many run at once); the TCP door
# has tests of its own (tests/layers/test_server.py).
os.environ.setdefault("CITYOPS_REDIS_PORT", "0")


def _free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


# the demo's embedded MQTT broker: a free port of this session's own
os.environ.setdefault("CITYOPS_MQTT_PORT", str(_free_port()))


@pytest.fixture(scope="session")
def demo_twin():
    """The Binhai demo twin at resolution 9 (built once per session)."""
    from twin.demo import binhai

    return binhai(resolution=9)


@pytest.fixture(scope="session")
def small():
    """The small synthetic test twin."""
    from twin.testing import small_twin

    return small_twin()


def pytest_sessionfinish(session, exitstatus):
    """Fail the run if a redis-server this session started is still alive: every fixture
    stops what it starts."""
    import psutil

    roots = [os.environ["CITYOPS_HOME"]]
    factory = getattr(session.config, "_tmp_path_factory", None)
    if factory is not None:
        try:
            roots.append(str(factory.getbasetemp()))
        except (OSError, ValueError):
            pass
    from tests.redis_process import redis_servers_in

    # the session's shared home server is the suite's own (many tests use it): stop it first
    for proc in redis_servers_in(os.path.join(os.environ["CITYOPS_HOME"], "redis")):
        proc.terminate()
    psutil.wait_procs(redis_servers_in(os.environ["CITYOPS_HOME"]), timeout=30)
    left = [p for root in roots for p in redis_servers_in(root)]
    _, alive = psutil.wait_procs(left, timeout=30)
    if alive:
        described = ", ".join(f"pid {p.pid} in {p.cwd()}" for p in alive)
        session.config.get_terminal_writer().line(
            f"redis-server processes the tests started are still running: {described}",
            red=True)
        for proc in alive:
            proc.kill()
        session.exitstatus = 1
