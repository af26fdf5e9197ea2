"""Side by side with LISFLOOD-FP 8.1: the same rasters through its ACC solver and through ours.

Only the inputs LISFLOOD-FP reads are written here (ASCII grids, .par, .bci/.bdy, .rain, stage
points) and its outputs read back; its code is not part of this repository. Build its CPU solver
yourself (see docs/VALIDATION.md) and pass the binary to `python -m tests.bench.flood --lisflood
PATH`. Cases (`CASES`): the UK Environment Agency benchmark tests 1, 2 and 4 (Neelz & Pender
2013) as far as their definitions could be rebuilt, and a 1000 x 1000 synthetic DEM with rain.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from sim import flood, mesh


@dataclass
class Case:
    """A raster flood problem both solvers can run: rows are north to south, as ASCII grids."""

    name: str
    z: np.ndarray
    dx: float
    manning_n: float
    duration_s: float
    depth0: np.ndarray | None = None
    inflow_cells: list[tuple[int, int]] = field(default_factory=list)
    inflow: tuple[tuple[float, float], ...] = ()  # (time s, total m3/s over inflow_cells)
    rain: tuple[tuple[float, float], ...] = ()  # (time s, mm/h), held until the next time
    points: dict[str, tuple[int, int]] = field(default_factory=dict)  # stage gauges
    save_every_s: float = 900.0


def sill_pond() -> Case:
    """EA test 1 as rebuilt in issue 15: a 2 m basin, a 1 m sill, a closed empty pond."""
    z = np.zeros((20, 60))
    z[:, 20] = 1.0
    h = np.zeros((20, 60))
    h[:, :20] = 2.0
    return Case("ea1_sill_pond", z, 10.0, 0.03, 12 * 3600.0, depth0=h,
                points={"basin": (10, 10), "pond": (10, 40)}, save_every_s=1800.0)


def depressions() -> Case:
    """EA test 2 rebuilt: 2 km square, 4 x 4 depressions ~0.5 m deep, slopes 1:1500 and 1:3000.

    Its description: depressions from multiplied sinusoids, a ~2 m drop along the NW-SE diagonal,
    20 m3/s peak inflow with a ~85 min time base along a 100 m line south from the NW corner, 48 h.
    The exact DEM and hydrograph table were not available: these are rebuilt from that text.
    """
    n = 100
    dx = 20.0
    y, x = (np.mgrid[0:n, 0:n] + 0.5) * dx  # y: metres south of the north edge
    z = 2.0 - y / 1500.0 - x / 3000.0 - 0.5 * (np.sin(np.pi * x / 500.0)
                                                * np.sin(np.pi * y / 500.0)) ** 2
    centres = {f"depression_{k}": (int(12.5 + 25 * k), int(12.5 + 25 * k)) for k in range(4)}
    return Case("ea2_depressions", z, dx, 0.03, 48 * 3600.0,
                inflow_cells=[(r, 0) for r in range(5)],
                inflow=((0.0, 0.0), (1200.0, 20.0), (5100.0, 0.0)), points=centres,
                save_every_s=3600.0)


def propagation() -> Case:
    """EA test 4 rebuilt: flat 1000 x 2000 m floodplain, 5 m cells, 20 m3/s breach inflow, 5 h.

    Its description: horizontal at 0 m, n = 0.05, inflow along a 20 m line in the middle of the
    western side, peak 20 m3/s, time base ~6 h. The hydrograph table was not available: a
    triangle 0 -> 20 m3/s at 1 h -> 0 at 6 h is used by both solvers.
    """
    z = np.zeros((200, 400))
    points = {f"x{d}m": (100, d // 5) for d in (50, 100, 200, 300, 400, 500)}
    return Case("ea4_propagation", z, 5.0, 0.05, 5 * 3600.0,
                inflow_cells=[(r, 0) for r in range(98, 102)],
                inflow=((0.0, 0.0), (3600.0, 20.0), (21600.0, 0.0)), points=points,
                save_every_s=1800.0)


def synthetic_rain(size: int = 1000) -> Case:
    """A smooth random 1000 x 1000 DEM (10 m) under 50 mm/h for 30 min, run for 1 h."""
    from tests.bench.flood import terrain

    z = terrain(size, size)
    c = size // 2
    return Case(f"synthetic_{size}_rain", z, 10.0, 0.03, 3600.0,
                rain=((0.0, 50.0), (1800.0, 0.0)),
                points={"centre": (c, c), "low_corner": (size - 10, size - 10)},
                save_every_s=1800.0)


CASES = {"ea1": sill_pond, "ea2": depressions, "ea4": propagation, "rain": synthetic_rain}


# ------------------------------------------------------------------ ours

def run_ours(case: Case, *, threads: int = 1, **options) -> dict:
    """Our solver on the case: final depth grid, stage series, steps, wall time."""
    m = mesh.raster(case.z, case.dx)
    nr, nc = case.z.shape
    inflow = None
    if case.inflow_cells:
        cells = [r * nc + c for r, c in case.inflow_cells]
        t, q = zip(*case.inflow, strict=True)
        inflow = {"cells": cells, "times_s": list(t), "q_m3_s": list(q)}
    rain = None
    if case.rain:
        t, mm = zip(*case.rain, strict=True)
        rain = {"times_s": list(t), "mm_h": list(mm)}
    start, cpu = time.perf_counter(), time.process_time()
    ds = flood.simulate(m, duration_s=case.duration_s, output_every_s=case.save_every_s,
                        depth0_m=None if case.depth0 is None else case.depth0.ravel(),
                        inflow=inflow, rain_mm_h=rain, manning_n=case.manning_n,
                        threads=threads, max_dt_s=10.0, **options)
    wall, cpu = time.perf_counter() - start, time.process_time() - cpu
    depth = ds["depth_m"].values.astype(float).reshape(-1, nr, nc)
    stage = {k: depth[:, r, c] for k, (r, c) in case.points.items()}
    return {"depth": depth[-1], "times": ds["time"].values, "stage": stage,
            "steps": int(ds.attrs["steps"]), "wall_s": wall, "cpu_s": cpu, "cells": nr * nc,
            "volume_m3": float(ds.attrs["volume_final_m3"])}


# ------------------------------------------------------------------ LISFLOOD-FP

def _write_grid(path: Path, grid: np.ndarray, dx: float) -> None:
    with open(path, "w") as f:
        f.write(f"ncols {grid.shape[1]}\nnrows {grid.shape[0]}\nxllcorner 0\nyllcorner 0\n"
                f"cellsize {dx}\nNODATA_value -9999\n")
        np.savetxt(f, grid, fmt="%.9f")


def _read_grid(path: Path) -> np.ndarray:
    return np.loadtxt(path, skiprows=6)


def _xy(case: Case, row: int, col: int) -> tuple[float, float]:
    """Centre of a cell in LISFLOOD's coordinates (origin at the south-west corner)."""
    nr = case.z.shape[0]
    return (col + 0.5) * case.dx, (nr - 1 - row + 0.5) * case.dx


