"""What a hazard module declares: its entry (`Hazard`) and the small records it is made of.

A hazard entry carries everything the rest of the product needs to know about one hazard:
the parameter model of its scenarios, the runner that turns a scenario into cell fields, its
severity classes (labels and display names DERIVED from the thresholds, never typed twice), the
field severity is cut from, the field drawn per frame with its legend, the forms a planner fills
in, and the headline figures of its impact. Nothing here imports a hazard: the registry
(`sim.hazards`) finds the entries.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np
import xarray as xr
from pydantic import BaseModel

if TYPE_CHECKING:  # pragma: no cover
    from sim.runner import Result
    from sim.scenario import Scenario


def _shown(value: float, unit: str, space: bool) -> str:
    """'0.15 m', '1%', '4.8 kPa': a threshold with its unit (no space before a percent sign)."""
    gap = " " if space and unit and unit != "%" else ""
    return f"{value:g}{gap}{unit}"


@dataclass(frozen=True)
class Level:
    """One severity class: its key, the threshold it starts at (None: set per run) and names."""

    key: str
    threshold: float | None
    zh: str
    en: str


@dataclass(frozen=True)
class Classes:
    """A hazard's severity classes, mildest first, on its peak field.

    `unit` and `scale` say how thresholds are written (0.01 with scale 100 and unit '%' is
    '1%'). `numbered`: the machine label carries the threshold ('ponding>=0.15m'); without it
    the label is the key alone (stable keys for tables that outlive a change of threshold).
    """

    levels: tuple[Level, ...]
    unit: str = ""
    scale: float = 1.0
    numbered: bool = True

    def thresholds(self) -> list[float]:
        """The thresholds of the classes that have a fixed one, mildest first."""
        return [lv.threshold for lv in self.levels if lv.threshold is not None]

    def label(self, level: Level) -> str:
        """The machine label of a class ('ponding>=0.15m', 'AEGL-2', 'glass_breakage')."""
        if level.threshold is None or not self.numbered:
            return level.key
        return f"{level.key}>={_shown(level.threshold * self.scale, self.unit, False)}"

    def labels(self) -> list[str]:
        return [self.label(lv) for lv in self.levels]

    def name(self, label: str, lang: str) -> str | None:
        """The display name of a machine label ('Ponding ≥0.15 m'); None if not one of ours."""
        for lv in self.levels:
            if self.label(lv) == label:
                text = lv.en if lang == "en" else lv.zh
                if lv.threshold is None:
                    return text
                return f"{text} ≥{_shown(lv.threshold * self.scale, self.unit, True)}"
        return None

    def classify(self, values: np.ndarray) -> np.ndarray:
        """0 (below the first threshold) .. number of classes, per value."""
        cut = np.asarray(self.thresholds(), dtype=float)
        return np.searchsorted(cut, np.asarray(values, dtype=float), side="right").astype(np.int8)


@dataclass(frozen=True)
class Field:
    """One form input: `key` is a path into the scenario ('parameters.x', 'duration').

    Duration fields carry the `unit` their number is in (a key of `twin.durations.UNITS`);
    `zh`/`en` label a parameter (the time fields share the generic labels).
    """

    key: str
    default: float | str | None
    lo: float | None = None
    hi: float | None = None
    step: float = 1.0
    options: tuple[str, ...] = ()
    unit: str = ""
    zh: str = ""
    en: str = ""

    @property
    def name(self) -> str:
        return self.key.rsplit(".", 1)[-1]


def param(name: str, zh: str, en: str, default, lo=None, hi=None, step=1.0,
          options=()) -> Field:
    """A form field for `parameters.<name>`."""
    return Field(f"parameters.{name}", default, lo, hi, step, tuple(options), zh=zh, en=en)


def timing(duration: float, every: float, unit: str, every_unit: str) -> tuple[Field, Field]:
    """The duration and output-interval fields, each in its unit."""
    return (Field("duration", duration, 0, None, 1, unit=unit),
            Field("output_every", every, 0, None, 1, unit=every_unit))


@dataclass(frozen=True)
class Form:
    """A planner's form for a hazard (a hazard may have several, e.g. rainstorm / storm tide).

    `shows(params)` says whether a scenario belongs in this form (None: the hazard's fallback);
    `facility_kinds` are the facilities it may start at (empty: any).
    """

    kind: str
    zh: str
    en: str
    fields: tuple[Field, ...]
    needs_location: bool = True
    facility_kinds: tuple[str, ...] = ()
    shows: Callable[[BaseModel], bool] | None = None


@dataclass(frozen=True)
class Legend:
    """How frames are drawn: the time-varying variable, its unit, what is left out, the colours.

    `floor`: cells below it are not drawn (None: the lowest severity threshold); `top`:
    'thresholds' puts the worst class at the top of the colour scale, 'data' the run's maximum.
    """

    variable: str
    unit: str
    floor: float | None = None
    top: str = "thresholds"
    log: bool = True


@dataclass(frozen=True)
class Figure:
    """A headline figure of the impact summary: its key, format, factor and names."""

    key: str
    fmt: str
    zh: str
    en: str
    factor: float = 1.0


@dataclass(frozen=True)
class Place:
    """Where a scenario happens on the twin: WGS-84 lat/lng and the cell position."""

    lat: float
    lng: float
    pos: int


@dataclass
class Outcome:
    """What a runner returns: cell fields, severity class per cell, roads cut, impact extras."""

    ds: xr.Dataset
    severity: np.ndarray
    roads_cut: np.ndarray
    extras: dict = field(default_factory=dict)


@dataclass(frozen=True)
class Peak:
    """The per-cell field severity classes are cut from, with thresholds and labels."""

    variable: str
    values: np.ndarray
    thresholds: list[float]
    labels: list[str]

    def __iter__(self):  # (name, values, thresholds, labels) unpacking, as before the registry
        return iter((self.variable, self.values, self.thresholds, self.labels))


Runner = Callable[["Scenario", Any, Place, dict, Callable[[float], None] | None], Outcome]


@dataclass(frozen=True)
class Hazard:
    """A hazard's entry in the registry (see the module docstring)."""

    name: str
    zh: str
    en: str
    params: type[BaseModel]
    runner: Runner
    classes: Classes
    peak_variable: str
    legend: Legend
    forms: tuple[Form, ...]
    figures: tuple[Figure, ...] = ()
    reports_progress: bool = False
    needs_location: bool = True
    order: int = 100
    peak_of: Callable[[Result], Peak] | None = None

    def peak(self, result: Result) -> Peak:
        """The result's peak field (max over time of `peak_variable`) unless the entry overrides."""
        if self.peak_of is not None:
            return self.peak_of(result)
        values = result.ds[self.peak_variable]
        if "time" in values.dims:
            values = values.max("time")
        labels = result.ds["severity"].attrs["flag_meanings"].split()[1:]
        return Peak(self.peak_variable, values.values, self.classes.thresholds(), labels)

    def form_of(self, params: BaseModel) -> str:
        """The kind of form that shows a scenario with these parameters."""
        for form in self.forms:
            if form.shows is not None and form.shows(params):
                return form.kind
        return next(f.kind for f in self.forms if f.shows is None)
