"""Scenario specs: validated what-if descriptions (pydantic), read from YAML or JSON files.

A scenario names a hazard, where it happens (lat/lng or a facility id of the twin), its
parameters, how long to simulate and how often to write output. Every error names the field
and says what is expected, so a planner can fix a file without reading code.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

HAZARDS = ("flood", "toxic_release", "explosion", "epidemic", "evacuation")
_UNITS = {"s": 1, "sec": 1, "min": 60, "m": 60, "h": 3600, "hr": 3600, "d": 86400, "day": 86400,
          "days": 86400}


class ScenarioError(ValueError):
    """A scenario that cannot be read, validated or placed on the twin (message names the field)."""


def parse_duration(value: Any) -> float:
    """Seconds from a number (seconds) or a string like '90s', '30min', '6h', '14d'."""
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        seconds = float(value)
    else:
        m = re.fullmatch(r"\s*([0-9]*\.?[0-9]+)\s*([a-z]+)?\s*", str(value).lower())
        if not m or (m.group(2) and m.group(2) not in _UNITS):
            raise ValueError(f"{value!r} is not a duration: use seconds or e.g. '30min', '6h', "
                             "'14d'")
        seconds = float(m.group(1)) * _UNITS.get(m.group(2) or "s", 1)
    if seconds <= 0:
        raise ValueError(f"durations must be positive, got {value!r}")
    return seconds


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class Location(_Strict):
    """Where the hazard is: a point (lat, lng; WGS-84) or a facility id of the twin."""

    lat: float | None = Field(None, ge=-90, le=90)
    lng: float | None = Field(None, ge=-180, le=180)
    facility: str | None = None
    crs: Literal["wgs84", "gcj02", "bd09"] = "wgs84"

    @model_validator(mode="after")
    def _one_way(self) -> Location:
        point = self.lat is not None and self.lng is not None
        if point == (self.facility is not None) or (self.lat is None) != (self.lng is None):
            raise ValueError("give either lat and lng, or facility (an id from twin.facilities)")
        return self


class FloodParams(_Strict):
    """Rain (constant, stepped hyetograph) and/or a storm tide held on the sea cells."""

    rain_mm_h: float | None = Field(None, ge=0)
    hyetograph: list[tuple[float, float]] | None = Field(
        None, description="[(hour from start, mm/h)], each rate held until the next hour")
    rain_radius_km: float | None = Field(None, gt=0, description="rain only this close to the "
                                         "location; everywhere when omitted")
    storm_tide_m: float | None = Field(None, description="peak sea level (m above mean sea)")
    tide_profile: list[tuple[float, float]] | None = Field(
        None, description="[(hour, sea level m)]; default a smooth rise to storm_tide_m at "
        "mid-run and back")
    sea_level_m: float = 0.0
    manning_n: float = Field(0.03, gt=0, lt=1)
    drainage_mm_h: float = Field(0.0, ge=0, description="what the drains remove")


class ToxicParams(_Strict):
    """A steady release of a chemical into a wind of given direction, speed and stability."""

    chemical: str
    release_g_s: float = Field(gt=0)
    wind_from_deg: float = Field(ge=0, le=360, description="direction the wind blows FROM")
    wind_speed_m_s: float = Field(gt=0)
    stability: Literal["A", "B", "C", "D", "E", "F"] = "D"
    terrain: Literal["rural", "urban"] = "urban"
    sigma: Literal["briggs", "pg"] = "briggs"
    release_height_m: float = Field(0.0, ge=0)

    @field_validator("chemical")
    @classmethod
    def _known(cls, value: str) -> str:
        from sim.plume import chemical

        chemical(value)
        return value


class ExplosionParams(_Strict):
    """A TNT-equivalent surface burst."""

    tnt_kg: float = Field(gt=0)


class Intervention(_Strict):
    """Contact reduction in some units (street/town names or ids) from a day on."""

    units: list[str] | Literal["all"] = "all"
    from_day: float = Field(ge=0)
    contact_reduction: float = Field(ge=0, le=1)


class EpidemicParams(_Strict):
    """SEIR parameters and the seed."""

    r0: float = Field(gt=0)
    latent_days: float = Field(gt=0)
    infectious_days: float = Field(gt=0)
    mobility: float = Field(0.1, ge=0, le=1)
    seed_infections: float = Field(10, gt=0)
    interventions: list[Intervention] = []


class EvacuationParams(_Strict):
    """Who leaves (a radius, or a toxic release's AEGL zone) and how (walking, driving)."""

    radius_km: float | None = Field(None, gt=0)
    toxic: ToxicParams | None = None
    aegl_level: Literal[1, 2, 3] = 2
    mode: Literal["walk", "drive"] = "walk"
    walk_width_m: float = Field(20.0, gt=0)
    persons_per_vehicle: float = Field(2.0, gt=0)

    @model_validator(mode="after")
    def _zone(self) -> EvacuationParams:
        if (self.radius_km is None) == (self.toxic is None):
            raise ValueError("give either radius_km or toxic (a release whose AEGL zone "
                             "is evacuated)")
        return self


PARAMS = {"flood": FloodParams, "toxic_release": ToxicParams, "explosion": ExplosionParams,
          "epidemic": EpidemicParams, "evacuation": EvacuationParams}


class Scenario(_Strict):
    """A what-if: hazard, location, parameters, duration and output interval."""

    name: str = Field(min_length=1)
    hazard: Literal["flood", "toxic_release", "explosion", "epidemic", "evacuation"]
    location: Location | None = None
    parameters: dict[str, Any] = {}
    duration: float = Field(description="seconds, or a string like '6h'")
    output_every: float = Field(description="seconds, or a string like '30min'")
    description: str = ""

    @field_validator("duration", "output_every", mode="before")
    @classmethod
    def _seconds(cls, value: Any) -> float:
        return parse_duration(value)

    @model_validator(mode="after")
    def _check(self) -> Scenario:
        try:
            PARAMS[self.hazard].model_validate(self.parameters)
        except ValidationError as exc:
            raise ValueError(explain(exc, prefix="parameters")) from None
        if self.hazard != "flood" and self.location is None:
            raise ValueError(f"location is required for a {self.hazard} scenario")
        if self.output_every > self.duration:
            raise ValueError("output_every must not exceed duration")
        return self

    @property
    def params(self):
        """The parameters as the hazard's validated model."""
        return PARAMS[self.hazard].model_validate(self.parameters)

    def with_values(self, values: dict[str, Any]) -> Scenario:
        """A copy with parameters (or `duration`, `output_every`) replaced; dotted keys nest."""
        data = self.model_dump()
        for key, value in values.items():
            path = key.split(".")
            target = data if path[0] in type(self).model_fields else data["parameters"]
            for part in path[:-1]:
                target = target.setdefault(part, {})
            target[path[-1]] = value
        return Scenario.model_validate(data)

    @classmethod
    def load(cls, path) -> Scenario:
        """Read a YAML or JSON scenario file; a ScenarioError names the bad field."""
        import yaml

        path = Path(path)
        try:
            text = path.read_text(encoding="utf-8")
        except OSError as exc:
            raise ScenarioError(f"cannot read scenario file {path}: {exc.strerror}") from None
        try:
            data = json.loads(text) if path.suffix == ".json" else yaml.safe_load(text)
        except (json.JSONDecodeError, yaml.YAMLError) as exc:
            raise ScenarioError(f"{path}: not valid YAML/JSON ({str(exc).splitlines()[0]})") \
                from None
        return cls.parse(data, source=str(path))

    @classmethod
    def parse(cls, data: Any, source: str = "scenario") -> Scenario:
        """Validate a dict; a ScenarioError names the bad field."""
        if not isinstance(data, dict):
            raise ScenarioError(f"{source}: a scenario is a mapping with name, hazard, location, "
                                "parameters, duration, output_every")
        try:
            return cls.model_validate(data)
        except ValidationError as exc:
            raise ScenarioError(f"{source}: {explain(exc)}") from None

    def to_json(self) -> str:
        return self.model_dump_json()


def explain(exc: ValidationError, prefix: str = "") -> str:
    """One line from a pydantic error: `field.path: message` for each problem."""
    parts = []
    for err in exc.errors():
        loc = ".".join(str(p) for p in ((prefix,) if prefix else ()) + tuple(err["loc"]))
        msg = err["msg"].removeprefix("Value error, ")
        parts.append(f"{loc}: {msg}" if loc else msg)
    return "; ".join(parts)
