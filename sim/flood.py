"""Surface-water flooding: the local inertial shallow-water formulation on the mesh's faces.

Formulation: Bates, P. D., Horritt, M. S. & Fewtrell, T. J. (2010), "A simple inertial
formulation of the shallow water equations for efficient two-dimensional flood inundation
modelling", Journal of Hydrology 387, 33-45 (the ACC solver of LISFLOOD-FP), with the
theta-weighted momentum of de Almeida, G. A. M., Bates, P., Freer, J. E. & Souvignet, M.
(2012), "Improving the stability of a simple formulation of the shallow water equations for 2-D
flood modeling", Water Resources Research 48, W05528. Per face between cells a and b, the
unit-width discharge q (m^2/s, positive a -> b) is updated explicitly with semi-implicit
friction:

    q' = [theta q + (1 - theta)/2 (q_up + q_down) - g h_f dt (eta_b - eta_a) / d]
         / (1 + g dt n^2 |q| / h_f^(7/3))

with q_up, q_down the flows through the faces in line with it (behind a, beyond b),
h_f = max(eta_a, eta_b) - max(z_a, z_b) the flow depth across the face, d the centre distance
and n Manning's coefficient; theta = 1 is Bates et al. (2010, eq. 11) exactly. Continuity then
moves q' * width * dt between the cells. The time step adapts as dt = alpha d_min / sqrt(g h_max)
(Bates et al. 2010, eq. 12).

Why theta < 1 by default: with theta = 1 the scheme does not damp the shortest (2 dx) wave at
low friction (de Almeida et al. 2012's stability analysis), so grid-scale noise from a sharp
start survives; on a 20 x 60 grid with a 2 m basin behind a 1 m sill (n = 0.03) it grew after
about 5.5 h at alpha 0.5 until the basin drained BELOW the sill crest, mass still exact. With
theta = THETA the noise decays and the case ends at the crest at every alpha up to 0.7
(tests/sim/test_flood_stability.py). As in LISFLOOD-FP 8.1 (`theta`, fp_acc.cpp), the weighted
flow falls back to theta = 1 where it would run against the water-surface slope.

`friction_2d` uses the magnitude of the flow vector in the friction term (the face's flow and
the tangential flow averaged from its two cells), as LISFLOOD-FP's default ACC does; without it
|q| of the face alone (its `1Dfriction` option). An outflow limiter (a cell never sends more than
it holds) keeps depths non-negative without breaking conservation. Each run checks itself for
oscillation (`sim.flood_checks`) and records the result in the Dataset's attrs.
Boundaries are closed unless `level_boundary` holds a level (surge, river stage) on some cells.
The passes are compiled with numba (`sim.flood_kernels`), parallel when `threads` > 1; a
raster (`mesh.raster`) with 1-D friction runs contiguous, vectorised passes (`sim.flood_raster`)
with the same arithmetic (`sim.flood_numeric`).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numba
import numpy as np
import xarray as xr

from sim import flood_checks, flood_raster
from sim import flood_kernels as kern
from sim.flood_forcing import Rain, interp, series
from sim.mesh import Mesh

G = kern.G
ALPHA = 0.5  # Bates et al. (2010) suggest 0.2-0.7, 0.7 being the 2-D stability limit
THETA = 0.8  # 1 = Bates et al. (2010); < 1 damps grid-scale noise (de Almeida et al. 2012)
DEPTH_THRESHOLD_M = 1e-3  # faces shallower than this carry no flow (LISFLOOD-FP default)


BLOCK_CELLS = 16  # cells per activity block (consecutive positions)


def _blocks(mesh: Mesh, n: int) -> tuple[np.ndarray, ...]:
    """(cell starts, neighbour CSR pointer, neighbour blocks) of the activity blocks.

    Kept on the mesh: a mesh simulated again (an ensemble, a bench) does not rebuild them.
    """
    cached = mesh.__dict__.get("_flood_blocks")
    if cached is not None:
        return cached
    mesh.__dict__["_flood_blocks"] = blocks = _build_blocks(mesh, n)
    return blocks


def _build_blocks(mesh: Mesh, n: int) -> tuple[np.ndarray, ...]:
    bstart = np.minimum(np.arange(0, n + BLOCK_CELLS, BLOCK_CELLS), n)
    if bstart[-1] != n or len(bstart) < 2:
        bstart = np.r_[bstart, n]
    bstart = np.unique(bstart).astype(np.int64)
    if mesh.grid_shape:  # a raster: c's neighbours are c +- 1 and c +- nc, no face tables
        nc = mesh.grid_shape[1]
        first, last = bstart[:-1], bstart[1:] - 1
        ba = np.repeat(np.arange(len(first)), 6)
        bb = np.stack([first - 1, last + 1, first - nc, last - nc, first + nc, last + nc], 1)
        ok = (bb.ravel() >= 0) & (bb.ravel() < n)
        ba, bb = ba[ok], bb.ravel()[ok] // BLOCK_CELLS  # a few extra (row ends): harmless
    else:
        fa, fb = mesh.face_cells
        ba, bb = fa.astype(np.int64) // BLOCK_CELLS, fb.astype(np.int64) // BLOCK_CELLS
    cross = ba != bb
    pairs = np.unique(np.r_[ba[cross] * len(bstart) + bb[cross],
                            bb[cross] * len(bstart) + ba[cross]])
    src, dst = pairs // len(bstart), pairs % len(bstart)
    ptr = np.r_[0, np.cumsum(np.bincount(src, minlength=len(bstart) - 1))].astype(np.int64)
    return bstart, ptr, dst.astype(np.int64)


@dataclass(frozen=True)
class _Faces:
    """What the kernels read of the mesh's faces, in the run's dtype (see sim.flood_kernels)."""

    fa: np.ndarray
    fb: np.ndarray
    width: np.ndarray
    inv_distance: np.ndarray
    stride: int
    slot_face: np.ndarray
    slot_sign: np.ndarray
    up: np.ndarray
    up_sign: np.ndarray
    down: np.ndarray
    down_sign: np.ndarray
    normals: np.ndarray
    dirs: np.ndarray


def _faces(mesh: Mesh, fp: np.dtype, theta: float, friction_2d: bool) -> _Faces:
    """The face tables of a general mesh; a raster with 1-D friction needs none (placeholders)."""
    fw, inv_fd, stride = mesh.face_geometry
    fw, inv_fd = fw.astype(fp), inv_fd.astype(fp)
    none_i, none_s = np.full(1, -1, np.int32), np.zeros(1, np.int8)
    if mesh.grid_shape and not friction_2d:  # the raster passes find neighbours by arithmetic
        slots = np.full((1, 4), -1, np.int32), np.zeros((1, 4), np.int8)
        return _Faces(none_i, none_i, fw, inv_fd, stride, *slots, none_i, none_s, none_i, none_s,
                      np.zeros((1, 2), fp), np.zeros((1, 1, 2), fp))
    fa, fb = mesh.face_cells
    axes = mesh.face_axes if theta < 1 else (none_i, none_s) * 2
    normals = mesh.face_normals if friction_2d else np.zeros((1, 2))
    dirs = mesh.directions if friction_2d else np.zeros((1, 1, 2))
    dirs = dirs[None] if dirs.ndim == 2 else dirs
    return _Faces(fa, fb, fw, inv_fd, stride, *mesh.face_slots, *axes, normals.astype(fp),
                  dirs.astype(fp))


def _blocks_of(cells: np.ndarray, nb: int) -> np.ndarray:
    out = np.zeros(nb, dtype=np.bool_)
    out[np.asarray(cells, dtype=np.int64) // BLOCK_CELLS] = True
    return out


def simulate(mesh: Mesh, *, duration_s: float, output_every_s: float,
             depth0_m: np.ndarray | float | None = None, rain_mm_h=None,
             level_boundary: dict | None = None, inflow: dict | None = None,
             manning_n: float = 0.03, drainage_mm_h: float = 0.0,
             alpha: float = ALPHA, theta: float = THETA, friction_2d: bool = False,
             max_dt_s: float = 60.0, wet_threshold_m: float = 0.01, threads: int = 1,
             dtype: str = "float64",
             progress: Callable[[float], None] | None = None) -> xr.Dataset:
    """Run the local inertial flood model; depth per output time plus max depth and arrival.

    `level_boundary` = {"cells", "times_s", "level_m"} holds a water level on cells (surge,
    river stage); `inflow` = {"cells", "times_s", "q_m3_s"} adds discharge (split evenly over
    the cells). The Dataset's attrs hold the mass balance (volumes in m^3, relative error) and
    the oscillation check (`sim.flood_checks`). `theta` in (0, 1] weights the face's own flow
    against its in-line neighbours (1 = Bates et al. 2010); `friction_2d` as LISFLOOD-FP's
    default; `dtype` "float32" halves the memory of depths and flows (mass then holds to
    float32 round-off). `threads`: kernel threads (default 1: ensembles already run members in
    parallel, and on a shared machine spinning threads cost more than they give).
    """
    n = len(mesh)
    if not duration_s > 0 or not output_every_s > 0:
        raise ValueError("duration_s and output_every_s must be positive (seconds)")
    if np.ndim(manning_n) != 0:
        raise ValueError("manning_n must be a scalar Manning coefficient (s/m^(1/3))")
    if not 0.0 < theta <= 1.0:
        raise ValueError(f"theta must be in (0, 1] (1 = Bates et al. 2010, {THETA} default), "
                         f"got {theta}")
    if not 0.0 < alpha <= 0.7:
        raise ValueError(f"alpha must be in (0, 0.7] (0.7 is the 2-D stability limit of Bates "
                         f"et al. 2010), got {alpha}")
    if dtype not in ("float64", "float32"):
        raise ValueError(f"dtype must be 'float64' or 'float32', got {dtype!r}")
    fp = np.dtype(dtype)
    h = np.zeros(n, fp) if depth0_m is None else np.array(
        np.broadcast_to(np.asarray(depth0_m, dtype=float), (n,)), dtype=fp)
    if (h < 0).any() or not np.isfinite(h).all():
        raise ValueError("depth0_m must be finite and non-negative (metres of water)")
    rain = Rain(rain_mm_h, n)
    lb = series(level_boundary, "level_m", "level_boundary", n) if level_boundary else None
    inf = series(inflow, "q_m3_s", "inflow", n) if inflow else None
    z = mesh.z_m.astype(fp, copy=False)
    area, astride = mesh.area_m2, 1
    if n and (area == area[0]).all():
        area, astride = area[:1], 0
    area = area.astype(fp)  # the kernels compute in the arrays' dtype
    bstart, nbr_ptr, nbr = _blocks(mesh, n)
    faces = _faces(mesh, fp, theta, friction_2d)
    nr, nc = mesh.grid_shape if mesh.grid_shape and not friction_2d else (0, 0)
    if nc:  # a raster: contiguous passes (sim.flood_raster), flows in their layout
        q, qn = np.zeros((2, flood_raster.flows_length(n, nc)), fp)
        fac = np.ones(n + nc, fp)
        fstart = nc + bstart  # block b's flows: q[fstart[b]:fstart[b + 1]] and its south ones
    else:
        fstart = np.searchsorted(faces.fa, bstart).astype(np.int64)  # faces are sorted by a
        q, qn = np.zeros((2, len(faces.fa)), fp)
        fac = np.ones(n, fp)
    cvx, cvy = np.zeros((2, n if friction_2d else 1), fp)
    nb = len(bstart) - 1
    fixed = np.zeros(0, np.int64)
    in_cells, in_t, in_q = (inf[0], inf[1], inf[2]) if inf else (fixed, np.zeros(1), np.zeros(1))
    lb_cells, lb_t, lb_level = (lb[0], lb[1], lb[2]) if lb else (fixed, np.zeros(1), np.zeros(1))
    keep_base = _blocks_of(np.r_[in_cells, lb_cells], nb)
    wet_blk = np.maximum.reduceat(h, bstart[:-1]) > 0 if n else np.zeros(0, np.bool_)
    was_blk = np.zeros(nb, np.bool_)
    hmax_blk, drained_blk, spill_blk = np.zeros(nb), np.zeros(nb), np.zeros(nb)
    monitor = flood_checks.Monitor()
    n2 = float(manning_n) ** 2

    out_times = np.arange(0.0, duration_s + 1e-9, output_every_s)
    if out_times[-1] < duration_s - 1e-9:
        out_times = np.r_[out_times, duration_s]
    snaps = np.empty((len(out_times), n), dtype=np.float32)
    maxd = h.copy()
    arrival = np.where(h > wet_threshold_m, 0.0, -1.0)  # -1: not yet (NaN on output)
    areas = np.broadcast_to(mesh.area_m2, (n,))
    v0 = flood_checks.volume_m3(h, areas)
    vol = {"boundary": 0.0, "rain": 0.0, "inflow": 0.0}
    if lb:
        level = interp(lb_t, lb_level, 0.0)
        new = np.maximum(level - z[lb_cells].astype(float), 0.0)
        vol["boundary"] = float(np.dot(new - h[lb_cells], areas[lb_cells]))
        h[lb_cells] = new
        maxd[lb_cells] = np.maximum(maxd[lb_cells], new)
        wet_blk |= _blocks_of(lb_cells[new > 0], nb)
    v_start = v0 + vol["boundary"]
    snaps[0] = h
    monitor.look(mesh, h)
    previous_threads = numba.get_num_threads()
    numba.set_num_threads(max(1, min(int(threads), numba.config.NUMBA_NUM_THREADS)))
    try:
        t, k_out, steps = 0.0, 1, 0
        hmax = float(h.max()) if n else 0.0
        while k_out < len(out_times):
            rate = rain.at(t)
            if rain.changed:
                r = rate.astype(fp, copy=False)
                rain_rate_m3_s = flood_checks.volume_m3(r, areas)
                keep_blk = keep_base | _blocks_of(np.flatnonzero(r > 0), nb)
            t_stop = min(out_times[k_out], rain.next_change(t))
            t_new, hmax, done, v_in, v_lb = kern.advance(
                h, z, area, astride, q, qn, faces.fa, faces.fb, faces.width, faces.inv_distance,
                faces.stride, faces.slot_face, faces.slot_sign, faces.up, faces.up_sign,
                faces.down, faces.down_sign, float(theta), n2, DEPTH_THRESHOLD_M,
                bool(friction_2d), faces.normals, faces.dirs, cvx, cvy, r, 1,
                drainage_mm_h / 3.6e6,
                wet_threshold_m, maxd, arrival, fac, bstart, fstart, nbr_ptr, nbr, wet_blk,
                keep_blk, was_blk, hmax_blk, drained_blk, spill_blk,
                flood_checks.SPILL_TOL_M, in_cells, in_t, in_q, lb_cells, lb_t, lb_level,
                float(alpha), mesh.min_distance_m, float(max_dt_s), t, t_stop, hmax, nr, nc)
            vol["rain"] += rain_rate_m3_s * (t_new - t)
            vol["inflow"] += v_in
            vol["boundary"] += v_lb
            steps += done
            t = t_new
            if t >= out_times[k_out] - 1e-9:
                snaps[k_out] = h
                monitor.look(mesh, h)
                k_out += 1
                if progress is not None:
                    progress(t / duration_s)
    finally:
        numba.set_num_threads(previous_threads)
    monitor.spill_m3 = float(spill_blk.sum())
    vol["drained"] = float(drained_blk.sum())
    arrival[arrival < 0] = np.nan
    v1 = flood_checks.volume_m3(h, areas)
    expected = v0 + vol["rain"] + vol["inflow"] + vol["boundary"] - vol["drained"]
    err = v1 - expected
    scale = max(v0, v1, vol["rain"] + vol["inflow"] + abs(vol["boundary"]), 1e-300)
    attrs = {
        "model": "local inertial (Bates, Horritt & Fewtrell 2010; theta weighting of de Almeida "
                 "et al. 2012)", "theta": float(theta), "alpha": float(alpha),
        "friction": "2-D" if friction_2d else "1-D", "dtype": dtype,
        "volume_initial_m3": v0, "volume_final_m3": v1, "volume_rain_m3": vol["rain"],
        "volume_inflow_m3": vol["inflow"], "volume_boundary_net_m3": vol["boundary"],
        "volume_drained_m3": vol["drained"], "volume_error_m3": err,
        "volume_error_relative": err / scale, "steps": steps,
        "manning_n": float(manning_n), "volume_start_m3": v_start,
    }
    attrs = {k: (v if isinstance(v, str) else float(v)) for k, v in attrs.items()}
    attrs.update(monitor.attrs())
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
