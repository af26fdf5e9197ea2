"""The closed loop's typed records: Place, SlaLimits, Alert, Case, serialised in one place.

Inside the code a cell is a uint64 H3 index (`Place.cell`, `Alert.cells`); hex strings appear
only at the edges (JSON for the browser, CAP, Open311). Stored records keep the cell id and the
point, never a position in a twin's arrays, so they stay valid when the twin is rebuilt.
`to_json`/`from_json` are the only (de)serialisers of these records.
"""

from __future__ import annotations

import dataclasses
import functools
import json
from dataclasses import dataclass, field
from typing import Any

from twin import cells as h3cells


def _plain(obj: Any) -> Any:
    """JSON-safe values (numpy scalars to Python)."""
    if hasattr(obj, "item") and not isinstance(obj, list | dict | str):
        return obj.item()
    raise TypeError(f"not JSON serialisable: {type(obj).__name__}")


def _dumps(obj: dict) -> str:
    return json.dumps(obj, ensure_ascii=False, default=_plain, allow_nan=False)


def _hex(cell: int | None) -> str | None:
    return None if cell is None else h3cells.to_hex([cell])[0]


@functools.cache
def _field_names(cls) -> frozenset[str]:
    return frozenset(f.name for f in dataclasses.fields(cls))


def _known(cls, raw: dict) -> dict:
    """The items of `raw` that are fields of `cls` (a record written by a newer version may
    carry more)."""
    names = _field_names(cls)
    return {k: v for k, v in raw.items() if k in names}


@dataclass(frozen=True)
class Place:
    """Where something is: the cell, its governance grid (+ manager) and street/town."""

    cell: int | None          # uint64 H3 index; None outside the twin
    grid: int = -1            # governance grid number (-1: none)
    grid_id: str | None = None
    manager: str | None = None
    unit: int = -1            # street/town number (-1: none)
    unit_name: str | None = None
    lat: float = 0.0
    lng: float = 0.0

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)

    def view(self) -> dict:
        """For the outside (CLI, browser): the cell as hex."""
        return {**self.to_dict(), "cell": _hex(self.cell)}

    @staticmethod
    def from_dict(raw: dict) -> Place:
        data = _known(Place, raw)
        if isinstance(data.get("cell"), str):  # written by an older version: hex
            data["cell"] = int(h3cells.from_hex([data["cell"]])[0])
        return Place(**data)


@dataclass(frozen=True)
class SlaLimits:
    """Minutes allowed from opening (or the last escalation/reopening) to each milestone."""

    accept_min: float
    arrive_min: float
    resolve_min: float

    def seconds(self, milestone: str) -> float:
        """The limit of a milestone (`accept`, `arrive`, `resolve`) in seconds."""
        return 60.0 * getattr(self, f"{milestone}_min")


@dataclass
class Alert:
    """A whistle: a rule met by events or a layer at a place; it opens or joins a case."""

    rule: str
    category: str
    severity: int
    ts: float
    lat: float
    lng: float
    title: str | dict[str, str] | None = None            # text, or {lang: text}
    cells: list[int] = field(default_factory=list)       # uint64 H3 indexes
    evidence: list[dict] = field(default_factory=list)
    events: list[str] = field(default_factory=list)      # event ids behind it
    reports: int = 0                                     # citizen reports it carries
    source: str = "rule"
    id: str | None = None
    case: str | None = None
    public_id: str | None = None                         # the outside's name (CAP), not countable

    def to_json(self) -> str:
        return _dumps(dict(self.__dict__))

    def title_in(self, lang: str) -> str:
        """The title in a language (the first one given when that one is missing)."""
        if isinstance(self.title, dict):
            return str(self.title.get(lang) or next(iter(self.title.values()), self.category))
        return str(self.title or self.category)

    def view(self) -> dict:
        """For the outside (CLI, browser): cells as hex."""
        out = dataclasses.asdict(self)
        out["cells"] = [_hex(c) for c in self.cells]
        out["evidence"] = [{**e, "cell": _hex(e["cell"])} if isinstance(e.get("cell"), int)
                           else e for e in self.evidence]
        return out

    @staticmethod
    def from_json(text: str | bytes) -> Alert:
        return Alert(**_known(Alert, json.loads(text)))


@dataclass
class Case:
    """A work order's current state, folded from its audit records (`layers.loop.lifecycle`)."""

    id: str
    status: str
    category: str
    severity: int
    place: Place
    departments: list[str]
    owner: str
    sla: SlaLimits
    title: str
    source: str
    created: float
    updated: float
    level: int = 0
    reopen_count: int = 0
    alerts: list[str] = field(default_factory=list)
    events: list[str] = field(default_factory=list)
    reports: int = 0
    history: int = 0
    last_report: float = 0.0
    accepted_at: float | None = None
    on_scene_at: float | None = None
    resolved_at: float | None = None
    first_resolved_at: float | None = None
    closed_at: float | None = None
    reopened_at: float | None = None
    escalated_at: float | None = None
    deadline_kind: str | None = None
    deadline: float | None = None

    def to_dict(self) -> dict:
        """A plain dict (shallow: lists are shared, not copied)."""
        return {**self.__dict__, "place": dict(self.place.__dict__),
                "sla": dict(self.sla.__dict__)}

    def to_json(self) -> str:
        return _dumps(self.to_dict())

    def view(self) -> dict:
        """For the outside (CLI, browser): the place's cell as hex."""
        return {**self.to_dict(), "place": self.place.view()}

    @staticmethod
    def from_dict(raw: dict) -> Case:
        data = _known(Case, raw)
        data["place"] = Place.from_dict(raw.get("place") or {"cell": None})
        data["sla"] = SlaLimits(**_known(SlaLimits, raw["sla"]))
        return Case(**data)

    @staticmethod
    def from_json(text: str | bytes) -> Case:
        return Case.from_dict(json.loads(text))

    def overdue(self, now: float) -> bool:
        """True when the next milestone's deadline has passed."""
        return self.deadline is not None and self.deadline < now
