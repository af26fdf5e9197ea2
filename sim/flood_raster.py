"""The flood passes on a raster (`sim.mesh.raster`): the same physics, loops over contiguous rows.

On a general mesh every face and cell reads its neighbours through index arrays; on a raster
the neighbours of cell c = row * nc + col are c +- 1 and c +- nc, so each pass runs over
contiguous memory with no index arrays and no branches, and the compiler vectorises it (AVX2:
8 float32 or 4 float64 faces at once). This is how LISFLOOD-FP's raster solvers are laid out.
The arithmetic is the one `sim.flood_kernels` inlines (`sim.flood_numeric`), so both layouts
give the same depths to round-off (tests/sim/test_flood_raster.py); the general passes still
serve H3 meshes and the 2-D friction term.

Flows live in one array of 2 m values, m = n + 2 nc: the east faces' (qx) then the south
faces' (qy), each padded by nc zeros at both ends, so the flow of the east face of cell c is
q[nc + c] and of its south face q[m + nc + c]. A face that does not exist (east of the last
column, south of the last row, the padding) holds 0 and is never written, so the limiter and
continuity read every neighbour without a test. Work items are the active chunks of
`sim.flood_kernels.activate`, as on a general mesh.
"""

from __future__ import annotations

import numba

from sim.flood_numeric import JIT, G, face_flow, friction_power, like, over_crest, settle, zigzag

VECTOR = {**JIT, "fastmath": {"reassoc"}}  # reassoc: sums over a loop vectorise too


def flows_length(n: int, nc: int) -> int:
    """The length of the flow array of n cells in nc columns: two halves of n + 2 nc."""
    return 2 * (n + 2 * nc)


@numba.njit(inline="always", **JIT)
def _span(chunks, bstart, nc, i):  # pragma: no cover - compiled
    """(first cell, end cell, first east flow, end east flow) of work item i; the south flows
    are at the same positions plus half the flow array."""
    c0 = bstart[chunks[i, 0]]
    c1 = bstart[chunks[i, 1]]
    return c0, c1, nc + c0, nc + c1


@numba.njit(nogil=True, **VECTOR)
def _faces(ha, hb, za, zb, q, qu, qd, qn, first, lo, hi, width, inv_d, dt, n2, theta, hmin,
           spill_tol):  # pragma: no cover - compiled
    """One run of faces between cells a = first + i and b = a + offset (views start at i = 0).

    qu/qd are the in-line faces behind a and beyond b; they exist for first + i >= lo and
    first + i < hi, otherwise the face's own flow stands in (as on a general mesh). Returns
    the volume rate (m^3/s) that spills over a crest (`over_crest`).
    """
    zero, one = like(q, 0.0), like(q, 1.0)
    g, step = like(q, G), like(q, dt)
    friction = like(q, G * dt * n2)
    shallow = like(q, hmin)
    own, line = like(q, theta), like(q, 0.5 * (1.0 - theta))
    two_g, tol = like(q, 2.0 * G), like(q, spill_tol)
    spill = zero
    for i in range(q.shape[0]):
        z_a = za[i]
        z_b = zb[i]
        ea = ha[i] + z_a
        eb = hb[i] + z_b
        d = max(ea, eb) - max(z_a, z_b)
        wet = d > shallow
        dw = d if wet else one
        q0 = q[i]
        up = qu[i] if first + i >= lo else q0
        down = qd[i] if first + i < hi else q0
        qf = face_flow(q0, up, down, abs(q0), dw, friction_power(dw), (eb - ea) * inv_d, g,
                       step, friction, own, line)
        qf = qf if wet else zero
        qn[i] = qf
        spill += abs(qf) if over_crest(qf, q0, dw, ea, eb, z_a, z_b, two_g, tol) else zero
    return float(spill) * width


