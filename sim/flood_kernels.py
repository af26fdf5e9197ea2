"""The compiled passes of one local inertial step (numba), race-free and parallel.

Faces write only their own values and cells only gather from their faces, so every pass is a
plain `prange` with no atomics. One step of `sim.flood.simulate` is:

1. `prepare` (faces): last step's outflow limiter applied to q (kept as q_old), flow depth
   h_f = max(eta_a, eta_b) - max(z_a, z_b) and the level difference;
2. `cell_vectors` (cells, 2-D friction only): each cell's discharge vector rebuilt from its
   faces, v = (2/k) sum_j q_j n_j (exact for a uniform flow on a regular k-gon);
3. `momentum` (faces): the theta-weighted semi-implicit update of de Almeida et al. (2012),
   volume through the face this step, and the energy-head check;
4. `continuity` (cells, faces, cells): the outflow limiter, then the depth update with sources
   and sinks, maximum depth and arrival time.
"""

from __future__ import annotations

import numba
import numpy as np

G = 9.81


@numba.njit(cache=True, nogil=True, parallel=True)
def prepare(h, z, q, qold, fac_old, fa, fb, hmin, hf, deta):  # pragma: no cover - compiled
    """Pass 1 (faces): limited q -> q and q_old; flow depth (>= hmin) and level difference."""
    for f in numba.prange(fa.shape[0]):
        a = fa[f]
        b = fb[f]
        q0 = q[f]
        q0 = q0 * (fac_old[a] if q0 > 0.0 else fac_old[b])
        q[f] = q0
        qold[f] = q0
        za = z[a]
        zb = z[b]
        ea = h[a] + za
        eb = h[b] + zb
        d = (ea if ea > eb else eb) - (za if za > zb else zb)
        hf[f] = d if d > hmin else hmin
        deta[f] = (eb - ea) if d > hmin else 0.0


@numba.njit(cache=True, nogil=True, parallel=True)
def cell_vectors(qold, slot_face, slot_sign, dirs, cvx, cvy):  # pragma: no cover - compiled
    """Pass 2 (cells): discharge vector per cell from its faces' outward flows."""
    k = slot_face.shape[1]
    stride = 0 if dirs.shape[0] == 1 else 1  # one row of directions shared by all cells
    for c in numba.prange(slot_face.shape[0]):
        vx = 0.0
        vy = 0.0
        row = c * stride
        for j in range(k):
            e = slot_face[c, j]
            if e >= 0:
                qo = slot_sign[c, j] * qold[e]
                vx += qo * dirs[row, j, 0]
                vy += qo * dirs[row, j, 1]
        cvx[c] = 2.0 * vx / k
        cvy[c] = 2.0 * vy / k


@numba.njit(cache=True, nogil=True, parallel=True)
def momentum(h, z, q, qold, fa, fb, fw, inv_fd, hf, deta, hf73, up, up_sign, down, down_sign,
             theta, dt, n2, hmin, normals, cvx, cvy, friction_2d, vf, spill_tol):  # pragma: no cover
    """Pass 3 (faces): theta-weighted semi-implicit momentum; returns the crest-spill volume.

    q' = [theta q + (1 - theta)/2 (q_up + q_down) - g h_f dt d(eta)/dx]
         / (1 + g dt n^2 |q_vec| / h_f^(7/3))                          (de Almeida et al. 2012)
    falling back to theta = 1 (Bates et al. 2010, eq. 11) where the weighted flow would run
    against the water-surface slope, as LISFLOOD-FP does. |q_vec| is |q| (1-D friction) or the
    magnitude of q and the tangential flow averaged from the two cells (2-D friction).
    The crest spill is the volume leaving a cell over a crest above its own energy head
    eta + u^2 / 2g (by more than spill_tol): impossible for real water, the footprint of an
    oscillation.
    """
    spill = 0.0
    for f in numba.prange(fa.shape[0]):
        d = hf[f]
        if d <= hmin:
            q[f] = 0.0
            vf[f] = 0.0
            continue
        q0 = qold[f]
        push = G * d * dt * deta[f] * inv_fd[f]
        if friction_2d:
            a = fa[f]
            b = fb[f]
            qt = 0.5 * (-normals[f, 1] * (cvx[a] + cvx[b]) + normals[f, 0] * (cvy[a] + cvy[b]))
            qv = np.sqrt(q0 * q0 + qt * qt)
        else:
            qv = abs(q0)
        p = hf73[f]
        damp = p / (p + G * dt * n2 * qv)
        qf = (q0 - push) * damp
        if theta < 1.0:
            u = up[f]
            w = down[f]
            qu = up_sign[f] * qold[u] if u >= 0 else q0
            qd = down_sign[f] * qold[w] if w >= 0 else q0
            qc = (theta * q0 + 0.5 * (1.0 - theta) * (qu + qd) - push) * damp
            if qc * deta[f] <= 0.0:  # with the surface slope (or no slope): keep it
                qf = qc
        q[f] = qf
        v = qf * fw[f] * dt
        vf[f] = v
        if qf != 0.0:
            a = fa[f]
            b = fb[f]
            s = a if qf > 0.0 else b
            crest = z[a] if z[a] > z[b] else z[b]
            if z[s] < crest:
                u_face = q0 / d
                if h[s] + z[s] + u_face * u_face / (2.0 * G) < crest - spill_tol:
                    spill += abs(v)
    return spill


@numba.njit(cache=True, nogil=True, parallel=True)
def continuity(h, area, fac, fa, fb, slot_face, slot_sign, vf, rain, drain, dt, t_end, wet_m,
               maxd, arrival, drained):  # pragma: no cover - compiled
    """Pass 4: outflow limiter (a cell never sends more than it holds), then the depths.

    Both cells of a face use the same limited volume with opposite signs, so water is conserved
    to round-off; depths stay non-negative.
    """
    nc = h.shape[0]
    k = slot_face.shape[1]
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
