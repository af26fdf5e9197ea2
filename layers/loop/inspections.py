"""Double-random inspections (双随机, 一公开): random targets, random inspectors, re-verifiable.

`draw` picks `targets` facilities from the twin's registry (the kinds the department inspects,
data/rules/inspections.yaml) and `inspectors` people from its roster, with numpy's PCG64 seeded by
`seed`, and records the draw in the audit log with the seed, where the seed came from and a
fingerprint of both pools. The seed comes from the system's randomness (`secrets`) unless the
operator gives one; then the record says `seed_source: operator`, because whoever picks the seed
can try seeds until the draw suits them, and `verify` (and `cityops audit verify`) report it.
`verify` repeats the draw from the recorded seed and pools and says whether the recorded result
is exactly what the seed gives.
"""

from __future__ import annotations

import hashlib
import secrets
from functools import cache
from pathlib import Path

import numpy as np
import yaml

from layers.live.bus import Bus
from layers.loop.audit import AuditLog
from twin import settings

ALGORITHM = "numpy.PCG64/choice-without-replacement/v1"


class DrawError(ValueError):
    """A draw that cannot be made; the message says what to change."""


@cache
def rosters(path: str | None = None) -> dict:
    file = Path(path) if path else settings.data_dir() / "rules" / "inspections.yaml"
    return yaml.safe_load(file.read_text(encoding="utf-8")) or {}


def pools(twin, department: str) -> tuple[list[str], list[str]]:
    """Sorted target facility ids and inspector ids of a department."""
    table = rosters()
    if department not in table:
        raise DrawError(f"department {department!r} has no inspection roster: add it to "
                        f"data/rules/inspections.yaml (known: {', '.join(sorted(table))})")
    conf = table[department]
    fac = twin.facilities
    kinds = set(conf.get("facility_kinds", []))
    targets = sorted(str(i) for i in fac.loc[fac["kind"].isin(kinds), "id"]) if len(fac) else []
    return targets, sorted(str(i) for i in conf.get("inspectors", []))


def fingerprint(ids: list[str]) -> str:
    return hashlib.sha256("\n".join(ids).encode()).hexdigest()


def pick(seed: int, targets: list[str], inspectors: list[str], n_targets: int,
         n_inspectors: int) -> tuple[list[str], list[str]]:
    """The deterministic draw of a seed over sorted pools."""
    rng = np.random.Generator(np.random.PCG64(seed))
    t = rng.choice(len(targets), size=n_targets, replace=False)
    i = rng.choice(len(inspectors), size=n_inspectors, replace=False)
    return [targets[k] for k in t], [inspectors[k] for k in i]


def draw(bus: Bus, twin, department: str, n_targets: int, n_inspectors: int,
         seed: int | None = None, actor: str = "system", ts: float = 0.0,
         context: dict | None = None) -> dict:
    """Draw and record; returns the audit record's data plus its `draw` id (audit seq).

    Without `seed` the system draws one; a given seed is recorded as the operator's choice.
    `context` is recorded beside the draw (e.g. the OS user behind a command-line actor).
    """
    targets, inspectors = pools(twin, department)
    for what, n, pool in (("targets", n_targets, targets), ("inspectors", n_inspectors, inspectors)):
        if n < 1 or n > len(pool):
            raise DrawError(f"--{what} must be between 1 and {len(pool)} for {department} "
                            f"(the pool has {len(pool)}), got {n}")
    source = "system" if seed is None else "operator"
    seed = secrets.randbits(63) if seed is None else int(seed)
    if seed < 0:
        raise DrawError(f"--seed must be a non-negative integer, got {seed}")
    chosen_t, chosen_i = pick(seed, targets, inspectors, n_targets, n_inspectors)
    data = {**(context or {}), "department": department, "seed": seed, "seed_source": source,
            "algorithm": ALGORITHM,
            "targets_pool": fingerprint(targets), "targets_pool_size": len(targets),
            "inspectors_pool": fingerprint(inspectors),
            "inspectors_pool_size": len(inspectors),
            "targets": chosen_t, "inspectors": chosen_i}
    record = AuditLog(bus).append("inspection.draw", f"draw:{department}", actor, ts, data)
    return {"draw": record["seq"], **data}


def verify(bus: Bus, twin, draw_id: int) -> dict:
    """Repeat a recorded draw from its seed: {ok, draw, department, seed, seed_source, reasons}
    (+ `notice` when the seed was not drawn by the system)."""
    records = AuditLog(bus).records(int(draw_id), int(draw_id))
    if not records or records[0]["kind"] != "inspection.draw":
        raise DrawError(f"audit record {draw_id} is not an inspection draw: see "
                        f"`cityops inspections list`")
    data = records[0]["data"]
    targets, inspectors = pools(twin, data["department"])
    reasons = []
    if fingerprint(targets) != data["targets_pool"]:
        reasons.append("the facility pool changed since the draw")
    if fingerprint(inspectors) != data["inspectors_pool"]:
        reasons.append("the inspector roster changed since the draw")
    if not reasons:
        t, i = pick(data["seed"], targets, inspectors, len(data["targets"]),
                    len(data["inspectors"]))
        if t != data["targets"] or i != data["inspectors"]:
            reasons.append("the recorded targets/inspectors are not what the seed gives")
    out = {"ok": not reasons, "draw": int(draw_id), "department": data["department"],
           "seed": data["seed"], "seed_source": data.get("seed_source", "unrecorded"),
           "reasons": reasons}
    notice = seed_notice(records[0])
    return out | ({"notice": notice} if notice else {})


def seed_notice(record: dict) -> str | None:
    """What to tell about a recorded draw's seed: None when the system drew it."""
    data = record["data"]
    source = data.get("seed_source")
    if source == "system":
        return None
    where = f"draw {record['seq']} ({data.get('department')})"
    if source == "operator":
        who = record.get("actor")
        if data.get("os_user"):
            who = f"{who}, OS user {data['os_user']}"
        return (f"{where}: seed {data.get('seed')} was chosen by the operator ({who}), not "
                f"drawn by the system: the draw is reproducible but not proven random")
    return (f"{where}: recorded before seed sources were kept: its seed may have been chosen "
            f"by the operator")


def draws(bus: Bus) -> list[dict]:
    """Every recorded draw (newest last)."""
    return [{"draw": r["seq"], "ts": r["ts"], "actor": r["actor"], **r["data"]}
            for r in AuditLog(bus).records() if r["kind"] == "inspection.draw"]
