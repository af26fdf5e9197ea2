"""The compiled time loop of the local inertial flood model (numba), race-free and parallel.

`advance` runs whole steps until a target time without returning to Python. Each step:

1. momentum (faces): the theta-weighted semi-implicit update of de Almeida et al. (2012), the
   friction power h_f^(7/3) computed inline as h_f^2 cbrt(h_f) with a fast cube root, and the
   energy-head check;
2. limiter (cells): the share `fac` of its outflow a cell can supply (it never sends more than
   it holds), then (faces) each flow scaled by the limiter of its upwind cell, so the flows the
   next step starts from are the ones that moved;
3. continuity (cells): depths from the faces' flows, sources and sinks, maximum depth, arrival.

Faces write only their own values and cells only gather from their faces, so every pass is a
plain `prange` with no atomics; both cells of a face use the same flow with opposite signs, so
water is conserved to round-off. Work is done only on active blocks: cells are grouped in
blocks of consecutive positions, a block is wet if any of its cells holds water, and the active
blocks are the wet ones and their neighbours (water crosses at most one cell per step); runs of
consecutive active blocks are the parallel work items (chunks), so a wet domain costs no more
than one without blocks.
Arrays of per-face width and distance may have length 1 (a uniform raster): `stride` 0.
These passes serve any mesh (H3 cells, 2-D friction); `advance` hands a raster's steps to
`sim.flood_raster`, whose contiguous loops vectorise.
"""

from __future__ import annotations

import numba
import numpy as np

from sim import flood_raster
from sim.flood_numeric import JIT, G, face_flow, friction_power, like, over_crest, settle, zigzag

CHUNK_BLOCKS = 64  # a parallel work item: up to this many consecutive active blocks
BATCH = 128  # faces whose friction powers are computed together (their cube roots overlap)


@numba.njit(nogil=True, parallel=True, **JIT)
def cell_vectors(q, slot_face, slot_sign, dirs, chunks, bstart, cvx, cvy):  # pragma: no cover
    """Each active cell's discharge vector v = (2/k) sum_j q_j n_j from its faces (2-D friction).

    Exact for a uniform flow on a regular k-gon; `dirs` is (1, k, 2) shared or (N, k, 2).
    """
    k = slot_face.shape[1]
    stride = 0 if dirs.shape[0] == 1 else 1
    zero, two, sides = like(cvx, 0.0), like(cvx, 2.0), like(cvx, k)
    for i in numba.prange(chunks.shape[0]):
        for c in range(bstart[chunks[i, 0]], bstart[chunks[i, 1]]):
            vx = zero
            vy = zero
            row = c * stride
            for j in range(k):
                e = slot_face[c, j]
                if e >= 0:
                    qo = slot_sign[c, j] * q[e]
                    vx += qo * dirs[row, j, 0]
                    vy += qo * dirs[row, j, 1]
            cvx[c] = two * vx / sides
            cvy[c] = two * vy / sides


