"""Rules as data (数据吹哨): YAML rule sets validated with pydantic, errors naming rule and field.

A rule watches either a live layer (`layer`: a threshold on one layer over a window, optionally
`sustained` for a duration) or events (`event`: kind + label/source/category/metric filters + an
optional numeric threshold, optionally a `cluster` of N within a radius and time window), in the
cells chosen by `where` (cells, units, grids, near facility kinds, camera kinds). A vehicle
event rule filters the inspection vehicle's fixes by `detections`; its `category: from_event`
is the detection's case category (`layers.live.schema.DETECTION_CATEGORY`). It emits alerts
of a `category` and `severity`, once per episode. The `parking` block configures the soft
enforcement of illegal parking (`layers.loop.parking`). Durations are seconds or "30s", "10m", "1h".
Every number must be finite (`.nan`, `.inf` are refused) and every cell in `where.cells` an H3
hex id, so a broken rule file fails at `cityops rules check`, not while the engine runs.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Literal

import yaml
from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    ValidationError,
    field_validator,
    model_validator,
)

from layers.live import schema as S
from twin import cells as h3cells
from twin import settings
from twin.durations import parse_duration

Duration = Annotated[float, BeforeValidator(parse_duration)]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", allow_inf_nan=False)


class Near(_Strict):
    kinds: list[str] = Field(min_length=1)
    within_m: float = Field(gt=0)


class Where(_Strict):
    """Where a rule applies; every filter given must hold (none = everywhere)."""

    cells: list[str] = []
    units: list[str] = []
    grids: list[str | int] = []
    near: Near | None = None
    camera_kinds: list[str] = []

    @field_validator("cells")
    @classmethod
    def _cells(cls, value: list[str]) -> list[str]:
        h3cells.from_hex(value)  # a ValueError names the first string that is not a cell
        return value


class LayerCondition(_Strict):
    name: str
    window: str = "5m"
    above: float | None = None
    below: float | None = None
    clear: float | None = None  # hysteresis: an episode ends only past this value

    @model_validator(mode="after")
    def _check(self):
        S.check_layer(self.name)
        S.check_window(self.window)
        if (self.above is None) == (self.below is None):
            raise ValueError("give exactly one of `above` or `below`")
        return self


class EventCondition(_Strict):
    kind: Literal["iot", "video", "incident", "vehicle"]
    labels: list[str] = []
    detections: list[str] = []
    sources: list[str] = []
    categories: list[str] = []
    metrics: list[str] = []
    field: Literal["count", "value", "confidence", "severity"] | None = None
    above: float | None = None
    min_confidence: float | None = Field(None, ge=0, le=1)

    @model_validator(mode="after")
    def _check(self):
        for name, vocab in (("labels", S.LABELS), ("sources", S.SOURCES),
                            ("categories", S.CATEGORIES), ("metrics", S.METRICS),
                            ("detections", S.DETECTIONS)):
            bad = sorted(set(getattr(self, name)) - set(vocab))
            if bad:
                raise ValueError(f"unknown {name} {bad}: use {', '.join(vocab)}")
        if (self.field is None) != (self.above is None):
            raise ValueError("`field` and `above` go together (e.g. field: count, above: 100)")
        return self


class Cluster(_Strict):
    min_count: int = Field(ge=2)
    within_m: float = Field(gt=0)
    window: Duration


class Rule(_Strict):
    id: str = Field(pattern=r"^[a-z0-9_][a-z0-9_.-]*$")
    title: str | None = None
    category: str  # or "from_event": the incident's own category (a detection's, for vehicles)
    severity: int | Literal["from_event"] = Field(2)
    layer: LayerCondition | None = None
    event: EventCondition | None = None
    where: Where = Where()
    sustained: Duration = 0.0
    episode: Literal["place", "event"] = "place"
    episode_gap: Duration = 600.0
    cluster: Cluster | None = None
    enabled: bool = True

    @field_validator("severity")
    @classmethod
    def _severity(cls, value):
        if isinstance(value, int) and not 1 <= value <= 4:
            raise ValueError("severity must be 1-4 (or from_event)")
        return value

    @model_validator(mode="after")
    def _check(self):
        if (self.layer is None) == (self.event is None):
            raise ValueError("a rule watches exactly one of `layer` or `event`")
        if self.category == "from_event" and (
                self.event is None or self.event.kind not in ("incident", "vehicle")):
            raise ValueError("category from_event needs an incident or vehicle event rule")
        if self.severity == "from_event" and (self.event is None or self.event.kind != "incident"):
            raise ValueError("severity from_event needs an incident event rule")
        if self.cluster is not None and self.event is None:
            raise ValueError("`cluster` applies to event rules")
        if self.where.camera_kinds and (self.event is None or self.event.kind != "video"):
            raise ValueError("`where.camera_kinds` applies to video event rules")
        return self


class Parking(_Strict):
    """Soft enforcement of illegal parking: remind, then a case if the vehicle stays."""

    labels: list[str] = ["illegal_parking"]
    remind_after: Duration = 600.0
    case_after_reminder: Duration = 600.0
    gone_after: Duration = 180.0
    channel: str = "sms"
    lang: Literal["zh", "en"] = "zh"
    category: str = "illegal_parking"
    severity: int = Field(1, ge=1, le=4)


class RuleSet(_Strict):
    rules: list[Rule] = []
    parking: Parking | None = None

    def enabled(self) -> list[Rule]:
        return [r for r in self.rules if r.enabled]


class RuleError(ValueError):
    """An invalid rule file; the message names the file, the rule and the field."""


def _where(err: dict) -> str:
    return ".".join(str(p) for p in err["loc"]) or "(the rule itself)"


def _message(err: dict) -> str:
    if err["type"] == "finite_number":
        return "must be a finite number (not .nan or .inf)"
    return err["msg"].removeprefix("Value error, ")


def parse(raw, source: str = "<rules>") -> RuleSet:
    """Validate a rule set from parsed YAML; RuleError names the rule and field at fault."""
    if not isinstance(raw, dict):
        raise RuleError(f"{source}: a rule file is a mapping with `rules:` (and `parking:`)")
    unknown = set(raw) - {"rules", "parking"}
    if unknown:
        raise RuleError(f"{source}: unknown top-level keys {sorted(unknown)}: use rules, parking")
    items = raw.get("rules") or []
    if not isinstance(items, list):
        raise RuleError(f"{source}: `rules` must be a list of rules")
    rules, seen = [], set()
    for i, item in enumerate(items):
        name = item.get("id") if isinstance(item, dict) else None
        label = f"rule {name!r}" if name else f"rule #{i + 1}"
        if not isinstance(item, dict):
            raise RuleError(f"{source}: {label}: a rule is a mapping of fields")
        try:
            rule = Rule(**item)
        except ValidationError as exc:
            err = exc.errors()[0]
            raise RuleError(f"{source}: {label}: field {_where(err)}: {_message(err)}") from exc
        if rule.id in seen:
            raise RuleError(f"{source}: {label}: field id: duplicate rule id, ids must be unique")
        seen.add(rule.id)
        rules.append(rule)
    try:
        parking = Parking(**raw["parking"]) if raw.get("parking") is not None else None
    except (ValidationError, TypeError) as exc:
        detail = (f"field {_where(exc.errors()[0])}: {_message(exc.errors()[0])}"
                  if isinstance(exc, ValidationError) else str(exc))
        raise RuleError(f"{source}: parking: {detail}") from exc
    return RuleSet(rules=rules, parking=parking)


def load(path: str | Path | None = None) -> RuleSet:
    """Read and validate a rule file (default: data/rules/default.yaml)."""
    path = Path(path) if path else settings.data_dir() / "rules" / "default.yaml"
    try:
        raw = yaml.safe_load(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise RuleError(f"cannot read rule file {path}: {exc.strerror}") from exc
    except UnicodeDecodeError as exc:
        raise RuleError(f"{path}: not UTF-8 text (byte {exc.start}): save the file as "
                        f"UTF-8") from exc
    except yaml.YAMLError as exc:
        raise RuleError(f"{path}: not valid YAML: {exc}") from exc
    return parse(raw, str(path))
