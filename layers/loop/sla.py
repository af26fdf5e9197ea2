"""Per-category service levels of cases (data/rules/categories.yaml), validated with pydantic.

For each category: minutes from opening to acceptance, to arrival and to resolution, and the
radius/time window within which a new alert of the same category joins an open case. Escalation
climbs the three levels of the district's command chain: grid -> street/town -> district command.
"""

from __future__ import annotations

from functools import cache
from pathlib import Path

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from twin import settings


class Sla(BaseModel):
    """Minutes allowed from opening to each milestone, and the merge radius/window."""

    model_config = ConfigDict(extra="forbid")
    accept_min: float = Field(30, gt=0)
    arrive_min: float = Field(120, gt=0)
    resolve_min: float = Field(1440, gt=0)
    merge_m: float = Field(500, ge=0)
    merge_window_min: float = Field(60, ge=0)
    name: str | None = None
    name_en: str | None = None

    def limits_dict(self) -> dict[str, float]:
        """The milestone limits a case keeps (see `layers.loop.records.SlaLimits`)."""
        return {"accept_min": self.accept_min, "arrive_min": self.arrive_min,
                "resolve_min": self.resolve_min}


class Categories(BaseModel):
    """The category table: defaults, per-category overrides, aliases onto routing categories."""

    model_config = ConfigDict(extra="forbid")
    default: Sla = Sla()
    aliases: dict[str, str] = {}
    categories: dict[str, dict] = {}

    def sla(self, category: str) -> Sla:
        """The SLA of a category (the default values for categories not listed)."""
        merged = self.default.model_dump()
        merged.update({"name": None, "name_en": None})
        merged.update(self.categories.get(category, {}))
        return Sla(**merged)

    def routing_name(self, category: str) -> str:
        return self.aliases.get(category, category)

    def label(self, category: str, lang: str = "zh") -> str:
        sla = self.sla(category)
        return (sla.name if lang == "zh" else sla.name_en) or category


class SlaError(ValueError):
    """The category file is invalid; the message names the category and the field."""


def load(path: str | Path | None = None) -> Categories:
    """Read and validate a categories file (default data/rules/categories.yaml)."""
    path = Path(path) if path else settings.data_dir() / "rules" / "categories.yaml"
    try:
        raw = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    except (OSError, yaml.YAMLError) as exc:
        raise SlaError(f"cannot read categories file {path}: {exc}") from exc
    try:
        table = Categories(**raw)
        for name in table.categories:
            table.sla(name)
    except ValidationError as exc:
        err = exc.errors()[0]
        where = ".".join(str(p) for p in err["loc"])
        raise SlaError(f"{path}: {where}: {err['msg']} (fix that field)") from exc
    except TypeError as exc:
        raise SlaError(f"{path}: {exc}") from exc
    return table


@cache
def default() -> Categories:
    """The shipped category table (cached)."""
    return load()
