"""Scenario specs: validated what-if descriptions (pydantic), read from YAML or JSON files.

A scenario names a hazard, where it happens (lat/lng or a facility id of the twin), its
parameters, how long to simulate and how often to write output. Every error names the field
and says what is expected, so a planner can fix a file without reading code.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Literal

from pydantic import Field, ValidationError, field_validator, model_validator

from sim.spec import ScenarioError, Strict  # noqa: F401  (re-exported: the scenario's errors)
from twin.durations import parse_duration


class Location(Strict):
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


class Scenario(Strict):
    """A what-if: hazard, location, parameters, duration and output interval."""

    name: str = Field(min_length=1)
    hazard: str = Field(description="a registered hazard (sim.hazards.names())")
    location: Location | None = None
    parameters: dict[str, Any] = {}
    duration: float = Field(description="seconds, or a string like '6h'")
    output_every: float = Field(description="seconds, or a string like '30min'")
    description: str = ""

    @field_validator("duration", "output_every", mode="before")
    @classmethod
    def _seconds(cls, value: Any) -> float:
        return parse_duration(value, allow_zero=False)

    @field_validator("hazard")
    @classmethod
    def _registered(cls, value: str) -> str:
        from sim.hazards import get

        get(value)
        return value

    @model_validator(mode="after")
    def _check(self) -> Scenario:
        from sim.hazards import get

        entry = get(self.hazard)
        try:
            entry.params.model_validate(self.parameters)
        except ValidationError as exc:
            raise ValueError(explain(exc, prefix="parameters")) from None
        if entry.needs_location and self.location is None:
            raise ValueError(f"location is required for a {self.hazard} scenario")
        if self.output_every > self.duration:
            raise ValueError("output_every must not exceed duration")
        return self

    @property
    def params(self):
        """The parameters as the hazard's validated model."""
        from sim.hazards import get

        return get(self.hazard).params.model_validate(self.parameters)

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
