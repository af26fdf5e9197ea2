"""Rule evaluation (the whistle): layer rules over numpy arrays, event rules over event frames.

`LayerWatch` keeps, per rule, since when each cell has met the condition and which cells are in
an alerted episode; one tick is a few vectorised passes over the layer array, and new episode
cells are grouped into connected patches (one alert per patch). `EventWatch` filters an event
frame with the rule's conditions column-wise, then raises one alert per place and episode (or per
event, or per cluster of N events within a radius and window). Episode state lives in Redis, so a
restarted `cityops rules run` does not raise the same alerts again.
"""

from __future__ import annotations

import json

import h3
import numpy as np
import pandas as pd
from scipy.sparse import coo_matrix
from scipy.sparse.csgraph import connected_components

from layers import snapshot
from layers.bus import Bus
from layers.rules import Rule

M_PER_DEG = 111_195.0
MAX_EVIDENCE = 20
EVIDENCE_FIELDS = ("camera", "sensor", "label", "count", "source", "category", "severity", "text",
                   "plate", "value", "metric")


def metres(lat1, lng1, lat2, lng2) -> np.ndarray:
    """Equirectangular distance in metres (exact enough within a district)."""
    lat1, lng1, lat2, lng2 = (np.asarray(a, dtype=float) for a in (lat1, lng1, lat2, lng2))
    dx = (lng1 - lng2) * np.cos(np.radians((lat1 + lat2) / 2.0))
    return M_PER_DEG * np.hypot(dx, lat1 - lat2)


def patches(cells: np.ndarray, neighbors: np.ndarray) -> list[np.ndarray]:
    """Connected groups of cell positions (adjacent through the twin's neighbour table)."""
    cells = np.asarray(cells, dtype=np.int64)
    if len(cells) <= 1:
        return [cells] if len(cells) else []
    local = np.full(len(neighbors), -1, dtype=np.int64)
    local[cells] = np.arange(len(cells))
    nb = neighbors[cells]
    j = np.where(nb >= 0, local[np.maximum(nb, 0)], -1)
    i = np.repeat(np.arange(len(cells)), nb.shape[1]).reshape(nb.shape)
    keep = j >= 0
    graph = coo_matrix((np.ones(keep.sum()), (i[keep], j[keep])), shape=(len(cells),) * 2)
    n, label = connected_components(graph, directed=False)
    order = np.argsort(label, kind="stable")
    return np.split(cells[order], np.flatnonzero(np.diff(label[order])) + 1)


class LayerWatch:
    """One layer rule: condition, duration and episodes per cell."""

    def __init__(self, bus: Bus, twin, rule: Rule, mask: np.ndarray | None) -> None:
        self.bus, self.twin, self.rule, self.mask = bus, twin, rule, mask
        self.n = len(twin)
        self.key = bus.key(f"rules:layer:{rule.id}")
        self.since = np.full(self.n, np.nan)
        self.active = np.zeros(self.n, dtype=bool)
        raw = bus.r.hgetall(self.key)
        if raw.get(b"n") and int(raw[b"n"]) == self.n:
            pos = np.frombuffer(raw[b"since_pos"], dtype=np.int64)
            self.since[pos] = np.frombuffer(raw[b"since_ts"], dtype=np.float64)
            self.active[np.frombuffer(raw[b"active"], dtype=np.int64)] = True

    def evaluate(self, values: np.ndarray, now: float) -> list[dict]:
        """Alerts for cells entering an episode now; updates and saves the rule's state."""
        cond_spec = self.rule.layer
        v = np.asarray(values, dtype=np.float64)
        with np.errstate(invalid="ignore"):
            if cond_spec.above is not None:
                cond = v > cond_spec.above
                still = v > (cond_spec.clear if cond_spec.clear is not None else cond_spec.above)
            else:
                cond = v < cond_spec.below
                still = v < (cond_spec.clear if cond_spec.clear is not None else cond_spec.below)
        if self.mask is not None:
            cond &= self.mask
            still &= self.mask
        self.since[cond & np.isnan(self.since)] = now
        self.since[~cond] = np.nan
        self.active &= still
        sustained = cond & (now - np.nan_to_num(self.since, nan=np.inf) >= self.rule.sustained)
        new = np.flatnonzero(sustained & ~self.active)
        self.active[new] = True
        self._save()
        return [self._alert(group, v, now) for group in patches(new, self.twin.neighbors)]

    def _alert(self, group: np.ndarray, v: np.ndarray, now: float) -> dict:
        order = group[np.argsort(-v[group], kind="stable")]
        top = int(order[0])
        lat, lng = self.twin.centers
        ids = self.twin.cell_ids
        layer = self.rule.layer
        return {"rule": self.rule.id, "category": self.rule.category,
                "severity": self.rule.severity, "title": self.rule.title, "ts": now,
                "lat": float(lat[top]), "lng": float(lng[top]),
                "cells": [h3.int_to_str(int(ids[p])) for p in order],
                "evidence": [{"cell": h3.int_to_str(int(ids[p])), "layer": layer.name,
                              "window": layer.window, "value": round(float(v[p]), 4),
                              "since": float(self.since[p])} for p in order[:MAX_EVIDENCE]],
                "events": [], "source": "layer"}

    def _save(self) -> None:
        pos = np.flatnonzero(~np.isnan(self.since)).astype(np.int64)
        self.bus.r.hset(self.key, mapping={
            "n": self.n, "since_pos": pos.tobytes(), "since_ts": self.since[pos].tobytes(),
            "active": np.flatnonzero(self.active).astype(np.int64).tobytes()})


