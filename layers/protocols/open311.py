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
`[{"code": 400, "description": "..."}]` (or its XML).

A request without lat/long is located from its `address_string` through the twin's gazetteer
(`twin.gazetteer`: street/town, community, zone and facility names in Chinese, pinyin or
English); one it cannot place is refused naming the address and the fix.

A request's photo (uploaded with it) or `media_url` goes onto its case once the case exists
(`settle`): the photo, held meanwhile in `open311:media`, is stored with the case by the
`keep_photo` the web layer gives (`dashboard.media`, served only to who may see the case), and a
`note` by `open311` on the case carries the photo and the URL. An uploaded photo's URL names the
case, so the public view does not show it (a citizen's own link is shown, unless personal).
"""

from __future__ import annotations

import hmac
import json
import math
import re
import secrets
import time
from collections.abc import Callable

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
MAX_DESCRIPTION = 4000  # GeoReport v2: description is at most 4,000 characters
DEFAULT_DAYS = 90       # GeoReport v2: the default and the longest date range of a query
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
                 lang: str = "zh",
                 keep_photo: Callable[[str, bytes], tuple[str, str]] | None = None) -> None:
        """`keep_photo(case id, bytes)` stores a photo with a case: (its name, its path on the
        server that received the request, whose address `submit` was given)."""
        self.bus, self.twin, self.store, self.clock = bus, twin, store, clock
        self.keep_photo = keep_photo
        self.api_keys = {k for k in api_keys if k}
        self.lang = lang
        self.redis, self.keys = bus.redis, bus.keys
        self.tz = twin.timezone
        self._gazetteer = None

    @property
    def gazetteer(self):
        """The twin's gazetteer, built on the first address to locate."""
        if self._gazetteer is None:
            from twin.gazetteer import Gazetteer

            self._gazetteer = Gazetteer.of(self.twin)
        return self._gazetteer

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
            limit = MAX_DESCRIPTION if name == "description" else MAX_FIELD
            if not isinstance(value, str | int | float) or len(str(value)) > limit:
                raise Open311Error(400, f"{name} must be text of at most {limit} characters")
        code = str(form.get("service_code") or "")
        if not code:
            raise Open311Error(400, "service_code is required: choose one from services.json")
        if code not in S.CATEGORIES:
            raise Open311Error(400, f"service_code {code!r} is not a service: see services.json")
        lat, lng = self._location(form)
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

    def _location(self, form: dict) -> tuple[float, float]:
        """lat/long as given, else the place its address_string names (an Open311Error when
        neither gives one)."""
        if form.get("lat") in (None, "") or form.get("long") in (None, ""):
            address = str(form.get("address_string") or "").strip()
            if not address:
                raise Open311Error(400, "a location is required: give lat and long, or an "
                                        "address_string naming a street/town, community or "
                                        "facility")
            place = self.gazetteer.find(address)
            if place is None:
                raise Open311Error(400, f"address_string {address!r} names no place this city "
                                        f"knows: give lat and long, or a street/town, community "
                                        f"or facility name in Chinese, pinyin or English (e.g. "
                                        f"{'; '.join(self.gazetteer.examples())})")
            return place.lat, place.lng
        try:
            return float(form["lat"]), float(form["long"])
        except (TypeError, ValueError) as exc:
            raise Open311Error(400, "lat and long must be decimal degrees (WGS-84)") from exc

    def submit(self, form: dict, photo: bytes | None = None, base_url: str = "") -> list[dict]:
        """Store a valid request and publish its incident event, atomically (`photo`: an image
        uploaded with it, already checked by the web layer, held until the case exists;
        `base_url`: the server's address, which its media_url will start with)."""
        req = self.validate(form)
        if photo is not None and req.get("media_url"):
            raise Open311Error(400, "send media_url or a media file, not both")
        now = self.clock()
        rid = new_request_id()
        req.update(service_request_id=rid, requested=now, event=f"open311-{rid}")
        if photo is not None or req.get("media_url"):
            req.update(pending=True, upload=photo is not None)
            if photo is not None:
                req["base"] = base_url
        event = {"id": req["event"], "ts": repr(now), "lat": repr(req["lat"]),
                 "lng": repr(req["long"]), "source": "app", "category": req["service_code"],
                 "severity": "2", "text": req.get("description", "")[:S.MAX_TEXT_CHARS]}
        pipe = self.redis.pipeline(transaction=True)
        pipe.hset(self.keys.open311("req"), rid, json.dumps(req, ensure_ascii=False))
        pipe.zadd(self.keys.open311("requests"), {rid: now})
        if req.get("pending"):
            pipe.hset(self.keys.open311("media"), rid, photo or b"")
        pipe.xadd(self.bus.stream("incident"), event)
        pipe.execute()
        return [{"service_request_id": rid,
                 "service_notice": "已受理，将转交责任部门 / received and routed to the "
                                   "responsible department", "account_id": None}]

    # -- photos and links onto the case ----------------------------------------------------------
    def settle(self, req: dict, case=None) -> dict:
        """Put a request's photo and media_url on its case once the case exists (once: whoever
        takes the held photo out of `open311:media` writes the note); the request as it is now."""
        if not req.get("pending"):
            return req
        case = case or self._case(req)
        if case is None or (req.get("upload") and self.keep_photo is None):
            return req
        rid, held = req["service_request_id"], self.keys.open311("media")
        photo = self.redis.hget(held, rid)
        context, url = {}, req.get("media_url")
        if photo:
            name, path = self.keep_photo(case.id, photo)
            context["photos"], url = [name], req.get("base", "") + path
        if not self.redis.hdel(held, rid):  # another reader settled it meanwhile
            return self._req(rid)
        req = {**req, "pending": False, "media_url": url}
        self.redis.hset(self.keys.open311("req"), rid, json.dumps(req, ensure_ascii=False))
        what = "市民上传的照片 / photo uploaded by the citizen" if photo else \
            "市民提供的链接 / link given by the citizen"
        self.store.act(case.id, "note", actor="open311", note=f"{what}: {url}",
                       context={**context, "media_url": url, "service_request_id": rid})
        return req

    def settle_pending(self, limit: int = 200) -> int:
        """`settle` the requests still waiting for their case (at most `limit` a call, run after
        each tick of the rules engine); how many went onto their case."""
        held = self.redis.hkeys(self.keys.open311("media"))  # names only, never the photos
        rids = [r.decode() if isinstance(r, bytes) else r for r in held[:limit]]
        raws = self.redis.hmget(self.keys.open311("req"), rids) if rids else []
        return sum(not self.settle(json.loads(raw)).get("pending") for raw in raws if raw)

    def settle_soon(self, rid: str, wait_s: float) -> dict:
        """`settle` a new request, waiting up to `wait_s` seconds for its case to be opened."""
        deadline = time.monotonic() + wait_s
        while True:
            req = self.settle(self._req(rid))
            if not req.get("pending") or time.monotonic() >= deadline:
                return req
            time.sleep(0.1)

    def _case(self, req: dict):
        cid = self.store.by_event(req["event"])
        return self.store.get(cid) if cid else None

    def _req(self, rid: str) -> dict:
        raw = self.redis.hget(self.keys.open311("req"), rid)
        if raw is None:
            raise Open311Error(404, f"no service request {rid!r}")
        return json.loads(raw)

    # -- reading ----------------------------------------------------------------------------------
    def _view(self, req: dict) -> dict:
        case = self._case(req)
        req = self.settle(req, case)
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
                "media_url": None if req.get("upload") else _public_url(req.get("media_url"))}
        if case is not None:
            view.update(status="open" if case.status in OPEN else "closed",
                        status_notes=public_status(case.status),
                        agency_responsible=", ".join(self.store.router.department_name(
                            d, self.lang) for d in case.departments),
                        updated_datetime=self.iso(case.updated),
                        expected_datetime=self.iso(case.created + case.sla.seconds("resolve")))
        return view

    def get(self, rid: str) -> list[dict]:
        return [self._view(self._req(rid))]

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
        if end - start > DEFAULT_DAYS * 86400:
            raise Open311Error(400, f"start_date to end_date spans {(end - start) / 86400:.0f} "
                                    f"days: GeoReport v2 allows at most {DEFAULT_DAYS}; ask for "
                                    f"several ranges")
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
