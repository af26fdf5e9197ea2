"""Synthetic feeds from a twin's registries, for the demo and for load tests.

Sensors report on their intervals (sped up to reach the requested rate) with diurnal patterns
and noise; cameras detect people and vehicles in proportion to population and road capacity;
hotline and grid-inspector incidents come by category with short Chinese texts. Occasional
anomalies are mixed in for the rules to catch later (their events carry an `anomaly` field).
Everything is generated column-wise as Arrow tables.
"""

from __future__ import annotations

import time
from collections.abc import Callable

import numpy as np
import pyarrow as pa

SHARES = {"iot": 0.3, "video": 0.6, "incident": 0.1}
METRIC_MODEL = {  # base, diurnal amplitude, peak hour, noise sd, floor
    "water_level_m": (1.6, 0.3, 3.0, 0.05, 0.0), "rain_mm_h": (0.0, 0.0, 0.0, 0.3, 0.0),
    "pm25": (55.0, 20.0, 8.0, 8.0, 1.0), "co_ppm": (0.8, 0.3, 8.0, 0.1, 0.0),
    "temp_c": (12.0, 6.0, 14.0, 0.8, -40.0), "smoke": (0.01, 0.0, 0.0, 0.005, 0.0),
}
# Share of video detections by label. Rare events stay rare (at ~200 detections/s a thrown
# object is a few an hour), so the rules raise alerts a commander can follow; the anomalies
# inject the cases a demo needs.
LABEL_P = {"person": 0.58, "vehicle": 0.36, "crowd": 0.02, "thrown_object": 0.000005,
           "illegal_parking": 0.02, "smoke": 0.00002, "fire": 0.000005, "fever": 0.00005}
CATEGORY_TEXT = {
    "noise": "夜间施工噪音扰民", "garbage": "小区垃圾未及时清运", "road_damage": "路面塌陷需维修",
    "streetlight": "路灯不亮", "water_supply": "停水无通知", "illegal_parking": "车辆占用消防通道",
    "waterlogging": "路口积水严重", "gas_leak": "闻到燃气味", "fire": "楼道冒烟",
    "crowd": "广场人员聚集", "thrown_object": "高空抛物", "epidemic": "发热人员求助",
    "other": "其他诉求",
}
CATEGORY_P = {"noise": 0.18, "garbage": 0.18, "road_damage": 0.1, "streetlight": 0.1,
              "water_supply": 0.1, "illegal_parking": 0.12, "waterlogging": 0.04,
              "gas_leak": 0.02, "fire": 0.01, "crowd": 0.02, "thrown_object": 0.02,
              "epidemic": 0.01, "other": 0.1}
SOURCE_P = {"hotline": 0.5, "grid_inspector": 0.3, "app": 0.12, "110": 0.04, "119": 0.02,
            "120": 0.02}
# A weather station reports these beside its temperature, each time it reports (synthetic: a
# coastal breeze turning with the day, clouds drifting, sunshine dimmed by cloud as in Kasten,
# F. & Czeplak, G. (1980), Solar Energy 24, 177-189: 1 - 0.75 (N/8)^3.4, N here in tenths)
WEATHER_METRICS = ("wind_speed_m_s", "wind_from_deg", "cloud_tenths", "solar_w_m2")
ANOMALIES = ("flood", "gas", "parking", "crowd", "fever")
PLATE_CHARS = np.array(list("ABCDEFGHJKLMNPQRSTUVWXYZ0123456789"))


def _xy(gdf) -> tuple[np.ndarray, np.ndarray]:
    if len(gdf) == 0:
        return np.zeros(0), np.zeros(0)
    return gdf.geometry.y.to_numpy(float), gdf.geometry.x.to_numpy(float)


def _diurnal(t: np.ndarray | float, peak_hour: float) -> np.ndarray:
    hour = (np.asarray(t) / 3600.0 + 8.0) % 24.0  # China Standard Time
    return np.cos(2 * np.pi * (hour - peak_hour) / 24.0)


def daily_factor(t: float) -> float:
    """The share of the peak rate of video detections and citizen reports at a time of day
    (China Standard Time): lowest before dawn (0.3 at 4 am), highest late in the afternoon."""
    return float(0.65 + 0.35 * -np.cos(2 * np.pi * (((t / 3600.0 + 8.0) % 24.0) - 4.0) / 24.0))