@numba.njit(nogil=True, parallel=True, **JIT)
def momentum(h, z, q, qn, fa, fb, fw, inv_fd, fstride, up, up_sign, down, down_sign, theta, dt,
             n2, hmin, friction_2d, normals, cvx, cvy, chunks, fstart, spill_tol,
             spill_blk):  # pragma: no cover - compiled
    """Pass 1 (faces): q -> qn by the theta-weighted momentum equation (`face_flow`).

    |q_vec| is |q| (1-D friction) or the magnitude of q and the tangential flow averaged from
    the two cells (2-D friction). Per chunk, `spill_blk` (at its first block) gets the volume
    that leaves a cell over a crest above its energy head (`over_crest`), summed in float64.
    """
    zero, one, half = like(h, 0.0), like(h, 1.0), like(h, 0.5)
    g, step = like(h, G), like(h, dt)
    friction = like(h, G * dt * n2)
    shallow = like(h, hmin)
    own, line = like(h, theta), like(h, 0.5 * (1.0 - theta))
    two_g, tol = like(h, 2.0 * G), like(h, spill_tol)
    weighted = theta < 1.0
    for i in numba.prange(chunks.shape[0]):
        depth = np.empty(BATCH, h.dtype)
        power = np.empty(BATCH, h.dtype)
        spill = 0.0
        f_end = fstart[chunks[i, 1]]
        for f0 in range(fstart[chunks[i, 0]], f_end, BATCH):
            f1 = min(f0 + BATCH, f_end)
            for f in range(f0, f1):  # a tight loop: the cube roots of its faces overlap
                za = z[fa[f]]
                zb = z[fb[f]]
                d = max(h[fa[f]] + za, h[fb[f]] + zb) - max(za, zb)
                depth[f - f0] = d
                power[f - f0] = friction_power(d if d > shallow else one)
            for f in range(f0, f1):
                d = depth[f - f0]
                if d <= shallow:
                    qn[f] = zero
                    continue
                a = fa[f]
                b = fb[f]
                za = z[a]
                zb = z[b]
                ea = h[a] + za
                eb = h[b] + zb
                q0 = q[f]
                qu = q0
                qd = q0
                if weighted:
                    if up[f] >= 0:
                        qu = up_sign[f] * q[up[f]]
                    if down[f] >= 0:
                        qd = down_sign[f] * q[down[f]]
                if friction_2d:
                    qt = half * (-normals[f, 1] * (cvx[a] + cvx[b])
                                 + normals[f, 0] * (cvy[a] + cvy[b]))
                    qv = np.sqrt(q0 * q0 + qt * qt)
                else:
                    qv = abs(q0)
                qf = face_flow(q0, qu, qd, qv, d, power[f - f0], (eb - ea) * inv_fd[f * fstride],
                               g, step, friction, own, line)
                qn[f] = qf
                if over_crest(qf, q0, d, ea, eb, za, zb, two_g, tol):
                    spill += abs(qf) * fw[f * fstride]
        spill_blk[chunks[i, 0]] += spill * dt


@numba.njit(nogil=True, parallel=True, **JIT)
def limit(h, area, astride, qn, fa, fb, fw, fstride, slot_face, slot_sign, dt, fac, chunks,
          bstart, fstart):  # pragma: no cover - compiled
    """Pass 2: each cell's limiter (cells), then each flow scaled by its upwind cell's (faces)."""
    k = slot_face.shape[1]
    zero, one, step = like(h, 0.0), like(h, 1.0), like(h, dt)
    for i in numba.prange(chunks.shape[0]):
        for c in range(bstart[chunks[i, 0]], bstart[chunks[i, 1]]):
            out = zero
            for j in range(k):
                e = slot_face[c, j]
                if e >= 0:
                    v = slot_sign[c, j] * qn[e] * fw[e * fstride]
                    out += v if v > zero else zero
            out *= step
            have = h[c] * area[c * astride]
            fac[c] = have / out if out > have else one
    for i in numba.prange(chunks.shape[0]):
        for f in range(fstart[chunks[i, 0]], fstart[chunks[i, 1]]):
            v = qn[f]
            if v != zero:
                qn[f] = v * (fac[fa[f]] if v > zero else fac[fb[f]])


