"""Flood solver speed: cell updates per second against a plain numpy square-grid kernel.

With `--lisflood PATH` (a LISFLOOD-FP 8.1 binary built from its public source; see
docs/VALIDATION.md) it also runs the side by side of tests/bench/lisflood.py: depth differences,
volumes and stage hydrographs on the EA benchmark rebuilds, and cell updates per second of both
on one and two threads (`--lisflood-float PATH` adds its float build against our float32).
Without it that part is skipped, and the bench says so.

Baseline (same run, same cell count): the textbook LISFLOOD-FP local inertial update written
as whole-array numpy on a square grid (two face arrays, no limiter). Ours: `sim.flood.simulate`
end to end (the numba face kernel on the generic mesh) on a 1000 x 1000 raster mesh and on the
Binhai demo twin at resolution 10. Also: simulated time / wall time of a 6-hour rainstorm on the
demo twin. `--quick`: 500 x 500 and the demo at resolution 9. Timings are the best of 3 runs.
"""

from __future__ import annotations

import sys
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


def _options(parser) -> None:
    parser.add_argument("--lisflood", metavar="PATH", help="a LISFLOOD-FP 8.1 binary (double)")
    parser.add_argument("--lisflood-float", metavar="PATH", help="its float build")
    parser.add_argument("--out", metavar="DIR", help="write stage hydrographs (JSON) here")


def side_by_side(binary: str, binary_float: str | None, quick: bool, out: str | None) -> None:
    """Ours against LISFLOOD-FP: accuracy on the EA rebuilds, then speed and memory."""
    accuracy(binary, quick, out)
    speed(binary, binary_float, quick)


def accuracy(binary: str, quick: bool, out: str | None) -> None:
    """Depth and stage differences and volumes, ours against LISFLOOD-FP's ACC solver."""
    import json
    from pathlib import Path

    from tests.bench import lisflood as lf

    setups = [  # (label, LISFLOOD options, our options)
        ("acc_1dfriction_vs_ours_theta1_1d", {"friction_2d": False}, {"theta": 1.0}),
        ("acc_default_vs_ours_theta1_2d", {"friction_2d": True},
         {"theta": 1.0, "friction_2d": True}),
        ("acc_default_vs_ours_default", {"friction_2d": True}, {}),
    ]
    hydrographs = {}
    for key in (("ea1", "ea4") if quick else ("ea1", "ea2", "ea4", "rain")):
        case = lf.CASES[key]()
        for label, theirs_kw, ours_kw in setups:
            theirs = lf.run_lisflood(binary, case, **theirs_kw)
            ours = lf.run_ours(case, **ours_kw)
            diff = lf.compare(ours, theirs, case)
            base = f"LISFLOOD-FP 8.1 ACC ({label.split('_vs_')[0]}), same run"
            emit("flood", f"{case.name}_{label}_max_abs_depth_diff", diff["max_abs_m"], "m", base)
            emit("flood", f"{case.name}_{label}_max_abs_depth_diff_outside_inflow",
                 diff["max_abs_outside_inflow_m"], "m", base)
            emit("flood", f"{case.name}_{label}_rmse_wet_depth_diff", diff["rmse_wet_m"], "m",
                 base)
            emit("flood", f"{case.name}_{label}_volume", ours["volume_m3"], "m3", base,
                 theirs["volume_m3"])
            if case.points:
                emit("flood", f"{case.name}_{label}_max_stage_diff",
                     lf.stage_difference(ours, theirs), "m", base)
                hydrographs[f"{case.name}_{label}"] = {
                    "ours": {"t": ours["times"].tolist(),
                             **{k: v.tolist() for k, v in ours["stage"].items()}},
                    "lisflood": {"t": theirs["times"].tolist(),
                                 **{k: v.tolist() for k, v in theirs["stage"].items()}}}
    if out:
        Path(out).mkdir(parents=True, exist_ok=True)
        (Path(out) / "hydrographs.json").write_text(json.dumps(hydrographs))


def speed(binary: str, binary_float: str | None, quick: bool) -> None:
    """Cell updates per second and peak memory, ours against LISFLOOD-FP's fast solver."""
    from tests.bench import lisflood as lf

    size = 500 if quick else 1000
    speed_cases = [lf.wet_case(size, 120.0), lf.propagation()]
    for case in speed_cases:
        short = 1.0 if case.depth0 is not None else 600.0
        if case.depth0 is None:
            case = lf.Case(**{**case.__dict__, "duration_s": 3600.0, "save_every_s": 3600.0})
        for threads in (1, 2):
            clock = "cpu_s" if threads == 1 else "wall_s"
            theirs = lf.rate(lambda c, t=threads: lf.run_lisflood(binary, c, threads=t, fast=True),
                             case, short, clock)
            ours = lf.rate(lambda c, t=threads: lf.run_ours(c, threads=t), case, short, clock)
            emit("flood", f"cell_updates_per_s_{case.name}_{threads}_thread_float64", ours,
                 "cells/s", f"LISFLOOD-FP 8.1 fast solver (SGC) double, {threads} thread(s), "
                 f"{'CPU' if threads == 1 else 'wall'} time", theirs)
        if binary_float:
            theirs = lf.rate(lambda c: lf.run_lisflood(binary_float, c, fast=True), case, short,
                             "cpu_s")
            ours = lf.rate(lambda c: lf.run_ours(c, dtype="float32"), case, short, "cpu_s")
            emit("flood", f"cell_updates_per_s_{case.name}_1_thread_float32", ours, "cells/s",
                 "LISFLOOD-FP 8.1 fast solver (SGC) float build, 1 thread, CPU time", theirs)
    for dtype, other in (("float64", binary), ("float32", binary_float)):
        if other:
            theirs = lf.run_lisflood(other, lf.wet_case(size, 20.0), fast=True)["peak_rss_mb"]
            peak, interpreter = lf.our_peak_rss_mb(size, dtype)
            emit("flood", f"peak_memory_wet_{size}_{dtype}_above_interpreter", peak - interpreter,
                 "MB", f"LISFLOOD-FP 8.1 fast solver ({dtype} build), same raster (whole "
                 f"process; ours adds a {interpreter:.0f} MB interpreter)", theirs)


def main() -> None:
    args = parse_args(__doc__.splitlines()[0], _options)
    if args.lisflood:
        side_by_side(args.lisflood, args.lisflood_float, args.quick, args.out)
    else:
        print("flood bench: LISFLOOD-FP side by side skipped: no --lisflood PATH given "
              "(see docs/VALIDATION.md to build it)", file=sys.stderr, flush=True)
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