def _inputs(case: Case, folder: Path, *, friction_2d: bool, theta: float, cfl: float,
            fast: bool) -> Path:
    _write_grid(folder / "dem.asc", case.z, case.dx)
    par = [f"DEMfile {folder / 'dem.asc'}", f"resroot {case.name}", f"dirroot {folder / 'out'}",
           f"sim_time {case.duration_s:g}", "initial_tstep 10", f"massint {case.save_every_s:g}",
           f"saveint {case.save_every_s:g}", f"fpfric {case.manning_n:g}", f"cfl {cfl:g}",
           "output_precision 9"]
    par.append("SGC_enable" if fast else "acceleration")
    if not fast:
        par.append(f"theta {theta:g}")
        if not friction_2d:
            par.append("1Dfriction")
    if case.depth0 is not None:
        _write_grid(folder / "start.asc", case.depth0, case.dx)
        par.append(f"startfile {folder / 'start.asc'}")
    if case.inflow_cells:
        per_cell = [(t, q / len(case.inflow_cells) / case.dx) for t, q in case.inflow]  # m2/s
        bci = [f"P {x:g} {y:g} QVAR inflow" for x, y in (_xy(case, r, c)
                                                        for r, c in case.inflow_cells)]
        (folder / "case.bci").write_text("\n".join(bci) + "\n")
        bdy = ["inflow time series", "inflow", f"{len(per_cell)} seconds"]
        bdy += [f"{q:.9g} {t:g}" for t, q in per_cell]
        (folder / "case.bdy").write_text("\n".join(bdy) + "\n")
        par += [f"bcifile {folder / 'case.bci'}", f"bdyfile {folder / 'case.bdy'}"]
    if case.rain:
        steps = list(case.rain) + [(case.duration_s + 3600.0, case.rain[-1][1])]
        rows = []
        for (t0, mm), (t1, _) in zip(steps[:-1], steps[1:], strict=True):  # held, not ramped
            rows += [f"{mm:g} {t0:.3f}", f"{mm:g} {t1 - 1e-3:.3f}"]
        (folder / "case.rain").write_text("rain\n" + f"{len(rows)} seconds\n" + "\n".join(rows)
                                          + "\n")
        par.append(f"rainfall {folder / 'case.rain'}")
    if case.points:
        pts = [f"{len(case.points)}"] + [f"{x:g} {y:g}" for x, y in (
            _xy(case, r, c) for r, c in case.points.values())]
        (folder / "case.stage").write_text("\n".join(pts) + "\n")
        par.append(f"stagefile {folder / 'case.stage'}")
    path = folder / "case.par"
    path.write_text("\n".join(par) + "\n")
    return path


