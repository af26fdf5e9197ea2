"""Anomalies the synthetic feed mixes in, for the rules to catch later.

`flood`: a water level rising at a gauge while the nearest rain gauge reports heavy rain;
`gas`: a CO reading climbing at the sensor nearest a hazardous-chemical site; `parking`: the
same plate seen in a no-parking camera's view for over 10 minutes; `crowd`: people counts
rising at one camera until a crowd is detected; `fever`: a fever reading at a community entrance.
"""

from __future__ import annotations

import numpy as np
import pyarrow as pa


def _nearest(lat, lng, lat0: float, lng0: float) -> int:
    return int(np.argmin((lat - lat0) ** 2 + ((lng - lng0) * np.cos(np.radians(lat0))) ** 2))


def plan(feed, kind: str, t: float, duration_s: float) -> dict | None:
    """The spec of one anomaly on this feed's twin, or None if the twin lacks what it needs."""
    cameras = feed.twin.cameras
    spec = {"kind": kind, "start": t, "end": t + duration_s, "tag": f"{kind}-{int(t)}"}
    metric = feed.s_metric
    if kind == "flood":
        gauges = np.flatnonzero(metric == "water_level_m")
        if not len(gauges):
            return None
        g = int(feed.rng.choice(gauges))
        rain = np.flatnonzero(metric == "rain_mm_h")
        r = int(rain[_nearest(feed.s_lat[rain], feed.s_lng[rain], feed.s_lat[g],
                              feed.s_lng[g])]) if len(rain) else None
        spec.update(sensors=[g] + ([r] if r is not None else []), step=30.0)
    elif kind == "gas":
        co = np.flatnonzero(metric == "co_ppm")
        if not len(co):
            return None
        fac = feed.twin.facilities
        chem = fac[fac["kind"] == "hazchem_site"] if len(fac) else fac
        if len(chem):
            site = chem.geometry.iloc[int(feed.rng.integers(len(chem)))]
            s = int(co[_nearest(feed.s_lat[co], feed.s_lng[co], site.y, site.x)])
        else:
            s = int(feed.rng.choice(co))
        spec.update(sensors=[s], step=20.0)
    elif kind in ("parking", "crowd", "fever"):
        if not len(cameras):
            return None
        if kind == "parking":
            pool = np.flatnonzero(cameras["no_parking"].to_numpy(bool))
            spec.update(plate=str(feed._plates(1)[0]), step=60.0)
        elif kind == "fever":
            pool = np.flatnonzero(cameras["kind"].to_numpy() == "community_entrance")
            spec.update(end=t + 1.0, step=1.0)
        else:
            pool = np.argsort(feed.c_people)[-10:]
            spec.update(step=15.0)
        pool = pool if len(pool) else np.arange(len(cameras))
        spec["camera"] = int(feed.rng.choice(pool))
    else:
        raise ValueError(f"unknown anomaly {kind!r}: use flood, gas, parking, crowd or fever")
    return spec


def emit(feed, spec: dict, t0: float, t1: float) -> dict[str, pa.Table]:
    """The anomaly's events with times in [t0, t1)."""
    k0 = max(0, int(np.ceil((t0 - spec["start"]) / spec["step"])))
    ts = spec["start"] + spec["step"] * np.arange(k0, k0 + 10_000)
    ts = ts[(ts >= t0) & (ts < t1) & (ts < spec["end"])]
    if not len(ts):
        return {}
    frac = (ts - spec["start"]) / max(spec["end"] - spec["start"], 1.0)
    kind, n = spec["kind"], len(ts)
    if kind in ("flood", "gas"):
        rows = []
        for s in spec["sensors"]:
            metric = str(feed.s_metric[s])
            value = {"water_level_m": 1.6 + 2.0 * frac, "rain_mm_h": 45.0 + 20.0 * frac,
                     "co_ppm": 0.8 + 60.0 * frac ** 2}[metric]
            rows.append(pa.table({
                "id": feed._ids(n), "ts": ts, "lat": np.full(n, feed.s_lat[s]),
                "lng": np.full(n, feed.s_lng[s]),
                "sensor": np.full(n, feed.twin.sensors["id"].iloc[s]),
                "metric": np.full(n, metric), "value": np.round(value, 3),
                "anomaly": np.full(n, spec["tag"])}))
        return {"iot": pa.concat_tables(rows)}
    c = spec["camera"]
    label = {"parking": "illegal_parking", "fever": "fever", "crowd": "person"}[kind]
    labels = np.full(n, label, dtype=object)
    count = np.ones(n, dtype=np.int64)
    if kind == "crowd":
        count = (20 + 300 * frac).astype(np.int64)
        labels[frac > 0.5] = "crowd"
    table = pa.table({
        "id": feed._ids(n), "ts": ts, "lat": np.full(n, feed.c_lat[c]),
        "lng": np.full(n, feed.c_lng[c]), "crs": np.full(n, "wgs84"),
        "camera": np.full(n, feed.twin.cameras["id"].iloc[c]), "label": labels.astype(str),
        "count": count, "confidence": np.full(n, 0.95),
        "plate": pa.array([spec.get("plate")] * n, type=pa.string()),
        "anomaly": np.full(n, spec["tag"])})
    return {"video": table}
