"""Soft enforcement of illegal parking, as the district's traffic police run it.

A vehicle (plate, else track id) seen by video in a no-parking cell (a cell watched by a camera
with `no_parking`) and still seen there `remind_after` (10 min) after it was first seen gets a
reminder SMS through the outbox; if it is still seen `case_after_reminder` (10 min) after the
reminder, an alert opens a case for the traffic police. A vehicle not seen for `gone_after` has
left. KPIs in `{prefix}parking:kpi`: reminders sent, vehicles that left within the window after
their reminder, and cases opened; `kpi()` gives the share that left (of those decided).
Vehicle state is one Redis hash (`parking:vehicles`, key -> JSON), so a restart loses nothing.
"""

from __future__ import annotations

import json

import numpy as np
import pandas as pd

from layers.live.bus import Bus
from layers.loop.audit import AuditLog
from layers.loop.notify import Outbox
from layers.loop.records import Alert
from layers.loop.rules import Parking
from twin import cells as h3cells


class ParkingWatch:
    """Tracks vehicles in no-parking cells and sends reminders / raises case alerts."""

    def __init__(self, bus: Bus, twin, conf: Parking, outbox: Outbox) -> None:
        self.bus, self.twin, self.conf, self.outbox = bus, twin, conf, outbox
        self.key, self.kpi_key = bus.keys.parking("vehicles"), bus.keys.parking("kpi")
        self.no_parking = np.zeros(len(twin), dtype=bool)
        cams = twin.cameras
        if len(cams) and "no_parking" in cams:
            sel = cams[cams["no_parking"].astype(bool)]
            pos = twin.locate(sel.geometry.y.to_numpy(), sel.geometry.x.to_numpy())
            self.no_parking[pos[pos >= 0]] = True

    def _sightings(self, frame: pd.DataFrame) -> pd.DataFrame:
        if frame is None or frame.empty or "label" not in frame:
            return pd.DataFrame(columns=["vehicle", "first", "last", "pos"])
        plate = frame["plate"] if "plate" in frame else pd.Series(None, index=frame.index)
        track = frame["track"] if "track" in frame else pd.Series(None, index=frame.index)
        vehicle = plate.where(plate.notna() & (plate.astype(str) != ""),
                              "track:" + track.astype(str))
        keep = frame["label"].isin(self.conf.labels).to_numpy() \
            & self.no_parking[frame["pos"].to_numpy()] \
            & (plate.notna() | track.notna()).to_numpy()
        seen = frame[keep].assign(vehicle=vehicle[keep]).sort_values("ts", kind="stable")
        g = seen.groupby("vehicle")
        return pd.DataFrame({"first": g["ts"].min(), "last": g["ts"].max(),
                             "pos": g["pos"].last()}).reset_index()

    def update(self, frame: pd.DataFrame, now: float) -> list[Alert]:
        """Fold the frame's sightings in, act on timers; returns alerts for the cases to open."""
        seen = self._sightings(frame)
        if len(seen):
            old = self.bus.redis.hmget(self.key, list(seen["vehicle"]))
            writes = {}
            for row, prev in zip(seen.itertuples(index=False), old, strict=True):
                v = json.loads(prev) if prev else None
                if v is None or row.first - v["last"] > self.conf.gone_after:
                    v = {"first": row.first, "last": row.last, "cell": self._cell(row.pos),
                         "reminded": None, "cased": False}
                v["last"], v["cell"] = max(v["last"], row.last), self._cell(row.pos)
                writes[row.vehicle] = json.dumps(v)
            self.bus.redis.hset(self.key, mapping=writes)
        return self._timers(now)

    def _timers(self, now: float) -> list[Alert]:
        c = self.conf
        alerts, writes, gone = [], {}, []
        kpi = {"reminders": 0, "left_within": 0, "cases": 0}
        pipe = self.bus.redis.pipeline(transaction=False)
        for key, raw in self.bus.redis.hgetall(self.key).items():
            vehicle, v = key.decode(), json.loads(raw)
            if now - v["last"] > c.gone_after:
                if v["reminded"] is not None and not v["cased"] \
                        and v["last"] < v["reminded"] + c.case_after_reminder:
                    kpi["left_within"] += 1
                gone.append(vehicle)
                continue
            if v["reminded"] is None and v["last"] - v["first"] >= c.remind_after:
                v["reminded"] = now
                kpi["reminders"] += 1
                self._remind(pipe, vehicle, v, now)
                writes[vehicle] = json.dumps(v)
            elif v["reminded"] is not None and not v["cased"] \
                    and v["last"] >= v["reminded"] + c.case_after_reminder:
                v["cased"] = True
                kpi["cases"] += 1
                alerts.append(self._alert(vehicle, v, now))
                writes[vehicle] = json.dumps(v)
        if writes:
            pipe.hset(self.key, mapping=writes)
        if gone:
            pipe.hdel(self.key, *gone)
        for name, n in kpi.items():
            if n:
                pipe.hincrby(self.kpi_key, name, n)
        pipe.execute()
        return alerts

    def _cell(self, pos) -> int:
        """A position's cell id: stored state keeps cells, never positions in our arrays."""
        return int(self.twin.cell_ids[int(pos)])

    def _pos(self, v: dict) -> int:
        return int(self.twin.positions(np.array([v["cell"]], dtype=np.uint64))[0])

    def _place(self, v: dict) -> tuple[float, float, int]:
        lat, lng = self.twin.centers
        p = self._pos(v)
        return float(lat[p]), float(lng[p]), int(v["cell"])

    def _place_name(self, pos: int) -> str:
        """The street/town of a cell, for the reminder text (its hex id where it has none)."""
        unit = int(self.twin.ds["unit"].values[pos])
        units = self.twin.units
        names = units.loc[units["unit"] == unit, "name"] if len(units) else []
        return str(names.iloc[0]) if len(names) else h3cells.to_hex([self.twin.cell_ids[pos]])[0]

    def _remind(self, pipe, vehicle: str, v: dict, now: float) -> None:
        lat, lng, cell = self._place(v)
        if not vehicle.startswith("track:"):
            self.outbox.queue(pipe, "parking_reminder", vehicle,
                              {"plate": vehicle, "place": self._place_name(self._pos(v))},
                              self.conf.channel, self.conf.lang, now)
        AuditLog(self.bus).append("parking.reminder", f"vehicle:{vehicle}", "rule:parking", now,
                                  {"vehicle": vehicle, "cell": cell, "first_seen": v["first"],
                                   "last_seen": v["last"], "sms": not vehicle.startswith("track:")})

    def _alert(self, vehicle: str, v: dict, now: float) -> Alert:
        lat, lng, cell = self._place(v)
        return Alert(rule="parking", category=self.conf.category, severity=self.conf.severity,
                     title=f"违法停车未驶离 {vehicle}", ts=now, lat=lat, lng=lng, cells=[cell],
                     evidence=[{"vehicle": vehicle, "first_seen": v["first"],
                                "last_seen": v["last"], "reminded": v["reminded"]}],
                     source="parking")


def kpi(bus: Bus) -> dict:
    """Reminders sent, vehicles that left in time, cases, and the share that left (decided)."""
    raw = {k.decode(): int(v) for k, v in bus.redis.hgetall(bus.keys.parking("kpi")).items()}
    reminders, left, cases = (raw.get(k, 0) for k in ("reminders", "left_within", "cases"))
    decided = left + cases
    return {"reminders": reminders, "left_within_10min": left, "cases": cases,
            "pending": reminders - decided,
            "share_left_within_10min": round(left / decided, 4) if decided else None}
