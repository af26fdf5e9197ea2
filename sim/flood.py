"""Surface-water flooding: the local inertial shallow-water formulation on the mesh's faces.

Formulation: Bates, P. D., Horritt, M. S. & Fewtrell, T. J. (2010), "A simple inertial
formulation of the shallow water equations for efficient two-dimensional flood inundation
modelling", Journal of Hydrology 387, 33-45 (the ACC solver of LISFLOOD-FP). Per face between
cells a and b, the unit-width discharge q (m^2/s, positive a -> b) is updated explicitly with
semi-implicit friction (their eq. 11):

    q' = (q - g h_f dt (eta_b - eta_a) / d) / (1 + g dt n^2 |q| / h_f^(7/3))

with h_f = max(eta_a, eta_b) - max(z_a, z_b) the flow depth across the face, d the centre
distance and n Manning's coefficient; continuity then moves q' * width * dt between the cells.
The time step adapts as dt = alpha * d_min / sqrt(g h_max) (their eq. 12; they suggest alpha
0.2-0.7, 0.7 being the 2-D stability limit, so we default to 0.5: with n < 0.02 lower it further,
the scheme's known low-friction weakness discussed by de Almeida et al. 2012, WRR 48, W05528).
Generalised from square grids to any mesh by looping over faces; an outflow limiter (a cell
never sends more than it holds) keeps depths non-negative without breaking conservation.
Boundaries are closed unless `level_boundary` holds a level (surge, river stage) on some cells.
The kernel is compiled with numba as race-free passes (faces write their own values, cells gather
from their faces), parallel when `threads` > 1, so it runs on any mesh without Python loops;
h_f^(7/3) goes through numpy's SIMD power between the passes.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import numba
import numpy as np
import xarray as xr

from sim.mesh import Mesh

G = 9.81
ALPHA = 0.5  # Bates et al. use 0.7, the 2-D stability limit; 0.5 keeps low-friction pools calm
DEPTH_THRESHOLD_M = 1e-3  # faces shallower than this carry no flow (LISFLOOD-FP default)


@numba.njit(cache=True, nogil=True, parallel=True)
def _faces(h, z, q, fac_old, fa, fb, hmin, hf, deta):  # pragma: no cover - compiled
    """Face pass 1: last step's outflow limiter applied to q; flow depth and level difference."""
    for f in numba.prange(fa.shape[0]):
        a = fa[f]
        b = fb[f]
        q0 = q[f]
        q[f] = q0 * (fac_old[a] if q0 > 0.0 else fac_old[b])
        za = z[a]
        zb = z[b]
        ea = h[a] + za
        eb = h[b] + zb
        d = (ea if ea > eb else eb) - (za if za > zb else zb)
        hf[f] = d if d > hmin else hmin
        deta[f] = (eb - ea) if d > hmin else 0.0


@numba.njit(cache=True, nogil=True, parallel=True)
def _step(h, area, q, fac, fa, fb, fw, fd, slot_face, slot_sign, dt, n2, hmin, hf, deta, hf73,
          vf, rain, drain, t_end, wet_m, maxd, arrival, drained):  # pragma: no cover
    """Rest of one explicit step in place (parallel passes, no scatter, so no races).

    2. faces: momentum update with semi-implicit friction (h_f^(7/3) computed by numpy's SIMD
       power between the passes: the costliest operation), volume vf = q * width * dt;
    3. cells: this step's limiter `fac` (share of its outflow a cell can supply);
    4. faces: vf scaled by the limiter of its upwind cell;
    5. cells: continuity from the faces' vf, sources and sinks, max depth, arrival.
    Both cells of a face use the same vf with opposite signs, so water is conserved to round-off.
    """
    nc = h.shape[0]
    k = slot_face.shape[1]
    for f in numba.prange(fa.shape[0]):  # fd holds 1 / distance: one division per face
        q0 = q[f]
        d = hf[f]
        p = hf73[f]
        qf = (q0 - G * d * dt * deta[f] * fd[f]) * p / (p + G * dt * n2 * abs(q0))
        qf = qf if d > hmin else 0.0
        q[f] = qf
        vf[f] = qf * fw[f] * dt
    for c in numba.prange(nc):
        out = 0.0
        for j in range(k):
            e = slot_face[c, j]
            if e >= 0:
                v = slot_sign[c, j] * vf[e]
                out += v if v > 0.0 else 0.0
        have = h[c] * area[c]
        fac[c] = have / out if out > have else 1.0
    for f in numba.prange(fa.shape[0]):
        v = vf[f]
        vf[f] = v * (fac[fa[f]] if v > 0.0 else fac[fb[f]])
    for c in numba.prange(nc):
        dv = 0.0
        for j in range(k):
            e = slot_face[c, j]
            if e >= 0:
                dv -= slot_sign[c, j] * vf[e]
        hc = h[c] + dv / area[c] + rain[c] * dt
        if hc < 0.0:
            hc = 0.0
        d = 0.0
        if drain > 0.0:
            d = drain * dt if drain * dt < hc else hc
            hc -= d
        drained[c] = d * area[c]
        h[c] = hc
        if hc > maxd[c]:
            maxd[c] = hc
        if hc > wet_m and arrival[c] < 0.0:
            arrival[c] = t_end