@numba.njit(nogil=True, parallel=True, **JIT)
def momentum(h, z, q, qn, nr, nc, width, inv_d, theta, dt, n2, hmin, spill_tol, chunks, bstart,
             spill_blk):  # pragma: no cover - compiled
    """Pass 1: the east faces of each row's run of active cells, then their south faces."""
    m = q.shape[0] // 2
    south_end = (nr - 1) * nc
    for i in numba.prange(chunks.shape[0]):
        c0, c1, _, _ = _span(chunks, bstart, nc, i)
        spill = 0.0
        for r in range(c0 // nc, (c1 - 1) // nc + 1):
            s = max(c0, r * nc)
            e = min(c1, r * nc + nc - 1)
            if s < e:
                x = nc + s
                y = nc + e
                spill += _faces(h[s:e], h[s + 1:e + 1], z[s:e], z[s + 1:e + 1], q[x:y],
                                q[x - 1:y - 1], q[x + 1:y + 1], qn[x:y], s, r * nc + 1,
                                r * nc + nc - 2, width, inv_d, dt, n2, theta, hmin, spill_tol)
        e = min(c1, south_end)
        if c0 < e:
            x = m + nc + c0
            y = m + nc + e
            spill += _faces(h[c0:e], h[c0 + nc:e + nc], z[c0:e], z[c0 + nc:e + nc], q[x:y],
                            q[x - nc:y - nc], q[x + nc:y + nc], qn[x:y], c0, nc, south_end - nc,
                            width, inv_d, dt, n2, theta, hmin, spill_tol)
        spill_blk[chunks[i, 0]] += spill * dt


@numba.njit(nogil=True, **VECTOR)
def _supply(h, qx, qx_west, qy, qy_north, fac, area, width, dt):  # pragma: no cover - compiled
    """Each cell's limiter: the share of its outflow (east, west, south, north) it holds."""
    zero, one = like(h, 0.0), like(h, 1.0)
    step, w, a = like(h, dt), like(h, width), like(h, area)
    for i in range(h.shape[0]):
        east = qx[i] * w
        west = -qx_west[i] * w
        south = qy[i] * w
        north = -qy_north[i] * w
        out = (east if east > zero else zero) + (west if west > zero else zero)
        out = out + (south if south > zero else zero) + (north if north > zero else zero)
        out = out * step
        have = h[i] * a
        fac[i] = have / out if out > have else one


@numba.njit(nogil=True, **VECTOR)
def _scale(qn, fac_a, fac_b):  # pragma: no cover - compiled
    """Each face's flow times the limiter of its upwind cell (a for flow a -> b, else b)."""
    zero = like(qn, 0.0)
    for i in range(qn.shape[0]):
        v = qn[i]
        qn[i] = v * (fac_a[i] if v > zero else fac_b[i])


@numba.njit(nogil=True, parallel=True, **JIT)
def limit(h, area, qn, nc, width, dt, fac, chunks, bstart):  # pragma: no cover - compiled
    """Pass 2: the limiter of every active cell, then every active face scaled by its upwind's.

    `fac` has nc spare cells past the last, so the south face of the last row reads one.
    """
    m = qn.shape[0] // 2
    for i in numba.prange(chunks.shape[0]):
        c0, c1, x, y = _span(chunks, bstart, nc, i)
        _supply(h[c0:c1], qn[x:y], qn[x - 1:y - 1], qn[m + x:m + y], qn[m + x - nc:m + y - nc],
                fac[c0:c1], area, width, dt)
    for i in numba.prange(chunks.shape[0]):
        c0, c1, x, y = _span(chunks, bstart, nc, i)
        _scale(qn[x:y], fac[c0:c1], fac[c0 + 1:c1 + 1])
        _scale(qn[m + x:m + y], fac[c0:c1], fac[c0 + nc:c1 + nc])


@numba.njit(nogil=True, **VECTOR)
def _settle_run(h, first, qx, qx_west, qy, qy_north, rain, maxd, arrival, area, width, dt, drain,
                wet_m, t_end):  # pragma: no cover - compiled
    """Depths of a run of cells from their four faces' flows, rain and drainage; m^3 drained."""
    zero = like(h, 0.0)
    step, w, a = like(h, dt), like(h, width), like(h, area)
    sink, wet = like(h, drain * dt), like(h, wet_m)
    drained = zero
    for i in range(h.shape[0]):
        dv = zero - qx[i] * w
        dv = dv + qx_west[i] * w
        dv = dv - qy[i] * w
        dv = dv + qy_north[i] * w
        hc = h[i] + dv * step / a + rain[first + i] * step
        drained += settle(h, maxd, arrival, i, hc, sink, wet, t_end)
    return float(drained) * area


@numba.njit(nogil=True, parallel=True, **JIT)
def continuity(h, area, qn, nc, width, rain, drain, dt, t_end, wet_m, maxd, arrival, chunks,
               bstart, wet_blk, hmax_blk, drained_blk):  # pragma: no cover - compiled
    """Pass 3: depths of every active cell, then each active block's deepest cell and wetness.

    `rain` is one rate per cell (m/s).
    """
    m = qn.shape[0] // 2
    for i in numba.prange(chunks.shape[0]):
        c0, c1, x, y = _span(chunks, bstart, nc, i)
        drained_blk[chunks[i, 0]] += _settle_run(
            h[c0:c1], c0, qn[x:y], qn[x - 1:y - 1], qn[m + x:m + y], qn[m + x - nc:m + y - nc],
            rain, maxd[c0:c1], arrival[c0:c1], area, width, dt, drain, wet_m, t_end)
        for blk in range(chunks[i, 0], chunks[i, 1]):
            hmax = 0.0
            for c in range(bstart[blk], bstart[blk + 1]):
                hmax = max(hmax, float(h[c]))
            wet_blk[blk] = hmax > 0.0
            hmax_blk[blk] = hmax


@numba.njit(nogil=True, **JIT)
def zigzags(h, z, nr, nc, deep_m, tol_m):  # pragma: no cover - compiled
    """(zig-zagging in-line face pairs, deep pairs, largest zig-zag m) along rows and columns."""
    count = 0
    deep = 0
    size = 0.0
    for step, rows, cols in ((1, (0, nr), (1, nc - 1)), (nc, (1, nr - 1), (0, nc))):
        for r in range(rows[0], rows[1]):
            for col in range(cols[0], cols[1]):
                c = r * nc + col
                d, m = zigzag(h[c - step], h[c], h[c + step], z[c - step], z[c], z[c + step],
                              deep_m, tol_m)
                deep += d
                if m > 0.0:
                    count += 1
                    size = max(size, m)
    return count, deep, size
