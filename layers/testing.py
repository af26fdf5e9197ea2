"""Helpers for tests of code built on the bus (like xarray.testing): the raw client on purpose.

Product code reaches Redis only through the stores that own key families (layers.keys); a test
that tampers with stored data (to prove the audit chain or the dead letters catch it) says so by
asking for the raw client here.
"""

from __future__ import annotations

import redis

from layers.live.bus import Bus


def raw(bus: Bus) -> redis.Redis:
    """The bus's Redis client, for tests that read or damage stored data directly."""
    return bus.redis


def server_pid(bus: Bus) -> int:
    """The process id of an embedded server (to stop or pause it in a test)."""
    return int(bus.redis.pid)


def socket_url(bus: Bus) -> str:
    """A unix:// URL (with the password) of the embedded server, for another process."""
    return bus.url


def stop_server(bus: Bus) -> None:
    """Shut an embedded server down whoever else is still connected (end of a test fixture)."""
    import contextlib

    with contextlib.suppress(redis.RedisError, OSError):
        bus.redis.shutdown(nosave=True)
    bus.close()
