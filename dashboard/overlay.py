"""The active scenario: a planner puts a result on the wall; the wall draws it and counts people.

Kept in Redis (`scenario:active`, a key family this module owns, see layers.keys: a small JSON
of the run, its name, the people affected and the hazard cells by severity class) so every
dashboard process on the bus shows the same one.
"""

from __future__ import annotations

import json

import numpy as np

from twin import cells as h3cells

SEVERITY_COLORS = [[250, 220, 60, 140], [245, 140, 40, 170], [220, 40, 40, 200],
                   [150, 20, 60, 220]]


def summary(result, twin, run_id: str, ran_at: float | None = None,
            shown_by: str | None = None) -> dict:
    """What the wall needs of a scenario result: name, when it was run, who put it on the wall,
    people affected, cells by severity."""
    severity = result.ds["severity"].values.astype(int)
    cells = np.flatnonzero(severity > 0)
    name = result.scenario.name
    return {"run_id": run_id, "name": name if isinstance(name, str) else str(name),
            "hazard": result.scenario.hazard, "ran_at": ran_at, "ran_by": shown_by or "",
            "people_affected": float(result.impact.get("people_affected", 0.0)),
            "cells": h3cells.to_hex(twin.cell_ids[cells]),
            "severity": severity[cells].tolist()}


def publish(bus, active: dict | None) -> None:
    """Put a scenario summary on the wall (None clears it)."""
    key = bus.keys.scenario_active
    if active is None:
        bus.redis.delete(key)
    else:
        bus.redis.set(key, json.dumps(active, ensure_ascii=False))


def read(bus) -> dict | None:
    """The scenario on the wall now, if any."""
    raw = bus.redis.get(bus.keys.scenario_active)
    return json.loads(raw) if raw else None


def layer(active: dict | None) -> dict:
    """The overlay: hazard cells coloured by severity class (an empty layer when none)."""
    data = []
    if active:
        top = len(SEVERITY_COLORS) - 1
        data = [{"hex": h, "s": s, "c": SEVERITY_COLORS[min(s - 1, top)]}
                for h, s in zip(active["cells"], active["severity"], strict=True)]
    return {"@@type": "H3HexagonLayer", "id": "scenario", "data": data, "getHexagon": "@@=hex",
            "getFillColor": "@@=c", "stroked": False, "pickable": True, "opacity": 0.8}