class Feed:
    """Generates events of a twin between two times, as one Arrow table per kind.

    `daily`: video and reports follow the time of day (`daily_factor`); `focus` (cell
    positions) receives a `focus_share` of the citizen reports, so some places always see work
    (the demo's grid managers' grids).
    """

    def __init__(self, twin, seed: int = 0, anomaly_every_s: float = 120.0,
                 gcj02_share: float = 0.1, shares: dict[str, float] | None = None,
                 daily: bool = False, focus: np.ndarray | None = None,
                 focus_share: float = 0.1) -> None:
        self.twin, self.rng = twin, np.random.default_rng(seed)
        self.daily = daily
        self.focus = np.asarray(focus if focus is not None else [], dtype=np.int64)
        self.focus_share = focus_share
        self.shares = dict(SHARES if shares is None else shares)
        self.run_id = f"f{seed}-{int(time.time() * 1000) % 10**10:x}"
        self.seq = 0
        self.anomaly_every_s, self.gcj02_share = anomaly_every_s, gcj02_share
        self.s_lat, self.s_lng = _xy(twin.sensors)
        self.s_metric = twin.sensors.get("metric", []).astype(str).to_numpy() if len(twin.sensors) \
            else np.zeros(0, str)
        self.s_period = twin.sensors["interval_s"].to_numpy(float) if len(twin.sensors) \
            else np.zeros(0)
        self.s_weather = (twin.sensors["kind"].astype(str).to_numpy() == "weather") \
            if len(twin.sensors) and "kind" in twin.sensors else np.zeros(0, bool)
        self.s_phase = self.rng.uniform(0, 1, len(self.s_period)) * self.s_period
        self.c_lat, self.c_lng = _xy(twin.cameras)
        cpos = twin.locate(self.c_lat, self.c_lng)
        pop = twin.ds["population"].values.astype(float)
        road = twin.ds["road_capacity"].values.astype(float) if "road_capacity" in twin.ds \
            else np.zeros(len(twin))
        self.c_people = np.where(cpos >= 0, pop[np.maximum(cpos, 0)], 0) + 50.0
        self.c_cars = np.where(cpos >= 0, road[np.maximum(cpos, 0)], 0) + 100.0
        self.cell_p = (pop + 1e-3) / (pop + 1e-3).sum()
        self.lat, self.lng = twin.centers
        self.active: list[dict] = []

    # -- ids and helpers ----------------------------------------------------------------------
    def _ids(self, n: int) -> pa.Array:
        start, self.seq = self.seq, self.seq + n
        return pa.array(np.char.add(f"{self.run_id}-", np.arange(start, start + n).astype(str)))

    def _jitter(self, lat, lng, metres: float):
        d = metres / 111_000.0
        return (lat + self.rng.uniform(-d, d, len(lat)),
                lng + self.rng.uniform(-d, d, len(lng)) / np.cos(np.radians(lat)))

    # -- generators ---------------------------------------------------------------------------
    def iot(self, t0: float, t1: float, rate: float) -> pa.Table:
        if not len(self.s_period):
            return None
        natural = float((1.0 / self.s_period).sum())
        speed = max(1.0, rate / natural) if rate > 0 else 1.0
        period = self.s_period / speed
        k = (np.floor((t1 - self.s_phase) / period) - np.floor((t0 - self.s_phase) / period))
        who = np.repeat(np.arange(len(period)), k.astype(np.int64))
        if not len(who):
            return None
        ts = self.rng.uniform(t0, t1, len(who))
        metric = self.s_metric[who]
        value = np.zeros(len(who))
        for name, (base, amp, peak, sd, floor) in METRIC_MODEL.items():
            sel = metric == name
            if sel.any():
                v = base + amp * _diurnal(ts[sel], peak) + self.rng.normal(0, sd, sel.sum())
                value[sel] = np.maximum(v, floor)
        wx = who[self.s_weather[who]] if len(self.s_weather) else who[:0]
        if len(wx):  # each weather report carries wind, cloud and sunshine too
            wts = ts[self.s_weather[who]]
            who = np.concatenate([who, np.tile(wx, len(WEATHER_METRICS))])
            ts = np.concatenate([ts, np.tile(wts, len(WEATHER_METRICS))])
            metric = np.concatenate([metric, np.repeat(WEATHER_METRICS, len(wx))])
            value = np.concatenate([value, self._weather(wts)])
        return pa.table({"id": self._ids(len(who)), "ts": ts, "lat": self.s_lat[who],
                         "lng": self.s_lng[who], "sensor": self.twin.sensors["id"].to_numpy()[who],
                         "metric": metric, "value": value.round(3)})

    def _weather(self, ts: np.ndarray) -> np.ndarray:
        """Wind speed, wind direction, cloud and sunshine at times `ts`, in WEATHER_METRICS order
        (one block of len(ts) each)."""
        n = len(ts)
        speed = np.maximum(3.5 + 1.5 * _diurnal(ts, 15.0) + self.rng.normal(0, 0.6, n), 0.0)
        # the sea breeze (from the east-south-east) by day, a land breeze (west) by night
        wind_from = (200.0 - 90.0 * _diurnal(ts, 15.0) + self.rng.normal(0, 15.0, n)) % 360.0
        cloud = np.clip(4.0 + 3.0 * np.sin(2 * np.pi * ts / 21_600.0)
                        + self.rng.normal(0, 0.8, n), 0.0, 10.0).round()
        daylight = np.maximum(_diurnal(ts, 12.5) - 0.1, 0.0) / 0.9
        solar = 900.0 * daylight * (1.0 - 0.75 * (cloud / 10.0) ** 3.4)
        return np.concatenate([speed, wind_from, cloud, solar])

    def video(self, t0: float, t1: float, n: int) -> pa.Table:
        if not len(self.c_lat) or n <= 0:
            return None
        labels = np.array(list(LABEL_P))
        label = self.rng.choice(labels, n, p=np.array(list(LABEL_P.values())) / sum(LABEL_P.values()))
        is_car = label == "vehicle"
        w_people, w_cars = self.c_people / self.c_people.sum(), self.c_cars / self.c_cars.sum()
        cam = np.where(is_car, self.rng.choice(len(w_cars), n, p=w_cars),
                       self.rng.choice(len(w_people), n, p=w_people))
        ts = self.rng.uniform(t0, t1, n)
        base = np.where(is_car, self.c_cars[cam] / 1000.0, self.c_people[cam] / 500.0)
        count = 1 + self.rng.poisson(base * (1.2 + 0.8 * _diurnal(ts, 18.0)))
        lat, lng, crs = self._crs(self.c_lat[cam], self.c_lng[cam])
        plate = np.where(is_car | (label == "illegal_parking"), self._plates(n), None)
        return pa.table({"id": self._ids(n), "ts": ts, "lat": lat, "lng": lng, "crs": crs,
                         "camera": self.twin.cameras["id"].to_numpy()[cam], "label": label,
                         "count": count.astype(np.int64),
                         "confidence": self.rng.uniform(0.6, 0.99, n).round(2),
                         "plate": pa.array(plate.tolist(), type=pa.string())})

    def _crs(self, lat, lng):
        """A share of the video comes from a box that reports GCJ-02 (as AMap-based tools do)."""
        gcj = self.rng.random(len(lat)) < self.gcj02_share
        lat, lng = lat.copy(), lng.copy()
        if gcj.any():
            lat[gcj], lng[gcj] = self.twin.crs.from_wgs84(lat[gcj], lng[gcj], "gcj02")
        return lat, lng, np.where(gcj, "gcj02", "wgs84")

    def _plates(self, n: int) -> np.ndarray:
        chars = np.empty((n, 7), dtype="<U1")
        chars[:, 0] = "津"
        chars[:, 1] = self.rng.choice(np.array(list("ABCDEFGH")), n)
        chars[:, 2:] = self.rng.choice(PLATE_CHARS, (n, 5))
        return np.ascontiguousarray(chars).view("<U7").ravel()

    def incident(self, t0: float, t1: float, n: int) -> pa.Table:
        if n <= 0:
            return None
        cell = self.rng.choice(len(self.cell_p), n, p=self.cell_p)
        if len(self.focus):
            here = self.rng.random(n) < self.focus_share
            cell[here] = self.rng.choice(self.focus, int(here.sum()))
        lat, lng = self._jitter(self.lat[cell], self.lng[cell], 60.0)
        cats = np.array(sorted(CATEGORY_P))
        cat = self.rng.choice(cats, n, p=np.array([CATEGORY_P[c] for c in cats]))
        src = self.rng.choice(np.array(list(SOURCE_P)), n, p=np.array(list(SOURCE_P.values())))
        text = np.array([CATEGORY_TEXT[c] for c in cats])[np.searchsorted(cats, cat)]
        return pa.table({"id": self._ids(n), "ts": self.rng.uniform(t0, t1, n), "lat": lat,
                         "lng": lng, "source": src, "category": cat,
                         "severity": self.rng.choice([1, 2, 3, 4], n, p=[0.5, 0.3, 0.15, 0.05]),
                         "text": text.astype(str)})

    def generate(self, t0: float, t1: float, rate: float) -> dict[str, pa.Table]:
        """Events with times in [t0, t1) at about `rate` events/s, anomalies included."""
        n = rate * (t1 - t0) * (daily_factor((t0 + t1) / 2) if self.daily else 1.0)
        share = self.shares
        out = {"iot": self.iot(t0, t1, rate * share["iot"]),
               "video": self.video(t0, t1, int(self.rng.poisson(n * share["video"]))),
               "incident": self.incident(t0, t1, int(self.rng.poisson(n * share["incident"])))}
        if self.anomaly_every_s and self.rng.random() < (t1 - t0) / self.anomaly_every_s:
            self.start_anomaly(str(self.rng.choice(ANOMALIES)), t0)
        for kind, table in self.anomaly_events(t0, t1).items():
            if table is not None:
                out[kind] = table if out.get(kind) is None else pa.concat_tables(
                    [out[kind], table], promote_options="default")
        return {k: v for k, v in out.items() if v is not None and v.num_rows}

    # -- anomalies ----------------------------------------------------------------------------
    def start_anomaly(self, kind: str, t: float, duration_s: float = 720.0) -> dict | None:
        """Schedule an anomaly (`flood`, `gas`, `parking`, `crowd`, `fever`) starting at t."""
        from layers.live.anomalies import plan

        spec = plan(self, kind, t, duration_s)
        if spec is not None:
            self.active.append(spec)
        return spec

    def anomaly_events(self, t0: float, t1: float) -> dict[str, pa.Table]:
        from layers.live.anomalies import emit

        tables: dict[str, list] = {}
        for spec in list(self.active):
            for kind, table in emit(self, spec, t0, t1).items():
                tables.setdefault(kind, []).append(table)
            if t1 >= spec["end"]:
                self.active.remove(spec)
        return {k: pa.concat_tables(v, promote_options="default") for k, v in tables.items()}


