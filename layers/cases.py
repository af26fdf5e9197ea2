"""Cases (work orders): alerts open or join cases, routed to departments and grids, with SLAs.

A case's current state is derived from its records in the audit log (`fold`): every transition is
an attributed, timestamped audit record, and the JSON view in `{prefix}cases:state` plus the
indexes are written in the same transaction as the record. Indexes make the common questions
cheap: `cases:open:dept:{d}` (open cases of a department), `cases:dept:{d}`, `cases:grid:{g}`,
`cases:status:{s}`, the sorted sets `cases:deadline` (overdue now = score <= now) and
`cases:escalate` (open cases that can still climb), and per category a GEO set of open cases
(`cases:open:geo:{category}`) that finds the open case a new alert belongs to in one GEOSEARCH.

Lifecycle: new -> dispatched -> accepted -> on_scene -> resolved -> closed, plus escalated
(automatic when a milestone deadline passes: grid -> street/town -> district command) and
reopened (after resolved/closed).
"""

from __future__ import annotations

import json

from layers import sla as sla_mod
from layers.audit import AuditLog
from layers.bus import Bus
from layers.clock import Clock, wall
from layers.notify import Outbox
from layers.routing import Router

STATUSES = ("new", "dispatched", "accepted", "on_scene", "resolved", "closed", "escalated",
            "reopened")
OPEN = frozenset(STATUSES) - {"resolved", "closed"}
ACTIONS = ("dispatch", "accept", "arrive", "resolve", "close", "reopen", "escalate", "note")
RESULT = {"dispatch": "dispatched", "accept": "accepted", "arrive": "on_scene",
          "resolve": "resolved", "close": "closed", "reopen": "reopened", "escalate": "escalated"}
COMMAND = "command"  # the district command centre's department id
MAX_EVENTS = 200


class CaseError(ValueError):
    """A case action that cannot be done; the message says why and what is allowed."""


# -- the pure part: state from records -----------------------------------------------------------
def allowed(state: dict, action: str) -> bool:
    """Whether a lifecycle action is allowed in a case state."""
    status = state["status"]
    return {"dispatch": status in ("new", "reopened"),
            "accept": status in ("dispatched", "escalated", "reopened")
            and not state.get("accepted_at"),
            "arrive": status in OPEN and bool(state.get("accepted_at"))
            and not state.get("on_scene_at"),
            "resolve": status in OPEN and bool(state.get("accepted_at")),
            "close": status == "resolved",
            "reopen": status in ("resolved", "closed"),
            "escalate": status in OPEN and state["level"] < len(sla_mod.LEVELS) - 1,
            "note": True}.get(action, False)


def check(state: dict, action: str) -> None:
    """Raise CaseError unless `action` is allowed in `state`."""
    if action not in ACTIONS:
        raise CaseError(f"unknown action {action!r}: use one of {', '.join(ACTIONS)}")
    if not allowed(state, action):
        now = [a for a in ACTIONS if a not in ("note", "escalate") and allowed(state, a)]
        raise CaseError(f"case {state['id']} is {state['status']}: cannot {action} "
                        f"(allowed now: {', '.join(now) or 'nothing'})")


def next_deadline(state: dict) -> tuple[str | None, float | None]:
    """The next milestone of an open case and its deadline (None, None when none is due)."""
    if state["status"] not in OPEN:
        return None, None
    if not state.get("accepted_at"):
        milestone = "accept"
    elif not state.get("on_scene_at"):
        milestone = "arrive"
    else:
        milestone = "resolve"
    base = max(state["created"], state.get("escalated_at") or 0, state.get("reopened_at") or 0)
    return milestone, base + 60.0 * state["sla"][f"{milestone}_min"]


