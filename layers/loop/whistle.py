"""Rule evaluation (the whistle): layer rules over numpy arrays, event rules over event frames.

`LayerWatch` keeps, per rule, since when each cell has met the condition and which cells are in
an alerted episode; one tick is a few vectorised passes over the layer array, and new episode
cells are grouped into connected patches (one alert per patch). `EventWatch` filters an event
frame with the rule's conditions column-wise, then raises one alert per place and episode (or per
event, or per cluster of N events within a radius and window). Episode state lives in Redis, so a
restarted `cityops rules run` does not raise the same alerts again.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from scipy.sparse import coo_matrix
from scipy.sparse.csgraph import connected_components

from layers.live.snapshot import SnapshotStore
from layers.loop.records import Alert
from layers.loop.rules import Rule
from layers.loop.rulestate import RuleStateStore

M_PER_DEG = 111_195.0
POOL_LIMIT = 100_000  # events a cluster rule keeps in its recent pool
MAX_EVIDENCE = 20
EVIDENCE_FIELDS = ("camera", "sensor", "label", "count", "source", "category", "severity", "text",
                   "plate", "value", "metric", "vehicle", "detection", "confidence")


def metres(lat1, lng1, lat2, lng2) -> np.ndarray:
    """Equirectangular distance in metres (exact enough within a district)."""
    lat1, lng1, lat2, lng2 = (np.asarray(a, dtype=float) for a in (lat1, lng1, lat2, lng2))
    dx = (lng1 - lng2) * np.cos(np.radians((lat1 + lat2) / 2.0))
    return M_PER_DEG * np.hypot(dx, lat1 - lat2)


def near_pairs(pool: pd.DataFrame, rows: np.ndarray, within_m: float,
               window_s: float) -> np.ndarray:
    """(i, j) pairs, i in `rows`, of events of the same `cat` within `within_m` metres and
    `window_s` seconds of each other (i == j included), as an (n, 2) int array.

    Events are bucketed on a grid of `within_m` squares, so each event is compared with the
    events of its own and the 8 surrounding squares only: time and memory grow with the number
    of events times the local density, not with the square of the pool.
    """
    if not len(rows) or pool.empty:
        return np.zeros((0, 2), dtype=np.int64)
    lat, lng = pool["lat"].to_numpy(float), pool["lng"].to_numpy(float)
    ts = pool["ts"].to_numpy(float)
    cat = pd.factorize(pool["cat"])[0]
    step_lat = within_m / M_PER_DEG
    step_lng = step_lat / max(np.cos(np.radians(np.nanmean(lat))), 1e-6)
    bx, by = np.floor(lat / step_lat).astype(np.int64), np.floor(lng / step_lng).astype(np.int64)
    grid = pd.DataFrame({"j": np.arange(len(pool)), "cat": cat, "bx": bx, "by": by})
    shifts = np.array([(dx, dy) for dx in (-1, 0, 1) for dy in (-1, 0, 1)])
    probe = pd.DataFrame({"i": np.repeat(rows, 9), "cat": np.repeat(cat[rows], 9),
                          "bx": np.repeat(bx[rows], 9) + np.tile(shifts[:, 0], len(rows)),
                          "by": np.repeat(by[rows], 9) + np.tile(shifts[:, 1], len(rows))})
    pairs = probe.merge(grid, on=["cat", "bx", "by"])[["i", "j"]].to_numpy(np.int64)
    i, j = pairs[:, 0], pairs[:, 1]
    keep = (metres(lat[i], lng[i], lat[j], lng[j]) <= within_m) \
        & (np.abs(ts[i] - ts[j]) <= window_s)
    return pairs[keep]


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

    def __init__(self, state: RuleStateStore, twin, rule: Rule, mask: np.ndarray | None) -> None:
        self.state, self.twin, self.rule, self.mask = state, twin, rule, mask
        self.n = len(twin)
        self.since, self.active = state.load_layer(rule.id, twin.fingerprint, self.n)

    def evaluate(self, values: np.ndarray, now: float) -> list[Alert]:
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
        self.state.save_layer(self.rule.id, self.twin.fingerprint, self.since, self.active)
        return [self._alert(group, v, now) for group in patches(new, self.twin.neighbors)]

    def _alert(self, group: np.ndarray, v: np.ndarray, now: float) -> Alert:
        order = group[np.argsort(-v[group], kind="stable")]
        top = int(order[0])
        lat, lng = self.twin.centers
        ids = self.twin.cell_ids
        layer = self.rule.layer
        return Alert(rule=self.rule.id, category=self.rule.category,
                     severity=int(self.rule.severity), title=self.rule.title, ts=now,
                     lat=float(lat[top]), lng=float(lng[top]),
                     cells=[int(c) for c in ids[order]],
                     evidence=[{"cell": int(ids[p]), "layer": layer.name,
                                "window": layer.window, "value": round(float(v[p]), 4),
                                "since": float(self.since[p])} for p in order[:MAX_EVIDENCE]],
                     source="layer")


def read_layer(snapshots: SnapshotStore, name: str, window: str, n: int) -> np.ndarray | None:
    """The layer array, or None before the ingest worker has published this twin's snapshot."""
    values = snapshots.read(name, window)
    return values if len(values) == n else None