# runs the binary in a fresh process, so that its CPU time and peak memory are its own
_WRAP = ("import resource, subprocess, sys; r = subprocess.run(sys.argv[1:]); "
         "u = resource.getrusage(resource.RUSAGE_CHILDREN); "
         "print(u.ru_utime + u.ru_stime, u.ru_maxrss); sys.exit(r.returncode)")


def run_lisflood(binary: str, case: Case, *, threads: int = 1, friction_2d: bool = True,
                 theta: float = 1.0, cfl: float = 0.5, fast: bool = False) -> dict:
    """LISFLOOD-FP on the case (ACC, or its fast SGC solver): the same dict as `run_ours`."""
    with tempfile.TemporaryDirectory(prefix="lisflood-") as tmp:
        folder = Path(tmp)
        par = _inputs(case, folder, friction_2d=friction_2d, theta=theta, cfl=cfl, fast=fast)
        env = dict(os.environ, OMP_NUM_THREADS=str(threads))
        start = time.perf_counter()
        proc = subprocess.run([sys.executable, "-c", _WRAP, binary, str(par)], cwd=folder,
                              env=env, capture_output=True, text=True, check=False)
        wall = time.perf_counter() - start
        if proc.returncode != 0:
            raise RuntimeError(f"{binary} failed on {case.name}: {proc.stdout[-500:]}"
                               f"{proc.stderr[-500:]}")
        cpu, peak_kb = (float(v) for v in proc.stdout.strip().splitlines()[-1].split())
        out = folder / "out"
        final = sorted(out.glob(f"{case.name}-*.wd"))[-1]
        mass = np.loadtxt(out / f"{case.name}.mass", skiprows=1, ndmin=2)
        result = {"depth": _read_grid(final), "steps": int(mass[-1, 3]), "wall_s": wall,
                  "cpu_s": cpu, "cells": case.z.size, "volume_m3": float(mass[-1, 5]),
                  "peak_rss_mb": peak_kb / 1024.0,
                  "log_loop_s": _loop_time(proc.stdout)}
        if case.points:
            stage = np.loadtxt(out / f"{case.name}.stage", skiprows=6 + len(case.points),
                               ndmin=2)
            result["times"] = stage[:, 0]
            result["stage"] = {k: stage[:, 1 + i] for i, k in enumerate(case.points)}
        return result


