"""Per-minute, per-cell live state: dense arrays for open minutes, sparse buckets for closed ones.

Channels: the additive `schema.SUM_CHANNELS` (counts, metric n and sums) plus, per IoT metric,
the max and the last value (by event time; ties keep the larger value, so the result does not
depend on delivery order). A flat index `channel * n_cells + position` addresses one cell of one
channel. Windows `5m`, `1h`, `24h` cover the minutes `m > now_minute - length` (events up to the
future tolerance count as now).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from layers.live import schema as S
from layers.live.validate import Events

LATE_MINUTES = 2  # a minute stays open (dense) this many minutes after it ends
NEG = -np.inf


@dataclass
class Sparse:
    """One minute of state as sorted flat indices and values."""

    si: np.ndarray
    sv: np.ndarray
    mi: np.ndarray
    mv: np.ndarray
    li: np.ndarray
    lt: np.ndarray
    lv: np.ndarray

    @staticmethod
    def empty() -> Sparse:
        i, f = np.zeros(0, np.int64), np.zeros(0)
        return Sparse(i, f, i, f, i, f, f)

    def to_bytes(self) -> bytes:
        head = np.array([len(self.si), len(self.mi), len(self.li)], dtype=np.int64)
        parts = [head, self.si.astype(np.int32), self.sv.astype(np.float64),
                 self.mi.astype(np.int32), self.mv.astype(np.float64),
                 self.li.astype(np.int32), self.lt.astype(np.float64), self.lv.astype(np.float64)]
        return b"".join(p.tobytes() for p in parts)

    @staticmethod
    def from_bytes(blob: bytes) -> Sparse:
        ns, nm, nl = np.frombuffer(blob, dtype=np.int64, count=3)
        out, off = [], 24
        for n, dt in ((ns, np.int32), (ns, np.float64), (nm, np.int32), (nm, np.float64),
                      (nl, np.int32), (nl, np.float64), (nl, np.float64)):
            a = np.frombuffer(blob, dtype=dt, count=int(n), offset=off)
            off += a.nbytes
            out.append(a.astype(np.int64) if dt is np.int32 else a)
        return Sparse(*out)

    def kind_totals(self, n: int) -> dict[str, int]:
        """Events of each kind in this minute, over all `n` cells."""
        out = {}
        for kind, ch in S.CH_KIND.items():
            lo, hi = np.searchsorted(self.si, [ch * n, (ch + 1) * n])
            out[kind] = int(round(float(self.sv[lo:hi].sum())))
        return out

    @staticmethod
    def merge(parts: list[Sparse]) -> Sparse:
        cat = [np.concatenate([getattr(p, f) for p in parts]) for f in
               ("si", "sv", "mi", "mv", "li", "lt", "lv")]
        return Sparse(*reduce_sum(cat[0], cat[1]), *reduce_max(cat[2], cat[3]),
                      *reduce_last(cat[4], cat[5], cat[6]))


def reduce_sum(idx: np.ndarray, val: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    keys, inv = np.unique(idx, return_inverse=True)
    return keys, np.bincount(inv, weights=val, minlength=len(keys))


def reduce_max(idx: np.ndarray, val: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    keys, inv = np.unique(idx, return_inverse=True)
    out = np.full(len(keys), NEG)
    np.maximum.at(out, inv, val)
    return keys, out


def reduce_last(idx, ts, val) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Per index, the value at the latest time (ties: the largest value)."""
    order = np.lexsort((val, ts, idx))
    idx, ts, val = idx[order], ts[order], val[order]
    last = np.r_[idx[1:] != idx[:-1], True] if len(idx) else np.zeros(0, bool)
    return idx[last], ts[last], val[last]


def contributions(ev: Events, n: int):
    """Flat (sum index, weight), (metric index, value, ts) contributions of events."""
    base = np.full(len(ev), S.CH_KIND[ev.kind] * n, dtype=np.int64) + ev.pos
    ones = np.ones(len(ev))
    if ev.kind == "iot":
        si = np.concatenate([base, (S.CH_N0 + ev.code) * n + ev.pos,
                             (S.CH_SUM0 + ev.code) * n + ev.pos])
        sv = np.concatenate([ones, ones, ev.value])
        mi = ev.code * n + ev.pos
        return si, sv, mi, ev.value, ev.ts
    if ev.kind == "vehicle":  # every fix counts (coverage); a detection also counts as itself
        hit = ev.code >= 0
        si = np.concatenate([base, (S.CH_DETECTION0 + ev.code[hit]) * n + ev.pos[hit]])
        sv = np.concatenate([ones, ev.value[hit]])
        z = np.zeros(0)
        return si, sv, np.zeros(0, np.int64), z, z
    first = S.CH_LABEL0 if ev.kind == "video" else S.CH_CATEGORY0
    si = np.concatenate([base, (first + ev.code) * n + ev.pos])
    sv = np.concatenate([ones, ev.value])
    z = np.zeros(0)
    return si, sv, np.zeros(0, np.int64), z, z


