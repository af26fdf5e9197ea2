"""Wall configurations (data/walls/NAME.yaml, `/?wall=NAME`) and their playlists of views.

A wall is a kiosk driven by a file, not by clicks: which panels it shows, which live layer, the
screen it is tuned for, and the views its map rotates through (the district, the street/town
with most overdue cases, the what-if on the wall). `view_bounds` turns a view into the box the
map must frame, from the twin, the open cases and the active scenario: pure, unit-tested.
"""

from __future__ import annotations

from functools import cache
from pathlib import Path
from typing import Literal

import numpy as np
import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from dashboard import zoomlevels
from dashboard.i18n import unit_names
from twin import settings

PANELS = ("kpis", "map", "legend", "ticker", "board", "events", "day", "choropleth")
VIEWS = ("district", "top_overdue_unit", "scenario")
NAME_CHARS = set("abcdefghijklmnopqrstuvwxyz0123456789-_")


class WallError(ValueError):
    """A wall that cannot be shown; the message names the file and the fix."""


class Screen(BaseModel):
    model_config = ConfigDict(extra="forbid")
    width: int = Field(1920, ge=320, le=15360)
    height: int = Field(1080, ge=320, le=8640)


class Step(BaseModel):
    """One view of the playlist and how long it stays."""

    model_config = ConfigDict(extra="forbid")
    view: Literal["district", "top_overdue_unit", "scenario"]
    seconds: float = Field(30, ge=5, le=3600)


class WallConfig(BaseModel):
    """What a wall shows and how (see data/walls/default.yaml for every field)."""

    model_config = ConfigDict(extra="forbid")
    name: str = "default"
    title: dict[str, str] = {"zh": "城市运行指挥大屏", "en": "City operations wall"}
    screen: Screen = Screen()
    layer: str = "incident.count"
    window: Literal["5m", "1h", "24h"] = "1h"
    extruded: bool = False
    pitch: float = Field(0, ge=0, le=60)
    min_hex_px: float = Field(zoomlevels.MIN_HEX_PX, gt=0, le=200)
    panels: list[Literal["kpis", "map", "legend", "ticker", "board", "events", "day",
                         "choropleth"]] = list(PANELS)
    playlist: list[Step] = Field(default_factory=lambda: [Step(view="district", seconds=60)],
                                 min_length=1)

    def shows(self, panel: str) -> bool:
        return panel in self.panels

    def map_px(self) -> tuple[float, float]:
        """The map's size on the screen it is tuned for (the wall's grid gives it ~62 % x 60 %)."""
        return self.screen.width * 0.62, self.screen.height * 0.6


def wall_name(raw: str | None) -> str | None:
    """The wall a `?wall=` value asks for: None (no wall), 'default' for '1'/'true', else a
    name of letters, digits, '-' and '_'."""
    if raw is None or raw == "" or raw in ("0", "false"):
        return None
    name = "default" if raw in ("1", "true", "yes") else raw.lower()
    if not set(name) <= NAME_CHARS or len(name) > 40:
        raise WallError(f"wall name {raw!r}: use letters, digits, '-' and '_'")
    return name


def folder() -> Path:
    return settings.data_dir() / "walls"


@cache
def _load(path: Path, mtime: float) -> WallConfig:
    try:
        raw = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
        return WallConfig(**{"name": path.stem, **raw})
    except (OSError, yaml.YAMLError) as exc:
        raise WallError(f"cannot read wall file {path}: {exc}") from exc
    except (ValidationError, TypeError) as exc:
        err = exc.errors()[0] if isinstance(exc, ValidationError) else {"loc": (), "msg": str(exc)}
        where = ".".join(str(p) for p in err["loc"])
        raise WallError(f"{path}: {where}: {err['msg']} (fix that field)") from exc


def load(name: str) -> WallConfig:
    """The wall configuration `data/walls/{name}.yaml` (re-read when the file changes)."""
    path = folder() / f"{name}.yaml"
    if not path.exists():
        known = ", ".join(sorted(p.stem for p in folder().glob("*.yaml"))) or "none"
        raise WallError(f"no wall named {name!r} (data/walls/{name}.yaml); walls: {known}")
    return _load(path, path.stat().st_mtime)


# -- the playlist -----------------------------------------------------------------------------
def top_unit(twin, points: dict, now: float) -> int | None:
    """The street/town with most overdue open cases (most open ones when none is overdue)."""
    if not len(points["id"]):
        return None
    pos = twin.locate(points["lat"], points["lng"])
    unit = np.where(pos >= 0, twin.ds["unit"].values[np.maximum(pos, 0)], -1)
    late = np.nan_to_num(points["deadline"], nan=np.inf) < now
    for chosen in (late, np.ones(len(unit), bool)):
        sel = chosen & (unit >= 0)
        if sel.any():
            counts = np.bincount(unit[sel])
            return int(np.argmax(counts))
    return None


def view_bounds(kind: str, twin, points: dict, active: dict | None,
                now: float) -> zoomlevels.Bounds | None:
    """The box a playlist view frames; None when the view has nothing to show now (no case,
    no scenario on the wall)."""
    from twin import cells as h3cells

    lat, lng = twin.centers
    if kind == "district":
        land = twin.ds["is_land"].values
        return zoomlevels.Bounds.of(lat[land], lng[land])
    if kind == "top_overdue_unit":
        unit = top_unit(twin, points, now)
        if unit is None:
            return None
        cells = twin.ds["unit"].values == unit
        return zoomlevels.Bounds.of(lat[cells], lng[cells])
    if kind == "scenario":
        if not active or not active.get("cells"):
            return None
        clat, clng = h3cells.cell_centers(h3cells.from_hex(active["cells"]))
        return zoomlevels.Bounds.of(clat, clng).padded(500.0)
    raise WallError(f"unknown view {kind!r}: use one of {', '.join(VIEWS)}")


def view_title(kind: str, twin, points: dict, now: float, lang: str) -> str:
    """The name of what a view shows (the street/town's name for `top_overdue_unit`)."""
    if kind != "top_overdue_unit":
        return ""
    unit = top_unit(twin, points, now)
    return "" if unit is None else unit_names(twin, lang).get(int(unit), "")


def next_step(config: WallConfig, current: int, available) -> int:
    """The next playlist step after `current` whose view has something to show (`available`:
    view kind -> bool); the district view is always available."""
    n = len(config.playlist)
    for k in range(1, n + 1):
        step = (current + k) % n
        kind = config.playlist[step].view
        if kind == "district" or available(kind):
            return step
    return current
