"""Open311 GeoReport v2 intake, the part without a web framework: services, validation, status.

A valid POST becomes, in ONE Redis transaction, a stored request (`open311:req`, indexed by
time in `open311:requests`; this module owns the family `open311:*`) and an incident event on
`{prefix}events:incident` (source `app`, id `open311-{id}`), so nothing valid is lost; the rule
engine turns the event into a case like any other report. Request ids are random (80 bits), so
nobody can list other people's requests by counting.

Reading is public, as GeoReport intends, so what it shows is public too: a request's status
follows its case (`open` while the case is open, `closed` once resolved or closed) with a public
status sentence in Chinese and English (`PUBLIC_STATUS`) as `status_notes`, never the case's
internal notes or id; the description and address are redacted (`layers.protocols.redact`).
Errors carry the HTTP code and a description, rendered by the web layer as the spec's list
`[{"code": 400, "description": "..."}]`.
"""

from __future__ import annotations

import hmac
import json
import math
import re
import secrets

import numpy as np
import pandas as pd

from layers.clock import Clock, wall
from layers.live import schema as S
from layers.live.bus import Bus
from layers.loop.cases import OPEN, CaseStore
from layers.protocols.redact import redact
from twin import settings

MAX_BODY = 64 * 1024
MAX_FIELD = 200
DEFAULT_DAYS = 90
MAX_RESULTS = 1000
# what a citizen reads about a request, by its case's status (None: no case yet)
PUBLIC_STATUS: dict[str | None, tuple[str, str]] = {
    None: ("已受理，等待派单", "received, awaiting dispatch"),
    "new": ("已受理，等待派单", "received, awaiting dispatch"),
    "dispatched": ("已派往责任部门", "sent to the responsible department"),
    "accepted": ("责任部门已接单", "accepted by the responsible department"),
    "on_scene": ("工作人员已到达现场", "staff are on site"),
    "escalated": ("已提级督办", "escalated for priority handling"),
    "reopened": ("已重新受理", "reopened for further handling"),
    "resolved": ("已处置完毕", "resolved"),
    "closed": ("已办结", "closed"),
}
FIELDS = ("api_key", "jurisdiction_id", "service_code", "lat", "long", "address_string",
          "address_id", "email", "device_id", "account_id", "first_name", "last_name", "phone",
          "description", "media_url")


class Open311Error(Exception):
    """An error response: HTTP `code` and a `description` saying what to fix."""

    def __init__(self, code: int, description: str) -> None:
        super().__init__(description)
        self.code, self.description = code, description

    def body(self) -> list[dict]:
        return [{"code": self.code, "description": self.description}]


def public_status(status: str | None) -> str:
    """The status sentence a citizen reads ("zh / en"), from the case status alone."""
    zh, en = PUBLIC_STATUS.get(status, PUBLIC_STATUS[None])
    return f"{zh} / {en}"


def _public_url(url: str | None) -> str | None:
    """A link shown as given, or not at all when it carries something personal (a redacted
    link would be broken)."""
    return url if url and redact(url, lang="en") == url else None


def new_request_id() -> str:
    """A service request id nobody can guess or count: 20 random hex digits."""
    return secrets.token_hex(10)


def parse_time(text: str, name: str, tz: str) -> float:
    try:
        stamp = pd.Timestamp(text)
    except (ValueError, TypeError) as exc:
        raise Open311Error(400, f"{name} {text!r} is not an ISO 8601 date-time "
                                f"(e.g. 2026-01-01T08:00:00+08:00)") from exc
    if stamp.tzinfo is None:
        stamp = stamp.tz_localize(tz)
    return stamp.timestamp()


