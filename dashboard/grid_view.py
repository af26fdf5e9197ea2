"""What the Grid page shows of the live city, as plain data: sensor sparklines, cameras with their
recent video counts, recent events of a grid, and the card of one clicked cell.

Pure functions of (twin, bus, user, grid or cell), unit-tested against a real Redis; the page's
callbacks only turn what they return into components. Every function that returns grid or cell
data takes the user and refuses (403) a grid they may not see, so a callback cannot leak another
grid by forgetting a check. Snapshot values are read for the needed span of cells only (GETRANGE
on the `snap:{window}:{layer}` arrays documented in layers.live.snapshot), never whole layers per click.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from dashboard.i18n import add_labels, name_column, t
from dashboard.policy import User, can_see_grid
from dashboard.session import require
from layers.live import schema as S
from twin import cells as h3cells
from twin.dataset import LAND_USE

WINDOW = "1h"
SPARK_MINUTES = 60
STREAM_SCAN = 2000  # newest incident entries read to find a grid's latest reports
LATEST = 8  # latest reports shown

add_labels({
    **{f"gridx_lu_{k}": {"zh": zh, "en": en} for k, (zh, en) in {
        "sea": ("海域", "Sea"), "water": ("水域", "Water"), "wetland": ("湿地", "Wetland"),
        "farmland": ("农田", "Farmland"), "residential": ("居住", "Residential"),
        "commercial": ("商业", "Commercial"), "industrial": ("工业", "Industrial"),
        "petrochemical": ("石化", "Petrochemical"), "port": ("港口", "Port")}.items()},
    **{f"gridx_vl_{k}": {"zh": zh, "en": en} for k, (zh, en) in {
        "person": ("行人", "People"), "vehicle": ("车辆", "Vehicles"), "crowd": ("人群聚集", "Crowd"),
        "smoke": ("烟雾", "Smoke"), "fire": ("明火", "Fire"),
        "thrown_object": ("高空抛物", "Thrown object"),
        "illegal_parking": ("违规停车", "Illegal parking"), "fever": ("发热", "Fever")}.items()},
    **{f"gridx_m_{k}": {"zh": zh, "en": en} for k, (zh, en) in {
        "water_level_m": ("水位 (m)", "Water level (m)"), "rain_mm_h": ("雨量 (mm/h)", "Rain (mm/h)"),
        "pm25": ("PM2.5 (µg/m³)", "PM2.5 (µg/m³)"), "co_ppm": ("一氧化碳 (ppm)", "CO (ppm)"),
        "temp_c": ("气温 (°C)", "Temperature (°C)"), "smoke": ("烟感", "Smoke"),
        "wind_speed_m_s": ("风速 (m/s)", "Wind speed (m/s)"),
        "wind_from_deg": ("风向 (来向, °)", "Wind from (°)"),
        "cloud_tenths": ("云量 (成)", "Cloud cover (tenths)"),
        "solar_w_m2": ("太阳辐射 (W/m²)", "Solar radiation (W/m²)")}.items()},
    **{f"gridx_k_{k}": {"zh": zh, "en": en} for k, (zh, en) in {
        "iot": ("物联感知", "IoT readings"), "video": ("视频事件", "Video events"),
        "incident": ("上报事件", "Incidents")}.items()},
    **{f"gridx_agg_{k}": {"zh": zh, "en": en} for k, (zh, en) in {
        "mean": ("均值", "mean"), "max": ("最大", "max"), "last": ("最新", "last"),
        "count": ("数", "count")}.items()},
    **{f"gridx_w_{k}": {"zh": zh, "en": en} for k, (zh, en) in {
        "5m": ("5分钟", "5 min"), "1h": ("1小时", "1 h"), "24h": ("24小时", "24 h")}.items()},
    **{f"gridx_ck_{k}": {"zh": zh, "en": en} for k, (zh, en) in {
        "community_entrance": ("小区出入口", "Community entrance"), "road": ("道路", "Road"),
        "port": ("港区", "Port")}.items()},
})


# -- labels -----------------------------------------------------------------------------------
def _label(prefix: str, name: str, lang: str) -> str:
    from dashboard.i18n import LABELS

    key = f"{prefix}{name}"
    return t(key, lang) if key in LABELS else name


def metric_label(metric: str, lang: str) -> str:
    return _label("gridx_m_", metric, lang)


def video_label(label: str, lang: str) -> str:
    return _label("gridx_vl_", label, lang)


def camera_kind(kind: str, lang: str) -> str:
    return _label("gridx_ck_", kind, lang)


def category_label(category: str, lang: str) -> str:
    from layers.loop import sla

    return sla.default().label(category, lang)


def layer_label(layer: str, lang: str) -> str:
    """A live layer's name for people: 'incident.noise.count' -> 'Noise complaints count'."""
    parts = layer.split(".")
    agg = t(f"gridx_agg_{parts[-1]}", lang)
    if len(parts) == 2:
        what = t(f"gridx_k_{parts[0]}", lang)
    elif parts[0] == "iot":
        what = metric_label(parts[1], lang)
    elif parts[0] == "video":
        what = video_label(parts[1], lang)
    else:
        what = category_label(parts[1], lang)
    return f"{what}{agg}" if lang == "zh" else f"{what} {agg}"


