"""Helpers of the closed-loop tests (the Redis, clock and store fixtures are in fixtures.py)."""

from __future__ import annotations

import itertools

_counter = itertools.count()


def cell_point(twin, grid: int = 5):
    """(lat, lng) of the first cell of a grid of the twin."""
    import numpy as np

    pos = int(np.flatnonzero(twin.ds["grid"].values == grid)[0])
    lat, lng = twin.centers
    return float(lat[pos]), float(lng[pos])


def alert(twin, category="waterlogging", grid=5, ts=None, rule="test", severity=2, **kw):
    """An Alert at the first cell of a grid."""
    from layers.loop.records import Alert

    lat, lng = cell_point(twin, grid)
    return Alert(id=f"A-{next(_counter)}", rule=rule, category=category, severity=severity,
                 lat=lat, lng=lng, ts=ts, **kw)