class Open311:
    """GeoReport v2 on a case store: services, submit, get, query."""

    def __init__(self, bus: Bus, twin, store: CaseStore, api_keys=(), clock: Clock = wall,
                 lang: str = "zh") -> None:
        self.bus, self.twin, self.store, self.clock = bus, twin, store, clock
        self.api_keys = {k for k in api_keys if k}
        self.lang = lang
        self.redis, self.keys = bus.redis, bus.keys
        self.tz = twin.timezone

    def iso(self, ts: float | None) -> str | None:
        """ISO 8601 with the city's explicit offset, as GeoReport requires."""
        return settings.iso_time(ts, self.tz)

    # -- services ----------------------------------------------------------------------------------
    def services(self) -> list[dict]:
        cats, router = self.store.categories, self.store.router
        out = []
        for code in S.CATEGORIES:
            deps = router.departments(code)
            out.append({"service_code": code, "service_name": cats.label(code, self.lang),
                        "description": f"{cats.label(code, 'zh')} / {cats.label(code, 'en')}",
                        "metadata": False, "type": "realtime", "keywords": code.replace("_", ","),
                        "group": ", ".join(router.department_name(d, self.lang) for d in deps)})
        return out

    def service_definition(self, code: str) -> dict:
        if code not in S.CATEGORIES:
            raise Open311Error(404, f"no service {code!r}: see services.json")
        return {"service_code": code, "attributes": []}

    # -- submit -----------------------------------------------------------------------------------
    def known_key(self, key) -> bool:
        """Whether `key` is an Open311 key, compared in constant time with every key."""
        if not isinstance(key, str) or not key:
            return False
        given = key.encode("utf-8", "replace")
        found = False
        for known in self.api_keys:
            found |= hmac.compare_digest(given, known.encode("utf-8", "replace"))
        return found

    def validate(self, form: dict) -> dict:
        """The cleaned request fields, or an Open311Error naming the field to fix."""
        if not self.known_key(form.get("api_key")):
            raise Open311Error(403, "api_key is missing or not valid: ask the operator for a key")
        for name, value in form.items():
            if name.startswith("attribute["):
                continue
            if name not in FIELDS:
                raise Open311Error(400, f"unknown field {name!r}: GeoReport v2 fields are "
                                        f"{', '.join(FIELDS)}")
            limit = S.MAX_TEXT_CHARS if name == "description" else MAX_FIELD
            if not isinstance(value, str | int | float) or len(str(value)) > limit:
                raise Open311Error(400, f"{name} must be text of at most {limit} characters")
        code = str(form.get("service_code") or "")
        if not code:
            raise Open311Error(400, "service_code is required: choose one from services.json")
        if code not in S.CATEGORIES:
            raise Open311Error(400, f"service_code {code!r} is not a service: see services.json")
        if form.get("lat") in (None, "") or form.get("long") in (None, ""):
            raise Open311Error(400, "lat and long are required: this server locates requests on "
                                    "its map and does not geocode address_string/address_id")
        try:
            lat, lng = float(form["lat"]), float(form["long"])
        except (TypeError, ValueError) as exc:
            raise Open311Error(400, "lat and long must be decimal degrees (WGS-84)") from exc
        if not (math.isfinite(lat) and math.isfinite(lng) and abs(lat) <= 90 and abs(lng) <= 180):
            raise Open311Error(400, "lat must be in [-90, 90] and long in [-180, 180]")
        if int(self.twin.locate(np.array([lat]), np.array([lng]))[0]) < 0:
            raise Open311Error(400, f"the location {lat},{lng} is outside this city's area")
        email = form.get("email")
        if email and not re.fullmatch(r"[^@\s]+@[^@\s]+\.[^@\s]+", str(email)):
            raise Open311Error(400, f"email {email!r} is not an e-mail address")
        media = form.get("media_url")
        if media and not re.match(r"https?://", str(media)):
            raise Open311Error(400, "media_url must be an http(s) URL")
        clean = {k: str(v) for k, v in form.items() if k in FIELDS and k != "api_key"}
        clean.update(lat=lat, long=lng, service_code=code)
        return clean

    def submit(self, form: dict) -> list[dict]:
        """Store a valid request and publish its incident event, atomically."""
        req = self.validate(form)
        now = self.clock()
        rid = new_request_id()
        req.update(service_request_id=rid, requested=now, event=f"open311-{rid}")
        event = {"id": req["event"], "ts": repr(now), "lat": repr(req["lat"]),
                 "lng": repr(req["long"]), "source": "app", "category": req["service_code"],
                 "severity": "2", "text": req.get("description", "")[:S.MAX_TEXT_CHARS]}
        pipe = self.redis.pipeline(transaction=True)
        pipe.hset(self.keys.open311("req"), rid, json.dumps(req, ensure_ascii=False))
        pipe.zadd(self.keys.open311("requests"), {rid: now})
        pipe.xadd(self.bus.stream("incident"), event)
        pipe.execute()
        return [{"service_request_id": rid,
                 "service_notice": "已受理，将转交责任部门 / received and routed to the "
                                   "responsible department", "account_id": None}]

    # -- reading ----------------------------------------------------------------------------------
    def _view(self, req: dict) -> dict:
        cid = self.store.by_event(req["event"])
        case = self.store.get(cid) if cid else None
        view = {"service_request_id": req["service_request_id"], "status": "open",
                "status_notes": public_status(None),
                "service_name": self.store.categories.label(req["service_code"], self.lang),
                "service_code": req["service_code"], "description": redact(req.get("description")),
                "agency_responsible": None, "service_notice": None,
                "requested_datetime": self.iso(req["requested"]),
                "updated_datetime": self.iso(req["requested"]), "expected_datetime": None,
                "address": redact(req.get("address_string")),
                "address_id": redact(req.get("address_id")),
                "zipcode": None, "lat": req["lat"], "long": req["long"],
                "media_url": _public_url(req.get("media_url"))}
        if case is not None:
            view.update(status="open" if case.status in OPEN else "closed",
                        status_notes=public_status(case.status),
                        agency_responsible=", ".join(self.store.router.department_name(
                            d, self.lang) for d in case.departments),
                        updated_datetime=self.iso(case.updated),
                        expected_datetime=self.iso(case.created + case.sla.seconds("resolve")))
        return view

    def get(self, rid: str) -> list[dict]:
        raw = self.redis.hget(self.keys.open311("req"), rid)
        if raw is None:
            raise Open311Error(404, f"no service request {rid!r}")
        return [self._view(json.loads(raw))]

    def query(self, args: dict) -> list[dict]:
        """GET requests.json: by ids, or by service_code/status within start/end dates."""
        if args.get("service_request_id"):
            ids = [i.strip() for i in str(args["service_request_id"]).split(",") if i.strip()]
            raws = self.redis.hmget(self.keys.open311("req"), ids[:MAX_RESULTS])
            return [self._view(json.loads(r)) for r in raws if r]
        end = parse_time(args["end_date"], "end_date", self.tz) if args.get("end_date") \
            else self.clock()
        start = parse_time(args["start_date"], "start_date", self.tz) if args.get("start_date") \
            else end - DEFAULT_DAYS * 86400
        if start > end:
            raise Open311Error(400, "start_date is after end_date")
        statuses = {s.strip() for s in str(args.get("status") or "").split(",") if s.strip()}
        if statuses - {"open", "closed"}:
            raise Open311Error(400, "status must be open, closed or both (open,closed)")
        codes = {c.strip() for c in str(args.get("service_code") or "").split(",") if c.strip()}
        ids = self.redis.zrevrangebyscore(self.keys.open311("requests"), end, start)
        raws = self.redis.hmget(self.keys.open311("req"), ids) if ids else []
        out = []
        for raw in raws:
            req = json.loads(raw)
            if codes and req["service_code"] not in codes:
                continue
            view = self._view(req)
            if statuses and view["status"] not in statuses:
                continue
            out.append(view)
            if len(out) >= MAX_RESULTS:
                break
        return out