class Dense:
    """An open minute: flat dense arrays over all cells and channels."""

    def __init__(self, n: int) -> None:
        self.sums = np.zeros(len(S.SUM_CHANNELS) * n)
        m = len(S.METRICS) * n
        self.mx, self.lts, self.lval = np.full(m, NEG), np.full(m, NEG), np.full(m, NEG)

    def add(self, si, sv, mi, mv, mt) -> None:
        """Raw contributions: sums at `si`; metric value `mv` at time `mt` at `mi`."""
        np.add.at(self.sums, si, sv)
        if len(mi):
            np.maximum.at(self.mx, mi, mv)
            self.add_last(mi, mt, mv)

    def add_last(self, li, lt, lv) -> None:
        """Merge (time, value) pairs into the last-value arrays."""
        if not len(li):
            return
        before = self.lts[li]
        np.maximum.at(self.lts, li, lt)
        self.lval[li[self.lts[li] > before]] = NEG  # a newer time replaces the old value
        sel = lt == self.lts[li]
        np.maximum.at(self.lval, li[sel], lv[sel])

    def add_sparse(self, sp: Sparse) -> None:
        self.sums += np.bincount(sp.si, sp.sv, minlength=len(self.sums))
        np.maximum.at(self.mx, sp.mi, sp.mv)
        self.add_last(sp.li, sp.lt, sp.lv)

    def to_sparse(self) -> Sparse:
        si = np.flatnonzero(self.sums)
        mi = np.flatnonzero(self.mx > NEG)
        li = np.flatnonzero(self.lts > NEG)
        return Sparse(si, self.sums[si], mi, self.mx[mi], li, self.lts[li], self.lval[li])