class EventWatch:
    """One event rule over event frames (columns: id, ts, lat, lng, pos + the kind's fields)."""

    def __init__(self, state: RuleStateStore, twin, rule: Rule, mask: np.ndarray | None,
                 camera_kinds: dict[str, str]) -> None:
        self.state, self.twin, self.rule, self.mask = state, twin, rule, mask
        self.camera_kinds = camera_kinds

    def match(self, frame: pd.DataFrame) -> pd.DataFrame:
        """The events of the frame that meet the rule's conditions (vectorised)."""
        c = self.rule.event
        keep = np.ones(len(frame), dtype=bool)
        for column, allowed in (("label", c.labels), ("source", c.sources),
                                ("category", c.categories), ("metric", c.metrics),
                                ("detection", c.detections)):
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

    def evaluate(self, frame: pd.DataFrame, now: float) -> list[Alert]:
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

    def _by_place(self, hits: pd.DataFrame) -> list[Alert]:
        hits = hits.sort_values("ts", kind="stable")
        keys = (hits["pos"].astype(str) + "|" + hits["cat"].astype(str)).to_numpy()
        uniq, first = np.unique(keys, return_index=True)
        last_ts = pd.Series(hits["ts"].to_numpy()).groupby(keys).max()
        old = self.state.episode_ends(self.rule.id, list(uniq))
        alerts = []
        for key, i, prev in zip(uniq, first, old, strict=True):
            group = hits[keys == key]
            start = float(hits["ts"].iloc[i])
            if prev is None or start - prev > self.rule.episode_gap:
                alerts.append(self._alert(group))
        self.state.set_episode_ends(self.rule.id, {k: float(last_ts[k]) for k in uniq})
        return alerts

    def _clusters(self, hits: pd.DataFrame, now: float) -> list[Alert]:
        cl = self.rule.cluster
        cols = ["id", "ts", "lat", "lng", "cat", "pos"]
        rows = [[_plain(v) for v in row] for row in hits[cols].itertuples(index=False)]
        members, active = self.state.pool(self.rule.id, rows, [r[1] for r in rows],
                                          now - cl.window, POOL_LIMIT)
        pool = pd.DataFrame(members, columns=cols).drop_duplicates("id", keep="last")
        pool = pool.reset_index(drop=True)
        new = np.flatnonzero(pool["id"].isin(set(hits["id"])).to_numpy())
        pairs = near_pairs(pool, new, cl.within_m, cl.window)
        counts = np.bincount(pairs[:, 0], minlength=len(pool)) if len(pairs) else \
            np.zeros(len(pool), dtype=np.int64)
        alerts = []
        lat, lng, ts = (pool[c].to_numpy(float) for c in ("lat", "lng", "ts"))
        cats = pool["cat"].to_numpy()
        triggers = [i for i in new if counts[i] >= cl.min_count]
        for i in sorted(triggers, key=lambda k: (ts[k], k)):
            cat = cats[i]
            if any(e["cat"] == cat and now - e["ts"] <= cl.window
                   and metres(e["lat"], e["lng"], lat[i], lng[i]) <= cl.within_m
                   for e in active.values()):
                continue
            members_i = pool.iloc[pairs[pairs[:, 0] == i, 1]]
            active[str(pool["id"].iloc[i])] = {"cat": cat, "lat": float(lat[i]),
                                               "lng": float(lng[i]), "ts": float(ts[i])}
            alerts.append(self._alert(members_i.assign(cat=cat), reports=0))
        stale = [k for k, e in active.items() if now - e["ts"] > cl.window]
        self.state.save_clusters(self.rule.id, active, stale)
        return alerts

    def _alert(self, group: pd.DataFrame, reports: int | None = None) -> Alert:
        return self._alert_rows(group.sort_values("ts", kind="stable").to_dict("records"),
                                reports)

    def _alert_rows(self, rows: list[dict], reports: int | None = None) -> Alert:
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
        return Alert(rule=self.rule.id, category=str(last["cat"]), severity=int(severity),
                     title=self.rule.title, ts=float(last["ts"]), lat=float(last["lat"]),
                     lng=float(last["lng"]), cells=sorted({int(ids[r["pos"]]) for r in rows}),
                     evidence=evidence, events=[str(r["id"]) for r in rows],
                     reports=len(rows) if (reports is None and kind == "incident")
                     else (reports or 0), source=kind)


def _int(v) -> int:
    try:
        return int(float(v))
    except (TypeError, ValueError):
        return 1


def _missing(v) -> bool:
    return v is None or (isinstance(v, float) and np.isnan(v))


def _plain(v):
    return v.item() if isinstance(v, np.generic) else v
