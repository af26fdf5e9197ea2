"""Flood solver speed: cell updates per second against a plain numpy square-grid kernel.

Baseline (same run, same cell count): the textbook LISFLOOD-FP local inertial update written
as whole-array numpy on a square grid (two face arrays, no limiter). Ours: `sim.flood.simulate`
end to end (the numba face kernel on the generic mesh) on a 1000 x 1000 raster mesh and on the
Binhai demo twin at resolution 10. Also: simulated time / wall time of a 6-hour rainstorm on the
demo twin. `--quick`: 500 x 500 and the demo at resolution 9. Timings are the best of 3 runs.
"""

from __future__ import annotations

import time

import numpy as np

from tests.bench._common import best_time, emit, parse_args

G = 9.81


def terrain(rows: int, cols: int, seed: int = 0) -> np.ndarray:
    """A smooth random surface (metres) with a gentle slope, the same for both solvers."""
    rng = np.random.default_rng(seed)
    y, x = np.mgrid[0:rows, 0:cols] / max(rows, cols)
    bumps = sum(rng.uniform(0.2, 1.0) * np.sin(2 * np.pi * (k * x + rng.uniform())) *
                np.cos(2 * np.pi * (k * y + rng.uniform())) for k in range(1, 5))
    return 0.5 * x + 0.2 * bumps


def numpy_kernel(z: np.ndarray, h: np.ndarray, dx: float, dt: float, steps: int,
                 n: float = 0.03) -> np.ndarray:
    """Plain numpy 4-neighbour local inertial (Bates et al. 2010) on a square grid."""
    h = h.copy()
    qx = np.zeros((z.shape[0], z.shape[1] - 1))
    qy = np.zeros((z.shape[0] - 1, z.shape[1]))
    n2 = n * n
    for _ in range(steps):
        eta = h + z
        for q, axis in ((qx, 1), (qy, 0)):
            lo = [slice(None), slice(None)]
            hi = [slice(None), slice(None)]
            lo[axis], hi[axis] = slice(None, -1), slice(1, None)
            ea, eb = eta[tuple(lo)], eta[tuple(hi)]
            hf = np.maximum(ea, eb) - np.maximum(z[tuple(lo)], z[tuple(hi)])
            wet = hf > 1e-3
            hs = np.where(wet, hf, 1.0)
            new = (q - G * hs * dt * (eb - ea) / dx) / (1 + G * dt * n2 * np.abs(q) / hs ** (7 / 3))
            q[...] = np.where(wet, new, 0.0)
        dh = np.zeros_like(h)
        dh[:, :-1] -= qx
        dh[:, 1:] += qx
        dh[:-1, :] -= qy
        dh[1:, :] += qy
        h += dh * dt / dx
        np.maximum(h, 0.0, out=h)
    return h


def ours_raster(z: np.ndarray, h0: np.ndarray, dx: float, steps_target: int) -> tuple[float, int]:
    """(cell updates per second, steps) of sim.flood on the raster mesh."""
    from sim import flood, mesh

    m = mesh.raster(z, dx)
    dt = 2.0
    flood.simulate(m, duration_s=dt * 2, output_every_s=dt * 2, depth0_m=h0.ravel())  # compile
    out = {}

    def once():
        out["ds"] = flood.simulate(m, duration_s=dt * steps_target,
                                   output_every_s=dt * steps_target, depth0_m=h0.ravel())

    wall = best_time(once)
    return len(m) * out["ds"].attrs["steps"] / wall, int(out["ds"].attrs["steps"])


def demo_twin(resolution: int):
    try:
        from twin.demo import binhai

        return binhai(resolution=resolution), f"binhai r{resolution}"
    except Exception:  # noqa: BLE001 - the demo may not be built in this checkout
        from twin.testing import small_twin

        return small_twin(resolution=resolution + 1), f"small_twin r{resolution + 1}"


def main() -> None:
    args = parse_args(__doc__.splitlines()[0])
    size = 500 if args.quick else 1000
    dx = 10.0
    z = terrain(size, size)
    h0 = np.maximum(0.5 - z, 0.0) + 0.05
    steps = 30
    ours, done = ours_raster(z, h0, dx, steps)
    dt = 0.5 * dx / np.sqrt(G * 1.5)
    base = z.size * done / best_time(lambda: numpy_kernel(z, h0, dx, dt, done))
    emit("flood", f"cell_updates_per_s_raster_{size}x{size}", ours, "cells/s",
         "numpy square-grid local inertial kernel, same cells", base)

    from sim import flood, mesh

    twin, label = demo_twin(9 if args.quick else 10)
    m = mesh.from_twin(twin)
    depth0 = np.where(twin.ds["is_land"].values, 0.2, np.maximum(-m.z_m, 0.0) + 0.2)
    flood.simulate(m, duration_s=1.0, output_every_s=1.0, depth0_m=depth0)
    out = {}

    def once():
        out["ds"] = flood.simulate(m, duration_s=600.0, output_every_s=600.0, depth0_m=depth0)

    wall = best_time(once, repeat=2)
    hex_rate = len(m) * out["ds"].attrs["steps"] / wall
    side = int(np.sqrt(len(m)))
    zz = terrain(side, side)
    hh = np.maximum(0.5 - zz, 0.0) + 0.05
    n_base = 10
    base_hex = zz.size * n_base / best_time(lambda: numpy_kernel(zz, hh, dx, dt, n_base), 2)
    emit("flood", f"cell_updates_per_s_{label.replace(' ', '_')}_{len(m)}_cells", hex_rate,
         "cells/s", f"numpy square-grid local inertial kernel, {side}x{side} cells", base_hex)

    from sim import Scenario, run

    scenario = Scenario.parse({
        "name": "bench rainstorm", "hazard": "flood", "duration": "6h", "output_every": "1h",
        "location": {"lat": float(np.mean(twin.centers[0])), "lng": float(np.mean(twin.centers[1]))},
        "parameters": {"hyetograph": [[0, 15], [1, 25], [2, 70], [3, 35], [4, 15], [5, 8]],
                       "drainage_mm_h": 20, "manning_n": 0.05}})
    start = time.perf_counter()
    run(scenario, twin)
    wall = time.perf_counter() - start
    emit("flood", f"simulated_per_wall_time_6h_rainstorm_{label.replace(' ', '_')}",
         6 * 3600 / wall, "s/s", "real time", 1.0)


if __name__ == "__main__":
    main()