@numba.njit(nogil=True, parallel=True, **JIT)
def continuity(h, area, astride, qn, fw, fstride, slot_face, slot_sign, rain, rstride, drain,
               dt, t_end, wet_m, maxd, arrival, chunks, bstart, wet_blk, hmax_blk,
               drained_blk):  # pragma: no cover - compiled
    """Pass 3 (cells): depth from the faces' flows plus rain minus drainage; max, arrival.

    In the arrays' precision; the drained volume is summed in float64.
    """
    k = slot_face.shape[1]
    zero, step, wet = like(h, 0.0), like(h, dt), like(h, wet_m)
    sink = like(h, drain * dt)
    for i in numba.prange(chunks.shape[0]):
        drained = 0.0
        for blk in range(chunks[i, 0], chunks[i, 1]):
            hmax = zero
            for c in range(bstart[blk], bstart[blk + 1]):
                dv = zero
                for j in range(k):
                    e = slot_face[c, j]
                    if e >= 0:
                        dv -= slot_sign[c, j] * qn[e] * fw[e * fstride]
                a = area[c * astride]
                hc = h[c] + dv * step / a + rain[c * rstride] * step
                drained += float(settle(h, maxd, arrival, c, hc, sink, wet, t_end)) * float(a)
                hmax = h[c] if h[c] > hmax else hmax
            wet_blk[blk] = hmax > zero
            hmax_blk[blk] = hmax
        drained_blk[chunks[i, 0]] += drained


@numba.njit(nogil=True, **JIT)
def activate(wet_blk, keep_blk, nbr_ptr, nbr, q, fstart, second, was, now, chunk_blocks,
             out):  # pragma: no cover - compiled
    """Chunks (runs of consecutive active blocks, at most `chunk_blocks` long); their count.

    Active: wet blocks, their neighbours, and those always kept. Faces of blocks that fall idle
    get q = 0, so no stale flow survives until they wake up: q[fstart[b]:fstart[b + 1]] and, if
    `second` > 0 (a raster's south faces, `sim.flood_raster`), the same range shifted by it.
    """
    nb = wet_blk.shape[0]
    now[:] = False
    for b in range(nb):
        if wet_blk[b] or keep_blk[b]:
            now[b] = True
            for j in range(nbr_ptr[b], nbr_ptr[b + 1]):
                now[nbr[j]] = True
    count = 0
    open_run = False
    for b in range(nb):
        if now[b]:
            if open_run and b - out[count - 1, 0] < chunk_blocks:
                out[count - 1, 1] = b + 1
            else:
                out[count, 0] = b
                out[count, 1] = b + 1
                count += 1
                open_run = True
        else:
            open_run = False
            if was[b]:
                for f in range(fstart[b], fstart[b + 1]):
                    q[f] = 0.0
                    if second > 0:
                        q[f + second] = 0.0
        was[b] = now[b]
    return count


@numba.njit(nogil=True, **JIT)
def zigzags(h, z, fa, fb, up, up_sign, deep_m, tol_m):  # pragma: no cover - compiled
    """(zig-zagging in-line face pairs, deep pairs, largest zig-zag m): see sim.flood_checks."""
    count = 0
    deep = 0
    size = 0.0
    for f in range(fa.shape[0]):
        u = up[f]
        if u < 0:
            continue
        a = fa[f]
        o = fa[u] if up_sign[f] > 0 else fb[u]  # the face behind a joins o to a
        d, m = zigzag(h[o], h[a], h[fb[f]], z[o], z[a], z[fb[f]], deep_m, tol_m)
        deep += d
        if m > 0.0:
            count += 1
            size = max(size, m)
    return count, deep, size


@numba.njit(nogil=True, **JIT)
def interp(times, values, t):  # pragma: no cover - compiled
    """Linear interpolation of a series at t, held flat outside (np.interp semantics)."""
    n = times.shape[0]
    if t <= times[0]:
        return values[0]
    if t >= times[n - 1]:
        return values[n - 1]
    k = np.searchsorted(times, t)
    w = (t - times[k - 1]) / (times[k] - times[k - 1])
    return (1.0 - w) * values[k - 1] + w * values[k]


