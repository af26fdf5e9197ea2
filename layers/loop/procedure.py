"""The administrative-penalty procedure (行政处罚程序), pure: stages, moves, time limits, `fold`.

An enforcement case starts with an inspection and moves through the stages of the procedure:

    inspection -> filing -> investigation -> notice (-> hearing) -> decision -> service
               -> payment (-> appeal -> payment | closure) -> closure -> closed

An inspection that finds nothing is cleared; a case may be dropped at filing, investigation or
decision; a small fine may be decided on the spot from the inspection (简易程序), going straight
to payment. Each stage has a time limit (data/rules/enforcement.yaml, each default citing its
source); the deadline is computed when the stage begins and written in the audit record, so
folding the records (`fold`) always gives the same case, whatever the file says later.
Money is kept in fen (分, integers); people see yuan.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import Literal

import numpy as np
import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from layers.loop.records import Place
from twin import settings

STAGES = ("inspection", "filing", "investigation", "notice", "hearing", "decision", "service",
          "payment", "appeal", "closure")
CLOSED = "closed"
MOVES: dict[str, dict[str, str]] = {  # action -> {from stage: to stage}
    "clear": {"inspection": CLOSED},
    "find": {"inspection": "filing"},
    "file": {"filing": "investigation"},
    "notify": {"investigation": "notice"},
    "request_hearing": {"notice": "hearing"},
    "conclude": {"notice": "decision", "hearing": "decision"},
    "decide": {"decision": "service", "inspection": "payment"},  # from inspection: on the spot
    "serve": {"service": "payment"},
    "pay": {"payment": "closure"},
    "appeal": {"payment": "appeal"},
    "uphold": {"appeal": "payment"},
    "revoke": {"appeal": "closure"},
    "drop": {"filing": CLOSED, "investigation": CLOSED, "decision": CLOSED},
    "close": {"closure": CLOSED},
}
REMARKS = ("flag", "note")  # recorded without moving the case
ACTIONS = tuple(MOVES) + REMARKS
OUTCOMES = {"clear": "compliant", "drop": "dropped", "pay": "paid", "revoke": "revoked"}
FEN_PER_YUAN = 100


class EnforcementError(ValueError):
    """An enforcement action that cannot be done; the message says why and what is allowed.

    `reason` (a short code, None when there is none) and `params` say the same as data, so a
    page can say it in its own language (`dashboard.enforce_desk.refusal_text`)."""

    def __init__(self, message: str, reason: str | None = None, **params) -> None:
        super().__init__(message)
        self.reason, self.params = reason, params


# -- the procedure file ------------------------------------------------------------------------------
class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", allow_inf_nan=False)


class Limit(_Strict):
    days: int = Field(gt=0)
    unit: Literal["days", "workdays"] = "days"
    start: Literal["stage", "filing"] = Field("stage", alias="from")


class StageSpec(_Strict):
    zh: str
    en: str
    limit: Limit
    source: str = Field(min_length=1)
    verified: bool | None


class Text(_Strict):
    zh: str
    en: str


class Basis(_Strict):
    rule: Text
    complaint_sources: list[str] = Field(min_length=1)


class Simplified(_Strict):
    person_max_yuan: float = Field(gt=0)
    organisation_max_yuan: float = Field(gt=0)

    def max_fen(self, party: str) -> int:
        yuan = self.person_max_yuan if party == "person" else self.organisation_max_yuan
        return int(round(yuan * FEN_PER_YUAN))


class Procedure(_Strict):
    """The stages' limits and sources, the inspection basis rule, the on-the-spot limits."""

    basis: Basis
    simplified: Simplified
    holidays: list[dt.date] = []
    workdays: list[dt.date] = []
    stages: dict[str, StageSpec]

    @model_validator(mode="after")
    def _every_stage(self) -> Procedure:
        missing, extra = set(STAGES) - set(self.stages), set(self.stages) - set(STAGES)
        if missing or extra:
            raise ValueError(f"stages must be exactly {', '.join(STAGES)} (missing "
                             f"{sorted(missing)}, unknown {sorted(extra)})")
        return self

    def name(self, stage: str, lang: str) -> str:
        if stage == CLOSED:
            return "已结束" if lang == "zh" else "Closed"
        spec = self.stages[stage]
        return spec.zh if lang == "zh" else spec.en

    def deadline(self, stage: str, start: float, filed_at: float | None, tz: str) -> float | None:
        """When a stage begun at `start` must be done (the end of its last day, city time)."""
        if stage == CLOSED:
            return None
        limit = self.stages[stage].limit
        base = filed_at if limit.start == "filing" and filed_at is not None else start
        zone = settings.timezone(tz)
        day = dt.datetime.fromtimestamp(base, zone).date()
        if limit.unit == "days":
            last = day + dt.timedelta(days=limit.days)
        else:
            last = self.workday_after(day, limit.days)
        end = dt.datetime.combine(last + dt.timedelta(days=1), dt.time(), zone)
        return end.timestamp()

    def workday_after(self, day: dt.date, n: int) -> dt.date:
        """The `n`-th working day after `day` (the day itself not counted): Monday to Friday
        except `holidays`, plus the make-up `workdays` (调休上班) that fall on a weekend."""
        off = np.array(self.holidays, dtype="datetime64[D]")
        on = np.array(self.workdays, dtype="datetime64[D]")
        span = 2 * n + 30  # room for n working days around the longest holiday (9 days)
        while True:
            days = np.datetime64(day, "D") + np.arange(1, span + 1)
            weekday = (days.view("int64") + 3) % 7  # 1970-01-01 was a Thursday; Monday is 0
            working = ((weekday < 5) & ~np.isin(days, off)) | np.isin(days, on)
            found = np.flatnonzero(working)
            if len(found) >= n:
                return dt.date.fromisoformat(str(days[found[n - 1]]))
            span *= 2