def fold(state: dict | None, record: dict) -> dict:
    """The case state after one audit record (pure: the same log always gives the same state)."""
    data, ts = record["data"], record["ts"]
    action = data["action"]
    if action == "open":
        state = {"id": record["subject"], "status": "new", "level": 0, "created": ts,
                 "updated": ts, "reopen_count": 0, "alerts": [], "events": [], "reports": 0,
                 "history": 0}
        state.update({k: data[k] for k in ("category", "severity", "place", "departments",
                                           "owner", "sla", "title", "source")})
        state["alerts"] = [data["alert"]] if data.get("alert") else []
        state["events"] = list(data.get("events", []))[:MAX_EVENTS]
        state["reports"] = int(data.get("reports", 0))
        state["last_report"] = ts
    else:
        state = dict(state)
        state["updated"] = ts
        if action in RESULT:
            state["status"] = RESULT[action]
        if action == "accept":
            state["accepted_at"] = ts
        elif action == "arrive":
            state["on_scene_at"] = ts
        elif action == "resolve":
            state["resolved_at"] = ts
            state.setdefault("first_resolved_at", ts)
        elif action == "close":
            state["closed_at"] = ts
        elif action == "reopen":
            state["reopen_count"] += 1
            state["reopened_at"] = ts
            state["resolved_at"] = state["closed_at"] = None
        elif action == "escalate":
            state["level"], state["owner"] = data["level"], data["owner"]
            state["escalated_at"] = ts
            state["departments"] = list(dict.fromkeys(state["departments"] + data.get("add", [])))
        elif action == "merge":
            state["severity"] = max(state["severity"], int(data.get("severity", 0)))
            if data.get("alert"):
                state["alerts"] = state["alerts"] + [data["alert"]]
            state["events"] = (state["events"] + list(data.get("events", [])))[:MAX_EVENTS]
            state["reports"] += int(data.get("reports", 0))
            state["last_report"] = ts
    state["history"] += 1
    state["deadline_kind"], state["deadline"] = next_deadline(state)
    return state