def _loop_time(stdout: str) -> float | None:
    m = re.search(r"loop time\s+([0-9.]+)", stdout)
    return float(m.group(1)) if m else None


def compare(ours: dict, theirs: dict, case: Case | None = None) -> dict:
    """Depth differences (max, outside the inflow cells, RMSE over cells wet in either), volume.

    The two codes add a point inflow at different moments of a step (LISFLOOD-FP after the
    fluxes, at time t; ours before them, at t + dt/2), so the inflow cells themselves differ most.
    """
    diff = ours["depth"] - theirs["depth"]
    wet = (ours["depth"] > 1e-3) | (theirs["depth"] > 1e-3)
    outside = np.abs(diff)
    if case is not None and case.inflow_cells:
        outside = outside.copy()
        outside[tuple(np.array(case.inflow_cells).T)] = 0.0
    return {"max_abs_m": float(np.abs(diff).max()),
            "max_abs_outside_inflow_m": float(outside.max()),
            "rmse_wet_m": float(np.sqrt(np.mean(diff[wet] ** 2))) if wet.any() else 0.0,
            "volume_rel": (ours["volume_m3"] - theirs["volume_m3"]) / max(theirs["volume_m3"],
                                                                          1e-300)}


def stage_difference(ours: dict, theirs: dict) -> float:
    """Largest difference (m) between the two solvers' stage hydrographs at the gauges."""
    worst = 0.0
    for key, series in ours["stage"].items():
        other = np.interp(ours["times"], theirs["times"], theirs["stage"][key])
        worst = max(worst, float(np.abs(series - other).max()))
    return worst


def wet_case(size: int, duration_s: float) -> Case:
    """A wet synthetic raster (the flood bench's terrain, 0.05-0.55 m deep) for speed."""
    from tests.bench.flood import terrain

    z = terrain(size, size)
    return Case(f"wet_{size}", z, 10.0, 0.03, duration_s, depth0=np.maximum(0.5 - z, 0.0) + 0.05,
                save_every_s=duration_s)


def rate(run, case: Case, short_s: float, clock: str, repeat: int = 2) -> float:
    """Cell updates per second of a runner, start-up and file I/O taken out (long - short run).

    A first short run warms up (compiles) the runner; the best of `repeat` pairs is kept.
    """
    short = Case(**{**case.__dict__, "duration_s": short_s, "save_every_s": short_s})
    run(short)
    best = 0.0
    for _ in range(repeat):
        a, b = run(short), run(case)
        best = max(best, case.z.size * (b["steps"] - a["steps"]) / max(b[clock] - a[clock], 1e-9))
    return best


def our_peak_rss_mb(size: int, dtype: str) -> tuple[float, float]:
    """(peak memory MB of our solver on a wet size x size raster, of a 20 x 20 run) as processes.

    Each in a fresh interpreter; the difference is what the raster costs, the number to set
    against LISFLOOD-FP's peak; the small run's peak is the interpreter with its libraries.
    The peak is the process's own (VmHWM): ru_maxrss would carry this bench's size into the
    child through fork and exec.
    """
    def peak(n: int) -> float:
        code = ("import re, sys; sys.path.insert(0, '.'); from tests.bench.lisflood import "
                f"wet_case, run_ours; run_ours(wet_case({n}, 20.0), dtype='{dtype}'); "
                "status = open('/proc/self/status').read(); "
                "print(int(re.search(r'VmHWM:\\s+(\\d+)', status).group(1)) / 1024.0)")
        out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                             check=True, cwd=Path(__file__).resolve().parents[2])
        return float(out.stdout.strip().splitlines()[-1])

    return peak(size), peak(20)
