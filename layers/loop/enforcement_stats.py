"""What supervision sees of enforcement (在线考核, 执法监督), pure: on-time rates per department and
stage, counts by department and stage, and the money collected (on the spot and in total).

A stage counts once judged: ended (on time when it ended by its deadline) or past its deadline
while still running (late). A stage still within its time is not counted yet. Money is summed in
fen from the folded cases (what the audit log says was paid) and shown in yuan.
"""

from __future__ import annotations

from collections import Counter, defaultdict

from layers.loop.procedure import FEN_PER_YUAN, EnforcementCase


def on_time(cases: list[EnforcementCase], now: float) -> list[dict]:
    """Per (department, stage): judged stages, on time, late, rate (None: nothing judged)."""
    tally: dict[tuple[str, str], list[int]] = defaultdict(lambda: [0, 0])
    for case in cases:
        for span in case.stages:
            verdict = span.on_time(now)
            if verdict is not None:
                tally[(case.department, span.stage)][0 if verdict else 1] += 1
    return [{"department": d, "stage": s, "judged": ok + late, "on_time": ok, "late": late,
             "rate": round(ok / (ok + late), 3)} for (d, s), (ok, late) in sorted(tally.items())]


def by_department(rows: list[dict]) -> dict[str, float | None]:
    """A department's on-time rate over all its judged stages (from `on_time` rows)."""
    tally: dict[str, list[int]] = defaultdict(lambda: [0, 0])
    for row in rows:
        tally[row["department"]][0] += row["on_time"]
        tally[row["department"]][1] += row["judged"]
    return {d: round(ok / n, 3) for d, (ok, n) in sorted(tally.items()) if n}


def summary(cases: list[EnforcementCase], now: float) -> dict:
    """The figures the district publishes: counts by department and stage, open, overdue,
    flagged, payments on the spot and in total (count and yuan)."""
    paid = [c for c in cases if c.paid_fen > 0]
    on_site = [c for c in paid if c.on_site]
    return {
        "cases": len(cases),
        "open": sum(c.is_open for c in cases),
        "overdue": sum(c.is_open and c.overdue(now) for c in cases),
        "flagged": sum(c.flagged for c in cases),
        "by_department": dict(sorted(Counter(c.department for c in cases).items())),
        "by_stage": dict(sorted(Counter(c.stage for c in cases).items())),
        "payments": len(paid),
        "collected_yuan": sum(c.paid_fen for c in paid) / FEN_PER_YUAN,
        "on_site_payments": len(on_site),
        "on_site_yuan": sum(c.paid_fen for c in on_site) / FEN_PER_YUAN,
        "on_time_by_department": by_department(on_time(cases, now)),
    }
