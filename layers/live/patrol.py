"""The demo's inspection vehicle (城市体检智能巡检): fixes along a route, and what it detects.

`VehicleFeed` drives one vehicle round a closed route of cell positions (the dashboard plans it
over the main corridors with `sim.patrol`) at a steady inspection speed, sending a fix every
`every_s` seconds: position (interpolated between cell centres, a few metres of GPS noise),
heading, speed. A few cells of the route hold a lasting problem (road damage, garbage, a broken
facility, a parked car): each pass reports it once, from the first fix past it, so the rules turn the
first into a case and later passes join that case. Everything is generated as Arrow tables,
like `layers.live.feed`.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pyarrow as pa

from layers.live import schema as S

M_PER_DEG = 111_195.0
GPS_NOISE_M = 3.0


@dataclass(frozen=True)
class Problem:
    """A lasting problem on the route: where it is (a route index) and what it looks like."""

    index: int
    detection: str


class VehicleFeed:
    """Fixes of one vehicle going round `route` (twin positions, consecutive cells adjacent)."""

    def __init__(self, twin, route: np.ndarray, vehicle: str = "BH-XJ-01",
                 speed_kmh: float = 30.0, every_s: float = 2.0, seed: int = 0,
                 problems: int = 6, start_ts: float = 0.0) -> None:
        route = np.asarray(route, dtype=np.int64)
        if len(route) < 2:
            raise ValueError("a vehicle route needs at least two cells")
        self.twin, self.vehicle, self.every_s = twin, vehicle, float(every_s)
        self.speed_m_s = speed_kmh / 3.6
        self.rng = np.random.default_rng(seed)
        lat, lng = twin.centers
        self.lat, self.lng = lat[route], lng[route]
        loop_lat, loop_lng = np.r_[self.lat, self.lat[:1]], np.r_[self.lng, self.lng[:1]]
        step = _metres(loop_lat[:-1], loop_lng[:-1], loop_lat[1:], loop_lng[1:])
        self.along = np.r_[0.0, np.cumsum(step)]  # distance at each route cell (and the loop end)
        self.total_m = float(self.along[-1])
        self.heading = _bearing(loop_lat[:-1], loop_lng[:-1], loop_lat[1:], loop_lng[1:])
        picks = self.rng.choice(len(route), size=min(problems, len(route)), replace=False)
        self.problems = [Problem(int(i), str(self.rng.choice(S.DETECTIONS))) for i in picks]
        self.start_ts = float(start_ts)
        self.seq = 0

    def position(self, t: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(lat, lng, heading) at times `t` (seconds since the start), exact on the route."""
        d = (np.asarray(t, dtype=float) * self.speed_m_s) % self.total_m
        i = np.clip(np.searchsorted(self.along, d, side="right") - 1, 0, len(self.lat) - 1)
        j = (i + 1) % len(self.lat)
        f = (d - self.along[i]) / np.maximum(self.along[i + 1] - self.along[i], 1e-9)
        return (self.lat[i] + f * (self.lat[j] - self.lat[i]),
                self.lng[i] + f * (self.lng[j] - self.lng[i]), self.heading[i])

    def generate(self, t0: float, t1: float) -> pa.Table | None:
        """The fixes sent in [t0, t1) (epoch seconds), with the detections of that stretch."""
        k0 = int(np.ceil((t0 - self.start_ts) / self.every_s))
        k1 = int(np.ceil((t1 - self.start_ts) / self.every_s))
        if k1 <= k0:
            return None
        ts = self.start_ts + np.arange(k0, k1) * self.every_s
        lat, lng, heading = self.position(ts - self.start_ts)
        noise = GPS_NOISE_M / M_PER_DEG
        lat = lat + self.rng.normal(0, noise, len(ts))
        lng = lng + self.rng.normal(0, noise, len(ts)) / np.cos(np.radians(lat))
        detection = np.full(len(ts), None, dtype=object)
        confidence = np.full(len(ts), None, dtype=object)
        travelled = (ts - self.start_ts) * self.speed_m_s
        for p in self.problems:  # seen once per pass: by the first fix past the problem
            past = (travelled - self.along[p.index]) % self.total_m
            seen = past < self.speed_m_s * self.every_s
            detection[seen] = p.detection
            confidence[seen] = round(float(self.rng.uniform(0.75, 0.97)), 2)
        ids = [f"{self.vehicle}-{k}" for k in range(k0, k1)]
        self.seq = k1
        speed = np.round(self.speed_m_s * 3.6 + self.rng.normal(0, 1.0, len(ts)), 1)
        return pa.table({"id": ids, "ts": ts, "lat": lat, "lng": lng,
                         "vehicle": [self.vehicle] * len(ts), "heading": np.round(heading, 1),
                         "speed_kmh": np.clip(speed, 0, None),
                         "detection": pa.array(detection.tolist(), type=pa.string()),
                         "confidence": pa.array(confidence.tolist(), type=pa.float64())})


def _metres(lat1, lng1, lat2, lng2) -> np.ndarray:
    dx = (np.asarray(lng1) - lng2) * np.cos(np.radians((np.asarray(lat1) + lat2) / 2.0))
    return M_PER_DEG * np.hypot(dx, np.asarray(lat1) - lat2)


def _bearing(lat1, lng1, lat2, lng2) -> np.ndarray:
    """Initial bearing (degrees clockwise from north) from each point to the next."""
    p1, p2 = np.radians(lat1), np.radians(lat2)
    dl = np.radians(np.asarray(lng2) - lng1)
    y = np.sin(dl) * np.cos(p2)
    x = np.cos(p1) * np.sin(p2) - np.sin(p1) * np.cos(p2) * np.cos(dl)
    return (np.degrees(np.arctan2(y, x)) + 360.0) % 360.0