class LiveState:
    """Minute buckets of one twin's cells, the rolling windows over them, and dirty tracking."""

    def __init__(self, n_cells: int) -> None:
        self.n = n_cells
        self.open: dict[int, Dense] = {}
        self.closed: dict[int, Sparse] = {}
        self.dirty: set[int] = set()      # minutes to write at the next checkpoint
        self.removed: set[int] = set()    # minutes to delete at the next checkpoint
        self.closed_now: list[int] = []   # minutes closed or re-touched since last asked (history)
        self.now_minute: int | None = None
        self._acc: dict[str, Dense] = {}
        self.touched = np.zeros(n_cells, dtype=bool)  # cells changed since the last publish
        self.full = True  # every cell may have changed (clock tick, late event, load)

    # -- updates ----------------------------------------------------------------------------
    def apply(self, ev: Events) -> None:
        """Add valid, deduplicated events."""
        if not len(ev):
            return
        self.touched[ev.pos] = True
        minute = np.floor(ev.ts / 60.0).astype(np.int64)
        lo, hi = int(minute.min()), int(minute.max())
        minutes = range(lo, hi + 1) if hi - lo < 16 else np.unique(minute).tolist()
        late_parts: dict[int, Sparse] = {}
        for m in minutes:
            sel = minute == m if (lo != hi) else slice(None)
            part = ev.take(sel) if lo != hi else ev
            if not len(part):
                continue
            si, sv, mi, mv, mt = contributions(part, self.n)
            if m in self.open or m >= self.now_minute - LATE_MINUTES:
                if m not in self.open:
                    self.open[m] = Dense(self.n)
                self.open[m].add(si, sv, mi, mv, mt)
            else:
                late_parts[m] = Sparse(si, sv, mi, mv, mi, mt, mv)
            self.dirty.add(m)
        for m, part in late_parts.items():
            old = self.closed.get(m)
            self.closed[m] = Sparse.merge([part] if old is None else [old, part])
            self.closed_now.append(m)
        if late_parts:
            self._acc = {}
            self.full = True

    def tick(self, now: float) -> bool:
        """Advance the clock: close and expire minutes; True if the minute changed."""
        nowm = int(np.floor(now / 60.0))
        if nowm == self.now_minute:
            return False
        self.now_minute = nowm
        for m in [m for m in self.open if m < nowm - LATE_MINUTES]:
            sp = self.open.pop(m).to_sparse()
            old = self.closed.get(m)
            self.closed[m] = sp if old is None else Sparse.merge([old, sp])
            self.closed_now.append(m)
        for m in [m for m in self.closed if m <= nowm - S.WINDOWS["24h"] - LATE_MINUTES]:
            del self.closed[m]
            self.dirty.discard(m)
            self.removed.add(m)
        self._acc = {}
        self.full = True
        return True

    # -- persistence ------------------------------------------------------------------------
    def minute_blob(self, m: int) -> bytes | None:
        if m in self.open:
            return self.open[m].to_sparse().to_bytes()
        if m in self.closed:
            return self.closed[m].to_bytes()
        return None

    def kind_totals(self, m: int) -> dict[str, int] | None:
        """Events of each kind in minute `m` (None when the state does not hold it)."""
        if m in self.open:
            sums = self.open[m].sums
            return {k: int(round(float(sums[ch * self.n:(ch + 1) * self.n].sum())))
                    for k, ch in S.CH_KIND.items()}
        return self.closed[m].kind_totals(self.n) if m in self.closed else None

    def bucket(self, m: int) -> Sparse | None:
        if m in self.open:
            return self.open[m].to_sparse()
        return self.closed.get(m)

    def load(self, blobs: dict[int, bytes], now: float) -> None:
        """Restore minutes from checkpoint blobs."""
        self.now_minute = int(np.floor(now / 60.0))
        for m, blob in blobs.items():
            sp = Sparse.from_bytes(blob)
            if m >= self.now_minute - LATE_MINUTES:
                self.open[m] = Dense(self.n)
                self.open[m].add_sparse(sp)
            else:
                self.closed[m] = sp
        self.now_minute = None
        self.tick(now)

    # -- windows ----------------------------------------------------------------------------
    def _closed_acc(self, window: str) -> Dense:
        acc = self._acc.get(window)
        if acc is None:
            first = self.now_minute - S.WINDOWS[window]
            parts = [sp for m, sp in self.closed.items() if m > first]
            acc = self._acc[window] = Dense(self.n)
            if parts:
                cat = Sparse(*(np.concatenate([getattr(p, f) for p in parts])
                               for f in ("si", "sv", "mi", "mv", "li", "lt", "lv")))
                acc.add_sparse(cat)
        return acc

    def window(self, window: str, cells: np.ndarray | None = None,
               recent: Dense | None = None) -> Dense:
        """The aggregate over a window (closed minutes + all open minutes), optionally of some cells.

        With `cells`, the arrays hold those cells only (channel-major, `len(cells)` per channel);
        `recent` is `self.open_total(cells)` when the caller already has it.
        """
        base = self._closed_acc(window)
        recent = self.open_total(cells) if recent is None else recent
        out = self._pick(base, cells)
        out.sums += recent.sums
        _merge_max_last(out, recent)
        return out

    def _pick(self, d: Dense, cells: np.ndarray | None) -> Dense:
        n_sum, n_met = len(S.SUM_CHANNELS), len(S.METRICS)

        def pick(a: np.ndarray, rows: int) -> np.ndarray:
            return a.copy() if cells is None else a.reshape(rows, self.n)[:, cells].ravel()

        out = Dense.__new__(Dense)
        out.sums, out.mx = pick(d.sums, n_sum), pick(d.mx, n_met)
        out.lts, out.lval = pick(d.lts, n_met), pick(d.lval, n_met)
        return out

    def open_total(self, cells: np.ndarray | None = None) -> Dense:
        """All open minutes together (they belong to every window)."""
        k = self.n if cells is None else len(cells)
        out = Dense(k)
        for d in self.open.values():
            part = self._pick(d, cells) if cells is not None else d
            out.sums += part.sums
            _merge_max_last(out, part)
        return out


def _merge_max_last(out: Dense, d: Dense) -> None:
    np.maximum(out.mx, d.mx, out=out.mx)
    newer = (d.lts > out.lts) | ((d.lts == out.lts) & (d.lval > out.lval))
    out.lts[newer], out.lval[newer] = d.lts[newer], d.lval[newer]


def layer_values(agg: Dense | Sparse, n: int, layers: list[str] | None = None) -> dict:
    """Per-cell float32 arrays of the named layers from an aggregate (NaN = no reading)."""
    if isinstance(agg, Sparse):
        d = Dense(n)
        d.sums[agg.si] = agg.sv
        d.mx[agg.mi] = agg.mv
        d.lts[agg.li], d.lval[agg.li] = agg.lt, agg.lv
        agg = d
    out = {}
    for name in layers or S.LAYERS:
        parts = name.split(".")
        if parts[-1] == "count":
            ch = S.SUM_INDEX[name]
            out[name] = agg.sums[ch * n:(ch + 1) * n].astype(np.float32)
            continue
        m = S.METRICS.index(parts[1])
        if parts[-1] == "mean":
            cn, cs = S.SUM_INDEX[f"iot.{parts[1]}.n"], S.SUM_INDEX[f"iot.{parts[1]}.sum"]
            cnt, tot = agg.sums[cn * n:(cn + 1) * n], agg.sums[cs * n:(cs + 1) * n]
            with np.errstate(invalid="ignore", divide="ignore"):
                out[name] = np.where(cnt > 0, tot / cnt, np.nan).astype(np.float32)
        else:
            src = agg.mx if parts[-1] == "max" else agg.lval
            v = src[m * n:(m + 1) * n]
            out[name] = np.where(v > NEG, v, np.nan).astype(np.float32)
    return out
