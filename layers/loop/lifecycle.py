"""The case lifecycle, pure: which action is allowed when, the next deadline, and `fold`.

new -> dispatched -> accepted -> on_scene -> resolved -> closed, plus escalated (a milestone
deadline passed: grid -> street/town -> district command) and reopened (after resolved/closed).
A case's state is the fold of its audit records: the same log always gives the same state, which
is how `cityops audit verify` checks the stored views.
"""

from __future__ import annotations

import dataclasses

from layers.loop.records import Case, Place, SlaLimits

STATUSES = ("new", "dispatched", "accepted", "on_scene", "resolved", "closed", "escalated",
            "reopened")
OPEN = frozenset(STATUSES) - {"resolved", "closed"}
ACTIONS = ("dispatch", "accept", "arrive", "resolve", "close", "reopen", "escalate", "note")
RESULT = {"dispatch": "dispatched", "accept": "accepted", "arrive": "on_scene",
          "resolve": "resolved", "close": "closed", "reopen": "reopened", "escalate": "escalated"}
LEVELS = ("grid", "unit", "district")  # escalation: grid -> street/town -> district command
MAX_EVENTS = 200


class CaseError(ValueError):
    """A case action that cannot be done; the message says why and what is allowed."""


def allowed(case: Case, action: str) -> bool:
    """Whether a lifecycle action is allowed in a case's current state."""
    status = case.status
    return {"dispatch": status in ("new", "reopened"),
            "accept": status in ("dispatched", "escalated", "reopened")
            and not case.accepted_at,
            "arrive": status in OPEN and bool(case.accepted_at) and not case.on_scene_at,
            "resolve": status in OPEN and bool(case.accepted_at),
            "close": status == "resolved",
            "reopen": status in ("resolved", "closed"),
            "escalate": status in OPEN and case.level < len(LEVELS) - 1,
            "note": True}.get(action, False)


def allowed_now(case: Case) -> list[str]:
    """The people's actions allowed now (escalation and notes aside)."""
    return [a for a in ACTIONS if a not in ("note", "escalate") and allowed(case, a)]


def check(case: Case, action: str) -> None:
    """Raise CaseError unless `action` is allowed now."""
    if action not in ACTIONS:
        raise CaseError(f"unknown action {action!r}: use one of {', '.join(ACTIONS)}")
    if not allowed(case, action):
        raise CaseError(f"case {case.id} is {case.status}: cannot {action} "
                        f"(allowed now: {', '.join(allowed_now(case)) or 'nothing'})")


def next_deadline(case: Case) -> tuple[str | None, float | None]:
    """The next milestone of an open case and its deadline (None, None when none is due)."""
    if case.status not in OPEN:
        return None, None
    if not case.accepted_at:
        milestone = "accept"
    elif not case.on_scene_at:
        milestone = "arrive"
    else:
        milestone = "resolve"
    base = max(case.created, case.escalated_at or 0, case.reopened_at or 0)
    return milestone, base + case.sla.seconds(milestone)


def _opened(record: dict) -> Case:
    data, ts = record["data"], record["ts"]
    return Case(id=record["subject"], status="new", category=data["category"],
                severity=int(data["severity"]), place=Place.from_dict(data["place"]),
                departments=list(data["departments"]), owner=data["owner"],
                sla=SlaLimits(**data["sla"]), title=data["title"], source=data["source"],
                created=ts, updated=ts, alerts=[data["alert"]] if data.get("alert") else [],
                events=list(data.get("events", []))[:MAX_EVENTS],
                reports=int(data.get("reports", 0)), last_report=ts)


def fold(case: Case | None, record: dict) -> Case:
    """The case after one audit record (pure; `case` is not modified)."""
    data, ts = record["data"], record["ts"]
    action = data["action"]
    if action == "open":
        new = _opened(record)
    else:
        if case is None:
            raise CaseError(f"audit record {record.get('seq')}: {action} before the case "
                            f"{record['subject']} was opened")
        change: dict = {"updated": ts}
        if action in RESULT:
            change["status"] = RESULT[action]
        change.update(_effects(case, action, data, ts))
        new = dataclasses.replace(case, **change)
    kind, deadline = next_deadline(new)
    return dataclasses.replace(new, history=new.history + 1, deadline_kind=kind,
                               deadline=deadline)


def _effects(case: Case, action: str, data: dict, ts: float) -> dict:
    """The fields an action changes besides status and time."""
    if action == "accept":
        return {"accepted_at": ts}
    if action == "arrive":
        return {"on_scene_at": ts}
    if action == "resolve":
        return {"resolved_at": ts, "first_resolved_at": case.first_resolved_at or ts}
    if action == "close":
        return {"closed_at": ts}
    if action == "reopen":
        return {"reopen_count": case.reopen_count + 1, "reopened_at": ts, "resolved_at": None,
                "closed_at": None}
    if action == "escalate":
        return {"level": data["level"], "owner": data["owner"], "escalated_at": ts,
                "departments": list(dict.fromkeys(case.departments + data.get("add", [])))}
    if action == "merge":
        return {"severity": max(case.severity, int(data.get("severity", 0))),
                "alerts": case.alerts + ([data["alert"]] if data.get("alert") else []),
                "events": (case.events + list(data.get("events", [])))[:MAX_EVENTS],
                "reports": case.reports + int(data.get("reports", 0)), "last_report": ts}
    return {}
