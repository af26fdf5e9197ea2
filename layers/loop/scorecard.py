"""Department and grid scorecards (在线考核) over a period, from the case views.

For the cases opened in [since, until): how many each department (or grid) received, the share
accepted and resolved within the SLA (of the cases already judged), the median time to resolve (minutes, over resolved cases),
and the re-open rate (re-opened cases over resolved ones). One pandas pass, no per-case loops
beyond reading the views.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from layers.loop.cases import TIMING_COLUMNS, CaseStore

COLUMNS = ["received", "accepted_on_time", "resolved_on_time", "median_resolve_min",
           "reopen_rate"]


def case_frame(store: CaseStore, since: float, until: float) -> pd.DataFrame:
    """One row per case opened in the period, with its timings (seconds) and SLA limits (read
    from the store's timing index: no case view is decoded)."""
    rows = store.timings(store.created_between(since, until))
    frame = pd.DataFrame(rows, columns=TIMING_COLUMNS)
    return frame.astype({"accepted_at": float, "resolved_at": float, "created": float,
                         "reopened": bool})


def _score(frame: pd.DataFrame, key: str, now: float) -> pd.DataFrame:
    if frame.empty:
        return pd.DataFrame(columns=COLUMNS)
    t_accept = frame["accepted_at"] - frame["created"]
    t_resolve = frame["resolved_at"] - frame["created"]
    resolved = frame["resolved_at"].notna()
    # a case still inside its time limit is not counted yet: neither on time nor late
    work = pd.DataFrame({
        key: frame[key], "received": 1,
        "accept_ok": (t_accept <= frame["accept_s"]).astype(float),
        "accept_due": (frame["accepted_at"].notna()
                       | (now > frame["created"] + frame["accept_s"])).astype(float),
        "resolve_ok": (t_resolve <= frame["resolve_s"]).astype(float),
        "resolve_due": (resolved | (now > frame["created"] + frame["resolve_s"])).astype(float),
        "resolve_min": t_resolve / 60.0,
        "resolved": resolved.astype(float),
        "reopened": (frame["reopened"] & resolved).astype(float)})
    g = work.groupby(key)
    out = pd.DataFrame({
        "received": g["received"].sum(),
        "accepted_on_time": g["accept_ok"].sum() / g["accept_due"].sum().replace(0, np.nan),
        "resolved_on_time": g["resolve_ok"].sum() / g["resolve_due"].sum().replace(0, np.nan),
        "median_resolve_min": g["resolve_min"].median(),
        "reopen_rate": g["reopened"].sum() / g["resolved"].sum().replace(0, np.nan)})
    return out.sort_values("received", ascending=False)


def scorecard(store: CaseStore, since: float, until: float, by: str = "department",
              now: float | None = None) -> pd.DataFrame:
    """Scorecard rows per department (`by='department'`) or per grid (`by='grid'`).

    On-time shares count the cases whose limit has passed or that met it by `now` (default:
    the store's clock); cases still within their limit are not judged yet.
    """
    return scorecards(store, since, until, (by,), now)[by]


def scorecards(store: CaseStore, since: float, until: float,
               by: tuple[str, ...] = ("department", "grid"),
               now: float | None = None) -> dict[str, pd.DataFrame]:
    """`scorecard` for each of `by` from one reading of the period's cases."""
    wrong = [b for b in by if b not in ("department", "grid")]
    if wrong:
        raise ValueError(f"scorecards are by 'department' or 'grid', not {wrong[0]!r}")
    frame = case_frame(store, since, until)
    now = store.clock() if now is None else now
    out = {}
    for key in by:
        table = frame
        if key == "department":
            table = frame.explode("departments").rename(columns={"departments": "department"})
        out[key] = _score(table, key, now)
    return out


def to_records(table: pd.DataFrame) -> list[dict]:
    """JSON-friendly rows (NaN -> None, shares rounded)."""
    out = []
    for key, row in table.iterrows():
        rec = {"key": key}
        for col in COLUMNS:
            v = row[col]
            rec[col] = None if pd.isna(v) else (int(v) if col == "received" else round(float(v), 3))
        out.append(rec)
    return out