class ProcedureError(ValueError):
    """The procedure file is invalid; the message names the file and the field."""


def load(path: str | Path | None = None) -> Procedure:
    """Read and validate the procedure (default data/rules/enforcement.yaml)."""
    path = Path(path) if path else settings.data_dir() / "rules" / "enforcement.yaml"
    try:
        raw = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
        return Procedure(**raw)
    except (OSError, yaml.YAMLError) as exc:
        raise ProcedureError(f"cannot read the procedure file {path}: {exc}") from exc
    except ValidationError as exc:
        err = exc.errors()[0]
        where = ".".join(str(p) for p in err["loc"]) or "(the file)"
        raise ProcedureError(f"{path}: {where}: {err['msg']} (fix that field)") from exc
    except TypeError as exc:
        raise ProcedureError(f"{path}: {exc}") from exc


@cache
def default() -> Procedure:
    """The shipped procedure (cached)."""
    return load()


# -- the case record ---------------------------------------------------------------------------------
@dataclass(frozen=True)
class StageSpan:
    """One stage of a case: when it began, its deadline, when it ended (None: still on)."""

    stage: str
    start: float
    deadline: float | None
    end: float | None = None

    def on_time(self, now: float) -> bool | None:
        """True/False once judged (ended, or past its deadline), None while still within it."""
        if self.deadline is None:
            return None
        if self.end is not None:
            return self.end <= self.deadline
        return False if now > self.deadline else None


@dataclass
class EnforcementCase:
    """An enforcement case's current state, folded from its audit records."""

    id: str
    department: str
    target: str
    target_name: str
    basis: str                     # "draw" or "complaint"
    basis_ref: str                 # the draw's audit seq, or the complaint's case id
    party: str                     # "person" or "organisation"
    stage: str
    created: float
    updated: float
    deadline: float | None
    inspectors: list[str] = field(default_factory=list)
    place: Place | None = None
    filed_at: float | None = None
    amount_fen: int | None = None  # proposed (notice) then decided
    on_site: bool = False
    payment: str | None = None     # the payment request's id
    paid_fen: int = 0
    paid_at: float | None = None
    outcome: str | None = None
    flags: list[dict] = field(default_factory=list)
    stages: list[StageSpan] = field(default_factory=list)
    history: int = 0

    @property
    def is_open(self) -> bool:
        return self.stage != CLOSED

    @property
    def flagged(self) -> bool:
        return bool(self.flags)

    def overdue(self, now: float) -> bool:
        return self.deadline is not None and self.deadline < now

    def to_dict(self) -> dict:
        out = dataclasses.asdict(self)
        out["place"] = None if self.place is None else self.place.to_dict()
        return out

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), ensure_ascii=False, allow_nan=False)

    def view(self) -> dict:
        """For the outside (CLI, browser): the place's cell as hex, money in yuan."""
        out = self.to_dict()
        out["place"] = None if self.place is None else self.place.view()
        for key in ("amount_fen", "paid_fen"):
            value = out.pop(key)
            out[key.replace("_fen", "_yuan")] = None if value is None else value / FEN_PER_YUAN
        return out

    @staticmethod
    def from_json(text: str | bytes) -> EnforcementCase:
        raw = json.loads(text)
        names = {f.name for f in dataclasses.fields(EnforcementCase)}
        data = {k: v for k, v in raw.items() if k in names}
        data["place"] = None if raw.get("place") is None else Place.from_dict(raw["place"])
        data["stages"] = [StageSpan(**s) for s in raw.get("stages", [])]
        return EnforcementCase(**data)