def read_layer(bus: Bus, name: str, window: str, n: int) -> np.ndarray | None:
    """The layer array, or None before the ingest worker has published this twin's snapshot."""
    values = snapshot.read(bus, name, window)
    return values if len(values) == n else None


class EventWatch:
    """One event rule over event frames (columns: id, ts, lat, lng, pos + the kind's fields)."""

    def __init__(self, bus: Bus, twin, rule: Rule, mask: np.ndarray | None,
                 camera_kinds: dict[str, str]) -> None:
        self.bus, self.twin, self.rule, self.mask = bus, twin, rule, mask
        self.camera_kinds = camera_kinds
        self.episodes = bus.key(f"rules:episodes:{rule.id}")
        self.recent = bus.key(f"rules:recent:{rule.id}")

    def match(self, frame: pd.DataFrame) -> pd.DataFrame:
        """The events of the frame that meet the rule's conditions (vectorised)."""
        c = self.rule.event
        keep = np.ones(len(frame), dtype=bool)
        for column, allowed in (("label", c.labels), ("source", c.sources),
                                ("category", c.categories), ("metric", c.metrics)):
            if allowed:
                keep &= frame[column].isin(allowed).to_numpy() if column in frame else False
        if c.field is not None:
            col = frame[c.field] if c.field in frame else pd.Series(np.nan, index=frame.index)
            keep &= (pd.to_numeric(col, errors="coerce") > c.above).to_numpy()
        if c.min_confidence is not None:
            conf = frame["confidence"] if "confidence" in frame else pd.Series(1.0, frame.index)
            keep &= (pd.to_numeric(conf, errors="coerce").fillna(1.0) >= c.min_confidence)\
                .to_numpy()
        if self.mask is not None:
            keep &= self.mask[frame["pos"].to_numpy()]
        if self.rule.where.camera_kinds:
            cams = frame["camera"] if "camera" in frame else pd.Series("", index=frame.index)
            keep &= cams.map(self.camera_kinds).isin(self.rule.where.camera_kinds).to_numpy()
        return frame[keep]

    def evaluate(self, frame: pd.DataFrame, now: float) -> list[dict]:
        if frame is None or frame.empty:
            return []
        hits = self.match(frame)
        if hits.empty:
            return []
        hits = hits.assign(cat=hits["category"] if self.rule.category == "from_event"
                           else self.rule.category)
        if self.rule.cluster is not None:
            return self._clusters(hits, now)
        if self.rule.episode == "event":
            rows = hits.sort_values("ts", kind="stable").to_dict("records")
            return [self._alert_rows([row]) for row in rows]
        return self._by_place(hits)

    def _by_place(self, hits: pd.DataFrame) -> list[dict]:
        hits = hits.sort_values("ts", kind="stable")
        keys = (hits["pos"].astype(str) + "|" + hits["cat"].astype(str)).to_numpy()
        uniq, first = np.unique(keys, return_index=True)
        last_ts = pd.Series(hits["ts"].to_numpy()).groupby(keys).max()
        old = self.bus.r.hmget(self.episodes, list(uniq))
        alerts = []
        for key, i, prev in zip(uniq, first, old, strict=True):
            group = hits[keys == key]
            start = float(hits["ts"].iloc[i])
            if prev is None or start - float(prev) > self.rule.episode_gap:
                alerts.append(self._alert(group))
        if len(uniq):
            self.bus.r.hset(self.episodes, mapping={k: repr(float(last_ts[k])) for k in uniq})
        return alerts

    def _clusters(self, hits: pd.DataFrame, now: float) -> list[dict]:
        cl = self.rule.cluster
        pipe = self.bus.r.pipeline(transaction=False)
        for row in hits[["id", "ts", "lat", "lng", "cat", "pos"]].itertuples(index=False):
            pipe.zadd(self.recent, {json.dumps(list(row)): float(row.ts)})
        pipe.zremrangebyscore(self.recent, "-inf", now - cl.window)
        pipe.zrange(self.recent, 0, -1)
        pipe.hgetall(self.episodes)
        *_, members, episodes = pipe.execute()
        pool = pd.DataFrame([json.loads(m) for m in members],
                            columns=["id", "ts", "lat", "lng", "cat", "pos"])
        active = {k.decode(): json.loads(v) for k, v in episodes.items()}
        alerts, new_ids = [], set(hits["id"])
        for cat, group in pool.groupby("cat"):
            lat, lng, ts = (group[c].to_numpy(float) for c in ("lat", "lng", "ts"))
            near = (metres(lat[:, None], lng[:, None], lat[None, :], lng[None, :]) <= cl.within_m) \
                & (np.abs(ts[:, None] - ts[None, :]) <= cl.window)
            counts = near.sum(axis=1)
            for i in np.flatnonzero((counts >= cl.min_count) & group["id"].isin(new_ids).to_numpy()):
                if any(e["cat"] == cat and now - e["ts"] <= cl.window
                       and metres(e["lat"], e["lng"], lat[i], lng[i]) <= cl.within_m
                       for e in active.values()):
                    continue
                members_i = group[near[i]]
                key = str(group["id"].iloc[i])
                active[key] = {"cat": cat, "lat": float(lat[i]), "lng": float(lng[i]),
                               "ts": float(ts[i])}
                alerts.append(self._alert(members_i.assign(cat=cat), reports=0))
        stale = [k for k, e in active.items() if now - e["ts"] > cl.window]
        pipe = self.bus.r.pipeline(transaction=False)
        if stale:
            pipe.hdel(self.episodes, *stale)
        fresh = {k: json.dumps(e) for k, e in active.items() if k not in stale}
        if fresh:
            pipe.hset(self.episodes, mapping=fresh)
        pipe.execute()
        return alerts

    def _alert(self, group: pd.DataFrame, reports: int | None = None) -> dict:
        return self._alert_rows(group.sort_values("ts", kind="stable").to_dict("records"),
                                reports)

    def _alert_rows(self, rows: list[dict], reports: int | None = None) -> dict:
        """One alert from the matched events (dicts, oldest first) that triggered it."""
        ids = self.twin.cell_ids
        kind = self.rule.event.kind
        severity = self.rule.severity
        if severity == "from_event":
            severity = max(_int(r.get("severity")) for r in rows)
        evidence = [{"event": str(r["id"]), "kind": kind, "ts": float(r["ts"]),
                     **{f: _plain(r[f]) for f in EVIDENCE_FIELDS
                        if f in r and not _missing(r[f])}}
                    for r in rows[:MAX_EVIDENCE]]
        last = rows[-1]
        return {"rule": self.rule.id, "category": str(last["cat"]),
                "severity": int(severity), "title": self.rule.title, "ts": float(last["ts"]),
                "lat": float(last["lat"]), "lng": float(last["lng"]),
                "cells": sorted({h3.int_to_str(int(ids[r["pos"]])) for r in rows}),
                "evidence": evidence, "events": [str(r["id"]) for r in rows],
                "reports": len(rows) if (reports is None and kind == "incident") else (reports or 0),
                "source": kind}


def _int(v) -> int:
    try:
        return int(float(v))
    except (TypeError, ValueError):
        return 1


def _missing(v) -> bool:
    return v is None or (isinstance(v, float) and np.isnan(v))


def _plain(v):
    return v.item() if isinstance(v, np.generic) else v
