"""The base of every what-if spec: strict models and the one error a bad spec raises.

Kept apart from `sim.scenario` so that the hazard registry (whose parameter models build on
these) and the scenario model (which validates against the registry) do not import each other.
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict


class ScenarioError(ValueError):
    """A scenario that cannot be read, validated or placed on the twin (message names the field)."""


class Strict(BaseModel):
    """A model that refuses unknown fields (a typo in a scenario file is an error)."""

    model_config = ConfigDict(extra="forbid")