# -- where things are ---------------------------------------------------------------------------
def grid_positions(twin, grid: int) -> np.ndarray:
    """Positions of a grid's cells in the twin."""
    return np.flatnonzero(twin.ds["grid"].values == int(grid))


def _require_grid(user: User | None, grid: int | None) -> None:
    require(grid is not None and int(grid) >= 0 and can_see_grid(user, grid), f"grid {grid}")


def devices_in(twin, table, positions: np.ndarray) -> pd.DataFrame:
    """Registry rows (sensors, cameras, facilities) whose cell is one of `positions`, with a
    `pos` column; empty when the registry has no cells."""
    if len(table) == 0 or "cell" not in table:
        return pd.DataFrame(columns=["id", "pos"])
    pos = twin.positions(table["cell"].to_numpy(np.uint64))
    keep = np.isin(pos, positions)
    return pd.DataFrame(table[keep].drop(columns="geometry", errors="ignore")).assign(
        pos=pos[keep]).reset_index(drop=True)


# -- snapshot values ----------------------------------------------------------------------------
def _empty(layer: str, n: int) -> np.ndarray:
    return np.full(n, 0.0 if layer.endswith(".count") else np.nan, dtype=np.float32)


def values_at(bus, twin, layers: list[str], window: str, positions: np.ndarray) -> dict:
    """{layer: float32 values at `positions`} from the live snapshots (zero counts and NaN
    readings where there is none yet, or when the snapshot belongs to another twin)."""
    positions = np.asarray(positions, dtype=np.int64)
    S.check_window(window)
    if len(positions) == 0:
        return {layer: _empty(layer, 0) for layer in layers}
    from layers.live.snapshot import SnapshotStore

    lo, hi = int(positions.min()), int(positions.max())
    store = SnapshotStore(bus)
    same_twin = store.n_cells() == len(twin)
    got = store.read_range(layers, window, lo, hi) if same_twin else {}
    return {layer: got[layer][positions - lo] if len(got.get(layer, ())) == hi - lo + 1
            else _empty(layer, len(positions)) for layer in layers}


# -- the grid's live sections -------------------------------------------------------------------
def sparklines(bus, twin, user: User | None, grid: int, now: float,
               minutes: int = SPARK_MINUTES) -> list[dict]:
    """Per sensor of the grid: its metric's per-minute mean in its cell over the last `minutes`
    (`times` epoch seconds, `values` with None where no reading), and the latest reading."""
    from layers.live import history

    _require_grid(user, grid)
    sensors = devices_in(twin, twin.sensors, grid_positions(twin, grid))
    if sensors.empty:
        return []
    metrics = sorted({m for m in sensors.get("metric", []) if m in S.METRICS})
    ds = history.load(bus, now - 60 * (minutes - 1), now,
                      [f"iot.{m}.mean" for m in metrics]) if metrics else None
    usable = ds is not None and ds.sizes["cell"] == len(twin)
    times = (ds["time"].values.astype("datetime64[s]").astype(np.int64).tolist()
             if ds is not None else [])
    out = []
    for row in sensors.itertuples():
        metric = getattr(row, "metric", None)
        values: list[float | None] = [None] * len(times)
        if usable and metric in metrics:
            col = ds[f"iot.{metric}.mean"].values[:, row.pos]
            values = [None if np.isnan(v) else round(float(v), 3) for v in col.tolist()]
        seen = [v for v in values if v is not None]
        out.append({"id": str(row.id), "kind": str(getattr(row, "kind", "")),
                    "metric": str(metric or ""), "hex": h3cells.to_hex(twin.cell_ids[[row.pos]])[0],
                    "times": times, "values": values, "last": seen[-1] if seen else None})
    return out


def cameras(bus, twin, user: User | None, grid: int, window: str = WINDOW) -> list[dict]:
    """The grid's cameras: id, kind, cell and the video counts per label in their cell."""
    _require_grid(user, grid)
    cams = devices_in(twin, twin.cameras, grid_positions(twin, grid))
    if cams.empty:
        return []
    layers = [f"video.{label}.count" for label in S.LABELS]
    values = values_at(bus, twin, layers, window, cams["pos"].to_numpy())
    hexes = h3cells.to_hex(twin.cell_ids[cams["pos"].to_numpy()])
    out = []
    for i, row in enumerate(cams.itertuples()):
        counts = {label: int(values[layer][i]) for label, layer in zip(S.LABELS, layers,
                                                                        strict=True)
                  if values[layer][i] > 0}
        out.append({"id": str(row.id), "kind": str(getattr(row, "kind", "")), "hex": hexes[i],
                    "counts": counts, "total": sum(counts.values())})
    return out


