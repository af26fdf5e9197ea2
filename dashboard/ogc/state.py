"""What the OGC plugins read (the twin, the bus, the work folder) and who is asking.

pygeoapi builds a provider or processor from its config on every request and knows nothing of
our objects or users: the config names a mount (`data: <mount id>`), the plugin finds the
mount here, and the mount's guard sets the viewer (the user or API key of the request) in a
context variable the plugins read to apply the pages' role rules.
"""

from __future__ import annotations

import contextvars
import threading
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path

from dashboard.policy import User


@dataclass
class Mount:
    """One OGC API mount: a twin, an optional live bus, a work folder (jobs, results)."""

    id: str
    twin: object
    bus: object | None
    home: Path
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    @cached_property
    def cells(self):
        """The twin's cells as a GeoDataFrame (hex id, static variables, hexagon), built once."""
        with self._lock:
            frame = self.twin.to_geodataframe()
        return frame


_MOUNTS: dict[str, Mount] = {}
VIEWER: contextvars.ContextVar[User | None] = contextvars.ContextVar("ogc_viewer", default=None)


def add(mount: Mount) -> Mount:
    _MOUNTS[mount.id] = mount
    return mount


def get(mount_id: str) -> Mount:
    try:
        return _MOUNTS[mount_id]
    except KeyError:
        raise RuntimeError(f"no OGC mount {mount_id!r}: mount the API with "
                           f"dashboard.ogc.server.mount") from None


def viewer() -> User | None:
    """The user (or API key) of the current request."""
    return VIEWER.get()