# -- the store -------------------------------------------------------------------------------------
class CaseStore:
    """Cases in Redis: open/merge from alerts, act, list, escalate overdue ones."""

    def __init__(self, bus: Bus, router: Router | None, clock: Clock = wall,
                 outbox: Outbox | None = None, lang: str = "zh") -> None:
        """`router` may be None for tools that only read and act (no new cases)."""
        self.bus, self.router, self.clock = bus, router, clock
        self.categories = router.categories if router is not None else sla_mod.default()
        self.audit = AuditLog(bus)
        self.outbox = outbox or Outbox(bus)
        self.lang = lang
        self.k = bus.key

    # -- reading ---------------------------------------------------------------------------------
    def get(self, case_id: str) -> dict | None:
        raw = self.bus.r.hget(self.k("cases:state"), case_id)
        return json.loads(raw) if raw else None

    def many(self, ids) -> list[dict]:
        ids = list(ids)
        if not ids:
            return []
        raws = self.bus.r.hmget(self.k("cases:state"), ids)
        return [json.loads(r) for r in raws if r]

    def history(self, case_id: str) -> list[dict]:
        return self.audit.for_subject(case_id)

    def rebuild(self, case_id: str) -> dict | None:
        """The state folded afresh from the audit log (what `get` must equal)."""
        state = None
        for rec in self.history(case_id):
            state = fold(state, rec)
        return state

    def by_event(self, event_id: str) -> str | None:
        raw = self.bus.r.hget(self.k("cases:by_event"), event_id)
        return raw.decode() if raw else None

    def list(self, status: str | None = None, department: str | None = None,
             grid: int | None = None, open_only: bool = False, overdue: bool = False,
             limit: int = 200) -> list[dict]:
        """Cases matching every filter given, newest first."""
        if status is not None and status not in STATUSES:
            raise CaseError(f"unknown status {status!r}: use one of {', '.join(STATUSES)}")
        sets = []
        if status:
            sets.append(self.k(f"cases:status:{status}"))
        if department:
            sets.append(self.k(f"cases:{'open:' if open_only else ''}dept:{department}"))
        elif open_only:
            sets.append(self.k("cases:open"))
        if grid is not None:
            sets.append(self.k(f"cases:grid:{int(grid)}"))
        if overdue:
            ids = [i.decode() for i in self.bus.r.zrangebyscore(self.k("cases:deadline"), "-inf",
                                                                self.clock())]
            if sets:
                keep = {i.decode() for i in self.bus.r.sinter(sets)}
                ids = [i for i in ids if i in keep]
        elif sets:
            ids = [i.decode() for i in self.bus.r.sinter(sets)]
        else:
            ids = [i.decode() for i in self.bus.r.zrevrange(self.k("cases:created"), 0, limit - 1)]
        cases = sorted(self.many(ids), key=lambda c: (-c["created"], c["id"]))
        return cases[:limit]

    def overdue(self, now: float | None = None) -> list[str]:
        """Ids of open cases whose next deadline has passed."""
        now = self.clock() if now is None else now
        return [i.decode() for i in self.bus.r.zrangebyscore(self.k("cases:deadline"), "-inf", now)]

    # -- writing ---------------------------------------------------------------------------------
    def _write(self, case_id: str, action: str, actor: str, ts: float, data: dict,
               notify=None) -> dict:
        out: dict = {}

        def build(pipe) -> dict:
            raw = pipe.hget(self.k("cases:state"), case_id)
            old = json.loads(raw) if raw else None
            if old is None and action != "open":
                raise CaseError(f"no case {case_id!r}: see `cityops cases list`")
            if old is not None and action not in ("merge", "open"):
                check(old, action)
            out["old"] = old
            return {"action": action, **data}

        def extra(pipe, record) -> None:
            new = fold(out["old"], record)
            out["new"] = new
            self._index(pipe, out["old"], new, record["data"].get("events", []))
            if notify:
                notify(pipe, new)

        self.audit.append("case", case_id, actor, ts, build, extra)
        return out["new"]

    def _index(self, pipe, old: dict | None, new: dict, events: list[str]) -> None:
        k, cid = self.k, new["id"]
        pipe.hset(k("cases:state"), cid, json.dumps(new, ensure_ascii=False))
        is_open = new["status"] in OPEN
        if old is None:
            pipe.zadd(k("cases:created"), {cid: new["created"]})
            if new["place"].get("grid", -1) >= 0:
                pipe.sadd(k(f"cases:grid:{new['place']['grid']}"), cid)
        else:
            pipe.srem(k(f"cases:status:{old['status']}"), cid)
            for d in old["departments"]:
                pipe.srem(k(f"cases:open:dept:{d}"), cid)
        pipe.sadd(k(f"cases:status:{new['status']}"), cid)
        for d in new["departments"]:
            pipe.sadd(k(f"cases:dept:{d}"), cid)
            if is_open:
                pipe.sadd(k(f"cases:open:dept:{d}"), cid)
        geo = k(f"cases:open:geo:{new['category']}")
        if is_open:
            pipe.sadd(k("cases:open"), cid)
            pipe.geoadd(geo, (new["place"]["lng"], new["place"]["lat"], cid))
        else:
            pipe.srem(k("cases:open"), cid)
            pipe.zrem(geo, cid)
        if new["deadline"] is not None:
            pipe.zadd(k("cases:deadline"), {cid: new["deadline"]})
            if new["level"] < len(sla_mod.LEVELS) - 1:
                pipe.zadd(k("cases:escalate"), {cid: new["deadline"]})
            else:
                pipe.zrem(k("cases:escalate"), cid)
        else:
            pipe.zrem(k("cases:deadline"), cid)
            pipe.zrem(k("cases:escalate"), cid)
        if events:
            pipe.hset(k("cases:by_event"), mapping={e: cid for e in events})
        for a in new["alerts"][-5:]:
            pipe.hset(k("cases:by_alert"), a, cid)

    def act(self, case_id: str, action: str, actor: str, note: str = "",
            ts: float | None = None) -> dict:
        """Do a lifecycle action as `actor` (a person or system); returns the new state."""
        if action not in ACTIONS:
            raise CaseError(f"unknown action {action!r}: use one of {', '.join(ACTIONS)}")
        if not actor:
            raise CaseError("an action needs an actor: pass --actor NAME")
        ts = self.clock() if ts is None else ts
        data = {"note": note} if note else {}
        if action == "escalate":
            state = self.get(case_id)
            if state is None:
                raise CaseError(f"no case {case_id!r}: see `cityops cases list`")
            check(state, "escalate")
            data.update(self._escalation(state))
        return self._write(case_id, action, actor, ts, data)

    def _escalation(self, state: dict) -> dict:
        level = state["level"] + 1
        place = state["place"]
        owner = (place.get("unit_name") or f"unit {place.get('unit')}") if level == 1 else COMMAND
        return {"level": level, "owner": owner, "milestone": state["deadline_kind"],
                "add": [COMMAND] if level == len(sla_mod.LEVELS) - 1 else []}

    def ingest(self, alert: dict) -> tuple[str, bool]:
        """Open a case for an alert, or merge it into the open case it belongs to.

        Returns (case id, True if a new case was opened).
        """
        category = alert["category"]
        sla = self.categories.sla(category)
        ts = float(alert.get("ts") or self.clock())
        found = self._find_open(category, alert["lat"], alert["lng"], sla, ts)
        events = [str(e) for e in alert.get("events", [])][:MAX_EVENTS]
        reports = int(alert.get("reports", 0))
        if found:
            self._write(found, "merge", f"rule:{alert.get('rule', '?')}", ts, {
                "alert": alert.get("id"), "severity": int(alert.get("severity", 1)),
                "events": events, "reports": reports,
                "note": f"{alert.get('rule')} joined the case"})
            return found, False
        case_id = f"C{int(self.bus.r.incr(self.k('cases:seq'))):06d}"
        place = self.router.place(alert["lat"], alert["lng"])
        deps = self.router.departments(category)
        self._write(case_id, "open", f"rule:{alert.get('rule', '?')}", ts, {
            "category": category, "severity": int(alert.get("severity", 1)),
            "place": place.to_dict(), "departments": deps, "owner": place.manager or "",
            "sla": sla.model_dump(include={"accept_min", "arrive_min", "resolve_min"}),
            "title": alert.get("title") or self.categories.label(category, self.lang),
            "source": alert.get("source", "rule"), "alert": alert.get("id"), "events": events,
            "reports": reports})
        self._write(case_id, "dispatch", "system", ts, {"to": deps, "grid_manager": place.manager},
                    notify=self._dispatch_messages)
        return case_id, True

    def _find_open(self, category: str, lat: float, lng: float, sla, ts: float) -> str | None:
        if sla.merge_m <= 0:
            return None
        ids = self.bus.r.geosearch(self.k(f"cases:open:geo:{category}"), longitude=lng,
                                   latitude=lat, radius=sla.merge_m, unit="m", sort="ASC")
        for state in self.many(i.decode() for i in ids):
            if state["status"] in OPEN and ts - state["last_report"] <= 60 * sla.merge_window_min:
                return state["id"]
        return None

    def _params(self, case: dict) -> dict:
        place = case["place"]
        return {"case": case["id"], "category": self.categories.label(case["category"], self.lang),
                "place": " ".join(str(p) for p in (place.get("unit_name"), place.get("grid_id"))
                                  if p), "severity": case["severity"]}

    def _dispatch_messages(self, pipe, case: dict) -> None:
        import datetime as dt

        cst = dt.timezone(dt.timedelta(hours=8))
        accept_by = dt.datetime.fromtimestamp(case["deadline"] or case["created"], cst).strftime(
            "%H:%M")
        params = {**self._params(case), "accept_by": accept_by}
        for to in case["departments"] + ([case["owner"]] if case["owner"] else []):
            self.outbox.queue(pipe, "case_dispatch", to, params, "push", self.lang, case["created"])

    def escalate_overdue(self, now: float | None = None) -> list[str]:
        """Escalate every open case past its deadline one level (grid -> unit -> district)."""
        now = self.clock() if now is None else now
        due = [i.decode() for i in self.bus.r.zrangebyscore(self.k("cases:escalate"), "-inf", now)]
        done = []
        for cid in due:
            state = self.get(cid)
            if state is None or not allowed(state, "escalate"):
                self.bus.r.zrem(self.k("cases:escalate"), cid)
                continue
            data = self._escalation(state)
            overdue = now - (state["deadline"] or now)
            data["note"] = f"{state['deadline_kind']} overdue by {overdue / 60:.0f} min"

            def notify(pipe, case, data=data):
                params = {**self._params(case), "milestone": data["milestone"],
                          "owner": data["owner"]}
                for to in dict.fromkeys([data["owner"], *case["departments"]]):
                    self.outbox.queue(pipe, "case_escalated", to, params, "push", self.lang, now)

            try:
                self._write(cid, "escalate", "system:sla", now, data, notify=notify)
            except CaseError:  # changed meanwhile: the next pass sees the new deadline
                continue
            done.append(cid)
        return done