@numba.njit(nogil=True, **JIT)
def advance(h, z, area, astride, q, qn, fa, fb, fw, inv_fd, fstride, slot_face, slot_sign,
            up, up_sign, down, down_sign, theta, n2, hmin, friction_2d, normals, dirs, cvx, cvy,
            rain, rstride, drain, wet_m, maxd, arrival, fac, bstart, fstart, nbr_ptr, nbr,
            wet_blk, keep_blk, was_blk, hmax_blk, drained_blk, spill_blk, spill_tol, in_cells,
            in_t, in_q, lb_cells, lb_t, lb_level, alpha, dmin, max_dt, t, t_stop, hmax, nr,
            nc):  # pragma: no cover - compiled
    """Steps from t to t_stop; returns (t, hmax, steps, inflow m3, boundary m3) and q current.

    The caller's `q` holds the current flows on return (copied back if the last step wrote qn).
    nc > 0: the mesh is an nr x nc raster run by `sim.flood_raster` (q in its layout, 1-D
    friction); nc = 0: a general mesh.
    """
    nb = wet_blk.shape[0]
    second = q.shape[0] // 2 if nc > 0 else 0
    runs = np.empty((nb, 2), dtype=np.int64)
    now = np.empty(nb, dtype=np.bool_)
    steps = 0
    vol_in = 0.0
    vol_lb = 0.0
    cur = q
    nxt = qn
    while t < t_stop - 1e-9:
        dt = alpha * dmin / np.sqrt(G * hmax) if hmax > 0.0 else max_dt
        if dt > max_dt:
            dt = max_dt
        if dt > t_stop - t:
            dt = t_stop - t
        if in_cells.shape[0] > 0:
            qin = interp(in_t, in_q, t + 0.5 * dt)
            share = qin * dt / in_cells.shape[0]
            for c in in_cells:
                h[c] += share / area[c * astride]
            vol_in += qin * dt
        count = activate(wet_blk, keep_blk, nbr_ptr, nbr, cur, fstart, second, was_blk, now,
                         CHUNK_BLOCKS, runs)
        chunks = runs[:count]
        if nc > 0:
            flood_raster.momentum(h, z, cur, nxt, nr, nc, fw[0], inv_fd[0], theta, dt, n2, hmin,
                                  spill_tol, chunks, bstart, spill_blk)
            flood_raster.limit(h, area[0], nxt, nc, fw[0], dt, fac, chunks, bstart)
            flood_raster.continuity(h, area[0], nxt, nc, fw[0], rain, drain, dt, t + dt, wet_m,
                                    maxd, arrival, chunks, bstart, wet_blk, hmax_blk, drained_blk)
        else:
            if friction_2d:
                cell_vectors(cur, slot_face, slot_sign, dirs, chunks, bstart, cvx, cvy)
            momentum(h, z, cur, nxt, fa, fb, fw, inv_fd, fstride, up, up_sign, down, down_sign,
                     theta, dt, n2, hmin, friction_2d, normals, cvx, cvy, chunks, fstart,
                     spill_tol, spill_blk)
            limit(h, area, astride, nxt, fa, fb, fw, fstride, slot_face, slot_sign, dt, fac,
                  chunks, bstart, fstart)
            continuity(h, area, astride, nxt, fw, fstride, slot_face, slot_sign, rain, rstride,
                       drain, dt, t + dt, wet_m, maxd, arrival, chunks, bstart, wet_blk,
                       hmax_blk, drained_blk)
        hmax = 0.0
        for i in range(count):
            for blk in range(chunks[i, 0], chunks[i, 1]):
                if hmax_blk[blk] > hmax:
                    hmax = hmax_blk[blk]
        tmp = cur
        cur = nxt
        nxt = tmp
        t += dt
        steps += 1
        if lb_cells.shape[0] > 0:
            level = interp(lb_t, lb_level, t)
            for c in lb_cells:
                new = level - z[c] if level > z[c] else 0.0
                vol_lb += (new - h[c]) * area[c * astride]
                h[c] = new
                if new > maxd[c]:
                    maxd[c] = new
                if new > hmax:
                    hmax = new
    if steps % 2 == 1:
        q[:] = cur
    return t, hmax, steps, vol_in, vol_lb