def _series(spec: dict, value_key: str, name: str, n_cells: int) -> tuple[np.ndarray, ...]:
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


def _interp(times: np.ndarray, values: np.ndarray, t: float) -> np.ndarray | float:
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


class _Rain:
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


def simulate(mesh: Mesh, *, duration_s: float, output_every_s: float,
             depth0_m: np.ndarray | float | None = None, rain_mm_h=None,
             level_boundary: dict | None = None, inflow: dict | None = None,
             manning_n: float = 0.03, drainage_mm_h: float = 0.0,
             alpha: float = ALPHA, max_dt_s: float = 60.0, wet_threshold_m: float = 0.01,
             threads: int = 1, progress: Callable[[float], None] | None = None) -> xr.Dataset:
    """Run the local inertial flood model; depth per output time plus max depth and arrival.

    `level_boundary` = {"cells", "times_s", "level_m"} holds a water level on cells (surge,
    river stage); `inflow` = {"cells", "times_s", "q_m3_s"} adds discharge (split evenly over
    the cells). The Dataset's attrs hold the mass balance (volumes in m^3, relative error).
    `threads`: kernel threads (default 1: ensembles already run members in parallel, and on a
    shared machine spinning threads cost more than they give).
    """
    n = len(mesh)
    if not duration_s > 0 or not output_every_s > 0:
        raise ValueError("duration_s and output_every_s must be positive (seconds)")
    if np.ndim(manning_n) != 0:
        raise ValueError("manning_n must be a scalar Manning coefficient (s/m^(1/3))")
    h = np.zeros(n) if depth0_m is None else np.array(
        np.broadcast_to(np.asarray(depth0_m, dtype=float), (n,)))
    if (h < 0).any() or not np.isfinite(h).all():
        raise ValueError("depth0_m must be finite and non-negative (metres of water)")
    rain = _Rain(rain_mm_h, n)
    lb = _series(level_boundary, "level_m", "level_boundary", n) if level_boundary else None
    inf = _series(inflow, "q_m3_s", "inflow", n) if inflow else None
    z, area = mesh.z_m, mesh.area_m2
    fa, fb, fw, fd = mesh.faces
    slot_face, slot_sign = mesh.face_slots
    inv_fd = 1.0 / fd
    q = np.zeros(len(fa))
    fac, fac_old = np.ones(n), np.ones(n)
    drained = np.empty(n)
    hf, deta, hf73, vf = (np.empty(len(fa)) for _ in range(4))
    n2 = float(manning_n) ** 2
    dmin = mesh.min_distance_m

    out_times = np.arange(0.0, duration_s + 1e-9, output_every_s)
    if out_times[-1] < duration_s - 1e-9:
        out_times = np.r_[out_times, duration_s]
    snaps = np.empty((len(out_times), n), dtype=np.float32)
    maxd = h.copy()
    arrival = np.where(h > wet_threshold_m, 0.0, -1.0)  # -1: not yet (NaN on output)

    def apply_level(t: float) -> float:
        cells, times, levels = lb
        level = _interp(times, levels, t)
        new = np.maximum(level - z[cells], 0.0)
        delta = float(((new - h[cells]) * area[cells]).sum())  # no BLAS threads per step
        h[cells] = new
        maxd[cells] = np.maximum(maxd[cells], new)
        return delta

    v0 = float(np.dot(h, area))
    vol = {"boundary": apply_level(0.0) if lb else 0.0, "rain": 0.0, "inflow": 0.0,
           "drained": 0.0}
    v_start = v0 + vol["boundary"]
    snaps[0] = h
    previous_threads = numba.get_num_threads()
    numba.set_num_threads(max(1, min(int(threads), numba.config.NUMBA_NUM_THREADS)))
    try:
        t, k_out = 0.0, 1
        hmax = float(h.max()) if n else 0.0
        steps = 0
        while k_out < len(out_times):
            dt = alpha * dmin / math.sqrt(G * hmax) if hmax > 0 else max_dt_s
            dt = min(dt, max_dt_s, out_times[k_out] - t, rain.next_change(t) - t)
            r = rain.at(t)
            if rain.changed:
                rain_rate_m3_s = float((r * area).sum())
            vol["rain"] += rain_rate_m3_s * dt
            if inf is not None:
                cells, times, qs = inf
                qin = float(_interp(times, qs, t + dt / 2))
                h[cells] += qin * dt / len(cells) / area[cells]
                vol["inflow"] += qin * dt
            fac, fac_old = fac_old, fac  # last step's limiter is read, this step's written
            _faces(h, z, q, fac_old, fa, fb, DEPTH_THRESHOLD_M, hf, deta)
            np.power(hf, 7.0 / 3.0, out=hf73)
            _step(h, area, q, fac, fa, fb, fw, inv_fd, slot_face, slot_sign, dt, n2,
                  DEPTH_THRESHOLD_M, hf, deta, hf73, vf, r, drainage_mm_h / 3.6e6, t + dt,
                  wet_threshold_m, maxd, arrival, drained)
            hmax = float(h.max()) if n else 0.0
            if drainage_mm_h > 0:
                vol["drained"] += float(drained.sum())
            t += dt
            steps += 1
            if lb is not None:
                vol["boundary"] += apply_level(t)
                hmax = max(hmax, float(h[lb[0]].max()))
            if t >= out_times[k_out] - 1e-9:
                snaps[k_out] = h
                k_out += 1
                if progress is not None:
                    progress(t / duration_s)
    finally:
        numba.set_num_threads(previous_threads)
    arrival[arrival < 0] = np.nan
    v1 = float(np.dot(h, area))
    expected = v0 + vol["rain"] + vol["inflow"] + vol["boundary"] - vol["drained"]
    err = v1 - expected
    scale = max(v0, v1, vol["rain"] + vol["inflow"] + abs(vol["boundary"]), 1e-300)
    attrs = {
        "model": "local inertial (Bates, Horritt & Fewtrell 2010)",
        "volume_initial_m3": v0, "volume_final_m3": v1, "volume_rain_m3": vol["rain"],
        "volume_inflow_m3": vol["inflow"], "volume_boundary_net_m3": vol["boundary"],
        "volume_drained_m3": vol["drained"], "volume_error_m3": err,
        "volume_error_relative": err / scale, "steps": steps,
        "manning_n": float(manning_n), "volume_start_m3": v_start,
    }
    attrs = {k: (v if isinstance(v, str) else float(v)) for k, v in attrs.items()}
    return xr.Dataset(
        {"depth_m": (("time", "cell"), snaps, {"units": "m", "long_name": "water depth"}),
         "max_depth_m": ("cell", maxd.astype(np.float32), {"units": "m",
                                                           "long_name": "maximum depth"}),
         "arrival_s": ("cell", arrival, {"units": "s", "long_name":
                                         f"first time depth exceeds {wet_threshold_m} m"})},
        coords={"time": ("time", out_times, {"units": "s"})}, attrs=attrs)


def level_for_volume(mesh: Mesh, volume_m3: float) -> float:
    """The flat water level that holds `volume_m3` over the mesh (bisection on the hypsometry)."""
    lo, hi = float(mesh.z_m.min()), float(mesh.z_m.max()) + volume_m3 / mesh.area_m2.sum() + 1
    for _ in range(200):
        mid = 0.5 * (lo + hi)
        if np.dot(np.maximum(mid - mesh.z_m, 0.0), mesh.area_m2) > volume_m3:
            hi = mid
        else:
            lo = mid
    return 0.5 * (lo + hi)
