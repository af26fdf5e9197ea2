"""Forcing of the flood model: rain (scalar, per cell, stepped series) and boundary series.

Validated here so that a bad input names itself and the fix before the solver starts.
"""

from __future__ import annotations

import math

import numpy as np


def series(spec: dict, value_key: str, name: str, n_cells: int) -> tuple[np.ndarray, ...]:
    """Validated (cells, times_s, values) of a boundary/inflow dict."""
    missing = [k for k in ("cells", "times_s", value_key) if k not in spec]
    if missing:
        raise ValueError(f"{name} needs keys 'cells', 'times_s', '{value_key}': missing {missing}")
    cells = np.atleast_1d(np.asarray(spec["cells"]))
    if cells.dtype == bool:
        cells = np.flatnonzero(cells)
    cells = cells.astype(np.int64)
    if len(cells) and (cells.min() < 0 or cells.max() >= n_cells):
        raise ValueError(f"{name}['cells'] must be positions in 0..{n_cells - 1}")
    times = np.atleast_1d(np.asarray(spec["times_s"], dtype=float))
    values = np.atleast_1d(np.asarray(spec[value_key], dtype=float))
    if values.shape[0] != len(times):
        raise ValueError(f"{name}['{value_key}'] needs one value per entry of times_s "
                         f"({len(times)}), got {values.shape[0]}")
    if len(times) > 1 and (np.diff(times) <= 0).any():
        raise ValueError(f"{name}['times_s'] must increase")
    return cells, times, values


def interp(times: np.ndarray, values: np.ndarray, t: float) -> np.ndarray | float:
    """Linear interpolation in time of a (T,) or (T, M) series, held flat outside."""
    if values.ndim == 1:
        return float(np.interp(t, times, values))
    k = np.searchsorted(times, t)
    if k <= 0:
        return values[0]
    if k >= len(times):
        return values[-1]
    w = (t - times[k - 1]) / (times[k] - times[k - 1])
    return (1 - w) * values[k - 1] + w * values[k]


class Rain:
    """Rain in m/s per cell at time t: scalar, per-cell array, or a stepped time series."""

    def __init__(self, rain_mm_h, n: int) -> None:
        self.n = n
        self.times = np.array([0.0])
        if rain_mm_h is None:
            self.rates = np.zeros((1, n))
        elif isinstance(rain_mm_h, dict):
            if "times_s" not in rain_mm_h or "mm_h" not in rain_mm_h:
                raise ValueError("rain_mm_h as a time series needs keys 'times_s' and 'mm_h'")
            self.times = np.atleast_1d(np.asarray(rain_mm_h["times_s"], dtype=float))
            mm = np.asarray(rain_mm_h["mm_h"], dtype=float)
            if mm.shape[0] != len(self.times) or mm.ndim > 2 or (mm.ndim == 2
                                                                 and mm.shape[1] != n):
                raise ValueError(f"rain_mm_h['mm_h'] must be (T,) or (T, {n}) with T = "
                                 f"len(times_s) = {len(self.times)}, got {mm.shape}")
            self.rates = np.broadcast_to(mm.reshape(len(self.times), -1), (len(self.times), n))
        else:
            mm = np.asarray(rain_mm_h, dtype=float)
            if mm.ndim not in (0, 1) or (mm.ndim == 1 and mm.shape != (n,)):
                raise ValueError(f"rain_mm_h must be a scalar, a ({n},) array or a time series "
                                 f"dict, got shape {mm.shape}")
            self.rates = np.broadcast_to(mm, (n,))[None, :]
        if (self.rates < 0).any():
            raise ValueError("rain_mm_h must not be negative")
        self.rates = np.ascontiguousarray(self.rates / 3.6e6)  # mm/h -> m/s
        self._k = -1
        self.changed = True
        self.current = self.rates[0]

    def at(self, t: float) -> np.ndarray:
        k = max(int(np.searchsorted(self.times, t, side="right")) - 1, 0)
        self.changed = k != self._k
        if self.changed:
            self._k, self.current = k, np.ascontiguousarray(self.rates[k])
        return self.current

    def next_change(self, t: float) -> float:
        later = self.times[self.times > t + 1e-9]
        return float(later[0]) if len(later) else math.inf