def run(bus, twin, rate: float, duration: float, batch: int = 1000, seed: int = 0,
        stop: Callable[[], bool] = lambda: False, tick_s: float = 0.25,
        clock: Callable[[], float] = time.time,
        shares: dict[str, float] | None = None,
        doors: dict[str, Callable] | None = None, **options) -> dict[str, int]:
    """Publish a feed at `rate` events/s for `duration` seconds; the counts sent per kind.

    `shares`: the split of events between kinds (default `SHARES`, a load-test mix; the live
    demo asks for far fewer incidents, as a district's hotline sees). `doors`: kinds sent
    another way than straight to Redis, kind -> send(table) (the demo sends IoT over MQTT).
    `options` go to `Feed` (daily rates, focus cells).
    """
    from layers.live.producer import Producer

    feed, sent = Feed(twin, seed, shares=shares, **options), {"iot": 0, "video": 0,
                                                              "incident": 0}
    producer = Producer(bus, twin)  # routes events to their partitions' streams
    start = last = clock()
    while not stop() and last - start < duration:
        time.sleep(max(0.0, tick_s - (clock() - last)))
        now = min(clock(), start + duration)
        for kind, table in feed.generate(last, now, rate).items():
            door = (doors or {}).get(kind)
            sent[kind] += door(table) if door else producer.publish(kind, table, batch=batch)
        last = now
    return sent
