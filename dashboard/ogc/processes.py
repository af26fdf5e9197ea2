"""The what-if simulations as OGC API - Processes: one pygeoapi process per hazard.

A process's inputs are the scenario model's fields (`name`, `location`, `duration`,
`output_every`) and the hazard's parameters, their JSON schemas taken from the pydantic models,
so the API and `sim` validate the same way. Outputs: `impact` (JSON), `cells` (GeoJSON of the
cells the hazard reaches) and `netcdf` (the whole time x cell result, CF-1.10 + xdggs). Without
`outputs` the answer is `{"impact": ..., "cells": ...}`; asking for one output alone returns
it in its own media type. Jobs run asynchronously when the client prefers `respond-async`.
"""

from __future__ import annotations

from pydantic import BaseModel, ValidationError
from pygeoapi.process.base import BaseProcessor, ProcessorExecuteError

from dashboard.ogc import state
from twin import geojson

SCENARIO_FIELDS = ("name", "location", "duration", "output_every")
OUTPUTS = {
    "impact": ("application/json", "people exposed, facilities affected, per street/town"),
    "cells": ("application/geo+json", "the cells the hazard reaches: peak value, severity class"),
    "netcdf": ("application/x-netcdf", "the whole time x cell result (CF-1.10, xdggs)"),
}


def hazard_models() -> dict[str, type[BaseModel]]:
    """Each hazard's parameter model, by hazard name (from sim's hazard registry)."""
    from sim import hazards

    return {hazard.name: hazard.params for hazard in hazards.all_hazards()}


def _schema(model: type[BaseModel]) -> dict:
    return model.model_json_schema()


def metadata(hazard: str) -> dict:
    """The process description of a hazard: inputs from the scenario and parameter models."""
    from sim import hazards
    from sim.scenario import Location, Scenario

    params = _schema(hazard_models()[hazard])
    required = set(params.get("required", []))
    fields = Scenario.model_fields
    inputs = {
        "name": {"title": "Scenario name", "schema": {"type": "string"}, "minOccurs": 0,
                 "maxOccurs": 1},
        "location": {"title": "Location", "description": Location.__doc__ or "",
                     "schema": _schema(Location),
                     "minOccurs": 1 if hazards.get(hazard).needs_location else 0,
                     "maxOccurs": 1},
        "duration": {"title": "Duration", "description": fields["duration"].description or "",
                     "schema": {"oneOf": [{"type": "number"}, {"type": "string"}]},
                     "minOccurs": 1, "maxOccurs": 1},
        "output_every": {"title": "Output interval",
                         "description": fields["output_every"].description or "",
                         "schema": {"oneOf": [{"type": "number"}, {"type": "string"}]},
                         "minOccurs": 1, "maxOccurs": 1},
    }
    defs = params.get("$defs", {})
    for name, schema in params.get("properties", {}).items():
        inputs[name] = {"title": schema.get("title", name),
                        "description": schema.get("description", ""),
                        "schema": {**schema, **({"$defs": defs} if defs else {})},
                        "minOccurs": 1 if name in required else 0, "maxOccurs": 1}
    return {
        "version": "1.0.0", "id": hazard, "title": {"en": f"What-if: {hazard.replace('_', ' ')}"},
        "description": {"en": (hazard_models()[hazard].__doc__ or "").strip()},
        "jobControlOptions": ["sync-execute", "async-execute"], "keywords": ["what-if", hazard],
        "links": [], "inputs": inputs,
        "outputs": {name: {"title": name, "description": text,
                           "schema": {"type": "object", "contentMediaType": media}}
                    for name, (media, text) in OUTPUTS.items()},
    }


class HazardProcessor(BaseProcessor):
    """Runs a scenario of one hazard (`processor.hazard`) on the mount's twin."""

    def __init__(self, processor_def: dict) -> None:
        self.hazard = processor_def["hazard"]
        super().__init__(processor_def, metadata(self.hazard))
        self.mount = state.get(processor_def["data"])
        self.supports_outputs = True

    def scenario(self, data: dict):
        """The scenario the inputs describe; a ProcessorExecuteError names what is wrong."""
        from sim.scenario import Scenario, ScenarioError

        unknown = set(data) - set(SCENARIO_FIELDS) - set(self.metadata["inputs"])
        if unknown:
            raise ProcessorExecuteError(user_msg=f"unknown inputs {sorted(unknown)}: this "
                                                 f"process takes {', '.join(self.metadata['inputs'])}")
        spec = {k: data[k] for k in SCENARIO_FIELDS if k in data}
        spec.setdefault("name", f"{self.hazard} via OGC API")
        spec["hazard"] = self.hazard
        spec["parameters"] = {k: v for k, v in data.items() if k not in SCENARIO_FIELDS}
        try:
            return Scenario.model_validate(spec)
        except (ValidationError, ScenarioError, ValueError) as exc:
            raise ProcessorExecuteError(user_msg=f"the inputs are not a valid {self.hazard} "
                                                 f"scenario: {_first_error(exc)}") from None

    def execute(self, data: dict, outputs: dict | None = None):
        from sim import run
        from sim.scenario import ScenarioError

        wanted = list(outputs or {})
        bad = [name for name in wanted if name not in OUTPUTS]
        if bad:
            raise ProcessorExecuteError(user_msg=f"unknown outputs {bad}: choose from "
                                                 f"{', '.join(OUTPUTS)}")
        scenario = self.scenario(data or {})
        try:
            result = run(scenario, self.mount.twin)
        except ScenarioError as exc:
            raise ProcessorExecuteError(user_msg=str(exc)) from None
        if wanted == ["netcdf"]:
            from dashboard.scenario_export import netcdf_bytes

            return OUTPUTS["netcdf"][0], netcdf_bytes(result)
        answer = {}
        if not wanted or "impact" in wanted:
            answer["impact"] = impact_json(result)
        if not wanted or "cells" in wanted:
            answer["cells"] = cells_geojson(result, self.mount.twin)
        if len(answer) == 1:
            name = next(iter(answer))
            return OUTPUTS[name][0], answer[name]
        if "netcdf" in wanted:
            raise ProcessorExecuteError(user_msg="ask for netcdf alone (it is a binary file)")
        return "application/json", answer

    def __repr__(self) -> str:
        return f"<HazardProcessor> {self.hazard}"


def _first_error(exc: Exception) -> str:
    if isinstance(exc, ValidationError):
        err = exc.errors()[0]
        where = ".".join(str(p) for p in err["loc"])
        return f"{where}: {err['msg']}" if where else err["msg"]
    return str(exc)


def impact_json(result) -> dict:
    """The impact summary as plain JSON values (numpy to Python, NaN to null)."""
    return _plain(result.impact)


def _plain(obj):
    if isinstance(obj, dict):
        return {str(k): _plain(v) for k, v in obj.items()}
    if isinstance(obj, list | tuple) or hasattr(obj, "tolist") and not hasattr(obj, "item"):
        return [_plain(v) for v in (obj.tolist() if hasattr(obj, "tolist") else obj)]
    return geojson.plain(obj)


def cells_geojson(result, twin) -> dict:
    """The reached cells as a GeoJSON FeatureCollection (RFC 7946)."""
    from dashboard.scenario_export import reached_cells

    return {"type": "FeatureCollection",
            "features": geojson.features(reached_cells(result, twin), id_column="cell")}