# -- moves -------------------------------------------------------------------------------------------
def allowed(case: EnforcementCase, action: str) -> bool:
    """Whether an action is allowed in the case's current stage."""
    if action in REMARKS:
        return action == "note" or case.is_open
    return case.stage in MOVES.get(action, {})


def allowed_now(case: EnforcementCase) -> list[str]:
    return [a for a in MOVES if allowed(case, a)]


def check(case: EnforcementCase, action: str) -> None:
    """Raise EnforcementError unless `action` is allowed now."""
    if action not in ACTIONS:
        raise EnforcementError(f"unknown action {action!r}: use one of {', '.join(ACTIONS)}",
                               "unknown_action", action=action)
    if not allowed(case, action):
        raise EnforcementError(f"enforcement case {case.id} is at {case.stage}: cannot {action} "
                               f"(allowed now: {', '.join(allowed_now(case)) or 'nothing'})",
                               "not_now", case=case.id, stage=case.stage, action=action,
                               allowed=allowed_now(case))


def next_stage(case: EnforcementCase, action: str) -> str:
    return MOVES[action][case.stage]


def fold(case: EnforcementCase | None, record: dict) -> EnforcementCase:
    """The case after one audit record (pure; `case` is not modified)."""
    data, ts = record["data"], float(record["ts"])
    action = data["action"]
    if action == "open":
        place = data.get("place")
        new = EnforcementCase(
            id=record["subject"], department=data["department"], target=data["target"],
            target_name=data.get("target_name", data["target"]), basis=data["basis"],
            basis_ref=str(data["basis_ref"]), party=data.get("party", "organisation"),
            stage=data["to"], created=ts, updated=ts, deadline=data.get("deadline"),
            inspectors=list(data.get("inspectors", [])),
            place=None if place is None else Place.from_dict(place),
            stages=[StageSpan(data["to"], ts, data.get("deadline"))])
    else:
        if case is None:
            raise EnforcementError(f"audit record {record.get('seq')}: {action} before the "
                                   f"enforcement case {record['subject']} was opened")
        change: dict = {"updated": ts}
        if action in MOVES:
            change.update(_moved(case, action, data, ts))
        elif action == "flag":
            change["flags"] = case.flags + [{"by": record["actor"], "ts": ts,
                                             "note": data.get("note", "")}]
        new = dataclasses.replace(case, **change)
    return dataclasses.replace(new, history=new.history + 1)


def _moved(case: EnforcementCase, action: str, data: dict, ts: float) -> dict:
    to = data["to"]
    spans = list(case.stages)
    if spans and spans[-1].end is None:
        spans[-1] = dataclasses.replace(spans[-1], end=ts)
    if to != CLOSED:
        spans.append(StageSpan(to, ts, data.get("deadline")))
    change = {"stage": to, "deadline": data.get("deadline") if to != CLOSED else None,
              "stages": spans}
    if action == "file":
        change["filed_at"] = ts
    if action in ("notify", "decide") and data.get("amount_fen") is not None:
        change["amount_fen"] = int(data["amount_fen"])
    if action == "decide":
        change.update(on_site=bool(data.get("on_site")), payment=data.get("payment"))
    if action == "pay":
        change.update(paid_fen=case.paid_fen + int(data["paid_fen"]), paid_at=ts)
    if action in OUTCOMES:
        change["outcome"] = OUTCOMES[action]
    return change