def recent_counts(bus, twin, user: User | None, grid: int, window: str = WINDOW) -> dict:
    """Events in the grid's cells over the window: {"incident": {category: n}, "video":
    {label: n}}, only the non-zero ones, largest first."""
    _require_grid(user, grid)
    positions = grid_positions(twin, grid)
    groups = {"incident": S.CATEGORIES, "video": S.LABELS}
    layers = [f"{kind}.{name}.count" for kind, names in groups.items() for name in names]
    values = values_at(bus, twin, layers, window, positions)
    out = {}
    for kind, names in groups.items():
        sums = {name: int(values[f"{kind}.{name}.count"].sum()) for name in names}
        out[kind] = dict(sorted(((k, v) for k, v in sums.items() if v > 0),
                                key=lambda kv: (-kv[1], kv[0])))
    return out


def latest_incidents(bus, twin, user: User | None, grid: int, now: float,
                     scan: int = STREAM_SCAN, keep: int = LATEST,
                     window: str = WINDOW) -> list[dict]:
    """The newest incident reports in the grid's cells within the window (flat or Arrow batch
    entries), from the last `scan` entries of the incident stream, newest first."""
    from layers.live.decode import Decoder

    _require_grid(user, grid)
    items = bus.recent("incident", scan)
    frame = Decoder(twin).decode("incident", items, now, S.KIND_FIELDS["incident"]).frame
    frame = frame[np.isin(frame["pos"].to_numpy(), grid_positions(twin, grid))
                  & (frame["ts"].to_numpy() >= now - 60 * S.WINDOWS[window])]
    if frame.empty:
        return []
    frame = frame.sort_values("ts", ascending=False).drop_duplicates("id").head(keep)
    hexes = h3cells.to_hex(twin.cell_ids[frame["pos"].to_numpy()])

    def text(row, name: str) -> str:
        value = row.get(name)
        return "" if value is None or (isinstance(value, float) and np.isnan(value)) \
            else str(value)

    return [{"id": str(row["id"]), "ts": float(row["ts"]), "hex": h,
             "category": text(row, "category"), "source": text(row, "source"),
             "severity": int(pd.to_numeric(row.get("severity"), errors="coerce") or 0),
             "text": text(row, "text")}
            for (_, row), h in zip(frame.iterrows(), hexes, strict=True)]


# -- one cell ----------------------------------------------------------------------------------
def clicked_position(twin, click_info: dict | None, picked_only: bool = False) -> int | None:
    """The twin position of the cell clicked on the map: the picked record's `hex`, else (unless
    `picked_only`) the clicked coordinate ([lng, lat]); None when nothing in the twin was."""
    info = click_info or {}
    hex_id = (info.get("object") or {}).get("hex") if isinstance(info.get("object"), dict) \
        else None
    if isinstance(hex_id, str):
        try:
            pos = int(twin.positions(h3cells.from_hex([hex_id]))[0])
        except ValueError:
            pos = -1
        return pos if pos >= 0 else None
    coord = None if picked_only else info.get("coordinate")
    if isinstance(coord, list | tuple) and len(coord) >= 2:
        try:
            pos = int(twin.locate(np.array([float(coord[1])]), np.array([float(coord[0])]))[0])
        except (TypeError, ValueError):
            return None
        return pos if pos >= 0 else None
    return None


def cell_live(bus, twin, position: int) -> list[dict]:
    """The cell's non-zero live layer values in every window: [{layer, window, value}]."""
    out = []
    for window in S.WINDOWS:
        values = values_at(bus, twin, S.LAYERS, window, np.array([position]))
        out += [{"layer": layer, "window": window, "value": round(float(v[0]), 3)}
                for layer, v in values.items() if np.isfinite(v[0]) and v[0] != 0]
    return out


def cell_card(twin, bus, user: User | None, position: int, lang: str = "zh") -> dict:
    """What is known of one cell: hex id, residents, land use, elevation, street/town, grid, the
    facilities, sensors and cameras in it and its live layer values (None without a bus).
    Refused (403) when the user may not see the cell's grid."""
    ds = twin.ds
    if position is None or not 0 <= int(position) < len(twin):
        require(False, f"cell {position}")
    position = int(position)
    grid = int(ds["grid"].values[position])
    require(can_see_grid(user, grid), f"cell {position}")
    unit = int(ds["unit"].values[position])
    units = twin.units[twin.units["unit"] == unit] if "unit" in twin.units else twin.units[:0]
    column = name_column(units, lang)
    grids = twin.grids[twin.grids["grid"] == grid]
    here = np.array([position])

    def names(table, label: str) -> list[str]:
        rows = devices_in(twin, table, here)
        return [str(r.get(label, r["id"])) for _, r in rows.iterrows()]

    return {"hex": h3cells.to_hex(twin.cell_ids[here])[0], "position": position,
            "residents": float(ds["population"].values[position]),
            "land_use": LAND_USE[int(ds["land_use"].values[position])],
            "elevation_m": round(float(ds["elevation_m"].values[position]), 2),
            "unit": unit, "unit_name": str(units[column].iloc[0]) if len(units) else "",
            "grid": grid, "grid_id": str(grids["id"].iloc[0]) if len(grids) else "",
            "facilities": names(twin.facilities, "name"), "sensors": names(twin.sensors, "id"),
            "cameras": names(twin.cameras, "id"),
            "live": None if bus is None else cell_live(bus, twin, position)}
